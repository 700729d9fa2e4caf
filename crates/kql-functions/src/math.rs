//! KQL math functions: `abs`, `round`, `ceiling`, `log`, `log10`, `log2`, `exp`, `exp2`,
//! `exp10`, `pow`, `sqrt`, `sign`, `pi`, `isnan`, `isinf`, `isfinite`, `rand`.
//!
//! Result types follow Kusto: `abs` gives long for ints (real, decimal and timespan keep
//! their type); `round` and `ceiling` keep int, long, real and decimal; everything else is
//! real (or bool for the `is*` tests). Null in gives null out. (`floor` is an alias of
//! `bin` and lives with the datetime functions.)

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, DurationNanosecondArray, Float64Array,
    Int32Array, Int64Array,
};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Decimal128Type, DurationNanosecondType, Int64Type, TimeUnit};
use datafusion_common::Result;
use rand::Rng;

use crate::Registry;
use crate::convert::kernel::{KqlFn, bad_type, f64_col, i64_col, is_int_type, is_numeric_type};

/// Registers this family's functions.
pub(crate) fn register(r: &mut Registry) {
    let real = DataType::Float64;
    let fns = [
        KqlFn::with_ret_fn("abs", 1, 1, ret_abs, eval_abs),
        KqlFn::with_ret_fn("round", 1, 2, ret_round, eval_round),
        KqlFn::with_ret_fn("ceiling", 1, 1, ret_round, eval_ceiling),
        KqlFn::with_ret_fn("log", 1, 1, ret_real1, eval_log),
        KqlFn::with_ret_fn("log10", 1, 1, ret_real1, eval_log10),
        KqlFn::with_ret_fn("log2", 1, 1, ret_real1, eval_log2),
        KqlFn::with_ret_fn("exp", 1, 1, ret_real1, eval_exp),
        KqlFn::with_ret_fn("exp2", 1, 1, ret_real1, eval_exp2),
        KqlFn::with_ret_fn("exp10", 1, 1, ret_real1, eval_exp10),
        KqlFn::with_ret_fn("sqrt", 1, 1, ret_real1, eval_sqrt),
        KqlFn::with_ret_fn("sign", 1, 1, ret_real1, eval_sign),
        KqlFn::with_ret_fn("pow", 2, 2, ret_real2, eval_pow),
        KqlFn::new("pi", 0, 0, real.clone(), eval_pi),
        KqlFn::with_ret_fn("isnan", 1, 1, ret_bool1, eval_isnan),
        KqlFn::with_ret_fn("isinf", 1, 1, ret_bool1, eval_isinf),
        KqlFn::with_ret_fn("isfinite", 1, 1, ret_bool1, eval_isfinite),
        KqlFn::volatile("rand", 0, 1, real, eval_rand),
    ];
    for f in fns {
        let name = f.name_static();
        r.add_scalar(name, f.udf());
    }
}

/// Checks that every argument is numeric (or null).
fn check_numeric(func: &str, types: &[DataType]) -> Result<()> {
    for (i, t) in types.iter().enumerate() {
        if !is_numeric_type(t) {
            bad_type(func, &(i + 1).to_string(), t)?;
        }
    }
    Ok(())
}

fn ret_real1(t: &[DataType]) -> Result<DataType> {
    check_numeric("math", t)?;
    Ok(DataType::Float64)
}

fn ret_real2(t: &[DataType]) -> Result<DataType> {
    check_numeric("pow", t)?;
    Ok(DataType::Float64)
}

fn ret_bool1(t: &[DataType]) -> Result<DataType> {
    check_numeric("isnan", t)?;
    Ok(DataType::Boolean)
}

/// `abs`: ints → long; real, decimal128 and timespan keep their type.
fn ret_abs(t: &[DataType]) -> Result<DataType> {
    match &t[0] {
        d if is_int_type(d) => Ok(DataType::Int64),
        DataType::Decimal128(p, s) => Ok(DataType::Decimal128(*p, *s)),
        DataType::Duration(_) => Ok(DataType::Duration(TimeUnit::Nanosecond)),
        d if is_numeric_type(d) => Ok(DataType::Float64),
        d => bad_type("abs", "1", d),
    }
}

