//! Encoding of extents: record batches → one zstd-compressed Parquet file + statistics.

use std::sync::Arc;

use arrow::array::TimestampNanosecondArray;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use kql_types::KqlType;
use kql_types::types::hidden::INGESTION_TIME;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::catalog::{Column, ColumnStats, Table};
use crate::error::{Error, Result};
use crate::stats::compute_stats;

/// Rows per Parquet row group: small enough for DataFusion to skip row groups with
/// their statistics, large enough to compress well.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Rows per Parquet data page at most (pages are what the page index lets a scan skip).
pub const PAGE_ROWS: usize = 8 * 1024;

/// The zstd level of extent files.
pub const ZSTD_LEVEL: i32 = 3;

/// Parquet key-value metadata holding the KQL types of the file's columns
/// (`{"column": "long", ...}`), so a file can be understood without the catalog.
pub const KQL_SCHEMA_KEY: &str = "calypso.kql_schema";

/// The hidden `$IngestionTime` column as stored.
pub(crate) fn ingestion_time_field() -> Field {
    Field::new(
        INGESTION_TIME,
        DataType::Timestamp(TimeUnit::Nanosecond, None),
        true,
    )
}

/// Whether the table's IngestionTime policy is on ("enabled by default on all newly
/// created tables", continuous-data-export.md).
pub(crate) fn ingestion_time_on(table: &Table) -> bool {
    table
        .policies
        .get("ingestiontime")
        .and_then(|p| p.get("IsEnabled"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(true)
}

/// `batch` with `$IngestionTime` = `at` (nanoseconds since the epoch; `None`: null, the
/// policy is off) in every row, unless it has the column already.
pub(crate) fn stamped(batch: &RecordBatch, at: Option<i64>) -> Result<RecordBatch> {
    let schema = batch.schema();
    if schema.index_of(INGESTION_TIME).is_ok() {
        return Ok(batch.clone());
    }
    let rows = batch.num_rows();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(ingestion_time_field());
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(TimestampNanosecondArray::from(vec![at; rows])));
    let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        schema, columns, &options,
    )?)
}

/// The column an extent's rows are sorted by: the table's first `datetime` column that the
/// rows have, else `$IngestionTime`; so that row groups and pages cover short time ranges
/// and a time filter skips the others by their statistics.
pub(crate) fn sort_key(table: &Table, schema: &Schema) -> Option<String> {
    table
        .columns
        .iter()
        .find(|c| c.kql_type == KqlType::DateTime && schema.index_of(&c.name).is_ok())
        .map(|c| c.name.clone())
        .or_else(|| {
            schema
                .index_of(INGESTION_TIME)
                .is_ok()
                .then(|| INGESTION_TIME.to_string())
        })
}

/// `batches` (of one schema) as one batch sorted by column `key` (nulls last; rows of equal
/// keys keep their order). CPU-bound.
pub(crate) fn sorted(batches: &[RecordBatch], key: &str) -> Result<Vec<RecordBatch>> {
    let Some(first) = batches.first() else {
        return Ok(Vec::new());
    };
    let schema = first.schema();
    let Ok(i) = schema.index_of(key) else {
        return Ok(batches.to_vec());
    };
    let all = arrow::compute::concat_batches(&schema, batches)?;
    let options = arrow::compute::SortOptions {
        descending: false,
        nulls_first: false,
    };
    let indices = arrow::compute::sort_to_indices(all.column(i), Some(options), None)?;
    // Already in order (one ingestion, the usual case): no copy.
    let in_order = indices
        .values()
        .iter()
        .enumerate()
        .all(|(at, v)| *v as usize == at);
    if in_order {
        return Ok(vec![all]);
    }
    let columns = all
        .columns()
        .iter()
        .map(|c| arrow::compute::take(c.as_ref(), &indices, None))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(all.num_rows()));
    Ok(vec![RecordBatch::try_new_with_options(
        schema, columns, &options,
    )?])
}

