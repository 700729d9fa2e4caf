//! `make-series`: aggregates along an axis into arrays, one row per group.
//!
//! Two aggregations, as the docs describe the result: rows are grouped by the `by` keys
//! and the axis bin (`bin_at(axis, step, start)`, or `bin(axis, step)` without `from` and
//! in the `in range()` form) and the aggregates computed per group; then, per `by` group,
//! the bins and values are collected (ordered by bin) and `__series_fill` lays them on the
//! axis, `default` (0 unless given) where a bin has no row, `__series_axis` gives the axis
//! itself. Rows outside `[from, to)` (`[start, stop]` for `in range`) are left out. Without
//! `from`/`to` a series starts at its first bin with data and ends after its last. Empty
//! input gives no row unless `kind=nonempty` (then one row of defaults, without `by`).
//! Columns: the keys, one dynamic column per aggregate, the axis (named as its column).

use datafusion_common::ScalarValue;
use datafusion_expr::expr::AggregateFunction;
use datafusion_expr::{Expr, LogicalPlanBuilder, SortExpr, lit};
use datafusion_functions_aggregate as agg;
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind, MakeSeriesRange, NamedExpr, OpParam};

use super::build;
use crate::aggregates::{aggregate_of, default_name, find_agg_calls};
use crate::error::{Result, semantic};
use crate::leaf::{Row, Tab, call_udf, cast_to, column, type_of};
use crate::naming::{expr_name, next_column_name, path_name, unique};
use crate::planner::Planner;

const BIN: &str = "__ms_bin";

/// How axis values become bins: Int64 (datetime and timespan as nanoseconds) or Float64.
fn numeric_kind(t: KqlType) -> Option<KqlType> {
    match t {
        KqlType::DateTime | KqlType::TimeSpan | KqlType::Int | KqlType::Long => Some(KqlType::Long),
        KqlType::Real | KqlType::Decimal => Some(KqlType::Real),
        KqlType::Bool | KqlType::String | KqlType::Guid | KqlType::Dynamic => None,
    }
}

/// A value of type `t` (an axis value, bound or step) as a number on an axis of type
/// `axis`: datetimes and timespans as nanoseconds.
fn on_axis(x: Expr, t: KqlType, axis: KqlType) -> Expr {
    match t {
        KqlType::DateTime | KqlType::TimeSpan => Expr::Cast(datafusion_expr::Cast::new(
            Box::new(x),
            arrow::datatypes::DataType::Int64,
        )),
        other => cast_to(x, other, numeric_kind(axis).unwrap_or(KqlType::Real)),
    }
}

fn array_agg_by_bin(x: Expr) -> Expr {
    Expr::AggregateFunction(AggregateFunction::new_udf(
        agg::array_agg::array_agg_udaf(),
        vec![x],
        false,
        None,
        vec![SortExpr::new(column(BIN), true, false)],
        None,
    ))
}

