//! `tdigest(x [, weight])`, `tdigest_merge(digest)` (alias `merge_tdigest`) and the
//! scalar functions reading a digest: `percentile_tdigest(digest, p)`,
//! `percentiles_array_tdigest(digest, p1, ... | dynamic([p1, ...]))`,
//! `percentrank_tdigest(digest, v)` and `rank_tdigest(digest, v)`.
//!
//! Types follow the binder: the digests and both percentile functions are `dynamic` (a
//! percentile holds a value of the digest's type: a number, or a datetime or timespan in
//! its text form), the two rank functions `real`. `percentile_tdigest`'s third argument,
//! `typeof(T)`, is refused with a not-implemented error. Invalid digests, percentages
//! outside 0..=100 and empty digests give null.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, LargeStringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type, TimeUnit};
use datafusion_common::{Result, ScalarValue, exec_err, plan_err};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::utils::format_state_name;
use datafusion_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

use super::tdigest::{TDigest, ValueKind};
use crate::FunctionError;
use crate::Registry;
use crate::catalog::{Arity, Naming};
use crate::dynamic::json::json_f64;
use crate::dynamic::{dynamic_to_json, parse_dynamic_text};
use crate::util::{all_scalar, finish};

/// Registers the aggregates (`tdigest_<arg>`, and `merge_tdigests_<arg>` for both merge
/// names, as Kusto names them) and the scalar functions.
pub(crate) fn register(r: &mut Registry) {
    r.add_aggregate(
        "tdigest",
        AggregateUDF::new_from_impl(TDigestAgg::new("tdigest", false)),
        Arity::between(1, 2),
        Naming::FunctionArg,
    );
    for name in ["tdigest_merge", "merge_tdigest"] {
        r.add_aggregate(
            name,
            AggregateUDF::new_from_impl(TDigestAgg::new(name, true)),
            Arity::exactly(1),
            Naming::Prefix("merge_tdigests"),
        );
    }
    for (name, op) in [
        ("percentile_tdigest", DigestOp::Percentile),
        ("percentiles_array_tdigest", DigestOp::PercentilesArray),
        ("percentrank_tdigest", DigestOp::PercentRank),
        ("rank_tdigest", DigestOp::Rank),
    ] {
        r.add_scalar(name, ScalarUDF::new_from_impl(DigestFn::new(name, op)));
    }
}

/// The kind of the values of an argument type (`None`: not summable).
pub fn value_kind(t: &DataType) -> Option<ValueKind> {
    match t {
        DataType::Int32 => Some(ValueKind::Int),
        DataType::Null => Some(ValueKind::Long),
        t if t.is_integer() => Some(ValueKind::Long),
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => Some(ValueKind::DateTime),
        DataType::Duration(_) => Some(ValueKind::TimeSpan),
        t if t.is_numeric() => Some(ValueKind::Real),
        _ => None,
    }
}

/// The values of a column as reals (datetimes and timespans as nanoseconds; anything
/// else that is not a number, such as a `dynamic` number, read through its JSON).
pub fn column_f64(a: &ArrayRef) -> Result<Vec<Option<f64>>> {
    let nanos = |a: &ArrayRef, dt: DataType| -> Result<Vec<Option<f64>>> {
        let c = cast(&cast(a, &dt)?, &DataType::Int64)?;
        Ok(c.as_primitive::<Int64Type>()
            .iter()
            .map(|v| v.map(|v| v as f64))
            .collect())
    };
    match a.data_type() {
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
            nanos(a, DataType::Timestamp(TimeUnit::Nanosecond, None))
        }
        DataType::Duration(_) => nanos(a, DataType::Duration(TimeUnit::Nanosecond)),
        t if t.is_numeric() || matches!(t, DataType::Null) => {
            let c = cast(a, &DataType::Float64)?;
            Ok(c.as_primitive::<Float64Type>().iter().collect())
        }
        _ => Ok((0..a.len())
            .map(|i| json_f64(&dynamic_to_json(a.as_ref(), i)))
            .collect()),
    }
}

