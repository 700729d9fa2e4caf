//! Kusto's text forms of values (`tostring()` and result output).

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use chrono::{Datelike, Timelike};

use crate::types::NANOS_PER_TICK;

const NANOS_PER_SEC: i64 = 1_000_000_000;
const TICKS_PER_SEC: u64 = 10_000_000;

/// Formats row `row` of `array` as Kusto's `tostring()` does.
///
/// * null → `""`
/// * bool → `true` / `false`; int, long → decimal digits
/// * real → shortest round-trip text as .NET prints it (`2`, `0.1`, `1E+20`, `NaN`,
///   `Infinity`, `-Infinity`), see [`format_real`]
/// * decimal → plain decimal text without trailing fractional zeros
/// * datetime → `yyyy-MM-ddTHH:mm:ss.fffffffZ` ([`format_datetime_kusto`])
/// * timespan → `[-][d.]hh:mm:ss[.fffffff]` ([`format_timespan_kusto`])
/// * guid → lower-case `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`
/// * dynamic (LargeUtf8 JSON) → the JSON text, except that a JSON string gives its
///   unquoted value and JSON `null` gives `""`
pub fn kql_to_string(array: &dyn Array, row: usize) -> String {
    if row >= array.len() || array.is_null(row) {
        return String::new();
    }
    match array.data_type() {
        DataType::Null => String::new(),
        DataType::Boolean => {
            if array.as_boolean().value(row) {
                "true".to_string()
            } else {
                "false".to_string()
            }
        }
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).to_string(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).to_string(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::Float16 => format_real(f64::from(array.as_primitive::<Float16Type>().value(row))),
        DataType::Float32 => format_real(f64::from(array.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => format_real(array.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal32(_, s) => format_decimal_digits(
            &array.as_primitive::<Decimal32Type>().value(row).to_string(),
            *s,
        ),
        DataType::Decimal64(_, s) => format_decimal_digits(
            &array.as_primitive::<Decimal64Type>().value(row).to_string(),
            *s,
        ),
        DataType::Decimal128(_, s) => {
            format_decimal(array.as_primitive::<Decimal128Type>().value(row), *s)
        }
        DataType::Decimal256(_, s) => format_decimal_digits(
            &array
                .as_primitive::<Decimal256Type>()
                .value(row)
                .to_string(),
            *s,
        ),
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::Utf8View => array.as_string_view().value(row).to_string(),
        DataType::LargeUtf8 => dynamic_to_string(array.as_string::<i64>().value(row)),
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => array
                    .as_primitive::<TimestampSecondType>()
                    .value(row)
                    .checked_mul(NANOS_PER_SEC),
                TimeUnit::Millisecond => array
                    .as_primitive::<TimestampMillisecondType>()
                    .value(row)
                    .checked_mul(1_000_000),
                TimeUnit::Microsecond => array
                    .as_primitive::<TimestampMicrosecondType>()
                    .value(row)
                    .checked_mul(1_000),
                TimeUnit::Nanosecond => {
                    Some(array.as_primitive::<TimestampNanosecondType>().value(row))
                }
            };
            v.map(format_datetime_kusto).unwrap_or_default()
        }
        DataType::Date32 => i64::from(array.as_primitive::<Date32Type>().value(row))
            .checked_mul(86_400 * NANOS_PER_SEC)
            .map(format_datetime_kusto)
            .unwrap_or_default(),
        DataType::Date64 => array
            .as_primitive::<Date64Type>()
            .value(row)
            .checked_mul(1_000_000)
            .map(format_datetime_kusto)
            .unwrap_or_default(),
        DataType::Duration(unit) => {
            let v = match unit {
                TimeUnit::Second => array
                    .as_primitive::<DurationSecondType>()
                    .value(row)
                    .checked_mul(NANOS_PER_SEC),
                TimeUnit::Millisecond => array
                    .as_primitive::<DurationMillisecondType>()
                    .value(row)
                    .checked_mul(1_000_000),
                TimeUnit::Microsecond => array
                    .as_primitive::<DurationMicrosecondType>()
                    .value(row)
                    .checked_mul(1_000),
                TimeUnit::Nanosecond => {
                    Some(array.as_primitive::<DurationNanosecondType>().value(row))
                }
            };
            v.map(format_timespan_kusto).unwrap_or_default()
        }
        DataType::FixedSizeBinary(16) => {
            let bytes = array.as_fixed_size_binary().value(row);
            format_guid(bytes)
        }
        _ => {
            let options = arrow::util::display::FormatOptions::default();
            match arrow::util::display::ArrayFormatter::try_new(array, &options) {
                Ok(f) => f.value(row).to_string(),
                Err(_) => String::new(),
            }
        }
    }
}

/// `tostring()` of a dynamic value given as JSON text.
pub fn dynamic_to_string(json: &str) -> String {
    let t = json.trim();
    if t.starts_with('"')
        && let Ok(serde_json::Value::String(s)) = serde_json::from_str::<serde_json::Value>(t)
    {
        return s;
    }
    if t == "null" {
        return String::new();
    }
    json.to_string()
}

/// Formats a guid held in 16 bytes (RFC 4122 order, as `uuid::Uuid::as_bytes`).
/// A guid in its canonical lowercase 8-4-4-4-12 form.
pub fn format_guid(bytes: &[u8]) -> String {
    match uuid::Uuid::from_slice(bytes) {
        Ok(u) => u.hyphenated().to_string(),
        Err(_) => String::new(),
    }
}

/// Formats a real as .NET's `double.ToString()` (shortest round-trip text):
/// fixed notation for decimal exponents in `-4..=14`, otherwise `d.dddE+XX`.
/// `NaN`, `Infinity` and `-Infinity` for the special values.
pub fn format_real(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7", "1e20".
    let sci = format!("{v:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let Ok(exp) = exp.parse::<i32>() else {
        return sci;
    };
    let negative = mantissa.starts_with('-');
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if !(-4..15).contains(&exp) {
        out.push(char::from(digits[0]));
        if digits.len() > 1 {
            out.push('.');
            out.extend(digits[1..].iter().map(|&d| char::from(d)));
        }
        out.push('E');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        for i in 0..int_len {
            out.push(digits.get(i).map_or('0', |&d| char::from(d)));
        }
        if digits.len() > int_len {
            out.push('.');
            out.extend(digits[int_len..].iter().map(|&d| char::from(d)));
        }
    } else {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.extend(digits.iter().map(|&d| char::from(d)));
    }
    out
}

/// Formats an unscaled decimal value with `scale` fractional digits, trimming trailing
/// fractional zeros (`1.500` → `1.5`, `2.000` → `2`).
pub fn format_decimal(value: i128, scale: i8) -> String {
    format_decimal_digits(&value.to_string(), scale)
}

/// [`format_decimal`] on the decimal digits of the unscaled value (with optional `-`).
fn format_decimal_digits(unscaled: &str, scale: i8) -> String {
    let (neg, digits) = match unscaled.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, unscaled),
    };
    let mut out = String::new();
    if scale <= 0 {
        if digits != "0" {
            if neg {
                out.push('-');
            }
            out.push_str(digits);
            for _ in 0..(-i32::from(scale)) {
                out.push('0');
            }
        } else {
            out.push('0');
        }
        return out;
    }
    let scale = scale as usize;
    let padded = if digits.len() <= scale {
        format!("{}{}", "0".repeat(scale + 1 - digits.len()), digits)
    } else {
        digits.to_string()
    };
    let (int_part, frac_part) = padded.split_at(padded.len() - scale);
    let frac = frac_part.trim_end_matches('0');
    if neg && (int_part.bytes().any(|b| b != b'0') || !frac.is_empty()) {
        out.push('-');
    }
    out.push_str(int_part);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// Formats a datetime (nanoseconds since the Unix epoch) as Kusto prints it in results:
