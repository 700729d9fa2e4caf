//! `pivot(pivotColumn [, aggregation] [, column1, ...]) [: (schema)]` (pivot-plugin.md): each
//! distinct value of the pivot column becomes a column holding the aggregation (default
//! `count()`) over the rows with that value, per group of the other columns.
//!
//! One aggregation: grouped by the columns (given, else every column but the pivot column
//! and those the aggregation reads), one aggregate per pivot value with a filter
//! `tostring(pivot) == value` (so `count` and `sum` give 0 where no row has the value, as
//! the docs show, and the others null). The values come from the output schema when one is
//! given, else from the data through a planning probe (`distinct tostring(pivot)`); they
//! are laid out in name order (Kusto's order follows the data and is not documented).

use datafusion_common::ScalarValue;
use datafusion_common::tree_node::{Transformed, TreeNode};
use datafusion_expr::{Expr, LogicalPlanBuilder, lit};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, ColumnDecl, ExprKind, Ident};

use super::Args;
use crate::aggregates::{AggCall, is_aggregate};
use crate::error::{Result, df, needs_probe, semantic};
use crate::leaf::{Tab, call_udf, cast_to, column, type_of, visible_columns};
use crate::planner::Planner;

/// The most distinct values a pivot turns into columns.
const MAX_VALUES: usize = 10_000;

/// Column names an expression reads.
fn names_in(e: &ast::Expr, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Name(id) => out.push(id.name.clone()),
        ExprKind::Call { args, .. } => args.iter().for_each(|a| names_in(a, out)),
        ExprKind::Binary { left, right, .. } => {
            names_in(left, out);
            names_in(right, out);
        }
        ExprKind::Paren(x) | ExprKind::Unary { expr: x, .. } => names_in(x, out),
        ExprKind::Member { expr, .. } | ExprKind::Index { expr, .. } => names_in(expr, out),
        _ => {}
    }
}

