//! Record batches decoded from the columnar formats (Parquet, Avro, ORC) → batches in a
//! table's schema.
//!
//! * Identity mapping: each table column takes the source field of the same name
//!   (case-sensitive, as Kusto documents); columns without one are missing values.
//! * A mapping's `Field` and `Path` elements take a top-level field or a value inside
//!   nested records (column by column); paths through lists and maps, `$` (the whole
//!   record) and the transformations go value by value ([`crate::arrow_value`]).
//! * Values are converted to the column's type column by column where Arrow casts do it
//!   as Kusto does (integers and floats to `int`/`long`/`real`/`decimal` and `bool`,
//!   timestamps and dates to `datetime`, durations and times of day to `timespan`,
//!   strings to `string`, 16-byte fixed values to `guid`); otherwise value by value with
//!   the rules of the text formats (text is parsed, numbers too large for `int` are null,
//!   records, lists and maps are JSON in `dynamic` and `string` columns).
//! * Values that do not convert are null; strings are never null (`""`); strings are cut
//!   to [`MAX_VALUE_BYTES`], larger `dynamic` values are null.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray};
use arrow::compute::kernels::cast::{CastOptions, cast_with_options};
use arrow::compute::nullif;
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, DurationNanosecondType, Int32Type, Int64Type, SchemaRef,
    TimestampNanosecondType,
};
use arrow::record_batch::RecordBatch;
use kql_types::KqlType;
use serde_json::Value;

use crate::apply::{self, Plan};
use crate::arrow_value::{record_value, scalar_text, unit_nanos, value_at};
use crate::columns::{ColumnBuilder, table_schema};
use crate::mapping::{ColumnMapping, PathStep, Source, Transform};
use crate::{BATCH_ROWS, IngestError, MAX_VALUE_BYTES};

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// Converts the decoded batches of one or more payloads into the table's batches.
pub(crate) struct Converter<'a> {
    columns: &'a [(String, KqlType)],
    schema: SchemaRef,
    plan: Option<&'a Plan>,
    /// Records of the current payload so far (for `SourceLineNumber`).
    payload_rows: u64,
    total: u64,
    batches: Vec<RecordBatch>,
}

impl<'a> Converter<'a> {
    pub(crate) fn new(columns: &'a [(String, KqlType)], plan: Option<&'a Plan>) -> Self {
        Converter {
            columns,
            schema: table_schema(columns),
            plan,
            payload_rows: 0,
            total: 0,
            batches: Vec::new(),
        }
    }

    /// Starts a payload: record numbers start again at 1.
    pub(crate) fn start_payload(&mut self) {
        self.payload_rows = 0;
    }

    /// Records converted so far.
    pub(crate) fn total_rows(&self) -> u64 {
        self.total
    }

    /// The table's batches.
    pub(crate) fn finish(self) -> Vec<RecordBatch> {
        self.batches
    }

    /// Converts a decoded batch (of any size: cut at [`BATCH_ROWS`] rows).
    pub(crate) fn push(&mut self, batch: &RecordBatch) -> Result<(), IngestError> {
        let mut start = 0;
        while start < batch.num_rows() {
            let len = BATCH_ROWS.min(batch.num_rows() - start);
            let part = batch.slice(start, len);
            let arrays = self
                .columns
                .iter()
                .enumerate()
                .map(|(i, (name, t))| self.column(&part, i, name, *t))
                .collect::<Result<Vec<_>, _>>()?;
            let out = RecordBatch::try_new(Arc::clone(&self.schema), arrays)
                .map_err(IngestError::internal)?;
            self.batches.push(out);
            self.payload_rows += len as u64;
            self.total += len as u64;
            start += len;
        }
        Ok(())
    }

    /// Table column `i` (`name`, of type `t`) for the rows of `src`.
    fn column(
        &self,
        src: &RecordBatch,
        i: usize,
        name: &str,
        t: KqlType,
    ) -> Result<ArrayRef, IngestError> {
        let Some(plan) = self.plan else {
            return match src.column_by_name(name) {
                Some(a) => convert(a, t),
                None => Ok(missing(t, src.num_rows())),
            };
        };
        match plan.columns.get(i).and_then(Option::as_ref) {
            None => Ok(missing(t, src.num_rows())),
            Some(cm) => self.mapped(src, cm, plan, i, t),
        }
    }

