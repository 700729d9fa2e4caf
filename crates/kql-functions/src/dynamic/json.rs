//! Conversions between Arrow values of any KQL type and JSON (`dynamic`) values.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, LargeStringArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use serde_json::{Map, Number, Value};

use crate::datetime::calendar::NANOS_PER_DAY;
use crate::datetime::format::{datetime_iso, timespan_constant};
pub use kql_types::json::{json_to_dynamic_text, parse_dynamic_text, parse_json_string};

/// A real as JSON: finite values are numbers; NaN and infinities become the strings
/// `"NaN"`, `"Infinity"` and `"-Infinity"` (as Kusto renders them).
pub fn real_to_json(v: f64) -> Value {
    match Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => Value::String("NaN".into()),
        None if v > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

fn nanos_per(unit: &TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

fn datetime_json(v: i64, unit: &TimeUnit) -> Value {
    match v.checked_mul(nanos_per(unit)) {
        Some(ns) => Value::String(datetime_iso(ns)),
        None => Value::Null,
    }
}

fn timespan_json(v: i64, unit: &TimeUnit) -> Value {
    match v.checked_mul(nanos_per(unit)) {
        Some(ns) => Value::String(timespan_constant(ns)),
        None => Value::Null,
    }
}

/// A GUID's 16 bytes as Kusto prints it: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn guid_string(bytes: &[u8]) -> String {
    match uuid::Uuid::from_slice(bytes) {
        Ok(u) => u.hyphenated().to_string(),
        Err(_) => String::new(),
    }
}

fn decimal_json(v: f64) -> Value {
    real_to_json(v)
}

/// The JSON value of row `row` of an Arrow array of any KQL type.
///
/// * null → `null`; bool, int, long, real → JSON booleans and numbers;
/// * decimal → JSON number (as a real);
/// * string → JSON string; dynamic (`LargeUtf8`) → the JSON it holds;
/// * datetime → `"yyyy-MM-ddTHH:mm:ss.fffffffZ"`, timespan → `"[d.]hh:mm:ss[.fffffff]"`,
///   guid → its hyphenated form.
pub fn dynamic_to_json(array: &dyn Array, row: usize) -> Value {
    if row >= array.len() || array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Null => Value::Null,
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8 => Value::from(array.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => Value::from(array.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => Value::from(array.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => Value::from(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::from(array.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => Value::from(array.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => Value::from(array.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => Value::from(array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float16 => {
            real_to_json(f64::from(array.as_primitive::<Float16Type>().value(row)))
        }
        DataType::Float32 => {
            real_to_json(f64::from(array.as_primitive::<Float32Type>().value(row)))
        }
        DataType::Float64 => real_to_json(array.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal32(_, s) => decimal_json(
            f64::from(array.as_primitive::<Decimal32Type>().value(row)) / 10f64.powi(i32::from(*s)),
        ),
        DataType::Decimal64(_, s) => decimal_json(
            array.as_primitive::<Decimal64Type>().value(row) as f64 / 10f64.powi(i32::from(*s)),
        ),
        DataType::Decimal128(_, s) => decimal_json(
            array.as_primitive::<Decimal128Type>().value(row) as f64 / 10f64.powi(i32::from(*s)),
        ),
        DataType::Decimal256(_, s) => {
            let v = array.as_primitive::<Decimal256Type>().value(row);
            match v.to_i128() {
                Some(v) => decimal_json(v as f64 / 10f64.powi(i32::from(*s))),
                None => Value::Null,
            }
        }
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_string()),
        DataType::Utf8View => Value::String(array.as_string_view().value(row).to_string()),
        DataType::LargeUtf8 => parse_dynamic_text(array.as_string::<i64>().value(row)),
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row),
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(row)
                }
                TimeUnit::Microsecond => {
                    array.as_primitive::<TimestampMicrosecondType>().value(row)
                }
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
            };
            datetime_json(v, unit)
        }
        DataType::Date32 => {
            let d = i64::from(array.as_primitive::<Date32Type>().value(row));
            match d.checked_mul(NANOS_PER_DAY) {
                Some(ns) => Value::String(datetime_iso(ns)),
                None => Value::Null,
            }
        }
        DataType::Date64 => datetime_json(
            array.as_primitive::<Date64Type>().value(row),
            &TimeUnit::Millisecond,
        ),
        DataType::Duration(unit) => {
            let v = match unit {
                TimeUnit::Second => array.as_primitive::<DurationSecondType>().value(row),
                TimeUnit::Millisecond => array.as_primitive::<DurationMillisecondType>().value(row),
                TimeUnit::Microsecond => array.as_primitive::<DurationMicrosecondType>().value(row),
                TimeUnit::Nanosecond => array.as_primitive::<DurationNanosecondType>().value(row),
            };
            timespan_json(v, unit)
        }
        DataType::FixedSizeBinary(16) => {
            Value::String(guid_string(array.as_fixed_size_binary().value(row)))
        }
        _ => {
            let opts = arrow::util::display::FormatOptions::default();
            match arrow::util::display::ArrayFormatter::try_new(array, &opts) {
                Ok(f) => Value::String(f.value(row).to_string()),
                Err(_) => Value::Null,
            }
        }
    }
}

/// Builds a `dynamic` column (LargeUtf8 holding compact JSON; JSON null is an Arrow null).
pub fn dynamic_array<I: IntoIterator<Item = Option<Value>>>(values: I) -> ArrayRef {
    Arc::new(
        values
            .into_iter()
            .map(|v| v.as_ref().and_then(json_to_dynamic_text))
            .collect::<LargeStringArray>(),
    )
}

/// Numeric view of a JSON value (numbers only).
pub fn json_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// Integer view of a JSON value: integral numbers (and reals, truncated).
pub fn json_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.2e18)
                .map(|f| f.trunc() as i64)
        }),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// Kusto equality of two dynamic values: numbers compare by value (`1 == 1.0`),
/// everything else structurally.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// A JSON object from key/value pairs (later duplicates overwrite earlier ones).
pub fn object<I: IntoIterator<Item = (String, Value)>>(pairs: I) -> Value {
    Value::Object(pairs.into_iter().collect::<Map<String, Value>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BooleanArray, Decimal128Array, DurationNanosecondArray, FixedSizeBinaryArray, Float64Array,
        Int32Array, StringArray, TimestampNanosecondArray,
    };
    use serde_json::json;

    #[test]
    fn every_type() {
        let b = BooleanArray::from(vec![Some(true), None]);
        assert_eq!(dynamic_to_json(&b, 0), json!(true));
        assert_eq!(dynamic_to_json(&b, 1), Value::Null);
        assert_eq!(dynamic_to_json(&Int32Array::from(vec![7]), 0), json!(7));
        assert_eq!(
            dynamic_to_json(&Float64Array::from(vec![1.5]), 0),
            json!(1.5)
        );
        assert_eq!(
            dynamic_to_json(&Float64Array::from(vec![f64::NAN]), 0),
            json!("NaN")
        );
        let d = Decimal128Array::from(vec![1_500_000_000_000_000_000i128])
            .with_precision_and_scale(38, 18)
            .expect("decimal");
        assert_eq!(dynamic_to_json(&d, 0), json!(1.5));
        assert_eq!(
            dynamic_to_json(&StringArray::from(vec!["a\"b"]), 0),
            json!("a\"b")
        );
        let dynm = LargeStringArray::from(vec![r#"{"a":[1,2]}"#]);
        assert_eq!(dynamic_to_json(&dynm, 0), json!({"a": [1, 2]}));
        let ts = TimestampNanosecondArray::from(vec![1_546_300_800_000_000_000]);
        assert_eq!(
            dynamic_to_json(&ts, 0),
            json!("2019-01-01T00:00:00.0000000Z")
        );
        let du = DurationNanosecondArray::from(vec![2_000_000_000]);
        assert_eq!(dynamic_to_json(&du, 0), json!("00:00:02"));
        let g = FixedSizeBinaryArray::try_from_iter(
            vec![vec![
                0x12u8, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0, 1, 2, 3, 4, 5, 6, 7,
            ]]
            .into_iter(),
        )
        .expect("guid");
        assert_eq!(
            dynamic_to_json(&g, 0),
            json!("12345678-9abc-def0-0001-020304050607")
        );
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_json_string(r#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(parse_json_string("hello"), json!("hello"));
        assert_eq!(parse_json_string("{'a': 'b',}"), json!({"a": "b"}));
        assert_eq!(parse_json_string(""), Value::Null);
        assert_eq!(parse_json_string("123"), json!(123));
        assert_eq!(
            json_to_dynamic_text(&json!({"b": 1, "a": 2})),
            Some(r#"{"b":1,"a":2}"#.into())
        );
        assert_eq!(json_to_dynamic_text(&Value::Null), None);
    }

    #[test]
    fn equality() {
        assert!(json_equal(&json!(1), &json!(1.0)));
        assert!(!json_equal(&json!(1), &json!("1")));
        assert!(json_equal(&json!({"a": [1, 2]}), &json!({"a": [1.0, 2]})));
    }
}
