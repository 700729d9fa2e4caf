//! The row store in memory: the rows of small streaming ingests that are durable in the
//! write-ahead log (`wal.rs`) but not yet sealed into an extent.
//!
//! [`Hot`] is an immutable value published together with the catalog (a
//! [`Snapshot`](crate::Snapshot) holds both), so that a query sees each row exactly once:
//! a row is either in a hot chunk of its table or, once sealed, in an extent and no
//! longer hot (the commit that adds the extent and raises the table's
//! [`sealed_seq`](crate::Table::sealed_seq) also drops those rows from the row store).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, new_null_array};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::catalog::{Catalog, ExtentMeta, Table, now_rfc3339};
use crate::error::{Error, Result};

/// A chunk grows by the entries appended after it while it has fewer rows than this
/// (bounding the copy an append makes); then a new chunk starts.
const CHUNK_GROW_ROWS: usize = 1024;

/// The id of the stand-in extent that represents a table's hot rows inside a commit.
pub(crate) const HOT_EXTENT_ID: &str = "calypso:row-store";

/// Rows of one table from consecutive log entries, in one batch.
#[derive(Debug)]
pub(crate) struct HotChunk {
    /// The rows; its columns are a prefix of the table's columns (by name and type) at
    /// the time of the entries (columns added to the table later are absent).
    pub batch: RecordBatch,
    /// `(sequence number, end row)` of each entry in the batch, ascending.
    pub seqs: Vec<(u64, usize)>,
}

impl HotChunk {
    fn last_seq(&self) -> u64 {
        self.seqs.last().map_or(0, |s| s.0)
    }

    /// The rows of entries after `seq` (`None`: none).
    fn after(self: &Arc<Self>, seq: u64) -> Option<Arc<HotChunk>> {
        if self.seqs.first().is_some_and(|s| s.0 > seq) {
            return Some(Arc::clone(self));
        }
        let cut = self.seqs.iter().position(|s| s.0 > seq)?;
        let start = self.seqs[cut - 1].1;
        Some(Arc::new(HotChunk {
            batch: self.batch.slice(start, self.batch.num_rows() - start),
            seqs: self.seqs[cut..]
                .iter()
                .map(|(s, end)| (*s, end - start))
                .collect(),
        }))
    }
}

/// The hot rows of one table.
#[derive(Debug, Clone)]
pub struct HotTable {
    pub(crate) chunks: Vec<Arc<HotChunk>>,
    rows: u64,
    bytes: usize,
    /// When the oldest hot row arrived.
    pub(crate) since: Instant,
    /// The same, as RFC 3339 (the stand-in extent's creation time).
    since_text: String,
}

impl HotTable {
    /// The number of hot rows.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Their size in memory.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The sequence number of the newest entry.
    pub(crate) fn last_seq(&self) -> u64 {
        self.chunks.last().map_or(0, |c| c.last_seq())
    }

    /// The rows as batches of `schema` (the table's: columns matched by name, those a
    /// chunk lacks are null).
    pub fn batches(&self, schema: &SchemaRef) -> Result<Vec<RecordBatch>> {
        self.chunks.iter().map(|c| pad(&c.batch, schema)).collect()
    }

    /// The stand-in extent of these rows inside a commit.
    pub(crate) fn stand_in(&self) -> ExtentMeta {
        ExtentMeta {
            id: HOT_EXTENT_ID.to_string(),
            rows: self.rows,
            size_bytes: self.bytes as u64,
            created_on: self.since_text.clone(),
            ..ExtentMeta::default()
        }
    }
}

