//! `__series_fill` and `__series_axis` (see the family's doc).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, LargeStringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion_common::{Result, ScalarValue, exec_err, plan_err};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

use crate::Registry;
use crate::dynamic::dynamic_to_json;
use crate::types::KqlType;

/// The longest series Kusto builds.
pub const MAX_SERIES: usize = 1 << 20;

pub(crate) fn register(r: &mut Registry) {
    r.add_scalar(
        "__series_fill",
        ScalarUDF::new_from_impl(Series {
            axis: false,
            signature: sig(),
        }),
    );
    r.add_scalar(
        "__series_axis",
        ScalarUDF::new_from_impl(Series {
            axis: true,
            signature: sig(),
        }),
    );
}

fn sig() -> Signature {
    Signature::user_defined(Volatility::Immutable)
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Series {
    axis: bool,
    signature: Signature,
}

/// A bin on the axis: integral (nanoseconds, longs) or real.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Num {
    I(i64),
    F(f64),
}

impl Num {
    fn at(a: &dyn Array, i: usize) -> Option<Num> {
        if a.is_null(i) {
            return None;
        }
        match a.data_type() {
            DataType::Int64 => Some(Num::I(a.as_primitive::<Int64Type>().value(i))),
            DataType::Float64 => Some(Num::F(a.as_primitive::<Float64Type>().value(i))),
            _ => None,
        }
    }

    /// `(self - start) / step`, rounded for reals; `None` off the axis.
    fn index(self, start: Num, step: Num) -> Option<i64> {
        match (self, start, step) {
            (Num::I(b), Num::I(s), Num::I(st)) if st > 0 => {
                Some(i64::try_from((i128::from(b) - i128::from(s)) / i128::from(st)).ok()?)
            }
            (b, s, st) => {
                let (b, s, st) = (b.f(), s.f(), st.f());
                if st.is_nan() || st <= 0.0 {
                    return None;
                }
                let k = ((b - s) / st).round();
                k.is_finite().then_some(k as i64)
            }
        }
    }

    fn f(self) -> f64 {
        match self {
            Num::I(v) => v as f64,
            Num::F(v) => v,
        }
    }

    /// `self + k * step`.
    fn plus(self, k: i64, step: Num) -> Num {
        match (self, step) {
            (Num::I(s), Num::I(st)) => Num::I(s.saturating_add(k.saturating_mul(st))),
            (s, st) => Num::F(s.f() + k as f64 * st.f()),
        }
    }
}

/// The bins of a row and the axis they lie on: first bin and element count.
fn layout(
    bins: &dyn Array,
    start: Option<Num>,
    end: Option<Num>,
    step: Num,
    inclusive: bool,
) -> Result<Option<(Num, usize)>> {
    let present: Vec<Num> = (0..bins.len()).filter_map(|i| Num::at(bins, i)).collect();
    let first = match start {
        Some(s) => s,
        None => match present
            .iter()
            .copied()
            .reduce(|a, b| if b < a { b } else { a })
        {
            Some(m) => m,
            None => return Ok(None),
        },
    };
    let n = match end {
        Some(e) => {
            let span = match (e, first, step) {
                (Num::I(e), Num::I(s), Num::I(st)) if st > 0 => {
                    let d = i128::from(e) - i128::from(s);
                    if inclusive {
                        if d < 0 { 0 } else { d / i128::from(st) + 1 }
                    } else if d <= 0 {
                        0
                    } else {
                        (d + i128::from(st) - 1) / i128::from(st)
                    }
                }
                (e, s, st) => {
                    let q = (e.f() - s.f()) / st.f();
                    if !q.is_finite() || q < 0.0 {
                        0
                    } else if inclusive {
                        q.floor() as i128 + 1
                    } else {
                        q.ceil() as i128
                    }
                }
            };
            usize::try_from(span).unwrap_or(usize::MAX)
        }
        None => {
            let last = present
                .iter()
                .filter_map(|b| b.index(first, step))
                .max()
                .unwrap_or(-1);
            usize::try_from(last + 1).unwrap_or(0)
        }
    };
    if n > MAX_SERIES {
        return exec_err!(
            "make-series: a series of {n} elements is longer than the limit of {MAX_SERIES}"
        );
    }
    Ok(Some((first, n)))
}

fn scalar_num(args: &[ArrayRef], i: usize, row: usize) -> Option<Num> {
    let a = args.get(i)?;
    let row = if a.len() == 1 { 0 } else { row };
    Num::at(a.as_ref(), row)
}