/// `round` / `ceiling`: int stays int, long stays long, decimal128 keeps its type, any
/// other number is real.
fn ret_round(t: &[DataType]) -> Result<DataType> {
    if let Some(p) = t.get(1)
        && !is_numeric_type(p)
    {
        bad_type("round", "2", p)?;
    }
    match &t[0] {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            Ok(DataType::Int32)
        }
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => Ok(DataType::Int64),
        DataType::Decimal128(p, s) => Ok(DataType::Decimal128(*p, *s)),
        d if is_numeric_type(d) => Ok(DataType::Float64),
        d => bad_type("round", "1", d),
    }
}

/// The input as Int64 values when it is an integer column.
fn long_values(a: &ArrayRef) -> Option<Int64Array> {
    if !is_int_type(a.data_type()) {
        return None;
    }
    let c = cast_with_options(a, &DataType::Int64, &CastOptions::default()).ok()?;
    Some(c.as_primitive::<Int64Type>().clone())
}

/// True for the small integer types that `round` returns as int.
fn is_small_int(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16
    )
}

/// An integer column result in the width `round`/`ceiling` give for input type `t`.
fn int_result(t: &DataType, values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    if is_small_int(t) {
        Arc::new(
            values
                .map(|v| v.and_then(|v| i32::try_from(v).ok()))
                .collect::<Int32Array>(),
        )
    } else {
        Arc::new(values.collect::<Int64Array>())
    }
}

/// A real column of the argument (null column for non-numbers).
fn reals(a: &ArrayRef) -> Float64Array {
    f64_col(a).unwrap_or_else(|| Float64Array::from(vec![None; a.len()]))
}

/// Maps a real column through `f`; `f` returning `None` gives null.
fn map_real(a: &ArrayRef, f: impl Fn(f64) -> Option<f64>) -> ArrayRef {
    Arc::new(
        reals(a)
            .iter()
            .map(|v| v.and_then(&f))
            .collect::<Float64Array>(),
    )
}

fn eval_abs(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let a = &args[0];
    if let Some(l) = long_values(a) {
        return Ok(Arc::new(
            l.iter()
                .map(|v| v.and_then(i64::checked_abs))
                .collect::<Int64Array>(),
        ));
    }
    match a.data_type() {
        DataType::Decimal128(p, s) => {
            let d = a.as_primitive::<Decimal128Type>();
            let out: Decimal128Array = d.iter().map(|v| v.and_then(i128::checked_abs)).collect();
            Ok(Arc::new(out.with_precision_and_scale(*p, *s)?))
        }
        DataType::Duration(_) => {
            let c = cast_with_options(
                a,
                &DataType::Duration(TimeUnit::Nanosecond),
                &CastOptions::default(),
            )?;
            let d = c.as_primitive::<DurationNanosecondType>();
            let out: DurationNanosecondArray =
                d.iter().map(|v| v.and_then(i64::checked_abs)).collect();
            Ok(Arc::new(out))
        }
        _ => Ok(map_real(a, |v| Some(v.abs()))),
    }
}

/// Rounds `v` to `digits` decimal digits, half away from zero (negative digits round
/// to tens, hundreds, ...).
pub fn round_real(v: f64, digits: i64) -> f64 {
    if !v.is_finite() {
        return v;
    }
    if digits == 0 {
        return v.round();
    }
    if digits > 0 {
        if digits > 308 {
            return v;
        }
        let f = 10f64.powi(digits as i32);
        let scaled = v * f;
        if !scaled.is_finite() {
            return v;
        }
        scaled.round() / f
    } else {
        if digits < -308 {
            return 0.0;
        }
        let f = 10f64.powi((-digits) as i32);
        (v / f).round() * f
    }
}

/// Rounds an integer `v` whose last `drop` decimal digits are removed, half away from
/// zero; gives the rounded quotient times 10^drop.
fn round_i128(v: i128, drop: u32) -> Option<i128> {
    if drop == 0 {
        return Some(v);
    }
    if drop > 38 {
        return Some(0);
    }
    let d = 10_i128.pow(drop);
    let mut q = v / d;
    let r = v % d;
    if r.unsigned_abs() * 2 >= d.unsigned_abs() {
        q += v.signum();
    }
    q.checked_mul(d)
}