/// `tdigest` (`merge == false`) or `tdigest_merge` / `merge_tdigest`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TDigestAgg {
    name: &'static str,
    merge: bool,
    signature: Signature,
}

impl TDigestAgg {
    /// The aggregate `name`; `merge` merges digests instead of summarizing values.
    pub fn new(name: &'static str, merge: bool) -> Self {
        Self {
            name,
            merge,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for TDigestAgg {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let n = arg_types.len();
        if self.merge {
            if n != 1 {
                return plan_err!("{}(): expected 1 argument, got {n}", self.name);
            }
            return Ok(arg_types.to_vec());
        }
        let (Some(x), true) = (arg_types.first(), n <= 2) else {
            return plan_err!("{}(): wrong number of arguments ({n})", self.name);
        };
        let x = match (value_kind(x), x) {
            (None, t) => {
                return plan_err!(
                    "{}(): the argument must be summable: a number, timespan or datetime, not {t}",
                    self.name
                );
            }
            (Some(ValueKind::DateTime), _) => DataType::Timestamp(TimeUnit::Nanosecond, None),
            (Some(ValueKind::TimeSpan), _) => DataType::Duration(TimeUnit::Nanosecond),
            (Some(ValueKind::Int), _) => DataType::Int32,
            (Some(ValueKind::Long), _) => DataType::Int64,
            (Some(ValueKind::Real), _) => DataType::Float64,
        };
        let mut out = vec![x];
        if let Some(w) = arg_types.get(1) {
            if !(w.is_integer() || matches!(w, DataType::Null)) {
                return plan_err!("{}(): the weight must be an integer, not {w}", self.name);
            }
            out.push(DataType::Int64);
        }
        Ok(out)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::LargeUtf8)
    }
    fn is_nullable(&self) -> bool {
        self.merge
    }
    fn accumulator(&self, acc_args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        if self.merge {
            return Ok(Box::new(TDigestAcc::merging(self.name)));
        }
        let kind = acc_args
            .expr_fields
            .first()
            .and_then(|f| value_kind(f.data_type()))
            .unwrap_or(ValueKind::Real);
        Ok(Box::new(TDigestAcc::building(self.name, kind)))
    }
    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "tdigest"),
            DataType::LargeUtf8,
            true,
        ))])
    }
}

/// The accumulator of the digest aggregates.
#[derive(Debug)]
pub struct TDigestAcc {
    name: &'static str,
    /// The digest so far; `None` for a merge before its first digest.
    digest: Option<TDigest>,
    merge: bool,
}

impl TDigestAcc {
    /// The accumulator of `tdigest` over values of `kind`.
    pub fn building(name: &'static str, kind: ValueKind) -> Self {
        Self {
            name,
            digest: Some(TDigest::new(kind)),
            merge: false,
        }
    }

    /// The accumulator of `tdigest_merge`.
    pub fn merging(name: &'static str) -> Self {
        Self {
            name,
            digest: None,
            merge: true,
        }
    }

    fn absorb(&mut self, other: &TDigest) -> Result<()> {
        match &mut self.digest {
            None => self.digest = Some(other.clone()),
            Some(d) => {
                if !d.merge(other) {
                    return Err(FunctionError::Runtime(format!(
                        "{}(): the digests of a group must summarize values of one type",
                        self.name
                    ))
                    .into_datafusion());
                }
            }
        }
        Ok(())
    }

    fn absorb_texts(&mut self, a: &ArrayRef) -> Result<()> {
        for i in 0..a.len() {
            if a.is_valid(i)
                && let Some(d) = TDigest::from_json(&dynamic_to_json(a.as_ref(), i))
            {
                self.absorb(&d)?;
            }
        }
        Ok(())
    }

    fn text(&mut self) -> ScalarValue {
        ScalarValue::LargeUtf8(self.digest.as_mut().map(|d| d.to_json().to_string()))
    }
}