/// Adds `filter` to every aggregate call inside `e`.
fn filtered(e: Expr, filter: &Expr) -> Result<Expr> {
    e.transform_up(|x| match x {
        Expr::AggregateFunction(mut f) => {
            f.params.filter = Some(Box::new(match f.params.filter.take() {
                Some(old) => old.as_ref().clone().and(filter.clone()),
                None => filter.clone(),
            }));
            Ok(Transformed::yes(Expr::AggregateFunction(f)))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
    .map_err(df(None))
}

impl Planner<'_> {
    /// `evaluate pivot(...)`.
    pub(crate) fn pivot(
        &mut self,
        t: Tab,
        args: &Args<'_>,
        schema: Option<&(bool, Vec<ColumnDecl>)>,
        span: Span,
    ) -> Result<Tab> {
        let Some(pivot_arg) = args.positional.first().copied() else {
            return Err(semantic(span, "pivot() needs the column to pivot"));
        };
        let ExprKind::Name(pivot_col) = &pivot_arg.kind else {
            return Err(semantic(
                pivot_arg.span(),
                "pivot(): the pivot column must be a column name",
            ));
        };
        let row = t.row();
        // The aggregation (a call of an aggregate) and the grouping columns.
        let mut rest = &args.positional[1..];
        let count_call;
        let agg_expr: &ast::Expr = match rest.first() {
            Some(a) if matches!(&a.kind, ExprKind::Call { name, .. } if is_aggregate(&name.name)) =>
            {
                rest = &rest[1..];
                a
            }
            _ => {
                count_call = ast::Expr::new(
                    ExprKind::Call {
                        name: Ident::new("count", span),
                        args: Vec::new(),
                    },
                    span,
                );
                &count_call
            }
        };
        let ExprKind::Call {
            name: agg_name,
            args: agg_args,
        } = &agg_expr.kind
        else {
            return Err(semantic(
                agg_expr.span(),
                "pivot(): expected an aggregation",
            ));
        };
        let mut read = Vec::new();
        names_in(agg_expr, &mut read);
        let inputs = visible_columns(row.schema);
        let mut groups: Vec<String> = Vec::new();
        for c in rest {
            let ExprKind::Name(id) = &c.kind else {
                return Err(semantic(
                    c.span(),
                    "pivot(): the grouping columns must be column names",
                ));
            };
            if !inputs.contains(&id.name) {
                return Err(semantic(
                    c.span(),
                    format!("pivot(): no column '{}'", id.name),
                ));
            }
            groups.push(id.name.clone());
        }
        if rest.is_empty() {
            groups = inputs
                .iter()
                .filter(|n| *n != &pivot_col.name && !read.contains(n))
                .cloned()
                .collect();
        }
        // The pivot values: the schema's other columns, or the data's.
        let (pivot, pivot_t) = self.typed(pivot_arg, row)?;
        let as_text = if pivot_t == KqlType::String {
            pivot.clone()
        } else {
            call_udf("tostring", vec![pivot.clone()], span)?
        };
        let declared: Option<Vec<(String, KqlType)>> = match schema {
            None => None,
            Some((_, cols)) => {
                let mut out = Vec::new();
                for c in cols {
                    let ty = KqlType::from_name(&c.ty.name).ok_or_else(|| {
                        semantic(c.ty.span.0, format!("Unknown type '{}'", c.ty.name))
                    })?;
                    out.push((c.name.name.clone(), ty));
                }
                Some(out)
            }
        };
        let values: Vec<String> = match &declared {
            Some(cols) => {
                groups = cols
                    .iter()
                    .filter(|(n, _)| inputs.contains(n) && n != &pivot_col.name)
                    .map(|(n, _)| n.clone())
                    .collect();
                cols.iter()
                    .filter(|(n, _)| !groups.contains(n))
                    .map(|(n, _)| n.clone())
                    .collect()
            }
            None => {
                let probe = LogicalPlanBuilder::from(t.plan.clone())
                    .aggregate(vec![as_text.clone().alias("value")], Vec::<Expr>::new())
                    .and_then(|b| b.build())
                    .map_err(df(span))?;
                let Some(batches) = self.ctx.probed(&probe) else {
                    return Err(needs_probe(span, "pivot()", probe));
                };
                let mut vals = Vec::new();
                for b in &batches {
                    // Stored strings may be views or dictionaries: read them as Utf8.
                    let a = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)
                        .map_err(|e| crate::error::internal(e.to_string()))?;
                    for i in 0..b.num_rows() {
                        if let Ok(ScalarValue::Utf8(Some(v))) = ScalarValue::try_from_array(&a, i) {
                            vals.push(v);
                        }
                    }
                }
                if vals.len() > MAX_VALUES {
                    return Err(semantic(
                        span,
                        format!(
                            "pivot(): {} distinct values are more than the limit of {MAX_VALUES} columns",
                            vals.len()
                        ),
                    ));
                }
                vals.sort();
                vals.dedup();
                vals
            }
        };
        // One aggregate per value, filtered to its rows.
        let call = AggCall {
            name: &agg_name.name,
            args: agg_args,
            span: agg_expr.span(),
        };
        let base = self.aggregate(&call, row)?;
        let [base] = base.as_slice() else {
            return Err(semantic(
                agg_expr.span(),
                "pivot(): the aggregation must give one value",
            ));
        };
        let mut aggs = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let e = filtered(base.clone(), &as_text.clone().eq(lit(v.clone())))?;
            aggs.push(e.alias(format!("__pivot{i}")));
        }
        let group: Vec<Expr> = groups.iter().map(|g| column(g)).collect();
        let plan = LogicalPlanBuilder::from(t.plan)
            .aggregate(group, aggs)
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let mut out: Vec<Expr> = groups.iter().map(|g| column(g)).collect();
        for (i, v) in values.iter().enumerate() {
            let x = column(&format!("__pivot{i}"));
            let x = match declared
                .as_ref()
                .and_then(|d| d.iter().find(|(n, _)| n == v))
            {
                Some((_, ty)) => {
                    let xt = type_of(&x, plan.schema(), span)?;
                    cast_to(x, xt, *ty)
                }
                None => x,
            };
            out.push(x.alias(v.clone()));
        }
        let plan = LogicalPlanBuilder::from(plan)
            .project(out)
            .and_then(|b| b.build())
            .map_err(df(span))?;
        Ok(Tab::new(plan))
    }
}
