//! KQL conversion functions (`tostring`, `toint`, `tolong`, `toreal`/`todouble`,
//! `todecimal`, `tobool`/`toboolean`, `toguid`, `todatetime`, `totimespan`) and the text
//! forms of KQL values shared with the rest of Calypso ([`kql_to_string`],
//! [`parse_datetime`], [`parse_timespan`], [`format_datetime_kusto`], ...).
//!
//! Conversions never fail: input that cannot be converted gives null (`""` for strings).

pub(crate) mod kernel;

use kql_types::{format, parse};

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, DurationNanosecondArray,
    FixedSizeBinaryArray, Float64Array, Int32Array, Int64Array, StringArray,
    TimestampNanosecondArray,
};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, DurationNanosecondType, TimeUnit, TimestampNanosecondType};
use datafusion_common::Result;

pub use format::{
    format_datetime_kusto, format_decimal, format_guid, format_real, format_timespan_kusto,
    kql_to_string,
};
pub use parse::{
    DATETIME_RANGE, is_datetime_beyond_range, parse_datetime, parse_decimal, parse_guid,
    parse_long, parse_real, parse_timespan, parse_timespan_literal,
};
pub(crate) use parse::{ticks_to_unix_nanos, unix_nanos_to_ticks};

use crate::Registry;
use crate::types::{DECIMAL_PRECISION, DECIMAL_SCALE, NANOS_PER_TICK};
use kernel::{KqlFn, f64_col, f64_to_i64, is_int_type, str_col};

/// Registers this family's functions.
pub(crate) fn register(r: &mut Registry) {
    r.add_scalar(
        "tostring",
        KqlFn::new("tostring", 1, 1, DataType::Utf8, eval_tostring).udf(),
    );
    r.add_scalar(
        "toint",
        KqlFn::new("toint", 1, 1, DataType::Int32, eval_toint).udf(),
    );
    r.add_scalar(
        "tolong",
        KqlFn::new("tolong", 1, 1, DataType::Int64, eval_tolong).udf(),
    );
    for name in ["toreal", "todouble"] {
        r.add_scalar(
            name,
            KqlFn::new(name, 1, 1, DataType::Float64, eval_toreal).udf(),
        );
    }
    r.add_scalar(
        "todecimal",
        KqlFn::new(
            "todecimal",
            1,
            1,
            DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
            eval_todecimal,
        )
        .udf(),
    );
    for name in ["tobool", "toboolean"] {
        r.add_scalar(
            name,
            KqlFn::new(name, 1, 1, DataType::Boolean, eval_tobool).udf(),
        );
    }
    r.add_scalar(
        "toguid",
        KqlFn::new("toguid", 1, 1, DataType::FixedSizeBinary(16), eval_toguid).udf(),
    );
    r.add_scalar(
        "todatetime",
        KqlFn::new(
            "todatetime",
            1,
            1,
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            eval_todatetime,
        )
        .udf(),
    );
    for name in ["totimespan", "totime"] {
        r.add_scalar(
            name,
            KqlFn::new(
                name,
                1,
                1,
                DataType::Duration(TimeUnit::Nanosecond),
                eval_totimespan,
            )
            .udf(),
        );
    }
}

/// A parsed dynamic (JSON) value; `None` for invalid JSON or JSON null.
fn dyn_value(json: &str) -> Option<serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Null) | Err(_) => None,
        Ok(v) => Some(v),
    }
}

/// Rows of a dynamic (LargeUtf8) column mapped through `f` (null rows stay null).
fn map_dynamic<T>(a: &ArrayRef, f: impl Fn(serde_json::Value) -> Option<T>) -> Vec<Option<T>> {
    let s = a.as_string::<i64>();
    (0..s.len())
        .map(|i| {
            if s.is_null(i) {
                None
            } else {
                dyn_value(s.value(i)).and_then(&f)
            }
        })
        .collect()
}

/// Rows of a string column mapped through `f` (null rows stay null).
fn map_strings<T>(a: &ArrayRef, f: impl Fn(&str) -> Option<T>) -> Vec<Option<T>> {
    let s = str_col(a);
    (0..a.len())
        .map(|i| if a.is_null(i) { None } else { f(s.get(i)) })
        .collect()
}

/// Datetime columns (any unit, dates) as Unix nanoseconds.
fn datetime_nanos(a: &ArrayRef) -> Option<Vec<Option<i64>>> {
    if !matches!(
        a.data_type(),
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
    ) {
        return None;
    }
    let c = cast_with_options(
        a,
        &DataType::Timestamp(TimeUnit::Nanosecond, None),
        &CastOptions::default(),
    )
    .ok()?;
    Some(c.as_primitive::<TimestampNanosecondType>().iter().collect())
}

