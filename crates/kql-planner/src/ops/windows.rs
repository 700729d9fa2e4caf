//! Window functions inside row operators: `where`, `extend` and `project` expressions
//! that call `row_number()`, `prev()`, ... are computed by a Window node under the
//! operator, innermost first, and replaced by its columns.

use datafusion_common::tree_node::{Transformed, TreeNode};
use datafusion_expr::utils::find_window_exprs;
use datafusion_expr::{Expr, LogicalPlan, LogicalPlanBuilder, SortExpr};
use kql_syntax::Span;

use crate::error::{Result, df};
use crate::leaf::column;

/// Moves window functions out of `exprs` into a Window node under `plan`.
pub(crate) fn apply_windows(
    plan: LogicalPlan,
    exprs: Vec<Expr>,
    span: Span,
) -> Result<(LogicalPlan, Vec<Expr>)> {
    let windows = find_window_exprs(exprs.iter());
    if windows.is_empty() {
        return Ok((plan, exprs));
    }
    // prev()/next() on serialized input without sort keys: order by the input position.
    let unordered = windows.iter().any(|w| match w {
        Expr::WindowFunction(f) => f.params.order_by.is_empty() && f.fun.name() != "row_number",
        _ => false,
    });
    let (plan, exprs) = if unordered {
        let ord = datafusion_functions_window::expr_fn::row_number();
        let with_ord =
            LogicalPlanBuilder::window_plan(plan, vec![ord.clone()]).map_err(df(span))?;
        let ord_name = ord.schema_name().to_string();
        let key = vec![SortExpr::new(column(&ord_name), true, false)];
        let exprs = exprs
            .into_iter()
            .map(|e| {
                e.transform_up(|x| match x {
                    Expr::WindowFunction(mut f) if f.params.order_by.is_empty() => {
                        f.params.order_by = key.clone();
                        Ok(Transformed::yes(Expr::WindowFunction(f)))
                    }
                    other => Ok(Transformed::no(other)),
                })
                .map(|t| t.data)
                .map_err(df(span))
            })
            .collect::<Result<Vec<_>>>()?;
        (with_ord, exprs)
    } else {
        (plan, exprs)
    };
    // Windows nested in other windows' arguments are computed first, one layer at a time.
    let mut plan = plan;
    let mut exprs = exprs;
    loop {
        let all = find_window_exprs(exprs.iter());
        if all.is_empty() {
            return Ok((plan, exprs));
        }
        let innermost: Vec<Expr> =
            all.iter()
                .flat_map(innermost_windows)
                .fold(Vec::new(), |mut acc, w| {
                    if !acc.contains(&w) {
                        acc.push(w);
                    }
                    acc
                });
        let (p, e) = apply_window_layer(plan, exprs, innermost, span)?;
        plan = p;
        exprs = e;
    }
}

/// Window functions inside `w` (including `w`) whose arguments contain no window function.
fn innermost_windows(w: &Expr) -> Vec<Expr> {
    let Expr::WindowFunction(f) = w else {
        return Vec::new();
    };
    let mut nested: Vec<Expr> = Vec::new();
    let inner_sources = f
        .params
        .args
        .iter()
        .chain(f.params.partition_by.iter())
        .chain(f.params.order_by.iter().map(|s| &s.expr));
    for a in inner_sources {
        for x in find_window_exprs(std::iter::once(a)) {
            nested.extend(innermost_windows(&x));
        }
    }
    if nested.is_empty() {
        vec![w.clone()]
    } else {
        nested
    }
}

fn apply_window_layer(
    plan: LogicalPlan,
    exprs: Vec<Expr>,
    windows: Vec<Expr>,
    span: Span,
) -> Result<(LogicalPlan, Vec<Expr>)> {
    let plan = LogicalPlanBuilder::window_plan(plan, windows.clone()).map_err(df(span))?;
    let rewritten = exprs
        .into_iter()
        .map(|e| {
            e.transform_up(|x| {
                if windows.contains(&x) {
                    let name = x.schema_name().to_string();
                    Ok(Transformed::yes(column(&name)))
                } else {
                    Ok(Transformed::no(x))
                }
            })
            .map(|t| t.data)
            .map_err(df(span))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((plan, rewritten))
}
