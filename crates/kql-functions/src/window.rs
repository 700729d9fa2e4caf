//! KQL window functions that DataFusion lacks.
//!
//! `__row_number_restart(start, restart)`: `row_number(start, restart)` of serialized rows:
//! numbering starts at `start` and restarts there on every row where `restart` is true.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion_common::{Result, ScalarValue};
use datafusion_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion_expr::{PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl};

pub mod rows;

/// Registers the window UDFs (internal: the planner calls them for KQL's window functions).
pub(crate) fn register(r: &mut crate::Registry) {
    r.add_window(
        "__row_number_restart",
        row_number_restart(),
        crate::catalog::Arity::exactly(2),
    );
    rows::register(r);
}

/// The `row_number(start, restart)` window function.
pub fn row_number_restart() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::new_from_impl(RowNumberRestart {
        signature: Signature::exact(
            vec![DataType::Int64, DataType::Boolean],
            Volatility::Immutable,
        ),
    }))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RowNumberRestart {
    signature: Signature,
}

impl WindowUDFImpl for RowNumberRestart {
    fn name(&self) -> &str {
        "__row_number_restart"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(
        &self,
        _args: PartitionEvaluatorArgs<'_>,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(RestartEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs<'_>) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Int64,
            true,
        )))
    }
}

#[derive(Debug)]
struct RestartEvaluator;

impl PartitionEvaluator for RestartEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let start = values[0].as_primitive::<Int64Type>();
        let restart = values[1].as_boolean();
        let mut out = Vec::with_capacity(num_rows);
        let mut current: Option<i64> = None;
        for i in 0..num_rows {
            let s = if start.is_null(i) { 1 } else { start.value(i) };
            let reset = restart.is_valid(i) && restart.value(i);
            current = match current {
                Some(c) if !reset => Some(c + 1),
                _ => Some(s),
            };
            out.push(current);
        }
        Ok(Arc::new(Int64Array::from(out)))
    }

    fn evaluate(&mut self, _values: &[ArrayRef], _range: &Range<usize>) -> Result<ScalarValue> {
        datafusion_common::exec_err!("__row_number_restart is evaluated on whole partitions")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::BooleanArray;

    #[test]
    fn restarts_on_true() {
        let start: ArrayRef = Arc::new(Int64Array::from(vec![1; 5]));
        let restart: ArrayRef = Arc::new(BooleanArray::from(vec![
            None,
            Some(false),
            Some(true),
            Some(false),
            Some(false),
        ]));
        let out = RestartEvaluator
            .evaluate_all(&[start, restart], 5)
            .expect("evaluates");
        let out = out.as_primitive::<Int64Type>();
        assert_eq!(out.values().to_vec(), vec![1, 2, 1, 2, 3]);
    }
}
