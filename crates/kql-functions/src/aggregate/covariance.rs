//! `covariance(x, y)`, `covariancep(x, y)`, `covarianceif(x, y, predicate)` and
//! `covariancepif(x, y, predicate)`: the sample (divided by n - 1) or population (divided
//! by n) covariance of two numeric expressions.
//!
//! A row whose `x` or `y` is null (or whose predicate is not true) is ignored. Like
//! Kusto's `variance`, a covariance that is undefined (no rows; a sample of one row) is 0.
//! The state is the count, both means and the co-moment `Σ(x - x̄)(y - ȳ)`, updated one
//! row at a time (Welford) and merged with Chan's formula, so no large sums cancel.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt64Type};
use datafusion_common::{Result, ScalarValue, exec_err, plan_err};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::utils::format_state_name;
use datafusion_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

use super::predicate_true;
use crate::Registry;
use crate::catalog::{Arity, Naming};

/// Registers the four covariance aggregates.
///
/// The binder names their results `<function>_<first argument>` (`covariance_x`); the
/// docs' examples show `covariance_x_y`, a form no `Naming` variant expresses.
pub(crate) fn register(r: &mut Registry) {
    for (name, population, conditional) in [
        ("covariance", false, false),
        ("covariancep", true, false),
        ("covarianceif", false, true),
        ("covariancepif", true, true),
    ] {
        let arity = Arity::exactly(if conditional { 3 } else { 2 });
        r.add_aggregate(
            name,
            AggregateUDF::new_from_impl(Covariance::new(name, population, conditional)),
            arity,
            Naming::FunctionArg,
        );
    }
}

/// A covariance aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Covariance {
    name: &'static str,
    population: bool,
    conditional: bool,
    signature: Signature,
}

impl Covariance {
    /// The aggregate `name`; `population` divides by n, `conditional` adds a predicate.
    pub fn new(name: &'static str, population: bool, conditional: bool) -> Self {
        Self {
            name,
            population,
            conditional,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Null)
}

impl AggregateUDFImpl for Covariance {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let want = if self.conditional { 3 } else { 2 };
        if arg_types.len() != want {
            return plan_err!(
                "{}(): expected {want} arguments, got {}",
                self.name,
                arg_types.len()
            );
        }
        for t in &arg_types[..2] {
            if !is_numeric(t) {
                return plan_err!("{}(): the arguments must be numbers, not {t}", self.name);
            }
        }
        let mut out = vec![DataType::Float64, DataType::Float64];
        if self.conditional {
            out.push(DataType::Boolean);
        }
        Ok(out)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn is_nullable(&self) -> bool {
        false
    }
    fn accumulator(&self, _acc_args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(CovarianceAcc::new(
            self.population,
            self.conditional,
        )))
    }
    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        let f = |what: &str, t: DataType| {
            Arc::new(Field::new(format_state_name(args.name, what), t, true))
        };
        Ok(vec![
            f("count", DataType::UInt64),
            f("mean_x", DataType::Float64),
            f("mean_y", DataType::Float64),
            f("comoment", DataType::Float64),
        ])
    }
    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(Some(0.0)))
    }
}

/// The running moments of the covariance aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Moments {
    /// Rows seen.
    pub n: u64,
    /// Mean of x.
    pub mean_x: f64,
    /// Mean of y.
    pub mean_y: f64,
    /// `Σ(x - x̄)(y - ȳ)`.
    pub c: f64,
}

impl Moments {
    /// Adds one pair (Welford's update).
    pub fn add(&mut self, x: f64, y: f64) {
        self.n += 1;
        let n = self.n as f64;
        let dx = x - self.mean_x;
        self.mean_x += dx / n;
        self.mean_y += (y - self.mean_y) / n;
        self.c += dx * (y - self.mean_y);
    }

    /// Merges another set of moments (Chan et al.).
    pub fn merge(&mut self, o: &Moments) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *o;
            return;
        }
        let (na, nb) = (self.n as f64, o.n as f64);
        let n = na + nb;
        let dx = o.mean_x - self.mean_x;
        let dy = o.mean_y - self.mean_y;
        self.c += o.c + dx * dy * na * nb / n;
        self.mean_x += dx * nb / n;
        self.mean_y += dy * nb / n;
        self.n += o.n;
    }

    /// The covariance: divided by n (`population`) or n - 1; 0 when undefined.
    pub fn covariance(&self, population: bool) -> f64 {
        let d = if population {
            self.n
        } else {
            self.n.saturating_sub(1)
        };
        if d == 0 { 0.0 } else { self.c / d as f64 }
    }
}

/// The accumulator of the covariance aggregates.
#[derive(Debug)]
pub struct CovarianceAcc {
    population: bool,
    conditional: bool,
    m: Moments,
}

impl CovarianceAcc {
    /// An empty accumulator.
    pub fn new(population: bool, conditional: bool) -> Self {
        Self {
            population,
            conditional,
            m: Moments::default(),
        }
    }
}

fn reals(a: &ArrayRef) -> Result<ArrayRef> {
    Ok(cast(a, &DataType::Float64)?)
}