/// Rounds an integer to `digits` (only negative digits change it).
pub fn round_long(v: i64, digits: i64) -> Option<i64> {
    if digits >= 0 {
        return Some(v);
    }
    let drop = u32::try_from(digits.unsigned_abs()).unwrap_or(u32::MAX);
    round_i128(i128::from(v), drop).and_then(|w| i64::try_from(w).ok())
}

fn eval_round(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let a = &args[0];
    let digits = match args.get(1) {
        Some(p) => i64_col(p),
        None => Int64Array::from(vec![0; rows]),
    };
    let digit = |i: usize| {
        if digits.is_null(i) {
            None
        } else {
            Some(digits.value(i))
        }
    };
    if let Some(l) = long_values(a) {
        let values = (0..rows).map(|i| {
            let v = if l.is_null(i) { None } else { Some(l.value(i)) };
            v.zip(digit(i)).and_then(|(v, p)| round_long(v, p))
        });
        return Ok(int_result(a.data_type(), values));
    }
    if let DataType::Decimal128(p, s) = a.data_type() {
        let d = a.as_primitive::<Decimal128Type>();
        let scale = i64::from(*s);
        let out: Decimal128Array = (0..rows)
            .map(|i| {
                let v = if d.is_null(i) { None } else { Some(d.value(i)) };
                v.zip(digit(i)).and_then(|(v, pr)| {
                    if pr >= scale {
                        Some(v)
                    } else {
                        round_i128(v, u32::try_from(scale - pr).unwrap_or(u32::MAX))
                    }
                })
            })
            .collect();
        return Ok(Arc::new(out.with_precision_and_scale(*p, *s)?));
    }
    let r = reals(a);
    let out: Float64Array = (0..rows)
        .map(|i| {
            let v = if r.is_null(i) { None } else { Some(r.value(i)) };
            v.zip(digit(i)).map(|(v, p)| round_real(v, p))
        })
        .collect();
    Ok(Arc::new(out))
}

fn eval_ceiling(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let a = &args[0];
    if let Some(l) = long_values(a) {
        return Ok(int_result(a.data_type(), l.iter()));
    }
    if let DataType::Decimal128(p, s) = a.data_type() {
        let d = a.as_primitive::<Decimal128Type>();
        let unit = 10_i128
            .checked_pow(u32::from(s.unsigned_abs()))
            .unwrap_or(1);
        let out: Decimal128Array = d
            .iter()
            .map(|v| {
                v.and_then(|v| {
                    if *s <= 0 {
                        return Some(v);
                    }
                    let mut q = v / unit;
                    if v % unit > 0 {
                        q += 1;
                    }
                    q.checked_mul(unit)
                })
            })
            .collect();
        return Ok(Arc::new(out.with_precision_and_scale(*p, *s)?));
    }
    debug_assert_eq!(a.len(), rows);
    Ok(map_real(a, |v| Some(v.ceil())))
}

/// Logarithms: null for negative input, -Infinity for 0.
fn log_with(v: f64, f: fn(f64) -> f64) -> Option<f64> {
    if v < 0.0 { None } else { Some(f(v)) }
}

fn eval_log(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(map_real(&args[0], |v| log_with(v, f64::ln)))
}

fn eval_log10(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(map_real(&args[0], |v| log_with(v, f64::log10)))
}

fn eval_log2(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(map_real(&args[0], |v| log_with(v, f64::log2)))
}

fn eval_exp(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(map_real(&args[0], |v| Some(v.exp())))
}

fn eval_exp2(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(map_real(&args[0], |v| Some(v.exp2())))
}

fn eval_exp10(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(map_real(&args[0], |v| Some(10f64.powf(v))))
}

/// `sqrt`: null for negative input.
fn eval_sqrt(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(map_real(&args[0], |v| {
        if v < 0.0 { None } else { Some(v.sqrt()) }
    }))
}

/// `sign`: -1, 0 or +1 as real (NaN stays NaN).
fn eval_sign(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(map_real(&args[0], |v| {
        Some(if v.is_nan() {
            v
        } else if v > 0.0 {
            1.0
        } else if v < 0.0 {
            -1.0
        } else {
            0.0
        })
    }))
}

fn eval_pow(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let b = reals(&args[0]);
    let e = reals(&args[1]);
    let out: Float64Array = (0..rows)
        .map(|i| {
            if b.is_null(i) || e.is_null(i) {
                None
            } else {
                Some(b.value(i).powf(e.value(i)))
            }
        })
        .collect();
    Ok(Arc::new(out))
}

