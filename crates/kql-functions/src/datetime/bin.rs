//! `bin(value, roundTo)` (alias `floor`) and `bin_at(value, bin_size, fixed_point)`.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int64Type};
use datafusion_common::{Result, exec_err, plan_err};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{
    datetime_type, datetimes, get, is_datetime, is_decimal, is_float, is_integer, is_timespan,
    timespan_type, timespans,
};
use super::calendar;
use crate::Registry;
use crate::types::{DECIMAL_PRECISION, DECIMAL_SCALE};
use crate::util::{all_scalar, args_to_arrays, finish, row_count};

/// Registers `bin`, `floor` and `bin_at`.
pub(crate) fn register(r: &mut Registry) {
    r.add_scalar("bin", ScalarUDF::new_from_impl(Bin::new("bin", false)));
    r.add_scalar("floor", ScalarUDF::new_from_impl(Bin::new("floor", false)));
    r.add_scalar("bin_at", ScalarUDF::new_from_impl(Bin::new("bin_at", true)));
}

/// `bin` / `floor` (`at == false`, 2 arguments) or `bin_at` (`at == true`, 3 arguments).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Bin {
    name: &'static str,
    at: bool,
    signature: Signature,
}

impl Bin {
    /// The function `name`; `at` selects `bin_at`.
    pub fn new(name: &'static str, at: bool) -> Self {
        Self {
            name,
            at,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn decimal_type() -> DataType {
    DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)
}

/// The common type of the value and bin size (and fixed point), which is also the
/// result type; `None` when the combination is not allowed.
fn value_type(name: &str, types: &[DataType]) -> Result<DataType> {
    let value = &types[0];
    let size = &types[1];
    let fixed = types.get(2);
    let numeric = |t: &DataType| is_integer(t) || is_float(t) || is_decimal(t);
    let null = |t: &DataType| matches!(t, DataType::Null);
    let temporal_ok = |want: fn(&DataType) -> bool| {
        (null(size) || is_timespan(size)) && fixed.is_none_or(|f| null(f) || want(f))
    };
    if is_datetime(value) {
        if temporal_ok(is_datetime) {
            return Ok(datetime_type());
        }
    } else if is_timespan(value) {
        if temporal_ok(is_timespan) {
            return Ok(timespan_type());
        }
    } else if null(value) && is_timespan(size) {
        return Ok(match fixed {
            Some(f) if is_timespan(f) => timespan_type(),
            _ => datetime_type(),
        });
    } else if numeric(value) || null(value) {
        let all: Vec<&DataType> = std::iter::once(value)
            .chain(std::iter::once(size))
            .chain(fixed)
            .collect();
        if all.iter().all(|t| numeric(t) || null(t)) {
            return Ok(if all.iter().any(|t| is_decimal(t)) {
                decimal_type()
            } else if all.iter().any(|t| is_float(t)) {
                DataType::Float64
            } else {
                DataType::Int64
            });
        }
    }
    let list: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    plan_err!("{name}(): unsupported argument types ({})", list.join(", "))
}

impl ScalarUDFImpl for Bin {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let want = if self.at { 3 } else { 2 };
        if arg_types.len() != want {
            return plan_err!(
                "{}(): expected {want} arguments, got {}",
                self.name,
                arg_types.len()
            );
        }
        let vt = value_type(self.name, arg_types)?;
        let size_t = if vt == datetime_type() {
            timespan_type()
        } else {
            vt.clone()
        };
        let mut out = vec![vt.clone(), size_t];
        if self.at {
            out.push(vt);
        }
        Ok(out)
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        value_type(self.name, arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let n = if scalar { 1 } else { row_count(&args.args) };
        let a = args_to_arrays(&args.args, n)?;
        let out_type = args.return_field.data_type().clone();
        let fixed = a.get(2);
        let out: ArrayRef = if out_type == datetime_type() || out_type == timespan_type() {
            let is_dt = out_type == datetime_type();
            let v = to_i64(&a[0], is_dt)?;
            let size = timespans(&a[1])?;
            let f = match fixed {
                Some(f) => Some(to_i64(f, is_dt)?),
                None => None,
            };
            let vals = (0..n).map(|i| {
                let v = get(&v, i)?;
                let s = get(&size, i)?;
                match &f {
                    Some(f) => calendar::bin_at_i64(v, s, get(f, i)?),
                    None if is_dt => calendar::bin_datetime(v, s),
                    None => calendar::bin_at_i64(v, s, 0),
                }
            });
            let out: Int64Array = vals.collect();
            cast(&out, &out_type)?
        } else if out_type == DataType::Int64 {
            let c = cast_all(&a, &out_type)?;
            let p: Vec<&Int64Array> = c
                .iter()
                .filter_map(|x| x.as_primitive_opt::<Int64Type>())
                .collect();
            if p.len() != c.len() {
                return exec_err!("{}: internal type mismatch", self.name);
            }
            let out: Int64Array = (0..n)
                .map(|i| {
                    let f = match p.get(2) {
                        Some(f) => get(*f, i)?,
                        None => 0,
                    };
                    calendar::bin_at_i64(get(p[0], i)?, get(p[1], i)?, f)
                })
                .collect();
            Arc::new(out)
        } else if out_type == DataType::Float64 {
            let c = cast_all(&a, &out_type)?;
            let p: Vec<&Float64Array> = c
                .iter()
                .filter_map(|x| x.as_primitive_opt::<Float64Type>())
                .collect();
            if p.len() != c.len() {
                return exec_err!("{}: internal type mismatch", self.name);
            }
            let out: Float64Array = (0..n)
                .map(|i| {
                    let f = match p.get(2) {
                        Some(f) => get(*f, i)?,
                        None => 0.0,
                    };
                    bin_real(get(p[0], i)?, get(p[1], i)?, f)
                })
                .collect();
            Arc::new(out)
        } else {
            let c = cast_all(&a, &decimal_type())?;
            let p: Vec<&Decimal128Array> = c
                .iter()
                .filter_map(|x| x.as_primitive_opt::<Decimal128Type>())
                .collect();
            if p.len() != c.len() {
                return exec_err!("{}: internal type mismatch", self.name);
            }
            let out: Decimal128Array = (0..n)
                .map(|i| {
                    let f = match p.get(2) {
                        Some(f) => get(*f, i)?,
                        None => 0,
                    };
                    bin_i128(get(p[0], i)?, get(p[1], i)?, f)
                })
                .collect();
            Arc::new(out.with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)?)
        };
        finish(out, scalar)
    }
}

fn to_i64(a: &ArrayRef, is_dt: bool) -> Result<Int64Array> {
    let v = if is_dt {
        cast(&datetimes(a)?, &DataType::Int64)?
    } else {
        cast(&timespans(a)?, &DataType::Int64)?
    };
    match v.as_primitive_opt::<Int64Type>() {
        Some(p) => Ok(p.clone()),
        None => exec_err!("bin: cannot read {} as ticks", a.data_type()),
    }
}

fn cast_all(a: &[ArrayRef], t: &DataType) -> Result<Vec<ArrayRef>> {
    a.iter().map(|x| Ok(cast(x, t)?)).collect()
}

/// `bin_at` on reals: `floor((v - f) / s) * s + f`; null for a non-positive size.
pub fn bin_real(v: f64, s: f64, f: f64) -> Option<f64> {
    if s.is_nan() || s <= 0.0 || !s.is_finite() {
        return None;
    }
    let r = ((v - f) / s).floor() * s + f;
    r.is_finite().then_some(r)
}

/// `bin_at` on raw decimal values of equal scale.
pub fn bin_i128(v: i128, s: i128, f: i128) -> Option<i128> {
    if s <= 0 {
        return None;
    }
    let rel = v.checked_sub(f)?;
    rel.div_euclid(s).checked_mul(s)?.checked_add(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datetime::calendar::{NANOS_PER_DAY, NANOS_PER_HOUR};
    use arrow::datatypes::Field;
    use datafusion_common::ScalarValue;
    use datafusion_common::config::ConfigOptions;

    fn call(at: bool, args: Vec<ScalarValue>) -> ScalarValue {
        let f = Bin::new(if at { "bin_at" } else { "bin" }, at);
        let types: Vec<DataType> = args.iter().map(|a| a.data_type()).collect();
        let coerced = f.coerce_types(&types).expect("coerce");
        let ret = f.return_type(&types).expect("ret");
        let args: Vec<ColumnarValue> = args
            .into_iter()
            .zip(&coerced)
            .map(|(a, t)| ColumnarValue::Scalar(a).cast_to(t, None).expect("cast"))
            .collect();
        let out = f
            .invoke_with_args(ScalarFunctionArgs {
                args,
                arg_fields: coerced
                    .iter()
                    .map(|t| Arc::new(Field::new("a", t.clone(), true)))
                    .collect(),
                number_rows: 1,
                return_field: Arc::new(Field::new("r", ret, true)),
                config_options: Arc::new(ConfigOptions::default()),
            })
            .expect("invoke");
        match out {
            ColumnarValue::Scalar(s) => s,
            ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0).expect("row"),
        }
    }

    #[test]
    fn pure_math() {
        assert_eq!(bin_real(4.5, 1.0, 0.0), Some(4.0));
        assert_eq!(bin_real(-4.5, 1.0, 0.0), Some(-5.0));
        assert_eq!(bin_real(6.5, 2.5, 7.0), Some(4.5));
        assert_eq!(bin_real(1.0, 0.0, 0.0), None);
        assert_eq!(bin_real(1.0, -1.0, 0.0), None);
        assert_eq!(bin_i128(25, 10, 0), Some(20));
        assert_eq!(bin_i128(-25, 10, 0), Some(-30));
        assert_eq!(bin_i128(1, 0, 0), None);
    }

    #[test]
    fn numeric_bins() {
        assert_eq!(
            call(
                false,
                vec![ScalarValue::Float64(Some(4.5)), ScalarValue::Int64(Some(1))]
            ),
            ScalarValue::Float64(Some(4.0))
        );
        assert_eq!(
            call(
                false,
                vec![ScalarValue::Int64(Some(17)), ScalarValue::Int64(Some(5))]
            ),
            ScalarValue::Int64(Some(15))
        );
        assert_eq!(
            call(
                false,
                vec![ScalarValue::Int32(Some(-3)), ScalarValue::Int64(Some(5))]
            ),
            ScalarValue::Int64(Some(-5))
        );
        assert_eq!(
            call(
                false,
                vec![ScalarValue::Int64(Some(17)), ScalarValue::Int64(Some(-5))]
            ),
            ScalarValue::Int64(None)
        );
        assert_eq!(
            call(
                false,
                vec![ScalarValue::Int64(None), ScalarValue::Int64(Some(5))]
            ),
            ScalarValue::Int64(None)
        );
        assert_eq!(
            call(
                true,
                vec![
                    ScalarValue::Float64(Some(6.5)),
                    ScalarValue::Float64(Some(2.5)),
                    ScalarValue::Int64(Some(7))
                ]
            ),
            ScalarValue::Float64(Some(4.5))
        );
        let d = call(
            false,
            vec![
                ScalarValue::Decimal128(Some(2_500_000_000_000_000_000), 38, 18),
                ScalarValue::Int64(Some(1)),
            ],
        );
        assert_eq!(
            d,
            ScalarValue::Decimal128(Some(2_000_000_000_000_000_000), 38, 18)
        );
    }

    #[test]
    fn temporal_bins() {
        let r = call(
            false,
            vec![
                ScalarValue::DurationNanosecond(Some(16 * NANOS_PER_DAY)),
                ScalarValue::DurationNanosecond(Some(7 * NANOS_PER_DAY)),
            ],
        );
        assert_eq!(r, ScalarValue::DurationNanosecond(Some(14 * NANOS_PER_DAY)));
        let x = calendar::from_civil(1970, 5, 11, 13 * NANOS_PER_HOUR).expect("date");
        let r = call(
            false,
            vec![
                ScalarValue::TimestampNanosecond(Some(x), None),
                ScalarValue::DurationNanosecond(Some(NANOS_PER_DAY)),
            ],
        );
        assert_eq!(
            r,
            ScalarValue::TimestampNanosecond(Some(x - 13 * NANOS_PER_HOUR), None)
        );
        let r = call(
            true,
            vec![
                ScalarValue::DurationNanosecond(Some(NANOS_PER_HOUR)),
                ScalarValue::DurationNanosecond(Some(NANOS_PER_DAY)),
                ScalarValue::DurationNanosecond(Some(12 * NANOS_PER_HOUR)),
            ],
        );
        assert_eq!(
            r,
            ScalarValue::DurationNanosecond(Some(-12 * NANOS_PER_HOUR))
        );
    }

    #[test]
    fn rejects_bad_types() {
        let f = Bin::new("bin", false);
        assert!(f.coerce_types(&[datetime_type(), DataType::Int64]).is_err());
        assert!(f.coerce_types(&[DataType::Utf8, DataType::Int64]).is_err());
        assert!(f.coerce_types(&[DataType::Int64]).is_err());
    }
}