fn list_row(a: &ArrayRef, row: usize) -> Result<ArrayRef> {
    match a.data_type() {
        DataType::List(_) => Ok(a.as_list::<i32>().value(row)),
        DataType::LargeList(_) => Ok(a.as_list::<i64>().value(row)),
        other => exec_err!("make-series: expected a list, got {other}"),
    }
}

fn axis_json(kind: &str, bins: &[Num]) -> Result<Vec<Value>> {
    let as_array: ArrayRef = match kind {
        "datetime" | "timespan" | "long" | "int" => {
            let ints: Int64Array = bins
                .iter()
                .map(|b| match b {
                    Num::I(v) => Some(*v),
                    Num::F(v) => Some(*v as i64),
                })
                .collect();
            let t = KqlType::from_name(kind).unwrap_or(KqlType::Long);
            cast(&ints, &t.to_arrow())?
        }
        _ => Arc::new(bins.iter().map(|b| Some(b.f())).collect::<Float64Array>()),
    };
    Ok((0..as_array.len())
        .map(|i| dynamic_to_json(as_array.as_ref(), i))
        .collect())
}

impl ScalarUDFImpl for Series {
    fn name(&self) -> &str {
        if self.axis {
            "__series_axis"
        } else {
            "__series_fill"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let want = if self.axis { 6 } else { 7 };
        if arg_types.len() != want {
            return plan_err!("{}(): expects {want} arguments", self.name());
        }
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::LargeUtf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| match a {
                ColumnarValue::Scalar(s) => s.to_array_of_size(1),
                ColumnarValue::Array(a) => Ok(Arc::clone(a)),
            })
            .collect::<Result<_>>()?;
        let (start_i, end_i, step_i, incl_i) = if self.axis {
            (1, 2, 3, 4)
        } else {
            (2, 3, 4, 6)
        };
        let kind = match (self.axis, args.args.get(5)) {
            (true, Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(k))))) => k.clone(),
            _ => String::new(),
        };
        let inclusive = matches!(
            args.args.get(incl_i),
            Some(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))
        );
        let mut out = LargeStringBuilder::new();
        for row in 0..n {
            let bins = list_row(&arrays[0], row)?;
            let Some(step) = scalar_num(&arrays, step_i, row) else {
                return exec_err!("make-series: the step must be a constant");
            };
            let start = scalar_num(&arrays, start_i, row);
            let end = scalar_num(&arrays, end_i, row);
            let Some((first, len)) = layout(bins.as_ref(), start, end, step, inclusive)? else {
                out.append_value("[]");
                continue;
            };
            let json = if self.axis {
                let axis: Vec<Num> = (0..len as i64).map(|k| first.plus(k, step)).collect();
                Value::Array(axis_json(&kind, &axis)?)
            } else {
                let values = list_row(&arrays[1], row)?;
                let default_array = &arrays[5];
                let drow = if default_array.len() == 1 { 0 } else { row };
                let default = dynamic_to_json(default_array.as_ref(), drow);
                let mut items = vec![default; len];
                for i in 0..bins.len() {
                    let Some(k) = Num::at(bins.as_ref(), i).and_then(|b| b.index(first, step))
                    else {
                        continue;
                    };
                    if let Ok(k) = usize::try_from(k)
                        && k < len
                    {
                        items[k] = dynamic_to_json(values.as_ref(), i);
                    }
                }
                Value::Array(items)
            };
            out.append_value(json.to_string());
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_follow_the_docs() {
        let bins: ArrayRef = Arc::new(Int64Array::from(vec![20, 40, 10]));
        let length = |inclusive| {
            layout(
                bins.as_ref(),
                Some(Num::I(0)),
                Some(Num::I(50)),
                Num::I(10),
                inclusive,
            )
            .ok()
            .flatten()
            .map(|l| l.1)
        };
        // from 0 to 50 step 10 (end exclusive): 0, 10, 20, 30, 40
        assert_eq!(length(false), Some(5));
        // in range(0, 50, 10) (inclusive): 0 .. 50
        assert_eq!(length(true), Some(6));
        // no from/to: the row's first bin to its last
        assert_eq!(
            layout(bins.as_ref(), None, None, Num::I(10), false)
                .ok()
                .flatten(),
            Some((Num::I(10), 4))
        );
        // 2^20 is the limit
        assert!(
            layout(
                bins.as_ref(),
                Some(Num::I(0)),
                Some(Num::I(1 << 21)),
                Num::I(1),
                false
            )
            .is_err()
        );
    }
}