impl Planner<'_> {
    /// `make-series [kind=nonempty] aggs on axis (from/to/step | in range()) [by keys]`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn make_series(
        &mut self,
        t: Tab,
        params: &[OpParam],
        aggs: &[(NamedExpr, Option<ast::Expr>)],
        on: &ast::Expr,
        range: &MakeSeriesRange,
        by: &[NamedExpr],
        span: Span,
    ) -> Result<Tab> {
        let mut nonempty = false;
        for p in params {
            match (p.name.as_str(), &p.value.kind) {
                ("kind", ExprKind::Name(id)) if id.name == "nonempty" => nonempty = true,
                (n, _) if n.starts_with("hint.") => {}
                (n, _) => {
                    return Err(semantic(
                        p.value.span(),
                        format!("Unknown make-series parameter '{n}'"),
                    ));
                }
            }
        }
        let row = t.row();
        let input: Vec<String> = row
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut counter = 0usize;

        // The axis, its range and step.
        let axis_name = expr_name(on).unwrap_or_else(|| next_column_name(&mut counter, &input));
        let (axis, axis_t) = self.typed(on, row)?;
        if numeric_kind(axis_t).is_none() {
            return Err(semantic(
                on.span(),
                format!(
                    "make-series: the axis must be a datetime, timespan or number, not {axis_t}"
                ),
            ));
        }
        let (from, to, step, inclusive) = match range {
            MakeSeriesRange::FromTo { from, to, step } => (from.as_ref(), to.as_ref(), step, false),
            MakeSeriesRange::InRange(a) if a.len() == 3 => (Some(&a[0]), Some(&a[1]), &a[2], true),
            MakeSeriesRange::InRange(_) => {
                return Err(semantic(
                    span,
                    "make-series: in range(start, stop, step) needs three arguments",
                ));
            }
        };
        let (step_x, step_t) = self.typed(step, row)?;
        let bounded = |p: &mut Self, e: Option<&ast::Expr>| -> Result<Option<Expr>> {
            match e {
                None => Ok(None),
                Some(e) => {
                    let (x, xt) = p.typed(e, row)?;
                    Ok(Some(if xt == axis_t {
                        x
                    } else {
                        cast_to(x, xt, axis_t)
                    }))
                }
            }
        };
        let from_x = bounded(self, from)?;
        let to_x = bounded(self, to)?;
        // The bin of each row; the series' first bin.
        let (bin, start) = match (&from_x, inclusive) {
            (Some(f), false) => (
                call_udf(
                    "bin_at",
                    vec![axis.clone(), step_x.clone(), f.clone()],
                    span,
                )?,
                Some(f.clone()),
            ),
            (Some(f), true) => (
                call_udf("bin", vec![axis.clone(), step_x.clone()], span)?,
                Some(call_udf("bin", vec![f.clone(), step_x.clone()], span)?),
            ),
            (None, _) => (
                call_udf("bin", vec![axis.clone(), step_x.clone()], span)?,
                None,
            ),
        };
        // Rows outside the range are left out.
        let mut keep: Option<Expr> = None;
        if let Some(f) = &from_x {
            keep = Some(axis.clone().gt_eq(start.clone().unwrap_or(f.clone())));
        }
        if let Some(to) = &to_x {
            let upper = if inclusive {
                bin.clone()
                    .lt_eq(call_udf("bin", vec![to.clone(), step_x.clone()], span)?)
            } else {
                axis.clone().lt(to.clone())
            };
            keep = Some(match keep {
                Some(k) => k.and(upper),
                None => upper,
            });
        }
        let mut plan = t.plan.clone();
        if let Some(k) = keep {
            plan = build(LogicalPlanBuilder::from(plan).filter(k), span)?;
        }

        // First aggregation: by keys and bin.
        let mut keys: Vec<(String, Expr)> = Vec::new();
        for k in by {
            let name = match k.names.as_slice() {
                [n] => n.name.clone(),
                _ => path_name(&k.expr).unwrap_or_else(|| next_column_name(&mut counter, &input)),
            };
            let taken: Vec<String> = keys.iter().map(|(n, _)| n.clone()).collect();
            let x = self.scalar(&k.expr, row)?;
            keys.push((unique(&name, &taken), x));
        }
        let mut agg_exprs: Vec<Expr> = Vec::new();
        let mut call_cols = std::collections::HashMap::new();
        let mut items: Vec<(String, &ast::Expr, Option<&ast::Expr>)> = Vec::new();
        for (item, default) in aggs {
            let mut calls = Vec::new();
            find_agg_calls(&item.expr, &mut calls);
            if calls.is_empty() {
                return Err(semantic(
                    item.expr.span(),
                    "make-series: each expression must contain an aggregate function",
                ));
            }
            for c in &calls {
                let exprs = self.aggregate(c, row)?;
                let [e] = exprs.as_slice() else {
                    return Err(semantic(
                        c.span,
                        format!("make-series: '{}' must give one value", c.name),
                    ));
                };
                let col = format!("__msagg{}", agg_exprs.len());
                agg_exprs.push(e.clone().alias(col.clone()));
                call_cols.insert((c.span.start, c.span.end), vec![col]);
            }
            let bare = item.expr.span() == calls[0].span;
            let name = match item.names.as_slice() {
                [n] => n.name.clone(),
                _ if bare => match aggregate_of(calls[0].name) {
                    Some((_, naming, _)) => default_name(calls[0].name, naming, calls[0].args)
                        .unwrap_or_else(|| next_column_name(&mut counter, &input)),
                    None => next_column_name(&mut counter, &input),
                },
                _ => next_column_name(&mut counter, &input),
            };
            items.push((name, &item.expr, default.as_ref()));
        }
        let mut group: Vec<Expr> = keys
            .iter()
            .map(|(n, x)| x.clone().alias(n.clone()))
            .collect();
        group.push(bin.alias(BIN));
        let plan = build(
            LogicalPlanBuilder::from(plan).aggregate(group, agg_exprs),
            span,
        )?;

        // The values of each item per (keys, bin), as numbers.
        let saved = std::mem::replace(&mut self.agg_columns, call_cols);
        let values = (|| -> Result<Vec<(Expr, Expr)>> {
            let agg_row = Row {
                schema: plan.schema(),
                order: None,
            };
            let mut out = Vec::new();
            for (_, e, default) in &items {
                let x = self.scalar(e, agg_row)?;
                let xt = type_of(&x, plan.schema(), e.span())?;
                let Some(kind) = numeric_kind(xt).filter(|_| xt.is_numeric()) else {
                    return Err(semantic(
                        e.span(),
                        format!("make-series: aggregates must be numeric, not {xt}"),
                    ));
                };
                let d = match default {
                    Some(d) => {
                        let v = self.const_value(d, agg_row)?;
                        let v = if v.is_null() {
                            ScalarValue::try_from(&kind.to_arrow())
                                .map_err(crate::error::df(d.span()))?
                        } else {
                            v.cast_to(&kind.to_arrow()).map_err(|_| {
                                semantic(
                                    d.span(),
                                    format!("make-series: the default must be a {kind}"),
                                )
                            })?
                        };
                        lit(v)
                    }
                    None => cast_to(lit(0i64), KqlType::Long, kind),
                };
                out.push((cast_to(x, xt, kind), d));
            }
            Ok(out)
        })();
        self.agg_columns = saved;
        let values = values?;
        let mut proj: Vec<Expr> = keys.iter().map(|(n, _)| column(n)).collect();
        proj.push(on_axis(column(BIN), axis_t, axis_t).alias(BIN));
        for (i, (v, _)) in values.iter().enumerate() {
            proj.push(v.clone().alias(format!("__msv{i}")));
        }
        let plan = build(LogicalPlanBuilder::from(plan).project(proj), span)?;

        // Second aggregation: per keys, the bins and values in bin order.
        let group: Vec<Expr> = keys.iter().map(|(n, _)| column(n)).collect();
        let mut collected = vec![array_agg_by_bin(column(BIN)).alias("__ms_bins")];
        for i in 0..values.len() {
            collected.push(
                array_agg_by_bin(column(&format!("__msv{i}"))).alias(format!("__ms_vals{i}")),
            );
        }
        collected.push(agg::count::count(lit(1i64)).alias("__ms_rows"));
        let mut plan = build(
            LogicalPlanBuilder::from(plan).aggregate(group, collected),
            span,
        )?;
        if keys.is_empty() && !nonempty {
            // A global aggregate gives a row even for empty input; make-series gives none.
            plan = build(
                LogicalPlanBuilder::from(plan).filter(column("__ms_rows").gt(lit(0i64))),
                span,
            )?;
        }

        let num = |e: Option<Expr>| -> Expr {
            match e {
                Some(x) => on_axis(x, axis_t, axis_t),
                None => lit(ScalarValue::Int64(None)),
            }
        };
        let start_n = num(start);
        let end_n = num(to_x);
        let step_n = on_axis(step_x, step_t, axis_t);
        let mut out: Vec<Expr> = keys.iter().map(|(n, _)| column(n)).collect();
        let mut taken: Vec<String> = keys.iter().map(|(n, _)| n.clone()).collect();
        for (i, ((name, _, _), (_, default))) in items.iter().zip(values).enumerate() {
            let fill = call_udf(
                "__series_fill",
                vec![
                    column("__ms_bins"),
                    column(&format!("__ms_vals{i}")),
                    start_n.clone(),
                    end_n.clone(),
                    step_n.clone(),
                    default,
                    lit(inclusive),
                ],
                span,
            )?;
            let n = unique(name, &taken);
            taken.push(n.clone());
            out.push(fill.alias(n));
        }
        let axis_col = call_udf(
            "__series_axis",
            vec![
                column("__ms_bins"),
                start_n,
                end_n,
                step_n,
                lit(inclusive),
                lit(axis_t.name()),
            ],
            span,
        )?;
        out.push(axis_col.alias(unique(&axis_name, &taken)));
        let plan = build(LogicalPlanBuilder::from(plan).project(out), span)?;
        Ok(Tab::new(plan))
    }
}
