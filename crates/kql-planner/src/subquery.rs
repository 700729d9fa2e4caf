//! `x in (T | project c)` outside a filter. The planner writes `in` with a tabular operand as
//! an `InSubquery`, which DataFusion runs only in a filter (as a semi join). In a
//! projection (`print`, `extend`, `project`), it is rewritten here to a scalar subquery of
//! the operand's values as one list, tested with `array_has`: null or no values is false,
//! as Kusto's `in` is for a value that is not in the list.

use std::sync::Arc;

use datafusion_common::tree_node::{Transformed, TreeNode};
use datafusion_common::{DataFusionError, Result};
use datafusion_expr::expr::InSubquery;
use datafusion_expr::{Expr, LogicalPlan, LogicalPlanBuilder, Projection, Subquery, lit};

/// Rewrites every `InSubquery` in a projection of `plan` (filters keep theirs).
pub(crate) fn in_subqueries_outside_filters(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up(|node| match node {
        LogicalPlan::Projection(p) if p.expr.iter().any(has_in_subquery) => {
            let exprs = p
                .expr
                .into_iter()
                .map(|e| {
                    e.transform_up(|e| match e {
                        Expr::InSubquery(InSubquery {
                            expr,
                            subquery,
                            negated,
                        }) => Ok(Transformed::yes(list_test(*expr, subquery, negated)?)),
                        other => Ok(Transformed::no(other)),
                    })
                    .map(|t| t.data)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Transformed::yes(LogicalPlan::Projection(
                Projection::try_new(exprs, p.input)?,
            )))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

fn has_in_subquery(e: &Expr) -> bool {
    e.exists(|e| Ok(matches!(e, Expr::InSubquery(_))))
        .unwrap_or(false)
}

/// `coalesce(array_has((select array_agg(c) from sub), x), false)`, negated for `!in`.
fn list_test(x: Expr, subquery: Subquery, negated: bool) -> Result<Expr> {
    let sub = Arc::unwrap_or_clone(subquery.subquery);
    let Some(field) = sub.schema().fields().first().cloned() else {
        return Err(DataFusionError::Plan(
            "The subquery of 'in' has no column".into(),
        ));
    };
    let values = LogicalPlanBuilder::from(sub)
        .aggregate(
            Vec::<Expr>::new(),
            vec![
                datafusion_functions_aggregate::expr_fn::array_agg(datafusion_expr::col(
                    datafusion_common::Column::new_unqualified(field.name()),
                ))
                .alias("__in_values"),
            ],
        )?
        .build()?;
    let list = Expr::ScalarSubquery(Subquery {
        subquery: Arc::new(values),
        outer_ref_columns: vec![],
        spans: Default::default(),
    });
    let found = datafusion_functions::core::expr_fn::coalesce(vec![
        datafusion_functions_nested::expr_fn::array_has(list, x),
        lit(false),
    ]);
    Ok(if negated { !found } else { found })
}