    /// A column filled by the mapping element `cm`.
    fn mapped(
        &self,
        src: &RecordBatch,
        cm: &ColumnMapping,
        plan: &Plan,
        i: usize,
        t: KqlType,
    ) -> Result<ArrayRef, IngestError> {
        let rows = src.num_rows();
        let field_path;
        let found = match &cm.source {
            Source::Field(f) => {
                field_path = [PathStep::Key(f.clone())];
                resolve(src, &field_path)
            }
            Source::Path(steps) => resolve(src, steps),
            Source::Ordinal(_) => Found::Nothing,
            Source::Const(_) | Source::LineNumber | Source::Location => Found::Constant,
        };
        if cm.transform == Transform::None
            && let Found::Array(a) = &found
        {
            return convert(a, t);
        }
        if matches!(found, Found::Nothing) {
            return Ok(missing(t, rows));
        }
        let mut b = ColumnBuilder::new(t);
        let drops = plan.drops(i);
        for row in 0..rows {
            let value = match &found {
                Found::Array(a) if cm.transform == Transform::BytesAsBase64 => {
                    match raw_bytes(a.as_ref(), row) {
                        Some(bytes) => {
                            b.push_json(&Value::String(apply::base64(&bytes)));
                            continue;
                        }
                        // Not bytes: judged from its value (an array of byte values).
                        None => value_at(a.as_ref(), row),
                    }
                }
                Found::Array(a) => value_at(a.as_ref(), row),
                Found::Within(a, rest) => apply::lookup(&value_at(a.as_ref(), row), rest)
                    .map_or(Value::Null, Value::clone),
                Found::Record => record_value(src, row),
                Found::Constant => {
                    apply::constant(&cm.source, plan, self.payload_rows + row as u64 + 1)
                }
                Found::Nothing => Value::Null,
            };
            if value.is_null() {
                b.push_null();
            } else {
                apply::push_transformed(&mut b, cm.transform, &value, drops);
            }
        }
        Ok(b.finish())
    }
}

/// What a mapping element's path reaches in a batch.
enum Found<'p> {
    /// A field (top-level or inside records), column by column.
    Array(ArrayRef),
    /// A field and the rest of the path into its values (through lists or maps).
    Within(ArrayRef, &'p [PathStep]),
    /// The whole record (`$`).
    Record,
    /// A constant, the record number or the source location.
    Constant,
    /// No such field.
    Nothing,
}

/// Follows `steps` into `src`: through records column by column, then value by value.
fn resolve<'p>(src: &RecordBatch, steps: &'p [PathStep]) -> Found<'p> {
    let Some((first, mut rest)) = steps.split_first() else {
        return Found::Record;
    };
    let PathStep::Key(k) = first else {
        return Found::Nothing;
    };
    let Some(mut cur) = src.column_by_name(k).cloned() else {
        return Found::Nothing;
    };
    while let Some((PathStep::Key(k), tail)) = rest.split_first() {
        let Some(s) = cur.as_struct_opt() else {
            break;
        };
        let Some(child) = s.column_by_name(k) else {
            return Found::Nothing;
        };
        // A null record has null fields.
        let child = match s.nulls() {
            Some(n) if n.null_count() > 0 => {
                let mask = BooleanArray::new(!n.inner(), None);
                match nullif(child.as_ref(), &mask) {
                    Ok(c) => c,
                    Err(_) => return Found::Within(cur, rest),
                }
            }
            _ => Arc::clone(child),
        };
        cur = child;
        rest = tail;
    }
    if rest.is_empty() {
        Found::Array(cur)
    } else {
        Found::Within(cur, rest)
    }
}