fn eval_pi(_args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    Ok(Arc::new(Float64Array::from(vec![
        std::f64::consts::PI;
        rows.max(1)
    ])))
}

/// A bool test of a real column (integers and decimals are never NaN or infinite).
fn test_real(a: &ArrayRef, f: fn(f64) -> bool) -> ArrayRef {
    Arc::new(reals(a).iter().map(|v| v.map(f)).collect::<BooleanArray>())
}

fn eval_isnan(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(test_real(&args[0], f64::is_nan))
}

fn eval_isinf(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(test_real(&args[0], f64::is_infinite))
}

fn eval_isfinite(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(test_real(&args[0], f64::is_finite))
}

/// `rand()`: uniform in [0, 1); `rand(n)`: one of 0.0, 1.0, ..., n-1 (as real); null
/// when n < 1.
fn eval_rand(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let mut rng = rand::rng();
    let out: Float64Array = match args.first() {
        None => (0..rows).map(|_| Some(rng.random::<f64>())).collect(),
        Some(n) => {
            let n = i64_col(n);
            (0..rows)
                .map(|i| {
                    if n.is_null(i) || n.value(i) < 1 {
                        None
                    } else {
                        Some(rng.random_range(0..n.value(i)) as f64)
                    }
                })
                .collect()
        }
    };
    Ok(Arc::new(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::convert::kernel::testing::{call, call_scalars, l, r};
    use datafusion_common::ScalarValue;
    use datafusion_expr::ColumnarValue;

    fn f(name: &str) -> Arc<datafusion_expr::ScalarUDF> {
        Registry::global().scalar(name).unwrap()
    }

    fn i(v: i32) -> ScalarValue {
        ScalarValue::Int32(Some(v))
    }

    fn dec(v: i128) -> ScalarValue {
        ScalarValue::Decimal128(Some(v), 38, 18)
    }

    const E18: i128 = 1_000_000_000_000_000_000;

    #[test]
    fn abs_types() {
        let udf = f("abs");
        assert_eq!(call_scalars(&udf, vec![i(-5)]), l(5));
        assert_eq!(call_scalars(&udf, vec![l(-5)]), l(5));
        assert_eq!(
            call_scalars(&udf, vec![l(i64::MIN)]),
            ScalarValue::Int64(None)
        );
        assert_eq!(call_scalars(&udf, vec![r(-1.5)]), r(1.5));
        assert_eq!(
            call_scalars(&udf, vec![dec(-15 * E18 / 10)]),
            dec(15 * E18 / 10)
        );
        assert_eq!(
            call_scalars(&udf, vec![ScalarValue::DurationNanosecond(Some(-5))]),
            ScalarValue::DurationNanosecond(Some(5))
        );
        assert_eq!(
            call_scalars(&udf, vec![ScalarValue::Float64(None)]),
            ScalarValue::Float64(None)
        );
        assert!(udf.return_type(&[DataType::Utf8]).is_err());
    }

    #[test]
    fn round_doc_examples() {
        assert_eq!(round_real(2.98765, 3), 2.988);
        assert_eq!(round_real(2.15, 1), 2.2);
        assert_eq!(round_real(2.15, 0), 2.0);
        assert_eq!(round_real(-50.55, -2), -100.0);
        assert_eq!(round_real(21.5, -1), 20.0);
        assert_eq!(round_real(2.5, 0), 3.0);
        assert_eq!(round_real(-2.5, 0), -3.0);
        assert_eq!(round_real(1e300, 20), 1e300);
        assert_eq!(round_long(15, -1), Some(20));
        assert_eq!(round_long(-15, -1), Some(-20));
        assert_eq!(round_long(14, -1), Some(10));
        assert_eq!(round_long(123, 2), Some(123));
        assert_eq!(round_long(123, -5), Some(0));
        let udf = f("round");
        assert_eq!(call_scalars(&udf, vec![r(2.98765), l(3)]), r(2.988));
        assert_eq!(call_scalars(&udf, vec![i(15), l(-1)]), i(20));
        assert_eq!(call_scalars(&udf, vec![l(7)]), l(7));
        assert_eq!(
            call_scalars(&udf, vec![dec(2_150_000_000_000_000_000), l(1)]),
            dec(2_200_000_000_000_000_000)
        );
        assert_eq!(
            call_scalars(&udf, vec![dec(-2_500_000_000_000_000_000)]),
            dec(-3 * E18)
        );
        assert_eq!(
            call_scalars(&udf, vec![r(1.5), ScalarValue::Int64(None)]),
            ScalarValue::Float64(None)
        );
    }

    #[test]
    fn ceiling_doc_examples() {
        let udf = f("ceiling");
        assert_eq!(call_scalars(&udf, vec![r(-1.1)]), r(-1.0));
        assert_eq!(call_scalars(&udf, vec![l(0)]), l(0));
        assert_eq!(call_scalars(&udf, vec![r(0.9)]), r(1.0));
        assert_eq!(call_scalars(&udf, vec![i(3)]), i(3));
        assert_eq!(call_scalars(&udf, vec![dec(11 * E18 / 10)]), dec(2 * E18));
        assert_eq!(call_scalars(&udf, vec![dec(-11 * E18 / 10)]), dec(-E18));
    }

    #[test]
    fn logs_and_exps() {
        let close = |a: ScalarValue, b: f64| match a {
            ScalarValue::Float64(Some(v)) => assert!((v - b).abs() < 1e-12, "{v} vs {b}"),
            other => panic!("{other:?}"),
        };
        close(call_scalars(&f("log"), vec![l(5)]), 1.6094379124341003);
        close(
            call_scalars(&f("log10"), vec![l(5)]),
            0.698_970_004_336_018_8,
        );
        close(call_scalars(&f("log2"), vec![l(5)]), 2.321_928_094_887_362);
        assert_eq!(
            call_scalars(&f("log"), vec![l(-1)]),
            ScalarValue::Float64(None)
        );
        assert_eq!(call_scalars(&f("log"), vec![r(0.0)]), r(f64::NEG_INFINITY));
        close(call_scalars(&f("exp"), vec![l(2)]), 7.38905609893065);
        close(call_scalars(&f("exp2"), vec![l(3)]), 8.0);
        close(call_scalars(&f("exp10"), vec![l(2)]), 100.0);
        close(call_scalars(&f("pow"), vec![l(2), i(3)]), 8.0);
        close(call_scalars(&f("sqrt"), vec![l(4)]), 2.0);
        assert_eq!(
            call_scalars(&f("sqrt"), vec![l(-4)]),
            ScalarValue::Float64(None)
        );
        close(call_scalars(&f("pi"), vec![]), std::f64::consts::PI);
    }

    #[test]
    fn sign_and_tests() {
        let sign = f("sign");
        assert_eq!(call_scalars(&sign, vec![l(-42)]), r(-1.0));
        assert_eq!(call_scalars(&sign, vec![l(0)]), r(0.0));
        assert_eq!(call_scalars(&sign, vec![r(11.2)]), r(1.0));
        let t = ScalarValue::Boolean(Some(true));
        let fa = ScalarValue::Boolean(Some(false));
        assert_eq!(call_scalars(&f("isnan"), vec![r(f64::NAN)]), t);
        assert_eq!(call_scalars(&f("isnan"), vec![l(1)]), fa);
        assert_eq!(call_scalars(&f("isinf"), vec![r(f64::NEG_INFINITY)]), t);
        assert_eq!(call_scalars(&f("isinf"), vec![r(f64::NAN)]), fa);
        assert_eq!(call_scalars(&f("isfinite"), vec![r(f64::INFINITY)]), fa);
        assert_eq!(call_scalars(&f("isfinite"), vec![r(1.0)]), t);
    }

    #[test]
    fn rand_values() {
        let udf = f("rand");
        for _ in 0..50 {
            match call_scalars(&udf, vec![]) {
                ScalarValue::Float64(Some(v)) => assert!((0.0..1.0).contains(&v)),
                other => panic!("{other:?}"),
            }
            match call_scalars(&udf, vec![l(3)]) {
                ScalarValue::Float64(Some(v)) => assert!(v == 0.0 || v == 1.0 || v == 2.0),
                other => panic!("{other:?}"),
            }
        }
        // A scalar argument still gives one value per row.
        let out = call(&udf, vec![ColumnarValue::Scalar(l(1000))]).unwrap();
        assert!(matches!(out, ColumnarValue::Array(a) if a.len() == 1));
    }
}
