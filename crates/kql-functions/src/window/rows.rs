//! KQL's window functions over serialized rows, as DataFusion window UDFs evaluated on
//! whole partitions (the planner passes the rows in their serialized order, one partition):
//!
//! - `row_cumsum(term [, restart])`: the cumulative sum of a numeric `term` (int, long, real
//!   or decimal; the result has the term's type). Null terms don't affect the sum. On a row
//!   where `restart` is true the sum starts over from that row's term.
//! - `row_rank_dense(term [, restart])`: 1 on the first row (and on restart rows), plus one
//!   whenever `term` differs from the previous row's.
//! - `row_rank_min(term [, restart])`: the row number (from 1, counted from the last restart)
//!   of the first row of the current run of equal consecutive terms.
//! - `row_window_session(expr, maxDistanceFromFirst, maxDistanceBetweenNeighbors [, restart])`:
//!   the datetime starting the current row's session. A row starts a new session when the
//!   previous session value is null (first row, or a null `expr` before), when `expr` is at
//!   least the session start plus `maxDistanceFromFirst`, when it is at least the previous
//!   `expr` plus `maxDistanceBetweenNeighbors`, or when `restart` is true. A null `expr`
//!   gives null (and the next row starts a session).
//!
//! Choices where the docs are silent: a null `restart` counts as false; for the ranks a null
//! term equals a null term and differs from any value; a null distance of
//! `row_window_session` never starts a session.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, Int64Array, PrimitiveArray,
    TimestampNanosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::ArrowNativeTypeOp;
use arrow::datatypes::{
    DataType, Decimal128Type, DecimalType, DurationNanosecondType, Field, FieldRef, Float64Type,
    Int32Type, Int64Type, TimeUnit, TimestampNanosecondType,
};
use datafusion_common::{Result, ScalarValue, exec_err, plan_err};
use datafusion_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion_expr::{
    PartitionEvaluator, Signature, TypeSignature, Volatility, WindowUDF, WindowUDFImpl,
};

use crate::KqlType;
use crate::catalog::Arity;

/// Registers `row_cumsum`, `row_rank_dense`, `row_rank_min` and `row_window_session`.
pub(crate) fn register(r: &mut crate::Registry) {
    r.add_window("row_cumsum", row_cumsum(), Arity::between(1, 2));
    r.add_window("row_rank_dense", row_rank_dense(), Arity::between(1, 2));
    r.add_window("row_rank_min", row_rank_min(), Arity::between(1, 2));
    r.add_window(
        "row_window_session",
        row_window_session(),
        Arity::between(3, 4),
    );
}

/// The `row_cumsum(term [, restart])` window function.
pub fn row_cumsum() -> Arc<WindowUDF> {
    udwf(Kind::CumSum)
}

/// The `row_rank_dense(term [, restart])` window function.
pub fn row_rank_dense() -> Arc<WindowUDF> {
    udwf(Kind::RankDense)
}

/// The `row_rank_min(term [, restart])` window function.
pub fn row_rank_min() -> Arc<WindowUDF> {
    udwf(Kind::RankMin)
}

/// The `row_window_session(expr, maxDistanceFromFirst, maxDistanceBetweenNeighbors
/// [, restart])` window function.
pub fn row_window_session() -> Arc<WindowUDF> {
    udwf(Kind::Session)
}

fn udwf(kind: Kind) -> Arc<WindowUDF> {
    let (min, max) = kind.arity();
    let signature = Signature::one_of(
        (min..=max).map(TypeSignature::Any).collect(),
        Volatility::Immutable,
    );
    Arc::new(WindowUDF::new_from_impl(RowWindow { kind, signature }))
}

