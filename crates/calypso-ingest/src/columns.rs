//! Arrow builders for a table's columns, fed with text (CSV family, W3C logs) or JSON
//! values (JSON family, values of the columnar formats) and converted by Kusto's rules;
//! cut into batches of [`BATCH_ROWS`] rows.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Decimal128Builder, DurationNanosecondBuilder, FixedSizeBinaryBuilder,
    Float64Builder, Int32Builder, Int64Builder, LargeStringBuilder, StringBuilder,
    TimestampNanosecondBuilder,
};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use kql_types::KqlType;
use kql_types::json::parse_json_string;
use kql_types::parse::{
    parse_decimal, parse_guid, parse_long, parse_timespan, parse_timespan_literal,
};
use kql_types::types::DECIMAL_SCALE;
use serde_json::Value;

use crate::dynamic::minify;
use crate::values;
use crate::{BATCH_ROWS, IngestError, MAX_VALUE_BYTES};

/// One column being built.
enum Column {
    Bool(BooleanBuilder),
    Int(Int32Builder),
    Long(Int64Builder),
    Real(Float64Builder),
    Decimal(Decimal128Builder),
    String(StringBuilder),
    DateTime(TimestampNanosecondBuilder),
    TimeSpan(DurationNanosecondBuilder),
    Guid(FixedSizeBinaryBuilder),
    /// The builder and a scratch buffer for the compact JSON of one value.
    Dynamic(LargeStringBuilder, String),
}

impl Column {
    fn new(t: KqlType) -> Column {
        let n = BATCH_ROWS;
        match t {
            KqlType::Bool => Column::Bool(BooleanBuilder::with_capacity(n)),
            KqlType::Int => Column::Int(Int32Builder::with_capacity(n)),
            KqlType::Long => Column::Long(Int64Builder::with_capacity(n)),
            KqlType::Real => Column::Real(Float64Builder::with_capacity(n)),
            KqlType::Decimal => {
                Column::Decimal(Decimal128Builder::with_capacity(n).with_data_type(t.to_arrow()))
            }
            KqlType::String => Column::String(StringBuilder::with_capacity(n, n * 16)),
            KqlType::DateTime => Column::DateTime(TimestampNanosecondBuilder::with_capacity(n)),
            KqlType::TimeSpan => Column::TimeSpan(DurationNanosecondBuilder::with_capacity(n)),
            KqlType::Guid => Column::Guid(FixedSizeBinaryBuilder::with_capacity(n, 16)),
            KqlType::Dynamic => {
                Column::Dynamic(LargeStringBuilder::with_capacity(n, n * 16), String::new())
            }
        }
    }

    /// Appends a missing value: `""` for strings, null otherwise.
    fn push_null(&mut self) {
        match self {
            Column::Bool(b) => b.append_null(),
            Column::Int(b) => b.append_null(),
            Column::Long(b) => b.append_null(),
            Column::Real(b) => b.append_null(),
            Column::Decimal(b) => b.append_null(),
            Column::String(b) => b.append_value(""),
            Column::DateTime(b) => b.append_null(),
            Column::TimeSpan(b) => b.append_null(),
            Column::Guid(b) => b.append_null(),
            Column::Dynamic(b, _) => b.append_null(),
        }
    }

    /// Appends a value given as text (a CSV field, a JSON string or scalar), converted
    /// to the column's type; text that does not convert gives null. Empty text is `""`
    /// for strings and null for every other type.
    fn push_text(&mut self, s: &str) {
        match self {
            Column::String(b) => b.append_value(truncate(s)),
            Column::Dynamic(b, buf) => {
                if s.is_empty() {
                    b.append_null();
                } else if minify(s, buf) {
                    if buf == "null" || buf.len() > MAX_VALUE_BYTES {
                        b.append_null();
                    } else {
                        b.append_value(buf.as_str());
                    }
                } else {
                    push_dynamic(b, buf, &parse_json_string(s));
                }
            }
            Column::Bool(b) => b.append_option(values::bool(s)),
            Column::Int(b) => b.append_option(parse_long(s).and_then(|v| i32::try_from(v).ok())),
            Column::Long(b) => b.append_option(parse_long(s)),
            Column::Real(b) => b.append_option(values::real(s)),
            Column::Decimal(b) => b.append_option(parse_decimal(s, DECIMAL_SCALE)),
            Column::DateTime(b) => b.append_option(values::datetime(s)),
            Column::TimeSpan(b) => {
                b.append_option(parse_timespan(s).or_else(|| parse_timespan_literal(s)))
            }
            Column::Guid(b) => match parse_guid(s) {
                Some(g) if b.append_value(g).is_ok() => {}
                _ => b.append_null(),
            },
        }
    }