/// Timespan columns (any unit) as nanoseconds.
fn timespan_nanos(a: &ArrayRef) -> Option<Vec<Option<i64>>> {
    if !matches!(a.data_type(), DataType::Duration(_)) {
        return None;
    }
    let c = cast_with_options(
        a,
        &DataType::Duration(TimeUnit::Nanosecond),
        &CastOptions::default(),
    )
    .ok()?;
    Some(c.as_primitive::<DurationNanosecondType>().iter().collect())
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View)
}

/// `tostring()`: see [`kql_to_string`].
fn eval_tostring(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let a = &args[0];
    if a.data_type() == &DataType::Utf8 && a.null_count() == 0 {
        return Ok(Arc::clone(a));
    }
    let out: StringArray = (0..a.len())
        .map(|i| Some(kql_to_string(a.as_ref(), i)))
        .collect();
    Ok(Arc::new(out))
}

/// `tolong()` semantics, shared by `toint()`: ints as is; reals and decimals truncated;
/// bool 1/0; strings parsed as integers (`"1.5"` → null); datetime → .NET ticks since
/// 0001-01-01; timespan → ticks; dynamic numbers, strings and bools as above.
fn to_long_values(a: &ArrayRef) -> Vec<Option<i64>> {
    let t = a.data_type();
    if (is_int_type(t) || matches!(t, DataType::Boolean | DataType::Null))
        && let Ok(c) = cast_with_options(a, &DataType::Int64, &CastOptions::default())
    {
        return c
            .as_primitive::<arrow::datatypes::Int64Type>()
            .iter()
            .collect();
    }
    if let DataType::Decimal128(_, scale) = t {
        let d = a.as_primitive::<arrow::datatypes::Decimal128Type>();
        let div = 10_i128
            .checked_pow(u32::from(scale.unsigned_abs()))
            .unwrap_or(i128::MAX);
        return d
            .iter()
            .map(|v| {
                v.and_then(|v| {
                    let w = if *scale >= 0 {
                        v / div
                    } else {
                        v.checked_mul(div)?
                    };
                    i64::try_from(w).ok()
                })
            })
            .collect();
    }
    if let Some(f) = f64_col(a) {
        return f.iter().map(|v| v.and_then(f64_to_i64)).collect();
    }
    if is_string(t) {
        return map_strings(a, parse_long);
    }
    if t == &DataType::LargeUtf8 {
        return map_dynamic(a, |v| match v {
            serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(f64_to_i64)),
            serde_json::Value::String(s) => parse_long(&s),
            serde_json::Value::Bool(b) => Some(i64::from(b)),
            _ => None,
        });
    }
    if let Some(ns) = datetime_nanos(a) {
        return ns.into_iter().map(|v| v.map(unix_nanos_to_ticks)).collect();
    }
    if let Some(ns) = timespan_nanos(a) {
        return ns
            .into_iter()
            .map(|v| v.map(|n| n / NANOS_PER_TICK))
            .collect();
    }
    vec![None; a.len()]
}

fn eval_tolong(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(Arc::new(Int64Array::from(to_long_values(&args[0]))))
}

/// `toint()`: as `tolong()`, null when the value does not fit 32 bits.
fn eval_toint(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let out: Int32Array = to_long_values(&args[0])
        .into_iter()
        .map(|v| v.and_then(|v| i32::try_from(v).ok()))
        .collect();
    Ok(Arc::new(out))
}

/// `toreal()` / `todouble()`: numbers and bools as real; strings parsed (`NaN`,
/// `Infinity` accepted); datetime and timespan as ticks; dynamic numbers and strings.
fn eval_toreal(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let a = &args[0];
    let t = a.data_type();
    let out: Float64Array = if let Some(f) = f64_col(a) {
        f
    } else if is_string(t) {
        map_strings(a, parse_real).into()
    } else if t == &DataType::LargeUtf8 {
        map_dynamic(a, |v| match v {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => parse_real(&s),
            serde_json::Value::Bool(b) => Some(f64::from(u8::from(b))),
            _ => None,
        })
        .into()
    } else if let Some(ns) = datetime_nanos(a) {
        ns.into_iter()
            .map(|v| v.map(|n| unix_nanos_to_ticks(n) as f64))
            .collect()
    } else if let Some(ns) = timespan_nanos(a) {
        ns.into_iter()
            .map(|v| v.map(|n| (n / NANOS_PER_TICK) as f64))
            .collect()
    } else {
        Float64Array::from(vec![None; a.len()])
    };
    Ok(Arc::new(out))
}