/// An encoded extent, not yet stored.
pub(crate) struct EncodedExtent {
    pub bytes: Vec<u8>,
    pub rows: u64,
    /// The data's size in memory.
    pub original_size: u64,
    pub column_stats: Vec<ColumnStats>,
}

/// Checks that `batches` fit `table`: one schema for all, each column a column of the
/// table with the table's Arrow type (columns of the table may be missing: they read as
/// null) or the hidden `$IngestionTime`, and at least one row. Returns the batches' schema.
pub(crate) fn validate(table: &Table, batches: &[RecordBatch]) -> Result<SchemaRef> {
    let Some(first) = batches.first() else {
        return Err(Error::invalid(format!(
            "no data to ingest into table '{}'",
            table.name
        )));
    };
    let schema = first.schema();
    for batch in batches {
        let other = batch.schema();
        if other.fields().len() != schema.fields().len()
            || other
                .fields()
                .iter()
                .zip(schema.fields())
                .any(|(a, b)| a.name() != b.name() || a.data_type() != b.data_type())
        {
            return Err(Error::invalid(
                "the batches of one extent must all have the same schema",
            ));
        }
    }
    for (i, field) in schema.fields().iter().enumerate() {
        if field.name() == INGESTION_TIME && field.data_type() == ingestion_time_field().data_type()
        {
            continue;
        }
        let Some(column) = table.column(field.name()) else {
            return Err(Error::invalid(format!(
                "table '{}' has no column '{}'",
                table.name,
                field.name()
            )));
        };
        let expected = column.kql_type.to_arrow();
        if field.data_type() != &expected {
            return Err(Error::invalid(format!(
                "column '{}' of table '{}' is of type '{}' ({expected}) but the data is {}",
                field.name(),
                table.name,
                column.kql_type.name(),
                field.data_type()
            )));
        }
        if schema.fields()[..i]
            .iter()
            .any(|f| f.name() == field.name())
        {
            return Err(Error::invalid(format!(
                "column '{}' appears twice in the data",
                field.name()
            )));
        }
    }
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if rows == 0 {
        return Err(Error::invalid(format!(
            "no rows to ingest into table '{}'",
            table.name
        )));
    }
    Ok(schema)
}

/// Encodes validated batches as Parquet (CPU-bound: run it off the async threads).
pub(crate) fn encode(
    columns: &[Column],
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<EncodedExtent> {
    let kql_schema: serde_json::Map<String, serde_json::Value> = schema
        .fields()
        .iter()
        .filter_map(|f| {
            columns
                .iter()
                .find(|c| c.name == *f.name())
                .map(|c| (c.name.clone(), c.kql_type.name().into()))
        })
        .collect();
    // Page-level statistics, which the writer keeps as the file's page index (column and
    // offset indexes): a scan skips the pages of a row group a filter excludes.
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL)?))
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::Page)
        .set_data_page_row_count_limit(PAGE_ROWS);
    // Times and reals rarely repeat: a dictionary of them is about the column's size and is
    // read before any page of it, so they are stored without one (times delta-encoded,
    // which suits the sorted key); strings, integers and the ingestion time keep theirs.
    for c in columns {
        let path = ColumnPath::from(c.name.as_str());
        let encoding = match c.kql_type {
            KqlType::DateTime | KqlType::TimeSpan => Encoding::DELTA_BINARY_PACKED,
            KqlType::Real => Encoding::BYTE_STREAM_SPLIT,
            _ => continue,
        };
        props = props
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, encoding);
    }
    let props = props
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("calypso {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            KQL_SCHEMA_KEY.to_string(),
            serde_json::Value::Object(kql_schema).to_string(),
        )]))
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, Some(props))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.close()?;
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    let original_size = batches
        .iter()
        .map(|b| b.get_array_memory_size() as u64)
        .sum();
    Ok(EncodedExtent {
        bytes,
        rows,
        original_size,
        column_stats: compute_stats(columns, batches),
    })
}