    /// Appends a JSON value: kept as JSON in a dynamic column; in a string column
    /// strings are their text and other values their compact JSON; scalars are converted
    /// from their text for other types (so `1.5` into an `int` is null); arrays and
    /// objects are null outside string and dynamic columns; JSON `null` is missing.
    fn push_json(&mut self, v: &Value) {
        match (self, v) {
            (col, Value::Null) => col.push_null(),
            (Column::Dynamic(b, buf), v) => push_dynamic(b, buf, v),
            (col, Value::String(s)) => col.push_text(s),
            (Column::Long(b), Value::Number(n)) => b.append_option(n.as_i64()),
            (Column::Int(b), Value::Number(n)) => {
                b.append_option(n.as_i64().and_then(|v| i32::try_from(v).ok()))
            }
            (Column::Real(b), Value::Number(n)) => b.append_option(n.as_f64()),
            (Column::String(b), v) => {
                let text = v.to_string();
                b.append_value(truncate(&text));
            }
            (col, Value::Number(n)) => col.push_text(&n.to_string()),
            (col, Value::Bool(x)) => col.push_text(if *x { "true" } else { "false" }),
            (col, Value::Array(_) | Value::Object(_)) => col.push_null(),
        }
    }

    /// Appends a datetime given as nanoseconds since the epoch (as its ISO text for
    /// columns of other types).
    fn push_datetime(&mut self, nanos: Option<i64>) {
        match (self, nanos) {
            (Column::DateTime(b), n) => b.append_option(n),
            (c, Some(n)) => c.push_text(&kql_types::format::format_datetime_kusto(n)),
            (c, None) => c.push_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Bool(b) => Arc::new(b.finish()),
            Column::Int(b) => Arc::new(b.finish()),
            Column::Long(b) => Arc::new(b.finish()),
            Column::Real(b) => Arc::new(b.finish()),
            Column::Decimal(b) => Arc::new(b.finish()),
            Column::String(b) => Arc::new(b.finish()),
            Column::DateTime(b) => Arc::new(b.finish()),
            Column::TimeSpan(b) => Arc::new(b.finish()),
            Column::Guid(b) => Arc::new(b.finish()),
            Column::Dynamic(b, _) => Arc::new(b.finish()),
        }
    }
}

/// Appends `v` as compact JSON; JSON null and values over [`MAX_VALUE_BYTES`] are null.
fn push_dynamic(b: &mut LargeStringBuilder, buf: &mut String, v: &Value) {
    if v.is_null() {
        b.append_null();
        return;
    }
    buf.clear();
    if write!(buf, "{v}").is_err() || buf.len() > MAX_VALUE_BYTES {
        b.append_null();
    } else {
        b.append_value(buf.as_str());
    }
}

/// `s` cut to at most [`MAX_VALUE_BYTES`] bytes, at a character boundary.
fn truncate(s: &str) -> &str {
    if s.len() <= MAX_VALUE_BYTES {
        return s;
    }
    let mut n = MAX_VALUE_BYTES;
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    s.get(..n).unwrap_or("")
}