impl Accumulator for TDigestAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(x) = values.first() else {
            return Ok(());
        };
        if self.merge {
            return self.absorb_texts(x);
        }
        let xs = column_f64(x)?;
        let weights = match values.get(1) {
            Some(w) => Some(column_f64(w)?),
            None => None,
        };
        let Some(d) = &mut self.digest else {
            return Ok(());
        };
        for (i, v) in xs.into_iter().enumerate() {
            let w = match &weights {
                Some(ws) => ws.get(i).copied().flatten(),
                None => Some(1.0),
            };
            if let (Some(v), Some(w)) = (v, w) {
                d.add(v, w);
            }
        }
        Ok(())
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.text())
    }
    fn size(&self) -> usize {
        size_of::<Self>() + self.digest.as_ref().map_or(0, TDigest::size)
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.text()])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(s) = states.first() else {
            return Ok(());
        };
        if s.as_string_opt::<i64>().is_none() {
            return exec_err!("{}: unexpected state type {}", self.name, s.data_type());
        }
        self.absorb_texts(s)
    }
}

/// Which digest function a [`DigestFn`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestOp {
    /// `percentile_tdigest(digest, p)`.
    Percentile,
    /// `percentiles_array_tdigest(digest, p1, ...)` or `(digest, dynamic([p1, ...]))`.
    PercentilesArray,
    /// `percentrank_tdigest(digest, v)`: 100 × rank / total.
    PercentRank,
    /// `rank_tdigest(digest, v)`: the weight at or below `v`.
    Rank,
}

/// A scalar function over a digest.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DigestFn {
    name: &'static str,
    op: DigestOp,
    signature: Signature,
}

