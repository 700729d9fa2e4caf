//! KQL operators on datetime and timespan values (`__t_add`, `__t_sub`, ...), and
//! `__range_count` and `__range_indexes` for the `range` operator. The planner emits these; numeric arithmetic
//! uses DataFusion's own operators.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, DurationNanosecondArray, Float64Array, Int64Array,
    TimestampNanosecondArray,
};
use arrow::datatypes::{
    DataType, DurationNanosecondType, Float64Type, Int64Type, TimeUnit, TimestampNanosecondType,
};
use datafusion_common::{Result, exec_err, plan_err};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::Registry;
use crate::util::{all_scalar, args_to_arrays, finish, row_count};

/// Registers the operator functions.
pub(crate) fn register(r: &mut Registry) {
    for op in [
        Op::Add,
        Op::Sub,
        Op::Mul,
        Op::Div,
        Op::Mod,
        Op::Neg,
        Op::RangeCount,
    ] {
        let f = TemporalOp::new(op);
        let name = f.name.to_string();
        r.add_scalar(&name, ScalarUDF::new_from_impl(f));
    }
    r.add_scalar(
        RANGE_INDEXES,
        ScalarUDF::new_from_impl(RangeIndexes {
            signature: Signature::exact(vec![DataType::Int64], Volatility::Immutable),
        }),
    );
}

/// `__range_indexes(count)`: the list `[0, count)`, which the planner unnests for a `range`
/// whose bounds are not constants (`range x from 1 to toscalar(...) step 1`). The engine's
/// physical optimizer replaces that unnest with a generator that streams the indexes in
/// batches; evaluated as a function (a plan the rule did not see), the list is built whole
/// and refused above [`RANGE_INDEXES_MAX`] values.
pub const RANGE_INDEXES: &str = "__range_indexes";

/// The most values `__range_indexes` builds as one list.
pub const RANGE_INDEXES_MAX: i64 = 16 * 1024 * 1024;

#[derive(Debug, PartialEq, Eq, Hash)]
struct RangeIndexes {
    signature: Signature,
}

