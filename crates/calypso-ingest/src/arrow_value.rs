//! One value of an Arrow array (as the columnar formats decode it) as a JSON value: how
//! nested records, lists and maps go into `dynamic` columns, and how the per-value
//! route of mappings (paths into lists and maps, transformations) sees values.
//!
//! * Numbers are JSON numbers (decimals as the nearest number; NaN and infinities, which
//!   JSON has no form for, are null); strings are strings.
//! * Bytes (`binary`, Avro `bytes` and `fixed`) are an array of byte values (0-255), as
//!   Kusto ingests Avro bytes into `dynamic`; a 16-byte fixed value (Parquet and Avro
//!   `uuid`) is a guid string.
//! * Datetimes (timestamps, dates) are `yyyy-MM-ddTHH:mm:ss.fffffffZ` strings; timespans
//!   (durations, times of day) are `[d.]hh:mm:ss[.fffffff]` strings.
//! * Records are objects (fields in order), lists are arrays, maps are objects (keys as
//!   text), unions are their chosen value, dictionary-encoded values their value.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Float16Type, Float32Type, Int8Type, Int16Type,
    Int32Type, Int64Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::record_batch::RecordBatch;
use kql_types::format::{
    format_datetime_kusto, format_guid, format_real, format_timespan_kusto, kql_to_string,
};
use serde_json::{Map, Number, Value};

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// The whole record `row` of `batch` as a JSON object (its fields by name, in order).
pub(crate) fn record_value(batch: &RecordBatch, row: usize) -> Value {
    let mut o = Map::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        o.insert(field.name().clone(), value_at(column.as_ref(), row));
    }
    Value::Object(o)
}