/// `yyyy-MM-ddTHH:mm:ss.fffffffZ`, always with seven fractional digits (100 ns ticks).
pub fn format_datetime_kusto(ns: i64) -> String {
    let secs = ns.div_euclid(NANOS_PER_SEC);
    let sub = ns.rem_euclid(NANOS_PER_SEC);
    let Some(dt) = chrono::DateTime::from_timestamp(secs, sub as u32) else {
        return String::new();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        sub / NANOS_PER_TICK
    )
}

/// Formats a timespan (nanoseconds) as .NET's `TimeSpan.ToString("c")`, which Kusto uses:
/// `[-][d.]hh:mm:ss[.fffffff]` (days only when non-zero, seven fractional digits only when
/// the value has a sub-second part). Precision is 100 ns ticks (truncated).
pub fn format_timespan_kusto(ns: i64) -> String {
    let ticks = ns / NANOS_PER_TICK;
    let neg = ticks < 0;
    let t = ticks.unsigned_abs();
    let frac = t % TICKS_PER_SEC;
    let total_secs = t / TICKS_PER_SEC;
    let s = total_secs % 60;
    let m = (total_secs / 60) % 60;
    let h = (total_secs / 3600) % 24;
    let d = total_secs / 86_400;
    let mut out = String::with_capacity(24);
    if neg {
        out.push('-');
    }
    if d > 0 {
        out.push_str(&format!("{d}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if frac > 0 {
        out.push_str(&format!(".{frac:07}"));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use arrow::array::{
        ArrayRef, BooleanArray, Decimal128Array, DurationNanosecondArray, FixedSizeBinaryArray,
        Float64Array, Int32Array, LargeStringArray, TimestampNanosecondArray,
    };
    use std::sync::Arc;

    #[test]
    fn reals() {
        assert_eq!(format_real(2.0), "2");
        assert_eq!(format_real(-2.5), "-2.5");
        assert_eq!(format_real(0.1), "0.1");
        assert_eq!(format_real(123.45), "123.45");
        assert_eq!(format_real(1e14), "100000000000000");
        assert_eq!(format_real(1e15), "1E+15");
        assert_eq!(format_real(1.5e20), "1.5E+20");
        assert_eq!(format_real(0.0001), "0.0001");
        assert_eq!(format_real(0.00001), "1E-05");
        assert_eq!(format_real(-1.25e-7), "-1.25E-07");
        assert_eq!(format_real(1e300), "1E+300");
        assert_eq!(format_real(f64::NAN), "NaN");
        assert_eq!(format_real(f64::INFINITY), "Infinity");
        assert_eq!(format_real(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(format_real(0.0), "0");
        assert_eq!(format_real(1.0 / 3.0), "0.3333333333333333");
    }

    #[test]
    fn decimals() {
        assert_eq!(format_decimal(1_500_000_000_000_000_000, 18), "1.5");
        assert_eq!(format_decimal(2_000_000_000_000_000_000, 18), "2");
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(0, 18), "0");
        assert_eq!(format_decimal(12, -2), "1200");
        assert_eq!(format_decimal(-123456, 3), "-123.456");
    }

    #[test]
    fn datetimes() {
        assert_eq!(format_datetime_kusto(0), "1970-01-01T00:00:00.0000000Z");
        assert_eq!(
            format_datetime_kusto(1_577_836_800_123_456_700),
            "2020-01-01T00:00:00.1234567Z"
        );
        assert_eq!(format_datetime_kusto(-100), "1969-12-31T23:59:59.9999999Z");
    }

    #[test]
    fn timespans() {
        assert_eq!(format_timespan_kusto(0), "00:00:00");
        assert_eq!(format_timespan_kusto(NANOS_PER_SEC), "00:00:01");
        assert_eq!(format_timespan_kusto(3 * 3600 * NANOS_PER_SEC), "03:00:00");
        assert_eq!(
            format_timespan_kusto(4 * 86_400 * NANOS_PER_SEC),
            "4.00:00:00"
        );
        assert_eq!(format_timespan_kusto(1_500_000_000), "00:00:01.5000000");
        assert_eq!(
            format_timespan_kusto(-(86_400 + 61) * NANOS_PER_SEC - 100),
            "-1.00:01:01.0000001"
        );
        assert_eq!(format_timespan_kusto(i64::MIN).chars().next(), Some('-'));
    }

    #[test]
    fn to_string_all_types() {
        let cases: Vec<(ArrayRef, &str)> = vec![
            (Arc::new(BooleanArray::from(vec![Some(true)])), "true"),
            (Arc::new(Int32Array::from(vec![Some(-7)])), "-7"),
            (Arc::new(Float64Array::from(vec![Some(2.0)])), "2"),
            (Arc::new(Float64Array::from(vec![None])), ""),
            (
                Arc::new(
                    Decimal128Array::from(vec![Some(1_250_000_000_000_000_000)])
                        .with_precision_and_scale(38, 18)
                        .unwrap(),
                ),
                "1.25",
            ),
            (
                Arc::new(TimestampNanosecondArray::from(vec![Some(
                    1_420_070_400_000_000_000,
                )])),
                "2015-01-01T00:00:00.0000000Z",
            ),
            (
                Arc::new(DurationNanosecondArray::from(vec![Some(NANOS_PER_SEC)])),
                "00:00:01",
            ),
            (
                Arc::new(LargeStringArray::from(vec![Some("\"x\\ty\"")])),
                "x\ty",
            ),
            (
                Arc::new(LargeStringArray::from(vec![Some("{\"a\":1}")])),
                "{\"a\":1}",
            ),
            (Arc::new(LargeStringArray::from(vec![Some("null")])), ""),
            (
                Arc::new(
                    FixedSizeBinaryArray::try_from_iter(
                        vec![vec![
                            0x74u8, 0xbe, 0x27, 0xde, 0x1e, 0x4e, 0x49, 0xd9, 0xb5, 0x79, 0xfe,
                            0x0b, 0x33, 0x1d, 0x36, 0x42,
                        ]]
                        .into_iter(),
                    )
                    .unwrap(),
                ),
                "74be27de-1e4e-49d9-b579-fe0b331d3642",
            ),
        ];
        for (a, want) in cases {
            assert_eq!(kql_to_string(a.as_ref(), 0), want, "{:?}", a.data_type());
        }
    }
}
