//! Building small result tables (management command results) from scalar values.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, new_empty_array};
use datafusion::common::ScalarValue;
use kql_functions::KqlType;

use crate::{EngineError, Result, ResultTable};

/// A cell of a command result.
#[derive(Debug, Clone)]
pub(crate) enum Cell {
    Null,
    Str(String),
    Long(i64),
    Int(i32),
    Real(f64),
    Bool(bool),
    /// Nanoseconds since the Unix epoch.
    DateTime(i64),
    /// A duration in nanoseconds.
    TimeSpan(i64),
    /// A guid's 16 bytes.
    Guid([u8; 16]),
    /// JSON text.
    Dynamic(String),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Str(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Str(s)
    }
}

impl From<Option<String>> for Cell {
    fn from(s: Option<String>) -> Cell {
        Cell::Str(s.unwrap_or_default())
    }
}

impl Cell {
    fn to_scalar(&self, t: KqlType) -> ScalarValue {
        let v = match self {
            Cell::Null => return ScalarValue::try_from(t.to_arrow()).unwrap_or(ScalarValue::Null),
            Cell::Str(s) => ScalarValue::Utf8(Some(s.clone())),
            Cell::Long(v) => ScalarValue::Int64(Some(*v)),
            Cell::Int(v) => ScalarValue::Int32(Some(*v)),
            Cell::Real(v) => ScalarValue::Float64(Some(*v)),
            Cell::Bool(v) => ScalarValue::Boolean(Some(*v)),
            Cell::DateTime(ns) => ScalarValue::TimestampNanosecond(Some(*ns), None),
            Cell::TimeSpan(ns) => ScalarValue::DurationNanosecond(Some(*ns)),
            Cell::Guid(b) => ScalarValue::FixedSizeBinary(16, Some(b.to_vec())),
            Cell::Dynamic(s) => ScalarValue::LargeUtf8(Some(s.clone())),
        };
        if v.data_type() == t.to_arrow() {
            v
        } else {
            v.cast_to(&t.to_arrow()).unwrap_or(ScalarValue::Null)
        }
    }
}

/// A guid from a uuid text (zeros when it does not parse).
pub(crate) fn guid(text: &str) -> Cell {
    Cell::Guid(kql_functions::convert::parse_guid(text).unwrap_or([0; 16]))
}

/// Parses an RFC 3339 time to nanoseconds (0 when it does not parse).
pub(crate) fn rfc3339_nanos(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|d| d.timestamp_nanos_opt())
        .unwrap_or(0)
}

/// A result table named `Table_0` from column declarations and rows.
pub(crate) fn table(columns: &[(&str, KqlType)], rows: Vec<Vec<Cell>>) -> Result<ResultTable> {
    let cols: Vec<(String, KqlType)> = columns.iter().map(|(n, t)| (n.to_string(), *t)).collect();
    let schema = kql_functions::types::schema(&cols);
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(cols.len());
    for (i, (_, t)) in cols.iter().enumerate() {
        let values: Vec<ScalarValue> = rows
            .iter()
            .map(|r| r.get(i).unwrap_or(&Cell::Null).to_scalar(*t))
            .collect();
        let a = if values.is_empty() {
            new_empty_array(&t.to_arrow())
        } else {
            ScalarValue::iter_to_array(values).map_err(|e| EngineError::Execution(e.to_string()))?
        };
        arrays.push(Arc::clone(&a));
    }
    // A command without result columns (`.clear database cache ...`) has no rows either.
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows.len()));
    let batch = RecordBatch::try_new_with_options(schema, arrays, &options)
        .map_err(|e| EngineError::Execution(e.to_string()))?;
    Ok(ResultTable {
        name: "Table_0".into(),
        columns: cols,
        batches: vec![batch],
        render: None,
    })
}