/// The value at `row` of `a` (null for a null or a row past the end).
pub(crate) fn value_at(a: &dyn Array, row: usize) -> Value {
    if row >= a.len() || a.is_null(row) {
        return Value::Null;
    }
    match a.data_type() {
        DataType::Null => Value::Null,
        DataType::Boolean => Value::Bool(a.as_boolean().value(row)),
        DataType::Int8 => Value::from(a.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => Value::from(a.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => Value::from(a.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => Value::from(a.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::from(a.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => Value::from(a.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => Value::from(a.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => Value::from(a.as_primitive::<UInt64Type>().value(row)),
        // Floats: reals (`2.0`), at their own precision (a float32 1.1 is 1.1, not
        // 1.100000023841858).
        DataType::Float16 | DataType::Float32 | DataType::Float64 => scalar_text(a, row)
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(Value::Null, Value::Number),
        // Decimals: the number of their text (an integer when they have no fraction).
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => number(&scalar_text(a, row)),
        DataType::Utf8 => Value::String(a.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Value::String(a.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => Value::String(a.as_string_view().value(row).to_string()),
        DataType::Binary => bytes(a.as_binary::<i32>().value(row)),
        DataType::LargeBinary => bytes(a.as_binary::<i64>().value(row)),
        DataType::BinaryView => bytes(a.as_binary_view().value(row)),
        DataType::FixedSizeBinary(16) => {
            Value::String(format_guid(a.as_fixed_size_binary().value(row)))
        }
        DataType::FixedSizeBinary(_) => bytes(a.as_fixed_size_binary().value(row)),
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
            match datetime_nanos(a, row) {
                Some(n) => Value::String(format_datetime_kusto(n)),
                None => Value::Null,
            }
        }
        DataType::Duration(_) | DataType::Time32(_) | DataType::Time64(_) => {
            match timespan_nanos(a, row) {
                Some(n) => Value::String(format_timespan_kusto(n)),
                None => Value::Null,
            }
        }
        DataType::List(_) => list(a.as_list::<i32>().value(row).as_ref()),
        DataType::LargeList(_) => list(a.as_list::<i64>().value(row).as_ref()),
        DataType::FixedSizeList(..) => list(a.as_fixed_size_list().value(row).as_ref()),
        DataType::Struct(_) => {
            let s = a.as_struct();
            let mut o = Map::new();
            for (field, column) in s.fields().iter().zip(s.columns()) {
                o.insert(field.name().clone(), value_at(column.as_ref(), row));
            }
            Value::Object(o)
        }
        DataType::Map(..) => {
            let entries = a.as_map().value(row);
            let mut o = Map::new();
            if entries.num_columns() >= 2 {
                let (keys, values) = (entries.column(0), entries.column(1));
                for i in 0..entries.len() {
                    let key = match value_at(keys.as_ref(), i) {
                        Value::String(s) => s,
                        Value::Null => continue,
                        other => other.to_string(),
                    };
                    o.insert(key, value_at(values.as_ref(), i));
                }
            }
            Value::Object(o)
        }
        DataType::Union(..) => {
            let u = a.as_union();
            let child = u.child(u.type_id(row));
            value_at(child.as_ref(), u.value_offset(row))
        }
        DataType::Dictionary(..) => match dictionary_key(a, row) {
            Some(k) => match a.as_any_dictionary_opt() {
                Some(d) => value_at(d.values().as_ref(), k),
                None => Value::Null,
            },
            None => Value::Null,
        },
        _ => Value::String(kql_to_string(a, row)),
    }
}

/// Kusto's `tostring()` text of the scalar at `row`; a 16- or 32-bit float by its
/// shortest text at its own precision (`1.1`, not `1.100000023841858`).
pub(crate) fn scalar_text(a: &dyn Array, row: usize) -> String {
    let short = match a.data_type() {
        DataType::Float16 => a.as_primitive::<Float16Type>().value(row).to_string(),
        DataType::Float32 => a.as_primitive::<Float32Type>().value(row).to_string(),
        _ => return kql_to_string(a, row),
    };
    match short.parse::<f64>() {
        Ok(v) => format_real(v),
        Err(_) => kql_to_string(a, row),
    }
}

/// The values of a list, as an array.
fn list(values: &dyn Array) -> Value {
    Value::Array((0..values.len()).map(|i| value_at(values, i)).collect())
}

fn bytes(b: &[u8]) -> Value {
    Value::Array(b.iter().map(|&x| Value::from(x)).collect())
}

/// A JSON number from its text; null for `NaN`, infinities and text that is no number.
fn number(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(u) = text.parse::<u64>() {
        return Value::from(u);
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// The position in the dictionary of the value at `row` of a dictionary array.
fn dictionary_key(a: &dyn Array, row: usize) -> Option<usize> {
    macro_rules! key {
        ($($t:ty),*) => {
            $(if let Some(d) = a.as_dictionary_opt::<$t>() {
                return usize::try_from(d.keys().value(row)).ok();
            })*
        };
    }
    key!(
        Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type
    );
    None
}

/// The factor from `unit` to nanoseconds.
pub(crate) fn unit_nanos(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// Nanoseconds since the epoch of a timestamp or date at `row` (the time zone of a
/// timestamp does not change its instant); `None` when out of range.
fn datetime_nanos(a: &dyn Array, row: usize) -> Option<i64> {
    match a.data_type() {
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(row),
                TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(row),
                TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(row),
                TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().value(row),
            };
            v.checked_mul(unit_nanos(*unit))
        }
        DataType::Date32 => {
            i64::from(a.as_primitive::<Date32Type>().value(row)).checked_mul(NANOS_PER_DAY)
        }
        DataType::Date64 => a
            .as_primitive::<Date64Type>()
            .value(row)
            .checked_mul(1_000_000),
        _ => None,
    }
}

/// Nanoseconds of a duration or time of day at `row`.
fn timespan_nanos(a: &dyn Array, row: usize) -> Option<i64> {
    match a.data_type() {
        DataType::Duration(unit) => {
            let v = match unit {
                TimeUnit::Second => a.as_primitive::<DurationSecondType>().value(row),
                TimeUnit::Millisecond => a.as_primitive::<DurationMillisecondType>().value(row),
                TimeUnit::Microsecond => a.as_primitive::<DurationMicrosecondType>().value(row),
                TimeUnit::Nanosecond => a.as_primitive::<DurationNanosecondType>().value(row),
            };
            v.checked_mul(unit_nanos(*unit))
        }
        DataType::Time32(TimeUnit::Second) => {
            Some(i64::from(a.as_primitive::<Time32SecondType>().value(row)) * 1_000_000_000)
        }
        DataType::Time32(_) => {
            Some(i64::from(a.as_primitive::<Time32MillisecondType>().value(row)) * 1_000_000)
        }
        DataType::Time64(TimeUnit::Microsecond) => a
            .as_primitive::<Time64MicrosecondType>()
            .value(row)
            .checked_mul(1_000),
        DataType::Time64(_) => Some(a.as_primitive::<Time64NanosecondType>().value(row)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, BinaryArray, Date32Array, DictionaryArray, Float32Array, Int32Array,
        Int64Builder, ListArray, MapBuilder, StringArray, StringBuilder, StructArray,
        TimestampMillisecondArray,
    };
    use arrow::datatypes::{Field, Int32Type as I32};

    use super::*;

    #[test]
    fn scalars_and_nested_values() {
        let f = Float32Array::from(vec![Some(1.1), Some(f32::NAN), None]);
        assert_eq!(value_at(&f, 0), serde_json::json!(1.1));
        assert_eq!(value_at(&f, 1), Value::Null);
        assert_eq!(value_at(&f, 2), Value::Null);
        let b = BinaryArray::from(vec![&b"\x01\xff"[..]]);
        assert_eq!(value_at(&b, 0), serde_json::json!([1, 255]));
        let t = TimestampMillisecondArray::from(vec![1_500]).with_timezone("+00:00");
        assert_eq!(
            value_at(&t, 0),
            serde_json::json!("1970-01-01T00:00:01.5000000Z")
        );
        let d = Date32Array::from(vec![1]);
        assert_eq!(
            value_at(&d, 0),
            serde_json::json!("1970-01-02T00:00:00.0000000Z")
        );
        let list = ListArray::from_iter_primitive::<I32, _, _>(vec![Some(vec![Some(1), None])]);
        assert_eq!(value_at(&list, 0), serde_json::json!([1, null]));
        let s = StructArray::from(vec![
            (
                Arc::new(Field::new("x", DataType::Int32, true)),
                Arc::new(Int32Array::from(vec![7])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("y", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec!["a"])) as ArrayRef,
            ),
        ]);
        assert_eq!(value_at(&s, 0), serde_json::json!({"x": 7, "y": "a"}));
        let mut m = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
        m.keys().append_value("k");
        m.values().append_value(3);
        m.append(true).unwrap();
        assert_eq!(value_at(&m.finish(), 0), serde_json::json!({"k": 3}));
        let dict: DictionaryArray<I32> = vec!["p", "q", "p"].into_iter().collect();
        assert_eq!(value_at(&dict, 2), serde_json::json!("p"));
    }
}
