//! `rows_near(condition, n [, after])` (rows-near-plugin.md): over serialized rows, every
//! row within `n` rows before (and `after`, default `n`, rows after) a row where the
//! condition is true. One window: the maximum of the condition over the frame
//! `after PRECEDING .. n FOLLOWING` of each row, in the rows' order, then a filter.

use datafusion_common::ScalarValue;
use datafusion_expr::expr::WindowFunction;
use datafusion_expr::{
    Expr, ExprFunctionExt, LogicalPlanBuilder, WindowFrame, WindowFrameBound, WindowFrameUnits,
    WindowFunctionDefinition, lit,
};
use datafusion_functions_aggregate as agg;
use kql_syntax::Span;

use super::Args;
use crate::error::{Result, df, semantic};
use crate::leaf::{Tab, column, const_usize};
use crate::planner::Planner;

impl Planner<'_> {
    /// `evaluate rows_near(...)`.
    pub(crate) fn rows_near(&mut self, t: Tab, args: &Args<'_>, span: Span) -> Result<Tab> {
        let (Some(cond), Some(n)) = (args.positional.first(), args.positional.get(1)) else {
            return Err(semantic(
                span,
                "rows_near() expects a condition and a number of rows",
            ));
        };
        let Some(order) = t.order.clone() else {
            return Err(semantic(
                span,
                "rows_near() needs serialized input (use serialize, sort, order by or top first)",
            ));
        };
        let row = t.row();
        let before = const_usize(&self.const_value(n, row)?, n.span())? as u64;
        let after = match args.positional.get(2) {
            Some(a) => const_usize(&self.const_value(a, row)?, a.span())? as u64,
            None => before,
        };
        let p = self.predicate(cond, row)?;
        let flag = Expr::Cast(datafusion_expr::Cast::new(
            Box::new(datafusion_functions::core::expr_fn::coalesce(vec![
                p,
                lit(false),
            ])),
            arrow::datatypes::DataType::Int64,
        ));
        // The rows `before` rows ahead of a match are in: look `before` rows forward; the
        // rows `after` rows behind one: look `after` rows back.
        let frame = WindowFrame::new_bounds(
            WindowFrameUnits::Rows,
            WindowFrameBound::Preceding(ScalarValue::UInt64(Some(after))),
            WindowFrameBound::Following(ScalarValue::UInt64(Some(before))),
        );
        let w = Expr::from(WindowFunction::new(
            WindowFunctionDefinition::AggregateUDF(agg::min_max::max_udaf()),
            vec![flag],
        ));
        let w = if order.is_empty() {
            w.window_frame(frame).build()
        } else {
            w.order_by(order).window_frame(frame).build()
        }
        .map_err(df(span))?;
        let keep: Vec<Expr> = t
            .plan
            .schema()
            .fields()
            .iter()
            .map(|f| column(f.name()))
            .collect();
        let near = w.schema_name().to_string();
        let plan = LogicalPlanBuilder::window_plan(t.plan.clone(), vec![w]).map_err(df(span))?;
        let plan = LogicalPlanBuilder::from(plan)
            .filter(column(&near).gt(lit(0i64)))
            .and_then(|b| b.project(keep))
            .and_then(|b| b.build())
            .map_err(df(span))?;
        t.with_plan(plan)
    }
}