/// A real as a decimal with `DECIMAL_SCALE` digits (via its shortest text form).
fn f64_to_decimal(v: f64) -> Option<i128> {
    if !v.is_finite() {
        return None;
    }
    parse_decimal(&format!("{v:e}"), DECIMAL_SCALE)
}

/// `todecimal()`.
fn eval_todecimal(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let a = &args[0];
    let t = a.data_type();
    let scale_mul = 10_i128.pow(DECIMAL_SCALE as u32);
    let from_long = |v: i64| i128::from(v).checked_mul(scale_mul);
    let values: Vec<Option<i128>> =
        if is_int_type(t) || matches!(t, DataType::Boolean | DataType::Null) {
            to_long_values(a)
                .into_iter()
                .map(|v| v.and_then(from_long))
                .collect()
        } else if matches!(t, DataType::Float16 | DataType::Float32 | DataType::Float64) {
            f64_col(a)
                .map(|f| f.iter().map(|v| v.and_then(f64_to_decimal)).collect())
                .unwrap_or_else(|| vec![None; a.len()])
        } else if matches!(
            t,
            DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        ) {
            (0..a.len())
                .map(|i| {
                    if a.is_null(i) {
                        None
                    } else {
                        parse_decimal(&kql_to_string(a.as_ref(), i), DECIMAL_SCALE)
                    }
                })
                .collect()
        } else if is_string(t) {
            map_strings(a, |s| parse_decimal(s, DECIMAL_SCALE))
        } else if t == &DataType::LargeUtf8 {
            map_dynamic(a, |v| match v {
                serde_json::Value::Number(n) => parse_decimal(&n.to_string(), DECIMAL_SCALE),
                serde_json::Value::String(s) => parse_decimal(&s, DECIMAL_SCALE),
                serde_json::Value::Bool(b) => from_long(i64::from(b)),
                _ => None,
            })
        } else {
            to_long_values(a)
                .into_iter()
                .map(|v| v.and_then(from_long))
                .collect()
        };
    let out =
        Decimal128Array::from(values).with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)?;
    Ok(Arc::new(out))
}

/// Parses a bool as `tobool()` does: `true`/`false` (any case), or an integer
/// (non-zero is true).
fn parse_bool(s: &str) -> Option<bool> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("true") {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        parse_long(t).map(|v| v != 0)
    }
}

/// `tobool()` / `toboolean()`: numbers are true when non-zero; strings `true`/`false`.
fn eval_tobool(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let a = &args[0];
    let t = a.data_type();
    let out: BooleanArray = if t == &DataType::Boolean {
        a.as_boolean().clone()
    } else if let Some(f) = f64_col(a) {
        f.iter().map(|v| v.map(|v| v != 0.0)).collect()
    } else if is_string(t) {
        map_strings(a, parse_bool).into()
    } else if t == &DataType::LargeUtf8 {
        map_dynamic(a, |v| match v {
            serde_json::Value::Bool(b) => Some(b),
            serde_json::Value::Number(n) => n.as_f64().map(|f| f != 0.0),
            serde_json::Value::String(s) => parse_bool(&s),
            _ => None,
        })
        .into()
    } else {
        to_long_values(a)
            .into_iter()
            .map(|v| v.map(|v| v != 0))
            .collect()
    };
    Ok(Arc::new(out))
}

/// `toguid()`: see [`parse_guid`].
fn eval_toguid(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let a = &args[0];
    let t = a.data_type();
    if t == &DataType::FixedSizeBinary(16) {
        return Ok(Arc::clone(a));
    }
    let values: Vec<Option<[u8; 16]>> = if is_string(t) {
        map_strings(a, parse_guid)
    } else if t == &DataType::LargeUtf8 {
        map_dynamic(a, |v| match v {
            serde_json::Value::String(s) => parse_guid(&s),
            _ => None,
        })
    } else {
        vec![None; a.len()]
    };
    let out = FixedSizeBinaryArray::try_from_sparse_iter_with_size(values.into_iter(), 16)?;
    Ok(Arc::new(out))
}

