//! Building Parquet, Avro, ORC, zip and gzip files, and reading them with `read_input`.

use std::io::{Cursor, Write as _};
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, Field};
use arrow::record_batch::RecordBatch;
use calypso_ingest::{
    BATCH_ROWS, Format, IngestError, Mapping, MappingKind, ReadOptions, read_input,
};

use super::{cols, rows};

pub fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter_with_nullable(columns.into_iter().map(|(n, a)| (n, a, true)))
        .unwrap()
}

pub fn parquet_file(b: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, b.schema(), None).unwrap();
    w.write(b).unwrap();
    w.close().unwrap();
    out
}

pub fn avro_file(
    b: &RecordBatch,
    codec: Option<arrow_avro::compression::CompressionCodec>,
) -> Vec<u8> {
    let mut w = arrow_avro::writer::WriterBuilder::new(b.schema().as_ref().clone())
        .with_compression(codec)
        .build::<_, arrow_avro::writer::format::AvroOcfFormat>(Vec::new())
        .unwrap();
    w.write(b).unwrap();
    w.finish().unwrap();
    w.into_inner()
}

pub fn orc_file(b: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = orc_rust::ArrowWriterBuilder::new(&mut out, b.schema())
        .try_build()
        .unwrap();
    w.write(b).unwrap();
    w.close().unwrap();
    out
}

/// A zip archive of `(name, data)` entries; no data: a directory.
pub fn zip_file(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        match data {
            Some(d) => {
                w.start_file(*name, opts).unwrap();
                w.write_all(d).unwrap();
            }
            None => w.add_directory(*name, opts).unwrap(),
        }
    }
    w.finish().unwrap().into_inner()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Reads `body` with `read_input` and returns the rows as text, checking the schema.
pub fn ingest(
    format: Format,
    body: &[u8],
    specs: &[&str],
    mapping: Option<&str>,
    opts: &ReadOptions,
) -> Result<Vec<Vec<String>>, IngestError> {
    let columns = cols(specs);
    let m = mapping
        .map(|m| Mapping::parse(MappingKind::of_format(format), m))
        .transpose()?;
    let batches = read_input(format, body, &columns, m.as_ref(), opts)?;
    for b in &batches {
        assert!(b.num_rows() <= BATCH_ROWS);
        for (f, (n, t)) in b.schema().fields().iter().zip(&columns) {
            assert_eq!((f.name(), f.data_type()), (n, &t.to_arrow()));
        }
        for (i, (_, t)) in columns.iter().enumerate() {
            if *t == kql_types::KqlType::String {
                assert_eq!(b.column(i).null_count(), 0, "null strings");
            }
        }
    }
    Ok(rows(&batches))
}

pub fn ok(format: Format, body: &[u8], specs: &[&str], mapping: Option<&str>) -> Vec<Vec<String>> {
    ingest(format, body, specs, mapping, &ReadOptions::default())
        .unwrap_or_else(|e| panic!("{format}: {e}"))
}

pub fn err(format: Format, body: &[u8], specs: &[&str], opts: &ReadOptions) -> IngestError {
    match ingest(format, body, specs, None, opts) {
        Ok(r) => panic!("{format} should fail, got {r:?}"),
        Err(e) => e,
    }
}

pub const GUID: [u8; 16] = [
    0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
];
/// 2024-01-02T03:04:05Z in milliseconds.
pub const T_MS: i64 = 1_704_164_645_000;

pub fn nullable(name: &str, dt: DataType) -> Arc<Field> {
    Arc::new(Field::new(name, dt, true))
}