impl Accumulator for CovarianceAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (Some(x), Some(y)) = (values.first(), values.get(1)) else {
            return Ok(());
        };
        let (x, y) = (reals(x)?, reals(y)?);
        let (x, y) = (
            x.as_primitive::<Float64Type>(),
            y.as_primitive::<Float64Type>(),
        );
        let pred: Option<&BooleanArray> = if self.conditional {
            values.get(2).and_then(|p| p.as_boolean_opt())
        } else {
            None
        };
        for i in 0..x.len().min(y.len()) {
            if self.conditional && !pred.is_some_and(|p| predicate_true(p, i)) {
                continue;
            }
            if x.is_valid(i) && y.is_valid(i) {
                self.m.add(x.value(i), y.value(i));
            }
        }
        Ok(())
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(Some(
            self.m.covariance(self.population),
        )))
    }
    fn size(&self) -> usize {
        size_of::<Self>()
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::UInt64(Some(self.m.n)),
            ScalarValue::Float64(Some(self.m.mean_x)),
            ScalarValue::Float64(Some(self.m.mean_y)),
            ScalarValue::Float64(Some(self.m.c)),
        ])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [n, mx, my, c] = states else {
            return exec_err!("covariance: expected 4 state columns, got {}", states.len());
        };
        let (Some(n), Some(mx), Some(my), Some(c)) = (
            n.as_primitive_opt::<UInt64Type>(),
            mx.as_primitive_opt::<Float64Type>(),
            my.as_primitive_opt::<Float64Type>(),
            c.as_primitive_opt::<Float64Type>(),
        ) else {
            return exec_err!("covariance: malformed partial state");
        };
        for i in 0..n.len() {
            if n.is_valid(i) && mx.is_valid(i) && my.is_valid(i) && c.is_valid(i) {
                self.m.merge(&Moments {
                    n: n.value(i),
                    mean_x: mx.value(i),
                    mean_y: my.value(i),
                    c: c.value(i),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array};

    fn cov(population: bool, x: Vec<Option<f64>>, y: Vec<Option<f64>>) -> f64 {
        let mut a = CovarianceAcc::new(population, false);
        a.update_batch(&[
            Arc::new(Float64Array::from(x)) as ArrayRef,
            Arc::new(Float64Array::from(y)) as ArrayRef,
        ])
        .expect("update");
        match a.evaluate().expect("eval") {
            ScalarValue::Float64(Some(v)) => v,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn docs_examples() {
        // x = 1..5, y = 14, 10, 17, 20, 50: x̄ = 3, ȳ = 22.2, Σ(x - x̄)(y - ȳ) = 82.
        let x: Vec<Option<f64>> = (1..=5).map(|v| Some(f64::from(v))).collect();
        let y = vec![Some(14.0), Some(10.0), Some(17.0), Some(20.0), Some(50.0)];
        assert!(close(cov(false, x.clone(), y.clone()), 20.5));
        assert!(close(cov(true, x, y), 16.4));
    }

    #[test]
    fn conditional_docs_example() {
        // range x from 1 to 100, y = iff(x % 2 == 0, x * 2, x * 3), predicate x % 3 == 0:
        // 33 rows; the docs give 2142 (sample) and 2077.09090909091 (population).
        let xs: Vec<i64> = (1..=100).collect();
        let ys: Vec<i64> = xs
            .iter()
            .map(|x| if x % 2 == 0 { x * 2 } else { x * 3 })
            .collect();
        let p: Vec<bool> = xs.iter().map(|x| x % 3 == 0).collect();
        for (population, want) in [(false, 2142.0), (true, 2_077.090_909_090_91)] {
            let mut a = CovarianceAcc::new(population, true);
            a.update_batch(&[
                Arc::new(Int64Array::from(xs.clone())) as ArrayRef,
                Arc::new(Int64Array::from(ys.clone())) as ArrayRef,
                Arc::new(BooleanArray::from(p.clone())) as ArrayRef,
            ])
            .expect("update");
            let ScalarValue::Float64(Some(v)) = a.evaluate().expect("eval") else {
                panic!("not a real")
            };
            assert!(close(v, want), "{v} vs {want}");
        }
    }

    #[test]
    fn nulls_and_degenerate_groups() {
        // The null pairs are skipped: what is left is x = 1, 2, 3 and y = 2, 4, 6 (cov 2).
        let x = vec![Some(1.0), None, Some(2.0), Some(3.0), Some(9.0)];
        let y = vec![Some(2.0), Some(7.0), Some(4.0), Some(6.0), None];
        assert!(close(cov(false, x, y), 2.0));
        assert_eq!(cov(false, vec![Some(4.0)], vec![Some(1.0)]), 0.0);
        assert_eq!(cov(true, vec![Some(4.0)], vec![Some(1.0)]), 0.0);
        assert_eq!(cov(false, vec![], vec![]), 0.0);
    }

    #[test]
    fn merged_states_equal_one_pass() {
        let mut a = CovarianceAcc::new(false, false);
        let mut b = CovarianceAcc::new(false, false);
        a.update_batch(&[
            Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef,
            Arc::new(Float64Array::from(vec![14.0, 10.0])) as ArrayRef,
        ])
        .expect("a");
        b.update_batch(&[
            Arc::new(Float64Array::from(vec![3.0, 4.0, 5.0])) as ArrayRef,
            Arc::new(Float64Array::from(vec![17.0, 20.0, 50.0])) as ArrayRef,
        ])
        .expect("b");
        let st: Vec<ArrayRef> = b
            .state()
            .expect("state")
            .iter()
            .map(|s| s.to_array().expect("array"))
            .collect();
        a.merge_batch(&st).expect("merge");
        let ScalarValue::Float64(Some(v)) = a.evaluate().expect("eval") else {
            panic!("not a real")
        };
        assert!(close(v, 20.5), "{v}");
        let f = Covariance::new("covariance", false, false);
        assert!(f.coerce_types(&[DataType::Utf8, DataType::Int64]).is_err());
        assert_eq!(
            f.coerce_types(&[DataType::Int32, DataType::Int64])
                .expect("ok"),
            vec![DataType::Float64, DataType::Float64]
        );
    }
}
