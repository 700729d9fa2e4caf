//! `narrow()`, `estimate_rows_count()`.
//!
//! * `narrow()`: every cell of the input as a row `(Row, Column, Value)`: the row's number
//!   from 0, the column's name, the value as a string (`tostring`). Planned as one
//!   projection of the names and the values as two lists, unnested together.
//! * `estimate_rows_count()`: one row, `EstimatedRowsCount`: the input's row count
//!   (Calypso counts; Kusto estimates).

use datafusion_expr::{Expr, LogicalPlanBuilder, lit};
use datafusion_functions_aggregate as agg;
use kql_syntax::Span;

use crate::error::{Result, df, semantic};
use crate::leaf::{Tab, call_udf, column, visible_columns};
use crate::planner::Planner;

impl Planner<'_> {
    /// `evaluate narrow()`.
    pub(crate) fn narrow(&mut self, t: Tab, span: Span) -> Result<Tab> {
        let names = visible_columns(t.plan.schema());
        if names.is_empty() {
            return Err(semantic(span, "narrow(): the input has no columns"));
        }
        let mut values = Vec::new();
        for n in &names {
            values.push(call_udf("tostring", vec![column(n)], span)?);
        }
        let row = datafusion_functions_window::expr_fn::row_number();
        let plan = LogicalPlanBuilder::window_plan(t.plan, vec![row.clone()]).map_err(df(span))?;
        let wname = row.schema_name().to_string();
        let lists = vec![
            Expr::Cast(datafusion_expr::Cast::new(
                Box::new(column(&wname) - lit(1u64)),
                arrow::datatypes::DataType::Int64,
            ))
            .alias("Row"),
            datafusion_functions_nested::make_array::make_array(
                names.iter().map(|n| lit(n.clone())).collect(),
            )
            .alias("Column"),
            datafusion_functions_nested::make_array::make_array(values).alias("Value"),
        ];
        let plan = LogicalPlanBuilder::from(plan)
            .project(lists)
            .and_then(|b| {
                b.unnest_columns_with_options(
                    vec![
                        datafusion_common::Column::new_unqualified("Column"),
                        datafusion_common::Column::new_unqualified("Value"),
                    ],
                    datafusion_common::UnnestOptions::new(),
                )
            })
            .and_then(|b| b.build())
            .map_err(df(span))?;
        Ok(Tab::new(plan))
    }

    /// `evaluate estimate_rows_count()`.
    pub(crate) fn estimate_rows_count(&mut self, t: Tab, span: Span) -> Result<Tab> {
        let plan = LogicalPlanBuilder::from(t.plan)
            .aggregate(
                Vec::<Expr>::new(),
                vec![agg::count::count(lit(1i64)).alias("EstimatedRowsCount")],
            )
            .and_then(|b| b.build())
            .map_err(df(span))?;
        Ok(Tab::new(plan))
    }
}