/// Which of the functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    CumSum,
    RankDense,
    RankMin,
    Session,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::CumSum => "row_cumsum",
            Kind::RankDense => "row_rank_dense",
            Kind::RankMin => "row_rank_min",
            Kind::Session => "row_window_session",
        }
    }

    /// Minimal and maximal number of arguments.
    fn arity(self) -> (usize, usize) {
        match self {
            Kind::Session => (3, 4),
            _ => (1, 2),
        }
    }

    /// The position of the optional `restart` argument.
    fn restart_index(self) -> usize {
        self.arity().1 - 1
    }

    /// The result type for these argument types, or a planning error for bad arguments.
    fn return_type(self, args: &[DataType]) -> Result<DataType> {
        let name = self.name();
        let (min, max) = self.arity();
        if args.len() < min || args.len() > max {
            return plan_err!(
                "{name}(): expects {min} to {max} arguments, got {}",
                args.len()
            );
        }
        if let Some(r) = args.get(self.restart_index())
            && !matches!(r, DataType::Boolean | DataType::Null)
        {
            return plan_err!("{name}(): the restart argument must be a bool, got {r}");
        }
        let term = &args[0];
        match self {
            Kind::CumSum => match (term, KqlType::from_arrow(term)) {
                (DataType::Decimal128(p, s), _) => Ok(DataType::Decimal128(*p, *s)),
                (
                    _,
                    Some(t @ (KqlType::Int | KqlType::Long | KqlType::Real | KqlType::Decimal)),
                ) => Ok(t.to_arrow()),
                _ => plan_err!("{name}(): the expression value must be a number, got {term}"),
            },
            Kind::RankDense | Kind::RankMin => {
                if term.is_nested()
                    || matches!(KqlType::from_arrow(term), None | Some(KqlType::Dynamic))
                {
                    return plan_err!(
                        "{name}(): the value of type {term} is not allowed in this context"
                    );
                }
                Ok(DataType::Int64)
            }
            Kind::Session => {
                let tz = match term {
                    DataType::Timestamp(_, tz) => tz.clone(),
                    DataType::Null => None,
                    _ => {
                        return plan_err!(
                            "{name}(): a value of type datetime expected, got {term}"
                        );
                    }
                };
                for d in &args[1..3] {
                    if !matches!(d, DataType::Duration(_) | DataType::Null) {
                        return plan_err!("{name}(): a value of type timespan expected, got {d}");
                    }
                }
                Ok(DataType::Timestamp(TimeUnit::Nanosecond, tz))
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RowWindow {
    kind: Kind,
    signature: Signature,
}

/// The data types of argument fields.
fn types(fields: &[FieldRef]) -> Vec<DataType> {
    fields.iter().map(|f| f.data_type().clone()).collect()
}

impl WindowUDFImpl for RowWindow {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs<'_>,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        let out = self.kind.return_type(&types(args.input_fields()))?;
        Ok(Box::new(RowEvaluator {
            kind: self.kind,
            out,
        }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs<'_>) -> Result<FieldRef> {
        let out = self.kind.return_type(&types(field_args.input_fields()))?;
        Ok(Arc::new(Field::new(field_args.name(), out, true)))
    }
}

/// Evaluates one of the functions over a whole partition.
#[derive(Debug)]
struct RowEvaluator {
    kind: Kind,
    /// The result type.
    out: DataType,
}

impl PartitionEvaluator for RowEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let Some(term) = values.first() else {
            return exec_err!("{}(): missing argument", self.kind.name());
        };
        let restart = restart_flags(values.get(self.kind.restart_index()), num_rows);
        match self.kind {
            Kind::CumSum => cumsum(&cast(term, &self.out)?, &restart),
            Kind::RankDense => rank(term, &restart, true),
            Kind::RankMin => rank(term, &restart, false),
            Kind::Session => {
                let distance = |i: usize| -> Result<ArrayRef> {
                    match values.get(i) {
                        Some(a) => Ok(cast(a, &DataType::Duration(TimeUnit::Nanosecond))?),
                        None => exec_err!("row_window_session(): missing argument {i}"),
                    }
                };
                let expr = cast(term, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
                let out = session(
                    expr.as_primitive::<TimestampNanosecondType>(),
                    distance(1)?.as_primitive::<DurationNanosecondType>(),
                    distance(2)?.as_primitive::<DurationNanosecondType>(),
                    &restart,
                );
                Ok(cast(&out, &self.out)?)
            }
        }
    }

    fn evaluate(&mut self, _values: &[ArrayRef], _range: &Range<usize>) -> Result<ScalarValue> {
        exec_err!("{}() is evaluated on whole partitions", self.kind.name())
    }
}

/// Whether each row restarts: the `restart` argument's true values (null: false).
fn restart_flags(restart: Option<&ArrayRef>, num_rows: usize) -> Vec<bool> {
    match restart.and_then(|r| r.as_boolean_opt()) {
        Some(b) => (0..num_rows).map(|i| b.is_valid(i) && b.value(i)).collect(),
        None => vec![false; num_rows],
    }
}

/// The cumulative sum of `term` (already of the result type).
fn cumsum(term: &ArrayRef, restart: &[bool]) -> Result<ArrayRef> {
    match term.data_type() {
        DataType::Int32 => Ok(Arc::new(running_sum(
            term.as_primitive::<Int32Type>(),
            restart,
            |a, b| Ok(a.add_wrapping(b)),
        )?)),
        DataType::Int64 => Ok(Arc::new(running_sum(
            term.as_primitive::<Int64Type>(),
            restart,
            |a, b| Ok(a.add_wrapping(b)),
        )?)),
        DataType::Float64 => Ok(Arc::new(running_sum(
            term.as_primitive::<Float64Type>(),
            restart,
            |a, b| Ok(a + b),
        )?)),
        DataType::Decimal128(p, s) => {
            let (p, s) = (*p, *s);
            let sum = running_sum(
                term.as_primitive::<Decimal128Type>(),
                restart,
                |a, b| match a.checked_add(b) {
                    Some(v) if Decimal128Type::is_valid_decimal_precision(v, p) => Ok(v),
                    _ => exec_err!("row_cumsum(): decimal overflow"),
                },
            )?;
            Ok(Arc::new(sum.with_precision_and_scale(p, s)?))
        }
        other => exec_err!("row_cumsum(): unsupported type {other}"),
    }
}

/// The running sum of `term`, starting over at restart rows; null terms add nothing.
fn running_sum<T: ArrowPrimitiveType>(
    term: &PrimitiveArray<T>,
    restart: &[bool],
    add: impl Fn(T::Native, T::Native) -> Result<T::Native>,
) -> Result<PrimitiveArray<T>> {
    let mut out = Vec::with_capacity(term.len());
    let mut sum = T::Native::default();
    for (i, &reset) in restart.iter().enumerate().take(term.len()) {
        if reset {
            sum = T::Native::default();
        }
        if term.is_valid(i) {
            sum = add(sum, term.value(i))?;
        }
        out.push(sum);
    }
    Ok(PrimitiveArray::<T>::from_iter_values(out))
}

/// `changed[i]`: row `i` (not the first) has another term than row `i - 1`.
fn changes(term: &ArrayRef) -> Result<Vec<bool>> {
    let mut changed = vec![false; term.len()];
    for r in arrow::compute::partition(std::slice::from_ref(term))?.ranges() {
        if r.start > 0
            && let Some(c) = changed.get_mut(r.start)
        {
            *c = true;
        }
    }
    Ok(changed)
}

/// `row_rank_dense` (`dense`) or `row_rank_min` of `term`.
fn rank(term: &ArrayRef, restart: &[bool], dense: bool) -> Result<ArrayRef> {
    let changed = changes(term)?;
    let mut out = Vec::with_capacity(changed.len());
    let (mut rank, mut position) = (0i64, 0i64);
    for (i, &c) in changed.iter().enumerate() {
        if i == 0 || restart.get(i).copied().unwrap_or(false) {
            (rank, position) = (1, 1);
        } else {
            position += 1;
            if c {
                rank = if dense { rank + 1 } else { position };
            }
        }
        out.push(rank);
    }
    Ok(Arc::new(Int64Array::from(out)))
}

/// The session starts of `expr` (see the module documentation).
fn session(
    expr: &TimestampNanosecondArray,
    from_first: &PrimitiveArray<DurationNanosecondType>,
    between: &PrimitiveArray<DurationNanosecondType>,
    restart: &[bool],
) -> ArrayRef {
    // `v >= base + d`, exactly (no overflow); a null distance never holds.
    let reached = |v: i64, base: i64, d: &PrimitiveArray<DurationNanosecondType>, i: usize| {
        d.is_valid(i) && i128::from(v) >= i128::from(base) + i128::from(d.value(i))
    };
    let mut out = Vec::with_capacity(expr.len());
    // The current session's start and the previous row's value (both null after a null).
    let mut start: Option<i64> = None;
    let mut prev: Option<i64> = None;
    for i in 0..expr.len() {
        if expr.is_null(i) {
            (start, prev) = (None, None);
            out.push(None);
            continue;
        }
        let v = expr.value(i);
        let new = match (start, prev) {
            (Some(s), Some(p)) => {
                restart.get(i).copied().unwrap_or(false)
                    || reached(v, s, from_first, i)
                    || reached(v, p, between, i)
            }
            _ => true,
        };
        if new {
            start = Some(v);
        }
        prev = Some(v);
        out.push(start);
    }
    Arc::new(TimestampNanosecondArray::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::DurationNanosecondArray;
    use arrow::array::{BooleanArray, Decimal128Array, Float64Array, Int32Array, StringArray};

    fn eval(kind: Kind, args: Vec<ArrayRef>) -> ArrayRef {
        let types: Vec<DataType> = args.iter().map(|a| a.data_type().clone()).collect();
        let out = kind.return_type(&types).expect("types");
        let n = args[0].len();
        let r = RowEvaluator {
            kind,
            out: out.clone(),
        }
        .evaluate_all(&args, n)
        .expect("evaluates");
        assert_eq!(r.data_type(), &out);
        r
    }

    fn longs(a: &ArrayRef) -> Vec<Option<i64>> {
        a.as_primitive::<Int64Type>().iter().collect()
    }

    fn bools(v: &[Option<bool>]) -> ArrayRef {
        Arc::new(BooleanArray::from(v.to_vec()))
    }

    #[test]
    fn cumsum_even_integers() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![2, 4, 6, 8, 10]));
        let out = eval(Kind::CumSum, vec![a]);
        let want: Vec<Option<i64>> = [2, 6, 12, 20, 30].map(Some).to_vec();
        assert_eq!(longs(&out), want);
    }

    #[test]
    fn cumsum_restart_and_nulls() {
        // The docs' salary example, with a null salary for Bob's second month.
        let a: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(1000),
            Some(2000),
            Some(1400),
            Some(1000),
            None,
            Some(1450),
        ]));
        let r = bools(&[
            Some(true),
            Some(false),
            None,
            Some(true),
            Some(false),
            Some(false),
        ]);
        let out = eval(Kind::CumSum, vec![a, r]);
        let want: Vec<Option<i64>> = [1000, 3000, 4400, 1000, 1000, 2450].map(Some).to_vec();
        assert_eq!(longs(&out), want);
    }

    #[test]
    fn cumsum_keeps_int_real_decimal() {
        let i: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None, Some(3)]));
        let out = eval(Kind::CumSum, vec![i]);
        assert_eq!(
            out.as_primitive::<Int32Type>().values().to_vec(),
            vec![1, 1, 4]
        );

        let r: ArrayRef = Arc::new(Float64Array::from(vec![None, Some(0.5), Some(1.25)]));
        let out = eval(Kind::CumSum, vec![r]);
        assert_eq!(
            out.as_primitive::<Float64Type>().values().to_vec(),
            vec![0.0, 0.5, 1.75]
        );

        let d: ArrayRef = Arc::new(
            Decimal128Array::from(vec![150, 250, -100])
                .with_precision_and_scale(38, 2)
                .expect("decimal"),
        );
        let out = eval(Kind::CumSum, vec![d]);
        assert_eq!(out.data_type(), &DataType::Decimal128(38, 2));
        assert_eq!(
            out.as_primitive::<Decimal128Type>().values().to_vec(),
            vec![150, 400, 300]
        );
    }

    #[test]
    fn cumsum_rejects_non_numbers() {
        assert!(Kind::CumSum.return_type(&[DataType::Utf8]).is_err());
        assert!(
            Kind::CumSum
                .return_type(&[DataType::Int64, DataType::Int64])
                .is_err()
        );
    }

    #[test]
    fn rank_dense_and_min_docs_example() {
        // Departures sorted ascending: 2, 3, 3, 3, 100.
        let d: ArrayRef = Arc::new(Int64Array::from(vec![2, 3, 3, 3, 100]));
        let dense = eval(Kind::RankDense, vec![Arc::clone(&d)]);
        assert_eq!(longs(&dense), [1, 2, 2, 2, 3].map(Some).to_vec());
        let min = eval(Kind::RankMin, vec![d]);
        assert_eq!(longs(&min), [1, 2, 2, 2, 5].map(Some).to_vec());
    }

    #[test]
    fn rank_restart() {
        // The docs' partitioned example: SEA 2, 3, 3, 3, 100 then AMS 1, 1.
        let d: ArrayRef = Arc::new(Int64Array::from(vec![2, 3, 3, 3, 100, 1, 1]));
        let r = bools(&[
            None,
            Some(false),
            Some(false),
            Some(false),
            Some(false),
            Some(true),
            Some(false),
        ]);
        let dense = eval(Kind::RankDense, vec![Arc::clone(&d), Arc::clone(&r)]);
        assert_eq!(longs(&dense), [1, 2, 2, 2, 3, 1, 1].map(Some).to_vec());
        // Restarting on a row whose term equals the previous one still restarts.
        let d: ArrayRef = Arc::new(Int64Array::from(vec![5, 5, 7, 7, 7, 9]));
        let r = bools(&[
            Some(false),
            Some(false),
            Some(false),
            Some(true),
            Some(false),
            Some(false),
        ]);
        let min = eval(Kind::RankMin, vec![d, r]);
        assert_eq!(longs(&min), [1, 1, 3, 1, 1, 3].map(Some).to_vec());
    }

    #[test]
    fn rank_strings_with_nulls() {
        let s: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a"),
            None,
            None,
            Some("a"),
            Some("b"),
        ]));
        let dense = eval(Kind::RankDense, vec![Arc::clone(&s)]);
        assert_eq!(longs(&dense), [1, 2, 2, 3, 4].map(Some).to_vec());
        let min = eval(Kind::RankMin, vec![s]);
        assert_eq!(longs(&min), [1, 2, 2, 4, 5].map(Some).to_vec());
    }

    #[test]
    fn empty_partition() {
        let a: ArrayRef = Arc::new(Int64Array::from(Vec::<i64>::new()));
        assert_eq!(eval(Kind::RankMin, vec![Arc::clone(&a)]).len(), 0);
        assert_eq!(eval(Kind::CumSum, vec![a]).len(), 0);
    }

    const MIN: i64 = 60_000_000_000;

    fn durations(v: i64, n: usize) -> ArrayRef {
        Arc::new(DurationNanosecondArray::from(vec![v; n]))
    }

    fn times(v: &[Option<i64>]) -> ArrayRef {
        Arc::new(TimestampNanosecondArray::from(
            v.iter().map(|m| m.map(|m| m * MIN)).collect::<Vec<_>>(),
        ))
    }

    fn minutes(a: &ArrayRef) -> Vec<Option<i64>> {
        a.as_primitive::<TimestampNanosecondType>()
            .iter()
            .map(|v| v.map(|v| v / MIN))
            .collect()
    }

    #[test]
    fn session_docs_example() {
        // Minutes after 10:00: ID 1 at 0, 60; ID 2 at 16, 18, 210; ID 3 at 90.
        let t = times(&[Some(0), Some(60), Some(16), Some(18), Some(210), Some(90)]);
        let r = bools(&[
            Some(true),
            Some(false),
            Some(true),
            Some(false),
            Some(false),
            Some(true),
        ]);
        let out = eval(
            Kind::Session,
            vec![t, durations(60 * MIN, 6), durations(5 * MIN, 6), r],
        );
        let want = [0, 60, 16, 16, 210, 90].map(Some).to_vec();
        assert_eq!(minutes(&out), want);
    }

    #[test]
    fn session_limits_and_nulls() {
        // Neighbors 4 minutes apart, sessions at most 10 minutes long; a null value
        // ends its session; exactly the neighbor distance starts a new one.
        let t = times(&[
            Some(0),
            Some(4),
            Some(8),
            Some(12),
            None,
            Some(13),
            Some(17),
            Some(22),
        ]);
        let out = eval(
            Kind::Session,
            vec![t, durations(10 * MIN, 8), durations(5 * MIN, 8)],
        );
        let want = vec![
            Some(0),
            Some(0),
            Some(0),
            Some(12),
            None,
            Some(13),
            Some(13),
            Some(22),
        ];
        assert_eq!(minutes(&out), want);
    }

    #[test]
    fn session_checks_types() {
        let d = DataType::Duration(TimeUnit::Nanosecond);
        let ts = DataType::Timestamp(TimeUnit::Nanosecond, None);
        assert!(
            Kind::Session
                .return_type(&[DataType::Int64, d.clone(), d.clone()])
                .is_err()
        );
        assert!(
            Kind::Session
                .return_type(&[ts.clone(), DataType::Int64, d.clone()])
                .is_err()
        );
        assert_eq!(
            Kind::Session
                .return_type(&[ts.clone(), d.clone(), d, DataType::Boolean])
                .ok(),
            Some(ts)
        );
    }
}