impl ScalarUDFImpl for RangeIndexes {
    fn name(&self) -> &str {
        RANGE_INDEXES
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::new_list(DataType::Int64, true))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = row_count(&args.args);
        let scalar = all_scalar(&args.args);
        let arrays = args_to_arrays(&args.args, n)?;
        let counts = as_i64(&arrays[0])?;
        let mut out = arrow::array::ListBuilder::new(arrow::array::Int64Builder::new());
        for i in 0..n {
            // A null count is an empty range, as `__range_count` never gives one.
            let c = if counts.is_null(i) {
                0
            } else {
                counts.value(i).max(0)
            };
            if c > RANGE_INDEXES_MAX {
                return exec_err!(
                    "range of {c} rows is too large to materialize (at most {RANGE_INDEXES_MAX})"
                );
            }
            out.values().append_slice(&(0..c).collect::<Vec<i64>>());
            out.append(true);
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Neg,
    RangeCount,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TemporalOp {
    op: Op,
    name: &'static str,
    signature: Signature,
}

impl TemporalOp {
    fn new(op: Op) -> Self {
        let name = match op {
            Op::Add => "__t_add",
            Op::Sub => "__t_sub",
            Op::Mul => "__t_mul",
            Op::Div => "__t_div",
            Op::Mod => "__t_mod",
            Op::Neg => "__t_neg",
            Op::RangeCount => "__range_count",
        };
        let n = match op {
            Op::Neg => 1,
            Op::RangeCount => 3,
            _ => 2,
        };
        Self {
            op,
            name,
            signature: Signature::any(n, Volatility::Immutable),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum K {
    Dt,
    Ts,
    Num,
    Int,
}

fn kind(t: &DataType) -> Option<K> {
    match t {
        DataType::Timestamp(_, _) => Some(K::Dt),
        DataType::Duration(_) => Some(K::Ts),
        DataType::Float64 | DataType::Float32 | DataType::Decimal128(..) => Some(K::Num),
        DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8 => Some(K::Int),
        DataType::Null => Some(K::Num),
        _ => None,
    }
}

const TS: DataType = DataType::Duration(TimeUnit::Nanosecond);
const DT: DataType = DataType::Timestamp(TimeUnit::Nanosecond, None);

impl TemporalOp {
    fn result(&self, args: &[DataType]) -> Result<DataType> {
        let ks: Vec<Option<K>> = args.iter().map(kind).collect();
        let r = match (self.op, ks.as_slice()) {
            (Op::Add, [Some(K::Dt), Some(K::Ts)] | [Some(K::Ts), Some(K::Dt)]) => DT,
            (Op::Add, [Some(K::Ts), Some(K::Ts)]) => TS,
            (Op::Sub, [Some(K::Dt), Some(K::Dt)]) => TS,
            (Op::Sub, [Some(K::Dt), Some(K::Ts)]) => DT,
            (Op::Sub, [Some(K::Ts), Some(K::Ts)]) => TS,
            (Op::Mul, [Some(K::Ts), Some(K::Num | K::Int)]) => TS,
            (Op::Div, [Some(K::Ts), Some(K::Num | K::Int)]) => TS,
            (Op::Div, [Some(K::Ts), Some(K::Ts)]) => DataType::Float64,
            (Op::Mod, [Some(K::Ts), Some(K::Ts)]) => TS,
            (Op::Neg, [Some(K::Ts)]) => TS,
            (Op::RangeCount, [_, _, _]) => DataType::Int64,
            _ => return plan_err!("{} cannot be applied to {:?}", self.name, args),
        };
        Ok(r)
    }
}

/// Reads any supported array as i64 nanoseconds/ticks (temporal) or integers.
fn as_i64(a: &ArrayRef) -> Result<Int64Array> {
    Ok(match a.data_type() {
        DataType::Timestamp(TimeUnit::Nanosecond, _) => a
            .as_primitive::<TimestampNanosecondType>()
            .reinterpret_cast::<Int64Type>(),
        DataType::Duration(TimeUnit::Nanosecond) => a
            .as_primitive::<DurationNanosecondType>()
            .reinterpret_cast::<Int64Type>(),
        DataType::Int64 => a.as_primitive::<Int64Type>().clone(),
        _ => {
            let c = arrow::compute::cast(a, &DataType::Int64)?;
            c.as_primitive::<Int64Type>().clone()
        }
    })
}

fn as_f64(a: &ArrayRef) -> Result<Float64Array> {
    let c = arrow::compute::cast(a, &DataType::Float64)?;
    Ok(c.as_primitive::<Float64Type>().clone())
}

fn out_array(t: &DataType, v: Vec<Option<i64>>) -> ArrayRef {
    match t {
        DataType::Timestamp(_, _) => Arc::new(TimestampNanosecondArray::from(v)),
        DataType::Duration(_) => Arc::new(DurationNanosecondArray::from(v)),
        _ => Arc::new(Int64Array::from(v)),
    }
}

impl ScalarUDFImpl for TemporalOp {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.result(arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = row_count(&args.args);
        let scalar = all_scalar(&args.args);
        let arrays = args_to_arrays(&args.args, n)?;
        let types: Vec<DataType> = arrays.iter().map(|a| a.data_type().clone()).collect();
        let out_t = self.result(&types)?;
        let out: ArrayRef = match self.op {
            Op::Add | Op::Sub | Op::Mod => {
                let (a, b) = (as_i64(&arrays[0])?, as_i64(&arrays[1])?);
                let v = (0..n)
                    .map(|i| {
                        if a.is_null(i) || b.is_null(i) {
                            return None;
                        }
                        let (x, y) = (a.value(i), b.value(i));
                        match self.op {
                            Op::Add => x.checked_add(y),
                            Op::Sub => x.checked_sub(y),
                            _ => (y != 0).then(|| x.wrapping_rem(y)),
                        }
                    })
                    .collect();
                out_array(&out_t, v)
            }
            Op::Neg => {
                let a = as_i64(&arrays[0])?;
                out_array(
                    &out_t,
                    (0..n)
                        .map(|i| {
                            (!a.is_null(i))
                                .then(|| a.value(i))
                                .and_then(i64::checked_neg)
                        })
                        .collect(),
                )
            }
            Op::Mul | Op::Div if kind(&types[1]) != Some(K::Ts) => {
                let a = as_i64(&arrays[0])?;
                let b = as_f64(&arrays[1])?;
                let v = (0..n)
                    .map(|i| {
                        if a.is_null(i) || b.is_null(i) {
                            return None;
                        }
                        let r = if self.op == Op::Mul {
                            a.value(i) as f64 * b.value(i)
                        } else {
                            a.value(i) as f64 / b.value(i)
                        };
                        r.is_finite().then_some(r.round() as i64)
                    })
                    .collect();
                out_array(&out_t, v)
            }
            Op::Div => {
                let (a, b) = (as_i64(&arrays[0])?, as_i64(&arrays[1])?);
                let v: Float64Array = (0..n)
                    .map(|i| {
                        (!a.is_null(i) && !b.is_null(i))
                            .then(|| a.value(i) as f64 / b.value(i) as f64)
                    })
                    .collect();
                Arc::new(v)
            }
            Op::Mul => return exec_err!("unsupported {}", self.name),
            Op::RangeCount => range_count(&arrays, &types, n)?,
        };
        finish(out, scalar)
    }
}

/// Number of values of `range x from a to b step s` over whole numbers (longs, datetimes
/// and timespans in ticks or nanoseconds): 0 when the range is empty.
pub fn range_count_whole(a: i64, b: i64, s: i64) -> i64 {
    let (a, b, s) = (i128::from(a), i128::from(b), i128::from(s));
    if s == 0 || (b - a) / s < 0 || (b - a).signum() * s.signum() < 0 {
        0
    } else {
        i64::try_from((b - a) / s + 1).unwrap_or(i64::MAX)
    }
}

/// Number of values of `range x from a to b step s` over reals: 0 when the range is empty.
pub fn range_count_real(a: f64, b: f64, s: f64) -> i64 {
    if s == 0.0 || (b - a) / s < 0.0 || !((b - a) / s).is_finite() {
        0
    } else {
        ((b - a) / s + 1e-9).floor() as i64 + 1
    }
}

/// Number of values of `range x from a to b step s` (0 when the range is empty).
fn range_count(arrays: &[ArrayRef], types: &[DataType], n: usize) -> Result<ArrayRef> {
    let floaty = types.iter().any(|t| matches!(kind(t), Some(K::Num)));
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if arrays.iter().any(|a| a.is_null(i)) {
            out.push(Some(0));
            continue;
        }
        let c = if floaty {
            range_count_real(
                as_f64(&arrays[0])?.value(i),
                as_f64(&arrays[1])?.value(i),
                as_f64(&arrays[2])?.value(i),
            )
        } else {
            range_count_whole(
                as_i64(&arrays[0])?.value(i),
                as_i64(&arrays[1])?.value(i),
                as_i64(&arrays[2])?.value(i),
            )
        };
        out.push(Some(c));
    }
    Ok(Arc::new(Int64Array::from(out)))
}

/// `__list_to_dynamic(list)`: an Arrow list as a dynamic JSON array (null → `[]`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ListToDynamic {
    signature: Signature,
}

impl ScalarUDFImpl for ListToDynamic {
    fn name(&self) -> &str {
        "__list_to_dynamic"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::LargeUtf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = row_count(&args.args);
        let scalar = all_scalar(&args.args);
        let arrays = args_to_arrays(&args.args, n)?;
        let list = &arrays[0];
        let mut out = arrow::array::LargeStringBuilder::new();
        for i in 0..n {
            let mut items = Vec::new();
            if !list.is_null(i) {
                let values: ArrayRef = match list.data_type() {
                    DataType::List(_) => list.as_list::<i32>().value(i),
                    DataType::LargeList(_) => list.as_list::<i64>().value(i),
                    _ => return exec_err!("__list_to_dynamic expects a list"),
                };
                for j in 0..values.len() {
                    items.push(crate::dynamic::dynamic_to_json(values.as_ref(), j));
                }
            }
            out.append_value(serde_json::Value::Array(items).to_string());
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// Registers `__list_to_dynamic`.
pub(crate) fn register_list(r: &mut Registry) {
    r.add_scalar(
        "__list_to_dynamic",
        ScalarUDF::new_from_impl(ListToDynamic {
            signature: Signature::any(1, Volatility::Immutable),
        }),
    );
}