/// `todatetime()`: strings parsed by [`parse_datetime`]; numbers are .NET ticks since
/// 0001-01-01 (as `tolong(datetime)` gives them).
fn eval_todatetime(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let a = &args[0];
    let t = a.data_type();
    let values: Vec<Option<i64>> = if let Some(ns) = datetime_nanos(a) {
        ns
    } else if is_string(t) {
        map_strings(a, parse_datetime)
    } else if t == &DataType::LargeUtf8 {
        map_dynamic(a, |v| match v {
            serde_json::Value::String(s) => parse_datetime(&s),
            serde_json::Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().and_then(f64_to_i64))
                .and_then(ticks_to_unix_nanos),
            _ => None,
        })
    } else if is_int_type(t) || f64_col(a).is_some() {
        to_long_values(a)
            .into_iter()
            .map(|v| v.and_then(ticks_to_unix_nanos))
            .collect()
    } else {
        vec![None; a.len()]
    };
    Ok(Arc::new(TimestampNanosecondArray::from(values)))
}

/// Parses a timespan string: .NET form first, then a KQL literal such as `1.5h`.
fn parse_any_timespan(s: &str) -> Option<i64> {
    parse_timespan(s).or_else(|| parse_timespan_literal(s))
}

/// `totimespan()`: strings parsed ([`parse_timespan`], then [`parse_timespan_literal`]);
/// numbers are ticks (100 ns), as `tolong(timespan)` gives them.
fn eval_totimespan(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let a = &args[0];
    let t = a.data_type();
    let from_ticks = |v: i64| v.checked_mul(NANOS_PER_TICK);
    let values: Vec<Option<i64>> = if let Some(ns) = timespan_nanos(a) {
        ns
    } else if is_string(t) {
        map_strings(a, parse_any_timespan)
    } else if t == &DataType::LargeUtf8 {
        map_dynamic(a, |v| match v {
            serde_json::Value::String(s) => parse_any_timespan(&s),
            serde_json::Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().and_then(f64_to_i64))
                .and_then(from_ticks),
            _ => None,
        })
    } else if is_int_type(t) || f64_col(a).is_some() {
        to_long_values(a)
            .into_iter()
            .map(|v| v.and_then(from_ticks))
            .collect()
    } else {
        vec![None; a.len()]
    };
    Ok(Arc::new(DurationNanosecondArray::from(values)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::kernel::testing::{call_scalars, dynamic, l, r, s};
    use super::*;
    use datafusion_common::ScalarValue;

    fn f(name: &str) -> Arc<datafusion_expr::ScalarUDF> {
        Registry::global().scalar(name).unwrap()
    }

    #[test]
    fn tostring_values() {
        let udf = f("tostring");
        assert_eq!(call_scalars(&udf, vec![l(123)]), s("123"));
        assert_eq!(call_scalars(&udf, vec![r(2.0)]), s("2"));
        assert_eq!(call_scalars(&udf, vec![ScalarValue::Int64(None)]), s(""));
        assert_eq!(
            call_scalars(&udf, vec![ScalarValue::Boolean(Some(false))]),
            s("false")
        );
        assert_eq!(call_scalars(&udf, vec![dynamic("\"abc\"")]), s("abc"));
        assert_eq!(call_scalars(&udf, vec![dynamic("[1,2]")]), s("[1,2]"));
        assert_eq!(
            call_scalars(
                &udf,
                vec![ScalarValue::DurationNanosecond(Some(3_600_000_000_000))]
            ),
            s("01:00:00")
        );
    }

    #[test]
    fn toint_tolong() {
        let i = f("toint");
        let lg = f("tolong");
        assert_eq!(
            call_scalars(&i, vec![s("123")]),
            ScalarValue::Int32(Some(123))
        );
        assert_eq!(call_scalars(&i, vec![r(2.7)]), ScalarValue::Int32(Some(2)));
        assert_eq!(
            call_scalars(&i, vec![r(-2.7)]),
            ScalarValue::Int32(Some(-2))
        );
        assert_eq!(
            call_scalars(&i, vec![l(5_000_000_000)]),
            ScalarValue::Int32(None)
        );
        assert_eq!(
            call_scalars(&i, vec![ScalarValue::Boolean(Some(true))]),
            ScalarValue::Int32(Some(1))
        );
        assert_eq!(call_scalars(&lg, vec![s("abc")]), ScalarValue::Int64(None));
        assert_eq!(call_scalars(&lg, vec![s("1.5")]), ScalarValue::Int64(None));
        assert_eq!(
            call_scalars(&lg, vec![r(f64::NAN)]),
            ScalarValue::Int64(None)
        );
        assert_eq!(
            call_scalars(&lg, vec![dynamic("42")]),
            ScalarValue::Int64(Some(42))
        );
        assert_eq!(
            call_scalars(&lg, vec![dynamic("\"42\"")]),
            ScalarValue::Int64(Some(42))
        );
        assert_eq!(
            call_scalars(
                &lg,
                vec![ScalarValue::DurationNanosecond(Some(1_000_000_000))]
            ),
            ScalarValue::Int64(Some(10_000_000))
        );
        assert_eq!(
            call_scalars(&lg, vec![ScalarValue::TimestampNanosecond(Some(0), None)]),
            ScalarValue::Int64(Some(621_355_968_000_000_000))
        );
        let dec = ScalarValue::Decimal128(Some(-2_500_000_000_000_000_000), 38, 18);
        assert_eq!(call_scalars(&lg, vec![dec]), ScalarValue::Int64(Some(-2)));
    }

    #[test]
    fn toreal_todecimal() {
        let tr = f("toreal");
        assert_eq!(call_scalars(&tr, vec![s("123.4")]), r(123.4));
        assert_eq!(call_scalars(&tr, vec![l(3)]), r(3.0));
        assert_eq!(call_scalars(&tr, vec![s("x")]), ScalarValue::Float64(None));
        assert_eq!(
            call_scalars(&f("todouble"), vec![s("-Infinity")]),
            r(f64::NEG_INFINITY)
        );
        let td = f("todecimal");
        assert_eq!(
            call_scalars(&td, vec![s("123.45678")]),
            ScalarValue::Decimal128(Some(123_456_780_000_000_000_000), 38, 18)
        );
        assert_eq!(
            call_scalars(&td, vec![r(0.1)]),
            ScalarValue::Decimal128(Some(100_000_000_000_000_000), 38, 18)
        );
        assert_eq!(
            call_scalars(&td, vec![l(-2)]),
            ScalarValue::Decimal128(Some(-2_000_000_000_000_000_000), 38, 18)
        );
        assert_eq!(
            call_scalars(&td, vec![s("nope")]),
            ScalarValue::Decimal128(None, 38, 18)
        );
    }

    #[test]
    fn tobool_values() {
        let b = f("tobool");
        let t = ScalarValue::Boolean(Some(true));
        let fa = ScalarValue::Boolean(Some(false));
        assert_eq!(call_scalars(&b, vec![s("true")]), t);
        assert_eq!(call_scalars(&b, vec![s("FALSE")]), fa);
        assert_eq!(call_scalars(&b, vec![l(123)]), t);
        assert_eq!(call_scalars(&b, vec![l(0)]), fa);
        assert_eq!(call_scalars(&b, vec![s("x")]), ScalarValue::Boolean(None));
        assert_eq!(call_scalars(&f("toboolean"), vec![dynamic("true")]), t);
    }

    #[test]
    fn toguid_values() {
        let g = f("toguid");
        let out = call_scalars(&g, vec![s("0123456789ab-cdef-0123-456789abcdef")]);
        let arr = out.to_array().unwrap();
        assert_eq!(
            kql_to_string(arr.as_ref(), 0),
            "01234567-89ab-cdef-0123-456789abcdef"
        );
        assert_eq!(
            call_scalars(&g, vec![s("not a guid")]),
            ScalarValue::FixedSizeBinary(16, None)
        );
    }

    #[test]
    fn todatetime_totimespan() {
        let d = f("todatetime");
        assert_eq!(
            call_scalars(&d, vec![s("2015-12-31 23:59:59.9")]),
            ScalarValue::TimestampNanosecond(Some(1_451_606_399_900_000_000), None)
        );
        assert_eq!(
            call_scalars(&d, vec![s("garbage")]),
            ScalarValue::TimestampNanosecond(None, None)
        );
        assert_eq!(
            call_scalars(&d, vec![l(621_355_968_000_000_000)]),
            ScalarValue::TimestampNanosecond(Some(0), None)
        );
        let ts = f("totimespan");
        assert_eq!(
            call_scalars(&ts, vec![s("0.00:03:00")]),
            ScalarValue::DurationNanosecond(Some(180_000_000_000))
        );
        assert_eq!(
            call_scalars(&ts, vec![s("1.5h")]),
            ScalarValue::DurationNanosecond(Some(5_400_000_000_000))
        );
        assert_eq!(
            call_scalars(&ts, vec![l(10)]),
            ScalarValue::DurationNanosecond(Some(1000))
        );
        assert_eq!(
            call_scalars(&ts, vec![s("x")]),
            ScalarValue::DurationNanosecond(None)
        );
    }
}
