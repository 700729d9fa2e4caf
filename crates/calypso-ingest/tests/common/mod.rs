//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

pub mod files;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use calypso_ingest::{Format, IngestError, read};
use kql_types::KqlType;
use kql_types::format::kql_to_string;

/// Columns from `"name:type"` specs.
pub fn cols(specs: &[&str]) -> Vec<(String, KqlType)> {
    specs
        .iter()
        .map(|s| {
            let (n, t) = s.split_once(':').unwrap();
            (n.to_string(), KqlType::from_name(t).unwrap())
        })
        .collect()
}

/// A cell as text: `∅` for null, dynamic as its raw JSON, others as `tostring()`.
pub fn cell(a: &dyn Array, row: usize) -> String {
    if a.is_null(row) {
        return "∅".to_string();
    }
    match a.data_type() {
        DataType::LargeUtf8 => a.as_string::<i64>().value(row).to_string(),
        _ => kql_to_string(a, row),
    }
}

/// All rows of the batches as text.
pub fn rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            out.push(b.columns().iter().map(|c| cell(c.as_ref(), r)).collect());
        }
    }
    out
}

/// Reads `data` and returns its rows as text; panics on error.
pub fn ok(format: Format, data: &str, specs: &[&str]) -> Vec<Vec<String>> {
    let columns = cols(specs);
    let batches = read(format, data.as_bytes(), &columns)
        .unwrap_or_else(|e| panic!("{format} {data:?}: {e}"));
    for b in &batches {
        assert_eq!(b.num_columns(), columns.len());
        for (f, (n, t)) in b.schema().fields().iter().zip(&columns) {
            assert_eq!(f.name(), n);
            assert_eq!(f.data_type(), &t.to_arrow());
            assert!(f.is_nullable());
        }
    }
    rows(&batches)
}

/// Reads `data` and returns its error; panics when it succeeds.
pub fn err(format: Format, data: &str, specs: &[&str]) -> IngestError {
    match read(format, data.as_bytes(), &cols(specs)) {
        Ok(b) => panic!("{format} {data:?} should fail, got {:?}", rows(&b)),
        Err(e) => e,
    }
}

/// Rows from string literals.
pub fn table(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}