/// `batch` with the columns of `schema`: by name, absent ones null.
pub(crate) fn pad(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch.clone());
    }
    let rows = batch.num_rows();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        columns.push(match batch.schema().index_of(field.name()) {
            Ok(i) if batch.column(i).data_type() == field.data_type() => {
                Arc::clone(batch.column(i))
            }
            // A scan that reads strings as views (`StorageOptions::string_views`).
            Ok(i)
                if (batch.column(i).data_type(), field.data_type())
                    == (&DataType::Utf8, &DataType::Utf8View) =>
            {
                arrow::compute::cast(batch.column(i), field.data_type())?
            }
            Ok(_) => {
                return Err(Error::Corrupt(format!(
                    "row-store rows of column '{}' do not have the column's type",
                    field.name()
                )));
            }
            Err(_) => new_null_array(field.data_type(), rows),
        });
    }
    let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}

/// Whether the fields of `batch` are a prefix of `table`'s columns (names and types);
/// The hidden `$IngestionTime` does not count.
pub(crate) fn fits(table: &Table, schema: &Schema) -> bool {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .filter(|f| !kql_types::types::hidden::is_hidden(f.name()))
        .collect();
    fields.len() <= table.columns.len()
        && fields
            .iter()
            .zip(&table.columns)
            .all(|(f, c)| f.name() == &c.name && f.data_type() == &c.kql_type.to_arrow())
}

/// The row store: hot rows by table id.
#[derive(Debug, Clone, Default)]
pub struct Hot {
    tables: HashMap<String, Arc<HotTable>>,
    bytes: usize,
}

impl Hot {
    /// The hot rows of the table whose id is `table_id`.
    pub fn table(&self, table_id: &str) -> Option<&Arc<HotTable>> {
        self.tables.get(table_id)
    }

    /// The tables with hot rows.
    pub(crate) fn tables(&self) -> impl Iterator<Item = (&String, &Arc<HotTable>)> {
        self.tables.iter()
    }

    /// Whether there are no hot rows.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The size of all hot rows in memory.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// With the rows of `entries` (sequence number, rows; ascending) appended to table
    /// `table_id`: the table is copied once, and each run of entries of one schema becomes
    /// one batch (with the last chunk, while that is small).
    pub(crate) fn append(&mut self, table_id: &str, entries: Vec<(u64, RecordBatch)>) {
        if entries.is_empty() {
            return;
        }
        let mut t = match self.tables.get(table_id) {
            Some(old) => HotTable::clone(old),
            None => HotTable {
                chunks: Vec::new(),
                rows: 0,
                bytes: 0,
                since: Instant::now(),
                since_text: now_rfc3339(),
            },
        };
        let before = t.bytes;
        let mut runs: Vec<Vec<(u64, RecordBatch)>> = Vec::new();
        for (seq, batch) in entries {
            t.rows += batch.num_rows() as u64;
            match runs.last_mut() {
                Some(run) if run[0].1.schema() == batch.schema() => run.push((seq, batch)),
                _ => runs.push(vec![(seq, batch)]),
            }
        }
        for run in runs {
            let schema = run[0].1.schema();
            let grow = t
                .chunks
                .last()
                .filter(|c| c.batch.num_rows() < CHUNK_GROW_ROWS && c.batch.schema() == schema)
                .cloned();
            let (mut parts, mut seqs) = match &grow {
                Some(last) => (vec![&last.batch], last.seqs.clone()),
                None => (Vec::new(), Vec::new()),
            };
            let mut end = grow.as_ref().map_or(0, |c| c.batch.num_rows());
            for (seq, batch) in &run {
                end += batch.num_rows();
                seqs.push((*seq, end));
                parts.push(batch);
            }
            // Copied even when alone: into buffers of the rows' size.
            let merged = arrow::compute::concat_batches(&schema, parts.iter().copied());
            match merged {
                Ok(batch) => {
                    let chunk = Arc::new(HotChunk { batch, seqs });
                    match (grow, t.chunks.last_mut()) {
                        (Some(_), Some(slot)) => *slot = chunk,
                        _ => t.chunks.push(chunk),
                    }
                }
                // Not expected (one schema): each entry a chunk of its own.
                Err(_) => {
                    for (seq, batch) in run {
                        let rows = batch.num_rows();
                        t.chunks.push(Arc::new(HotChunk {
                            batch,
                            seqs: vec![(seq, rows)],
                        }));
                    }
                }
            }
        }
        // What the chunks hold (a parsed batch may reserve far more than its rows).
        t.bytes = t
            .chunks
            .iter()
            .map(|c| c.batch.get_array_memory_size())
            .sum();
        self.bytes = (self.bytes + t.bytes).saturating_sub(before);
        self.tables.insert(table_id.to_string(), Arc::new(t));
    }

