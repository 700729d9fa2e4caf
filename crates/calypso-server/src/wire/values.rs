//! Kusto's JSON encoding of single values (v2 rows and v1 rows use the same one).
//!
//! | type | JSON |
//! |---|---|
//! | bool | `true` / `false` |
//! | int, long | number |
//! | real | number; `"NaN"`, `"Infinity"`, `"-Infinity"` as strings |
//! | decimal | string, plain notation without trailing zeros |
//! | string | string (null → `""`) |
//! | datetime | `"yyyy-MM-ddTHH:mm:ss.fffffffZ"` |
//! | timespan | `"[-][d.]hh:mm:ss[.fffffff]"` |
//! | guid | lowercase `8-4-4-4-12` string |
//! | dynamic | the embedded JSON value |
//!
//! Nulls are `null` for every type but string.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    Decimal128Type, DurationNanosecondType, Float64Type, Int32Type, Int64Type,
    TimestampNanosecondType,
};
use kql_types::KqlType;
use kql_types::format::{
    format_datetime_kusto, format_decimal, format_guid, format_timespan_kusto,
};
use serde_json::Value;

/// The JSON value of row `row` of `array`, a column of KQL type `t`.
///
/// Arrays are expected in the canonical Arrow type of `t`
/// ([`KqlType::to_arrow`]); other representations are cast first, and a value that
/// cannot be read comes out as `null` (`""` for strings) rather than failing.
pub fn value_json(array: &dyn Array, row: usize, t: KqlType) -> Value {
    if row >= array.len() || array.is_null(row) {
        return null_of(t);
    }
    match canonical_value(array, row, t) {
        Some(v) => v,
        None => {
            // Not the canonical Arrow type: cast this one value and retry.
            let target = t.to_arrow();
            let one = array.slice(row, 1);
            match arrow::compute::cast(&one, &target) {
                Ok(c) if !c.is_null(0) => canonical_value(c.as_ref(), 0, t).unwrap_or(null_of(t)),
                _ => null_of(t),
            }
        }
    }
}

/// The null of a type: `""` for strings, `null` otherwise.
pub fn null_of(t: KqlType) -> Value {
    if t == KqlType::String {
        Value::String(String::new())
    } else {
        Value::Null
    }
}

/// Reads a non-null value from an array of the canonical type; `None` on a type mismatch.
fn canonical_value(a: &dyn Array, i: usize, t: KqlType) -> Option<Value> {
    Some(match t {
        KqlType::Bool => Value::Bool(a.as_boolean_opt()?.value(i)),
        KqlType::Int => Value::from(a.as_primitive_opt::<Int32Type>()?.value(i)),
        KqlType::Long => Value::from(a.as_primitive_opt::<Int64Type>()?.value(i)),
        KqlType::Real => real_json(a.as_primitive_opt::<Float64Type>()?.value(i)),
        KqlType::Decimal => {
            let d = a.as_primitive_opt::<Decimal128Type>()?;
            Value::String(format_decimal(d.value(i), d.scale()))
        }
        KqlType::String => Value::String(a.as_string_opt::<i32>()?.value(i).to_string()),
        KqlType::DateTime => Value::String(format_datetime_kusto(
            a.as_primitive_opt::<TimestampNanosecondType>()?.value(i),
        )),
        KqlType::TimeSpan => Value::String(format_timespan_kusto(
            a.as_primitive_opt::<DurationNanosecondType>()?.value(i),
        )),
        KqlType::Guid => {
            let g = a.as_fixed_size_binary_opt()?;
            if g.value_length() != 16 {
                return None;
            }
            Value::String(format_guid(g.value(i)))
        }
        KqlType::Dynamic => dynamic_json(a.as_string_opt::<i64>()?.value(i)),
    })
}

/// A real: a JSON number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub fn real_json(v: f64) -> Value {
    if v.is_nan() {
        Value::String("NaN".into())
    } else if v == f64::INFINITY {
        Value::String("Infinity".into())
    } else if v == f64::NEG_INFINITY {
        Value::String("-Infinity".into())
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// A dynamic value: its JSON text parsed and embedded. Text that is not JSON (which
/// Calypso never produces) is embedded as a JSON string.
pub fn dynamic_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// The .NET type name of v1 `DataType` for query results (`SByte` for bool, as the
/// emulator answers; `wire-protocol.md` §2).
pub fn dotnet_type(t: KqlType) -> &'static str {
    match t {
        KqlType::Bool => "SByte",
        KqlType::Int => "Int32",
        KqlType::Long => "Int64",
        KqlType::Real => "Double",
        KqlType::Decimal => "SqlDecimal",
        KqlType::String => "String",
        KqlType::DateTime => "DateTime",
        KqlType::TimeSpan => "TimeSpan",
        KqlType::Guid => "Guid",
        KqlType::Dynamic => "Object",
    }
}

/// All values of one row of a batch, as a JSON array.
pub fn row_json(
    batch: &arrow::array::RecordBatch,
    row: usize,
    columns: &[(String, KqlType)],
) -> Value {
    Value::Array(
        columns
            .iter()
            .enumerate()
            .map(|(c, (_, t))| match batch.columns().get(c) {
                Some(a) => value_json(a.as_ref(), row, *t),
                None => null_of(*t),
            })
            .collect(),
    )
}

/// Writes the rows of `table` as JSON arrays separated by commas (no brackets) to `out`.
/// Returns the number of rows written.
pub(crate) fn write_rows(
    out: &mut Vec<u8>,
    batches: &[arrow::array::RecordBatch],
    columns: &[(String, KqlType)],
    mut first: bool,
) -> usize {
    let mut n = 0;
    for b in batches {
        for r in 0..b.num_rows() {
            if !first {
                out.push(b',');
            }
            first = false;
            write_value(out, &row_json(b, r, columns));
            n += 1;
        }
    }
    n
}

/// Serializes a JSON value into `out` (serializing a `Value` into a `Vec` cannot fail).
pub(crate) fn write_value(out: &mut Vec<u8>, v: &Value) {
    if serde_json::to_writer(&mut *out, v).is_err() {
        out.extend_from_slice(b"null");
    }
}