impl DigestFn {
    /// The function `name` computing `op`.
    pub fn new(name: &'static str, op: DigestOp) -> Self {
        Self {
            name,
            op,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DigestFn {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let n = arg_types.len();
        if self.op == DigestOp::Percentile && n == 3 {
            return Err(FunctionError::NotImplemented(
                "percentile_tdigest() with a type literal (typeof(T)); call it without one for a dynamic result".into(),
            )
            .into_datafusion());
        }
        let ok = match self.op {
            DigestOp::PercentilesArray => n >= 2,
            _ => n == 2,
        };
        if !ok {
            return plan_err!("{}(): wrong number of arguments ({n})", self.name);
        }
        Ok(arg_types.to_vec())
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.op {
            DigestOp::Percentile | DigestOp::PercentilesArray => DataType::LargeUtf8,
            DigestOp::PercentRank | DigestOp::Rank => DataType::Float64,
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let rows = if scalar { 1 } else { args.number_rows };
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let (Some(digests), Some(second)) = (arrays.first(), arrays.get(1)) else {
            return exec_err!("{}(): expected a digest and a value", self.name);
        };
        let rest = &arrays[1..];
        let digest_at = |i: usize| TDigest::from_json(&dynamic_to_json(digests.as_ref(), i));
        let out: ArrayRef = match self.op {
            DigestOp::Percentile => {
                let ps = column_f64(second)?;
                Arc::new(
                    (0..rows)
                        .map(|i| {
                            let mut d = digest_at(i)?;
                            let v = d.percentile(ps.get(i).copied().flatten()?)?;
                            serde_json::to_string(&d.kind().to_json(v)).ok()
                        })
                        .collect::<LargeStringArray>(),
                )
            }
            DigestOp::PercentilesArray => {
                let ps = percentages(rest)?;
                Arc::new(
                    (0..rows)
                        .map(|i| {
                            let mut d = digest_at(i)?;
                            let kind = d.kind();
                            let items = ps
                                .get(i)
                                .into_iter()
                                .flatten()
                                .map(|p| match p.and_then(|p| d.percentile(p)) {
                                    Some(v) => kind.to_json(v),
                                    None => Value::Null,
                                })
                                .collect();
                            Some(Value::Array(items).to_string())
                        })
                        .collect::<LargeStringArray>(),
                )
            }
            DigestOp::PercentRank | DigestOp::Rank => {
                let vs = column_f64(second)?;
                let percent = self.op == DigestOp::PercentRank;
                Arc::new(
                    (0..rows)
                        .map(|i| {
                            let mut d = digest_at(i)?;
                            let r = d.rank(vs.get(i).copied().flatten()?)?;
                            Some(if percent {
                                100.0 * r / d.total()
                            } else if d.is_exact() {
                                r
                            } else {
                                r.round()
                            })
                        })
                        .collect::<Float64Array>(),
                )
            }
        };
        finish(out, scalar)
    }
}

/// The percentages of `percentiles_array_tdigest` per row: the arguments after the
/// digest, or the one `dynamic` array among them.
fn percentages(args: &[ArrayRef]) -> Result<Vec<Vec<Option<f64>>>> {
    let rows = args.first().map_or(0, |a| a.len());
    if let [a] = args
        && a.data_type() == &DataType::LargeUtf8
    {
        let texts = a.as_string::<i64>();
        return Ok((0..rows)
            .map(|i| {
                match texts
                    .is_valid(i)
                    .then(|| parse_dynamic_text(texts.value(i)))
                {
                    Some(Value::Array(items)) => items.iter().map(json_f64).collect(),
                    Some(v) => vec![json_f64(&v)],
                    None => vec![None],
                }
            })
            .collect());
    }
    let columns = args.iter().map(column_f64).collect::<Result<Vec<_>>>()?;
    Ok((0..rows)
        .map(|i| {
            columns
                .iter()
                .map(|c| c.get(i).copied().flatten())
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::kernel::testing::call;
    use arrow::array::{Int32Array, Int64Array, TimestampNanosecondArray};

    fn digest_text(kind: ValueKind, x: ArrayRef, w: Option<ArrayRef>) -> String {
        let mut a = TDigestAcc::building("tdigest", kind);
        let mut cols = vec![x];
        cols.extend(w);
        a.update_batch(&cols).expect("update");
        match a.evaluate().expect("eval") {
            ScalarValue::LargeUtf8(Some(s)) => s,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn apply(op: DigestOp, digest: &str, args: Vec<ScalarValue>) -> ScalarValue {
        let udf = ScalarUDF::new_from_impl(DigestFn::new("f", op));
        let mut all = vec![ColumnarValue::Scalar(ScalarValue::LargeUtf8(Some(
            digest.to_string(),
        )))];
        all.extend(args.into_iter().map(ColumnarValue::Scalar));
        match call(&udf, all).expect("call") {
            ColumnarValue::Scalar(s) => s,
            ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0).expect("value"),
        }
    }

    fn dynamic(s: &str) -> ScalarValue {
        ScalarValue::LargeUtf8(Some(s.to_string()))
    }

    #[test]
    fn percentiles_of_small_inputs_are_exact() {
        // range x from 1 to 5 step 1: nearest-rank p50 = 3, p0 = 1, p100 = 5.
        let d = digest_text(
            ValueKind::Long,
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])),
            None,
        );
        assert_eq!(d, "[[7],[1,2,3,4,5],[1,1,1,1,1]]");
        let p = |v: f64| {
            apply(
                DigestOp::Percentile,
                &d,
                vec![ScalarValue::Float64(Some(v))],
            )
        };
        assert_eq!(p(50.0), dynamic("3"));
        assert_eq!(p(0.0), dynamic("1"));
        assert_eq!(p(100.0), dynamic("5"));
        assert_eq!(p(101.0), ScalarValue::LargeUtf8(None));
        assert_eq!(
            apply(
                DigestOp::PercentilesArray,
                &d,
                vec![
                    ScalarValue::Int64(Some(0)),
                    ScalarValue::Float64(Some(90.0))
                ]
            ),
            dynamic("[1,5]")
        );
        assert_eq!(
            apply(
                DigestOp::PercentilesArray,
                &d,
                vec![dynamic("[20, 40.5, 200]")]
            ),
            dynamic("[1,3,null]")
        );
        let r = |op, v: i64| apply(op, &d, vec![ScalarValue::Int64(Some(v))]);
        assert_eq!(r(DigestOp::Rank, 2), ScalarValue::Float64(Some(2.0)));
        assert_eq!(r(DigestOp::Rank, 0), ScalarValue::Float64(Some(0.0)));
        assert_eq!(
            r(DigestOp::PercentRank, 4),
            ScalarValue::Float64(Some(80.0))
        );
        assert_eq!(
            apply(
                DigestOp::Rank,
                "not a digest",
                vec![ScalarValue::Int64(Some(1))]
            ),
            ScalarValue::Float64(None)
        );
    }

    #[test]
    fn weights_datetimes_and_merges() {
        // Weighted: 10 x1, 20 x3 → p50 = 20, rank(10) = 1 of 4.
        let d = digest_text(
            ValueKind::Int,
            Arc::new(Int32Array::from(vec![10, 20, 30])),
            Some(Arc::new(Int64Array::from(vec![Some(1), Some(3), None]))),
        );
        assert_eq!(d, "[[6],[10,20],[1,3]]");
        assert_eq!(
            apply(DigestOp::Percentile, &d, vec![ScalarValue::Int64(Some(50))]),
            dynamic("20")
        );
        assert_eq!(
            apply(
                DigestOp::PercentRank,
                &d,
                vec![ScalarValue::Int64(Some(10))]
            ),
            ScalarValue::Float64(Some(25.0))
        );
        let day = 86_400_000_000_000i64;
        let t = digest_text(
            ValueKind::DateTime,
            Arc::new(TimestampNanosecondArray::from(vec![day, 3 * day, 2 * day])),
            None,
        );
        assert_eq!(
            apply(DigestOp::Percentile, &t, vec![ScalarValue::Int64(Some(50))]),
            dynamic(r#""1970-01-03T00:00:00.0000000Z""#)
        );
        // Merging two digests of one group.
        let mut m = TDigestAcc::merging("tdigest_merge");
        let a = digest_text(
            ValueKind::Long,
            Arc::new(Int64Array::from(vec![1, 2])),
            None,
        );
        let b = digest_text(
            ValueKind::Long,
            Arc::new(Int64Array::from(vec![2, 9])),
            None,
        );
        m.update_batch(&[
            Arc::new(LargeStringArray::from(vec![Some(a), None, Some(b)])) as ArrayRef,
        ])
        .expect("merge");
        assert_eq!(
            m.evaluate().expect("eval"),
            dynamic("[[7],[1,2,9],[1,2,1]]")
        );
        // A datetime digest does not merge with a long one.
        m.update_batch(&[Arc::new(LargeStringArray::from(vec![t])) as ArrayRef])
            .expect_err("mixed types");
        assert_eq!(
            TDigestAcc::merging("tdigest_merge")
                .evaluate()
                .expect("eval"),
            ScalarValue::LargeUtf8(None)
        );
    }

    #[test]
    fn partial_states_and_signatures() {
        let mut a = TDigestAcc::building("tdigest", ValueKind::Real);
        let mut b = TDigestAcc::building("tdigest", ValueKind::Real);
        a.update_batch(&[Arc::new(Float64Array::from(vec![0.5, 1.5])) as ArrayRef])
            .expect("a");
        b.update_batch(&[Arc::new(Float64Array::from(vec![2.5])) as ArrayRef])
            .expect("b");
        let st = b.state().expect("state")[0].to_array().expect("array");
        a.merge_batch(&[st]).expect("merge");
        assert_eq!(
            a.evaluate().expect("eval"),
            dynamic("[[8],[0.5,1.5,2.5],[1,1,1]]")
        );
        let f = TDigestAgg::new("tdigest", false);
        assert!(f.coerce_types(&[DataType::Utf8]).is_err());
        assert!(
            f.coerce_types(&[DataType::Int64, DataType::Float64])
                .is_err()
        );
        assert_eq!(
            f.coerce_types(&[DataType::Int8, DataType::Int32])
                .expect("ok"),
            vec![DataType::Int64, DataType::Int64]
        );
        let p = DigestFn::new("percentile_tdigest", DigestOp::Percentile);
        let err = p
            .coerce_types(&[DataType::LargeUtf8, DataType::Int64, DataType::Utf8])
            .expect_err("typeof");
        assert!(err.to_string().contains("not implemented"), "{err}");
    }
}