/// The bytes of a binary value at `row` (`binary`, `fixed`), or of a list of integers
/// 0-255.
fn raw_bytes(a: &dyn Array, row: usize) -> Option<Vec<u8>> {
    if a.is_null(row) {
        return None;
    }
    match a.data_type() {
        DataType::Binary => Some(a.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Some(a.as_binary::<i64>().value(row).to_vec()),
        DataType::BinaryView => Some(a.as_binary_view().value(row).to_vec()),
        DataType::FixedSizeBinary(_) => Some(a.as_fixed_size_binary().value(row).to_vec()),
        _ => None,
    }
}

/// A column of `rows` missing values: `""` for strings, null otherwise.
fn missing(t: KqlType, rows: usize) -> ArrayRef {
    match t {
        KqlType::String => Arc::new(StringArray::from_iter_values(std::iter::repeat_n("", rows))),
        t => arrow::array::new_null_array(&t.to_arrow(), rows),
    }
}

/// A decoded column converted to a table column of type `t`.
pub(crate) fn convert(a: &ArrayRef, t: KqlType) -> Result<ArrayRef, IngestError> {
    // Dictionary-encoded values (Avro enums, Parquet dictionaries): their values.
    let unpacked;
    let a = match a.data_type() {
        DataType::Dictionary(_, value) => match cast_with_options(a, value, &safe()) {
            Ok(u) => {
                unpacked = u;
                &unpacked
            }
            Err(_) => a,
        },
        _ => a,
    };
    if let Some(fast) = fast_path(a, t) {
        return Ok(fast);
    }
    let mut b = ColumnBuilder::new(t);
    let scalar = is_scalar(a.data_type());
    for row in 0..a.len() {
        if a.is_null(row) {
            b.push_null();
        } else if t == KqlType::String && scalar {
            // Kusto's `tostring()` text of scalars (`1`, `2.5`, datetimes with `Z`).
            b.push_text(&scalar_text(a.as_ref(), row));
        } else {
            b.push_value(&value_at(a.as_ref(), row));
        }
    }
    Ok(b.finish())
}

fn safe() -> CastOptions<'static> {
    CastOptions {
        safe: true,
        ..Default::default()
    }
}

fn is_scalar(dt: &DataType) -> bool {
    dt.is_primitive()
        || matches!(
            dt,
            DataType::Boolean | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        )
}

/// The column-by-column conversions, where an Arrow cast gives what Kusto gives.
fn fast_path(a: &ArrayRef, t: KqlType) -> Option<ArrayRef> {
    let dt = a.data_type();
    let target = t.to_arrow();
    let numeric = dt.is_integer() || dt.is_floating() || dt.is_decimal();
    match t {
        // A dynamic column holds JSON text, which a source string is not yet.
        KqlType::Dynamic => None,
        KqlType::String => strings(a),
        _ if *dt == target => Some(Arc::clone(a)),
        KqlType::Long | KqlType::Int | KqlType::Real | KqlType::Decimal if numeric => {
            cast_with_options(a, &target, &safe()).ok()
        }
        KqlType::Bool if dt.is_integer() || dt.is_floating() => {
            cast_with_options(a, &target, &safe()).ok()
        }
        KqlType::DateTime => datetimes(a),
        KqlType::TimeSpan => timespans(a),
        _ => None,
    }
}

/// Source strings as a string column: nulls become `""`, long values are cut.
fn strings(a: &ArrayRef) -> Option<ArrayRef> {
    if !matches!(
        a.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        return None;
    }
    let s = cast_with_options(a, &DataType::Utf8, &safe()).ok()?;
    let sa = s.as_string_opt::<i32>()?;
    let long = sa
        .offsets()
        .windows(2)
        .any(|w| usize::try_from(w[1] - w[0]).unwrap_or(usize::MAX) > MAX_VALUE_BYTES);
    if sa.null_count() == 0 && !long {
        return Some(s);
    }
    let mut b = ColumnBuilder::new(KqlType::String);
    for v in sa.iter() {
        match v {
            Some(v) => b.push_text(v),
            None => b.push_null(),
        }
    }
    Some(b.finish())
}