/// The schema of a table's batches: its columns with [`KqlType::to_arrow`] types, all
/// nullable.
pub(crate) fn table_schema(columns: &[(String, KqlType)]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, t)| Field::new(name, t.to_arrow(), true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// One column built on its own, value by value (the columnar formats build their
/// batches column by column).
pub(crate) struct ColumnBuilder {
    column: Column,
    dynamic: bool,
}

impl ColumnBuilder {
    pub(crate) fn new(t: KqlType) -> ColumnBuilder {
        ColumnBuilder {
            column: Column::new(t),
            dynamic: t == KqlType::Dynamic,
        }
    }

    /// Appends text, converted as [`Batcher::push_text`] does.
    pub(crate) fn push_text(&mut self, s: &str) {
        self.column.push_text(s);
    }

    /// Appends a JSON value, converted as [`Batcher::push_json`] does.
    pub(crate) fn push_json(&mut self, v: &Value) {
        self.column.push_json(v);
    }

    /// Appends a source value of a columnar format: as [`ColumnBuilder::push_json`],
    /// except that a string going into a `dynamic` column is read as JSON text (as the
    /// text formats read it), so that `"{\"a\":1}"` gives the object.
    pub(crate) fn push_value(&mut self, v: &Value) {
        match v {
            Value::String(s) if self.dynamic => self.column.push_text(s),
            v => self.column.push_json(v),
        }
    }

    /// Appends a datetime (nanoseconds since the epoch).
    pub(crate) fn push_datetime(&mut self, nanos: Option<i64>) {
        self.column.push_datetime(nanos);
    }

    /// Appends a missing value: `""` for strings, null otherwise.
    pub(crate) fn push_null(&mut self) {
        self.column.push_null();
    }

    /// The values appended so far, as an array; the builder starts empty again.
    pub(crate) fn finish(&mut self) -> ArrayRef {
        self.column.finish()
    }
}

/// The columns of a table being filled row by row, cut into record batches.
pub(crate) struct Batcher {
    schema: SchemaRef,
    columns: Vec<Column>,
    rows: usize,
    total: u64,
    batches: Vec<RecordBatch>,
}

impl Batcher {
    pub(crate) fn new(columns: &[(String, KqlType)]) -> Batcher {
        Batcher {
            schema: table_schema(columns),
            columns: columns.iter().map(|(_, t)| Column::new(*t)).collect(),
            rows: 0,
            total: 0,
            batches: Vec::new(),
        }
    }

    /// The number of columns.
    pub(crate) fn width(&self) -> usize {
        self.columns.len()
    }

    /// The names of the columns, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.schema.fields().iter().map(|f| f.name().as_str())
    }

    /// Rows appended so far.
    pub(crate) fn total_rows(&self) -> u64 {
        self.total
    }

    /// Appends text to column `i` of the current row (see [`Column::push_text`]).
    pub(crate) fn push_text(&mut self, i: usize, s: &str) {
        if let Some(c) = self.columns.get_mut(i) {
            c.push_text(s);
        }
    }

    /// Appends a JSON value to column `i` of the current row.
    pub(crate) fn push_json(&mut self, i: usize, v: &Value) {
        if let Some(c) = self.columns.get_mut(i) {
            c.push_json(v);
        }
    }

    /// Appends a datetime given as nanoseconds since the epoch to column `i` (as its
    /// ISO text for columns of other types).
    pub(crate) fn push_datetime(&mut self, i: usize, nanos: Option<i64>) {
        if let Some(c) = self.columns.get_mut(i) {
            c.push_datetime(nanos);
        }
    }

    /// Appends a missing value to column `i` of the current row.
    pub(crate) fn push_null(&mut self, i: usize) {
        if let Some(c) = self.columns.get_mut(i) {
            c.push_null();
        }
    }

    /// Ends the current row (every column has received one value); cuts a batch every
    /// [`BATCH_ROWS`] rows.
    pub(crate) fn end_row(&mut self) -> Result<(), IngestError> {
        self.rows += 1;
        self.total += 1;
        if self.rows >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IngestError> {
        if self.rows == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(Column::finish).collect();
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays)
            .map_err(IngestError::internal)?;
        self.batches.push(batch);
        self.rows = 0;
        Ok(())
    }

    /// The batches of all rows.
    pub(crate) fn finish(mut self) -> Result<Vec<RecordBatch>, IngestError> {
        self.flush()?;
        Ok(self.batches)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn truncation_at_char_boundary() {
        let s = format!("{}é", "a".repeat(MAX_VALUE_BYTES - 1));
        assert_eq!(truncate(&s).len(), MAX_VALUE_BYTES - 1);
        assert_eq!(truncate("abc"), "abc");
    }
}