    /// Without the rows that `catalog` has sealed (entries up to a table's `sealed_seq`)
    /// and without the tables it no longer has.
    pub(crate) fn pruned(&self, catalog: &Catalog) -> Hot {
        if self.tables.is_empty() {
            return Hot::default();
        }
        let sealed: HashMap<&str, u64> = catalog
            .databases
            .values()
            .flat_map(|d| d.tables.values())
            .filter(|t| self.tables.contains_key(&t.id))
            .map(|t| (t.id.as_str(), t.sealed_seq))
            .collect();
        let mut out = Hot::default();
        for (id, t) in &self.tables {
            let Some(&seq) = sealed.get(id.as_str()) else {
                continue;
            };
            let kept = if t.chunks.first().is_some_and(|c| c.seqs[0].0 > seq) {
                Arc::clone(t)
            } else {
                let chunks: Vec<Arc<HotChunk>> =
                    t.chunks.iter().filter_map(|c| c.after(seq)).collect();
                if chunks.is_empty() {
                    continue;
                }
                let rows = chunks.iter().map(|c| c.batch.num_rows() as u64).sum();
                let bytes = chunks.iter().map(|c| c.batch.get_array_memory_size()).sum();
                Arc::new(HotTable {
                    chunks,
                    rows,
                    bytes,
                    // The rows left came while their older neighbours were being sealed:
                    // just now, near enough (the seal timer starts again for them).
                    since: Instant::now(),
                    since_text: now_rfc3339(),
                })
            };
            out.bytes += kept.bytes;
            out.tables.insert(id.clone(), kept);
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use arrow::array::{Array, Int64Array};
    use arrow::datatypes::Field;

    fn batch(values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
    }

    fn values(t: &HotTable) -> Vec<i64> {
        t.chunks
            .iter()
            .flat_map(|c| {
                let a = c
                    .batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap();
                (0..a.len()).map(|i| a.value(i)).collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn appends_grow_one_chunk_and_pruning_cuts_inside_it() {
        let mut c = Catalog::initial();
        let db = c.ensure_database("db", true);
        let t = Table::new("T", vec![crate::Column::new("a", kql_types::KqlType::Long)]);
        let id = t.id.clone();
        db.tables.insert("T".into(), t.into());

        let mut hot = Hot::default();
        hot.append(&id, vec![(1, batch(&[1, 2]))]);
        hot.append(&id, vec![(2, batch(&[3])), (5, batch(&[4, 5, 6]))]);
        let t = hot.table(&id).unwrap();
        assert_eq!(t.chunks.len(), 1);
        assert_eq!(t.rows(), 6);
        assert_eq!(t.last_seq(), 5);

        c.table_by_id_mut(&id).unwrap().sealed_seq = 2;
        let pruned = hot.pruned(&c);
        let t = pruned.table(&id).unwrap();
        assert_eq!(values(t), vec![4, 5, 6]);
        assert_eq!(t.rows(), 3);

        c.table_by_id_mut(&id).unwrap().sealed_seq = 5;
        assert!(hot.pruned(&c).is_empty());

        c.table_by_id_mut(&id).unwrap().sealed_seq = 0;
        assert_eq!(
            values(hot.pruned(&c).table(&id).unwrap()),
            vec![1, 2, 3, 4, 5, 6]
        );
        c.database_mut("db").unwrap().tables.clear();
        assert!(hot.pruned(&c).is_empty(), "a dropped table's rows are gone");
    }
}