/// Timestamps (any unit; the time zone does not change the instant) and dates as
/// datetimes; values out of range are null.
fn datetimes(a: &ArrayRef) -> Option<ArrayRef> {
    let out = match a.data_type() {
        DataType::Timestamp(unit, _) => {
            let ints = cast_with_options(a, &DataType::Int64, &safe()).ok()?;
            let f = unit_nanos(*unit);
            ints.as_primitive::<Int64Type>()
                .unary_opt::<_, TimestampNanosecondType>(|v| v.checked_mul(f))
        }
        DataType::Date32 => a
            .as_primitive::<Date32Type>()
            .unary_opt::<_, TimestampNanosecondType>(|d| i64::from(d).checked_mul(NANOS_PER_DAY)),
        DataType::Date64 => a
            .as_primitive::<Date64Type>()
            .unary_opt::<_, TimestampNanosecondType>(|ms| ms.checked_mul(1_000_000)),
        _ => return None,
    };
    Some(Arc::new(out))
}

/// Durations and times of day (any unit) as timespans.
fn timespans(a: &ArrayRef) -> Option<ArrayRef> {
    let unit = match a.data_type() {
        DataType::Duration(u) | DataType::Time32(u) | DataType::Time64(u) => *u,
        _ => return None,
    };
    let f = unit_nanos(unit);
    let out = match a.data_type() {
        DataType::Time32(_) => {
            let ints = cast_with_options(a, &DataType::Int32, &safe()).ok()?;
            ints.as_primitive::<Int32Type>()
                .unary_opt::<_, DurationNanosecondType>(|v| i64::from(v).checked_mul(f))
        }
        _ => {
            let ints = cast_with_options(a, &DataType::Int64, &safe()).ok()?;
            ints.as_primitive::<Int64Type>()
                .unary_opt::<_, DurationNanosecondType>(|v| v.checked_mul(f))
        }
    };
    Some(Arc::new(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use arrow::array::{
        DictionaryArray, Float64Array, LargeStringArray, Time64MicrosecondArray,
        TimestampSecondArray, UInt64Array,
    };
    use arrow::datatypes::Int8Type;
    use kql_types::format::kql_to_string;

    use super::*;

    fn texts(a: &ArrayRef) -> Vec<String> {
        (0..a.len())
            .map(|i| {
                if a.is_null(i) {
                    "∅".to_string()
                } else {
                    kql_to_string(a.as_ref(), i)
                }
            })
            .collect()
    }

    fn conv(a: ArrayRef, t: KqlType) -> Vec<String> {
        let out = convert(&a, t).unwrap();
        assert_eq!(out.data_type(), &t.to_arrow());
        texts(&out)
    }

    #[test]
    fn column_conversions() {
        let u: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX, 5]));
        assert_eq!(conv(Arc::clone(&u), KqlType::Long), ["∅", "5"]);
        assert_eq!(conv(u, KqlType::String), ["18446744073709551615", "5"]);
        let f: ArrayRef = Arc::new(Float64Array::from(vec![1.9, f64::NAN, 1e300]));
        assert_eq!(conv(Arc::clone(&f), KqlType::Int), ["1", "∅", "∅"]);
        assert_eq!(
            conv(Arc::clone(&f), KqlType::Bool),
            ["true", "true", "true"]
        );
        assert_eq!(conv(f, KqlType::String), ["1.9", "NaN", "1E+300"]);
        let t: ArrayRef = Arc::new(TimestampSecondArray::from(vec![1, i64::MAX]));
        assert_eq!(
            conv(t, KqlType::DateTime),
            ["1970-01-01T00:00:01.0000000Z", "∅"]
        );
        let tod: ArrayRef = Arc::new(Time64MicrosecondArray::from(vec![3_723_000_000]));
        assert_eq!(conv(tod, KqlType::TimeSpan), ["01:02:03"]);
        let dict: DictionaryArray<Int8Type> = vec!["x", "y", "x"].into_iter().collect();
        assert_eq!(conv(Arc::new(dict), KqlType::String), ["x", "y", "x"]);
        let large: ArrayRef = Arc::new(LargeStringArray::from(vec![Some("5"), None]));
        assert_eq!(conv(Arc::clone(&large), KqlType::String), ["5", ""]);
        assert_eq!(conv(Arc::clone(&large), KqlType::Long), ["5", "∅"]);
        assert_eq!(conv(large, KqlType::Dynamic), ["5", "∅"]);
        assert_eq!(missing(KqlType::String, 2).null_count(), 0);
        assert_eq!(missing(KqlType::Guid, 2).null_count(), 2);
    }
}
