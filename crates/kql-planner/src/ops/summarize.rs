//! `summarize` (and `distinct` of columns): group keys, aggregates, Kusto's result names.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion_common::ScalarValue;
use datafusion_expr::expr::AggregateFunction;
use datafusion_expr::{AggregateUDF, Expr, ExprFunctionExt, LogicalPlanBuilder, SortExpr, lit};
use datafusion_functions_aggregate as agg;
use kql_functions::{KqlType, Registry};
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind, NamedExpr};

use super::build;
use crate::call::AGGREGATES;
use crate::error::{Result, df, not_implemented, semantic};
use crate::expr::{Row, cast_to, column, type_of};
use crate::naming::{expr_name, next_column_name, path_name, unique};
use crate::tabular::{Planner, Tab};

fn udaf_call(f: Arc<AggregateUDF>, args: Vec<Expr>, distinct: bool, filter: Option<Expr>) -> Expr {
    Expr::AggregateFunction(AggregateFunction::new_udf(
        f,
        args,
        distinct,
        filter.map(Box::new),
        vec![],
        None,
    ))
}

/// An aggregate call found in a summarize expression.
struct AggCall<'a> {
    name: &'a str,
    args: &'a [ast::Expr],
    span: Span,
}

fn find_agg_calls<'a>(e: &'a ast::Expr, out: &mut Vec<AggCall<'a>>) {
    match &e.kind {
        ExprKind::Call { name, args } if AGGREGATES.contains(&name.name.as_str()) => {
            out.push(AggCall {
                name: &name.name,
                args,
                span: e.span(),
            })
        }
        ExprKind::Call { args, .. } => args.iter().for_each(|a| find_agg_calls(a, out)),
        ExprKind::Paren(x) | ExprKind::Unary { expr: x, .. } => find_agg_calls(x, out),
        ExprKind::Binary { left, right, .. } => {
            find_agg_calls(left, out);
            find_agg_calls(right, out);
        }
        ExprKind::List { expr, items, .. } => {
            find_agg_calls(expr, out);
            items.iter().for_each(|a| find_agg_calls(a, out));
        }
        ExprKind::Between {
            expr, low, high, ..
        } => {
            find_agg_calls(expr, out);
            find_agg_calls(low, out);
            find_agg_calls(high, out);
        }
        ExprKind::Member { expr, .. } | ExprKind::Index { expr, .. } => find_agg_calls(expr, out),
        _ => {}
    }
}

/// Kusto's default name of an aggregate result.
fn agg_default_name(name: &str, args: &[ast::Expr]) -> String {
    let arg = args.first().and_then(expr_name).unwrap_or_default();
    match name {
        "count" => "count_".into(),
        "countif" => "countif_".into(),
        "take_any" | "any" | "take_anyif" => {
            if arg.is_empty() {
                "any_".into()
            } else {
                arg
            }
        }
        "make_list" | "make_list_if" | "make_list_with_nulls" => format!("list_{arg}"),
        "make_set" | "make_set_if" => format!("set_{arg}"),
        "make_bag" | "make_bag_if" => format!("bag_{arg}"),
        other => format!("{other}_{arg}"),
    }
}

/// `percentile_x_99_9`.
fn percentile_name(arg: &str, p: &ast::Expr) -> String {
    let text = p.to_string().replace(['.', '-'], "_");
    format!("percentile_{arg}_{text}")
}

impl Planner<'_> {
    /// Plans one aggregate call; returns the DataFusion aggregate expressions it produces.
    fn aggregate(&mut self, c: &AggCall<'_>, row: Row<'_>) -> Result<Vec<Expr>> {
        let span = c.span;
        let need = |min: usize, max: usize| -> Result<()> {
            if c.args.len() < min || c.args.len() > max {
                return Err(semantic(
                    span,
                    format!("Aggregate '{}' got {} arguments", c.name, c.args.len()),
                ));
            }
            Ok(())
        };
        let one = |p: &mut Self, i: usize| -> Result<(Expr, KqlType)> { p.typed(&c.args[i], row) };
        Ok(match c.name {
            "count" => {
                need(0, 1)?;
                if c.args.len() == 1 && !matches!(c.args[0].kind, ExprKind::Star) {
                    let (x, _) = one(self, 0)?;
                    vec![agg::count::count(x)]
                } else {
                    vec![agg::count::count(lit(1i64))]
                }
            }
            "countif" => {
                need(1, 1)?;
                let p = self.predicate(&c.args[0], row)?;
                vec![udaf_call(
                    agg::count::count_udaf(),
                    vec![lit(1i64)],
                    false,
                    Some(p),
                )]
            }
            "sum" | "avg" | "min" | "max" | "stdev" | "variance" | "stdevp" | "variancep" => {
                need(1, 1)?;
                let (x, t) = one(self, 0)?;
                let numeric = t.is_numeric()
                    || (matches!(c.name, "min" | "max") && t != KqlType::Dynamic)
                    || (matches!(c.name, "sum" | "avg") && t == KqlType::TimeSpan)
                    || (c.name == "avg" && t == KqlType::DateTime);
                if !numeric {
                    return Err(semantic(
                        span,
                        format!("{}() cannot aggregate values of type {t}", c.name),
                    ));
                }
                if c.name == "avg" && t == KqlType::DateTime {
                    let n = Expr::Cast(datafusion_expr::Cast::new(Box::new(x), DataType::Int64));
                    let e = datafusion_functions::math::expr_fn::round(vec![agg::average::avg(
                        Expr::Cast(datafusion_expr::Cast::new(Box::new(n), DataType::Float64)),
                    )]);
                    let e = Expr::Cast(datafusion_expr::Cast::new(Box::new(e), DataType::Int64));
                    return Ok(vec![Expr::Cast(datafusion_expr::Cast::new(
                        Box::new(e),
                        KqlType::DateTime.to_arrow(),
                    ))]);
                }
                if t == KqlType::TimeSpan && matches!(c.name, "sum" | "avg") {
                    // over ticks, back to a timespan
                    let n = Expr::Cast(datafusion_expr::Cast::new(Box::new(x), DataType::Int64));
                    let e = if c.name == "sum" {
                        agg::sum::sum(n)
                    } else {
                        datafusion_functions::math::expr_fn::round(vec![agg::average::avg(
                            Expr::Cast(datafusion_expr::Cast::new(Box::new(n), DataType::Float64)),
                        )])
                    };
                    let e = Expr::Cast(datafusion_expr::Cast::new(Box::new(e), DataType::Int64));
                    let e = Expr::Cast(datafusion_expr::Cast::new(
                        Box::new(e),
                        KqlType::TimeSpan.to_arrow(),
                    ));
                    return Ok(vec![if c.name == "sum" {
                        zero_default(e, KqlType::TimeSpan)
                    } else {
                        e
                    }]);
                }
                let x = if t == KqlType::Int && c.name == "sum" {
                    cast_to(x, t, KqlType::Long)
                } else {
                    x
                };
                let e = match c.name {
                    "sum" => agg::sum::sum(x),
                    // DataFusion's avg of a decimal widens its scale (38, 22): back to
                    // Kusto's decimal type, as every other decimal value has.
                    "avg" if t == KqlType::Decimal => Expr::Cast(datafusion_expr::Cast::new(
                        Box::new(agg::average::avg(x)),
                        KqlType::Decimal.to_arrow(),
                    )),
                    "avg" => agg::average::avg(cast_to(x, t, KqlType::Real)),
                    "min" => agg::min_max::min(x),
                    "max" => agg::min_max::max(x),
                    "stdev" => agg::stddev::stddev(cast_to(x, t, KqlType::Real)),
                    "stdevp" => agg::stddev::stddev_pop(cast_to(x, t, KqlType::Real)),
                    "variance" => agg::variance::var_sample(cast_to(x, t, KqlType::Real)),
                    _ => agg::variance::var_pop(cast_to(x, t, KqlType::Real)),
                };
                // Kusto's default for sum/stdev/variance over no values is 0.
                let e = match c.name {
                    "sum" => zero_default(e, if t == KqlType::Int { KqlType::Long } else { t }),
                    "stdev" | "stdevp" | "variance" | "variancep" => zero_default(e, KqlType::Real),
                    _ => e,
                };
                vec![e]
            }
            "sumif" | "avgif" | "minif" | "maxif" | "stdevif" | "varianceif" => {
                need(2, 2)?;
                let (x, t) = one(self, 0)?;
                let p = self.predicate(&c.args[1], row)?;
                let (f, x) = match c.name {
                    "sumif" => (
                        agg::sum::sum_udaf(),
                        if t == KqlType::Int {
                            cast_to(x, t, KqlType::Long)
                        } else {
                            x
                        },
                    ),
                    "avgif" => (
                        agg::average::avg_udaf(),
                        cast_to(
                            x,
                            t,
                            if t == KqlType::Decimal {
                                t
                            } else {
                                KqlType::Real
                            },
                        ),
                    ),
                    "minif" => (agg::min_max::min_udaf(), x),
                    "maxif" => (agg::min_max::max_udaf(), x),
                    "stdevif" => (agg::stddev::stddev_udaf(), cast_to(x, t, KqlType::Real)),
                    _ => (agg::variance::var_samp_udaf(), cast_to(x, t, KqlType::Real)),
                };
                let e = udaf_call(f, vec![x], false, Some(p));
                let e = match c.name {
                    "sumif" => zero_default(e, if t == KqlType::Int { KqlType::Long } else { t }),
                    "stdevif" | "varianceif" => zero_default(e, KqlType::Real),
                    _ => e,
                };
                vec![e]
            }
            "count_distinct" | "count_distinctif" => {
                let (x, _) = one(self, 0)?;
                let filter = if c.name == "count_distinctif" {
                    need(2, 2)?;
                    Some(self.predicate(&c.args[1], row)?)
                } else {
                    need(1, 1)?;
                    None
                };
                vec![udaf_call(agg::count::count_udaf(), vec![x], true, filter)]
            }
            "dcount" | "dcountif" => {
                let (x, _) = one(self, 0)?;
                let (filter, acc_at) = if c.name == "dcountif" {
                    need(2, 3)?;
                    (Some(self.predicate(&c.args[1], row)?), 2)
                } else {
                    need(1, 2)?;
                    (None, 1)
                };
                let mut args = vec![x];
                if let Some(a) = c.args.get(acc_at) {
                    args.push(self.scalar(a, row)?);
                }
                match Registry::global().aggregate("dcount") {
                    Some(f) => vec![udaf_call(f, args, false, filter)],
                    None => {
                        let e = udaf_call(
                            agg::approx_distinct::approx_distinct_udaf(),
                            vec![args.remove(0)],
                            false,
                            filter,
                        );
                        vec![Expr::Cast(datafusion_expr::Cast::new(
                            Box::new(e),
                            DataType::Int64,
                        ))]
                    }
                }
            }
            "percentile" | "percentiles" => {
                need(2, usize::MAX)?;
                let (x, t) = one(self, 0)?;
                if !t.is_numeric() && t != KqlType::DateTime && t != KqlType::TimeSpan {
                    return Err(semantic(
                        span,
                        format!("{}() needs a numeric column, not {t}", c.name),
                    ));
                }
                if c.name == "percentile" && c.args.len() != 2 {
                    return Err(semantic(
                        span,
                        "percentile() expects a column and one percentage",
                    ));
                }
                let mut out = Vec::new();
                for p in &c.args[1..] {
                    let pv = self.const_value(p, row)?;
                    let pv = pv
                        .cast_to(&DataType::Float64)
                        .ok()
                        .and_then(|v| {
                            if let ScalarValue::Float64(Some(f)) = v {
                                Some(f)
                            } else {
                                None
                            }
                        })
                        .ok_or_else(|| {
                            semantic(p.span(), "The percentage must be a constant number")
                        })?;
                    if !(0.0..=100.0).contains(&pv) {
                        return Err(semantic(
                            p.span(),
                            "The percentage must be between 0 and 100",
                        ));
                    }
                    let as_real = cast_to(x.clone(), t, KqlType::Real);
                    let e = datafusion_functions_aggregate::approx_percentile_cont::approx_percentile_cont(
                        SortExpr::new(as_real, true, false),
                        lit(pv / 100.0),
                        None,
                    );
                    // Kusto returns the input's type for integers.
                    let e = match t {
                        KqlType::Int | KqlType::Long => {
                            let rounded = datafusion_functions::math::expr_fn::round(vec![e]);
                            cast_to(rounded, KqlType::Real, KqlType::Long)
                        }
                        KqlType::Decimal => cast_to(e, KqlType::Real, KqlType::Decimal),
                        _ => e,
                    };
                    out.push(e);
                }
                out
            }
            "arg_max" | "arg_min" => {
                need(1, usize::MAX)?;
                let (target, _) = one(self, 0)?;
                let is_max = c.name == "arg_max";
                let order = vec![SortExpr::new(target.clone(), !is_max, false)];
                let mut out = vec![if is_max {
                    agg::min_max::max(target)
                } else {
                    agg::min_max::min(target)
                }];
                for (_, x) in self.arg_columns(c.args, row)? {
                    out.push(agg::first_last::first_value(x, order.clone()));
                }
                out
            }
            "make_list" if c.args.len() == 1 && row.order.is_some_and(|o| !o.is_empty()) => {
                // Serialized input: the list keeps the row order.
                let (x, _) = one(self, 0)?;
                let order = row.order.map(<[SortExpr]>::to_vec).unwrap_or_default();
                let agg = Expr::AggregateFunction(AggregateFunction::new_udf(
                    agg::array_agg::array_agg_udaf(),
                    vec![x.clone()],
                    false,
                    Some(Box::new(x.is_not_null())),
                    order,
                    None,
                ));
                vec![crate::expr::call_udf("__list_to_dynamic", vec![agg], span)?]
            }
            "make_list"
            | "make_set"
            | "make_bag"
            | "make_list_if"
            | "make_set_if"
            | "make_bag_if"
            | "take_any"
            | "any"
            | "make_list_with_nulls" => {
                let f = Registry::global()
                    .aggregate(c.name)
                    .ok_or_else(|| not_implemented(span, format!("aggregate {}", c.name)))?;
                let mut args = Vec::new();
                for a in c.args {
                    args.push(self.scalar(a, row)?);
                }
                vec![udaf_call(f, args, false, None)]
            }
            other => {
                if let Some(f) = Registry::global().aggregate(other) {
                    let mut args = Vec::new();
                    for a in c.args {
                        args.push(self.scalar(a, row)?);
                    }
                    vec![udaf_call(f, args, false, None)]
                } else {
                    return Err(not_implemented(span, format!("aggregate {other}")));
                }
            }
        })
    }

    pub(crate) fn summarize(
        &mut self,
        t: Tab,
        aggs: &[NamedExpr],
        by: &[NamedExpr],
        span: Span,
    ) -> Result<Tab> {
        // arg_max / arg_min are planned as a row selection.
        if aggs.len() == 1
            && let ExprKind::Call { name, args } = &aggs[0].expr.kind
        {
            if name.name == "arg_max" || name.name == "arg_min" {
                return self.arg_minmax(t, &aggs[0], name.name == "arg_max", args, by, span);
            }
            let several = args.len() > 1 || args.iter().any(|a| matches!(a.kind, ExprKind::Star));
            if (name.name == "take_any" || name.name == "any") && several {
                return self.any_row(t, args, by, span);
            }
        }
        let row = t.row();
        let input_names: Vec<String> = row
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut out_names: Vec<String> = Vec::new();
        let mut counter = 0usize;

        // Group keys.
        self.plain_keys_of(by);
        let mut group = Vec::new();
        for k in by {
            let name = match k.names.as_slice() {
                [n] => n.name.clone(),
                [] => expr_name(&k.expr)
                    .unwrap_or_else(|| next_column_name(&mut counter, &input_names)),
                _ => return Err(not_implemented(span, "several names for one group key")),
            };
            let name = unique(&name, &out_names);
            let x = self.scalar(&k.expr, row)?;
            let kt = type_of(&x, row.schema, k.expr.span())?;
            if kt == KqlType::Dynamic {
                return Err(semantic(
                    k.expr.span(),
                    "Summarize group key cannot be of type dynamic",
                ));
            }
            out_names.push(name.clone());
            group.push(x.alias(name));
        }

        // Aggregates: each call becomes a hidden column `__aggN`.
        let mut agg_exprs: Vec<Expr> = Vec::new();
        let mut call_cols: HashMap<(u32, u32), Vec<String>> = HashMap::new();
        let mut items: Vec<(String, &ast::Expr, Option<Vec<String>>)> = Vec::new();
        for item in aggs {
            let mut calls = Vec::new();
            find_agg_calls(&item.expr, &mut calls);
            if calls.is_empty() {
                return Err(semantic(
                    item.expr.span(),
                    "A summarize expression must contain an aggregate function",
                ));
            }
            for c in &calls {
                let exprs = self.aggregate(c, row)?;
                let mut cols = Vec::new();
                for e in exprs {
                    let col = format!("__agg{}", agg_exprs.len());
                    agg_exprs.push(e.alias(col.clone()));
                    cols.push(col);
                }
                call_cols.insert((c.span.start, c.span.end), cols);
            }
            // Several outputs (percentiles) only for a bare call.
            let bare = matches!(&item.expr.kind, ExprKind::Call { name, .. } if AGGREGATES.contains(&name.name.as_str()));
            if bare {
                let c = &calls[0];
                let cols = call_cols
                    .get(&(c.span.start, c.span.end))
                    .cloned()
                    .unwrap_or_default();
                if c.name == "arg_max" || c.name == "arg_min" {
                    let prefix = if c.name == "arg_max" { "max_" } else { "min_" };
                    let first = match item.names.as_slice() {
                        [n] => n.name.clone(),
                        _ => path_name(&c.args[0]).unwrap_or_else(|| prefix.to_string()),
                    };
                    let mut names = vec![first];
                    names.extend(self.arg_columns(c.args, row)?.into_iter().map(|(n, _)| n));
                    items.push((String::new(), &item.expr, Some(names)));
                    continue;
                }
                if cols.len() > 1 {
                    let arg = c.args.first().and_then(path_name).unwrap_or_default();
                    let names: Vec<String> = if item.names.len() == cols.len() {
                        item.names.iter().map(|n| n.name.clone()).collect()
                    } else {
                        c.args[1..]
                            .iter()
                            .map(|p| percentile_name(&arg, p))
                            .collect()
                    };
                    items.push((String::new(), &item.expr, Some(names)));
                    continue;
                }
            }
            let name = match item.names.as_slice() {
                [n] => n.name.clone(),
                [] if bare => {
                    let c = &calls[0];
                    if c.name == "percentile" {
                        let arg = c.args.first().and_then(path_name).unwrap_or_default();
                        percentile_name(&arg, &c.args[1])
                    } else {
                        agg_default_name(c.name, c.args)
                    }
                }
                [] => next_column_name(&mut counter, &input_names),
                _ => return Err(not_implemented(span, "several names for one aggregate")),
            };
            items.push((name, &item.expr, None));
        }

        let plan = build(
            LogicalPlanBuilder::from(t.plan.clone()).aggregate(group, agg_exprs),
            span,
        )?;

        // Final projection: keys, then aggregate expressions over the hidden columns.
        let mut exprs: Vec<Expr> = out_names.iter().map(|n| column(n)).collect();
        let saved = std::mem::take(&mut self.agg_columns);
        self.agg_columns = call_cols;
        let result = (|| {
            for (name, e, multi) in &items {
                if let Some(names) = multi {
                    let ExprKind::Call { .. } = &e.kind else {
                        continue;
                    };
                    let cols = self
                        .agg_columns
                        .get(&(e.span().start, e.span().end))
                        .cloned()
                        .unwrap_or_default();
                    for (col, n) in cols.iter().zip(names) {
                        let n = unique(n, &out_names);
                        out_names.push(n.clone());
                        exprs.push(column(col).alias(n));
                    }
                    continue;
                }
                let agg_row = Row {
                    schema: plan.schema(),
                    order: None,
                };
                let x = self.scalar(e, agg_row)?;
                let n = unique(name, &out_names);
                out_names.push(n.clone());
                exprs.push(x.alias(n));
            }
            Ok(())
        })();
        self.agg_columns = saved;
        result?;
        let plan = build(LogicalPlanBuilder::from(plan).project(exprs), span)?;
        Ok(Tab::new(plan))
    }

    /// The returned columns of `arg_max(x, cols...)`: names and expressions, `*` expanded to
    /// the input columns other than plain group keys and `x` itself.
    fn arg_columns(&mut self, args: &[ast::Expr], row: Row<'_>) -> Result<Vec<(String, Expr)>> {
        let target = args.first().and_then(path_name);
        self.returned_columns(args.get(1..).unwrap_or(&[]), target.as_deref(), row)
    }

    /// Columns returned for one row: `*` (all but plain group keys and `exclude`), `name = e`, `e`.
    fn returned_columns(
        &mut self,
        args: &[ast::Expr],
        exclude: Option<&str>,
        row: Row<'_>,
    ) -> Result<Vec<(String, Expr)>> {
        let input_names: Vec<String> = row
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut counter = 0usize;
        let mut cols = Vec::new();
        for a in args {
            match &a.kind {
                ExprKind::Star => {
                    for n in &input_names {
                        if !self.plain_keys.contains(n)
                            && exclude != Some(n.as_str())
                            && !crate::tabular::is_hidden_column(n)
                        {
                            cols.push((n.clone(), column(n)));
                        }
                    }
                }
                ExprKind::NamedArg { name, value } => {
                    let x = self.scalar(value, row)?;
                    cols.push((name.name.clone(), x));
                }
                _ => {
                    let x = self.scalar(a, row)?;
                    let n = path_name(a)
                        .unwrap_or_else(|| next_column_name(&mut counter, &input_names));
                    cols.push((n, x));
                }
            }
        }
        Ok(cols)
    }

    /// `summarize take_any(*)` / `take_any(a, b)`: the columns of one arbitrary row per group.
    fn any_row(&mut self, t: Tab, args: &[ast::Expr], by: &[NamedExpr], span: Span) -> Result<Tab> {
        self.one_row_per_group(t, by, None, args, Vec::new(), span)
    }

    /// `summarize arg_max(x, cols...) by keys`: the row with the largest x per group.
    fn arg_minmax(
        &mut self,
        t: Tab,
        item: &NamedExpr,
        is_max: bool,
        args: &[ast::Expr],
        by: &[NamedExpr],
        span: Span,
    ) -> Result<Tab> {
        let Some(first) = args.first() else {
            return Err(semantic(
                span,
                "arg_max/arg_min need the maximized expression",
            ));
        };
        let (target, _) = self.typed(first, t.row())?;
        let prefix = if is_max { "max" } else { "min" };
        let name = match item.names.as_slice() {
            [n] => n.name.clone(),
            _ => path_name(first).unwrap_or_else(|| format!("{prefix}_")),
        };
        // Nulls last: a group whose target is all null still yields a row, as in Kusto.
        let order = vec![SortExpr::new(target.clone(), !is_max, false)];
        let rest = args.get(1..).unwrap_or(&[]);
        let exclude = path_name(first);
        let head = (name, target, exclude);
        self.one_row_per_group(t, by, Some(head), rest, order, span)
    }

    fn plain_keys_of(&mut self, by: &[NamedExpr]) {
        self.plain_keys = by
            .iter()
            .filter_map(|k| match &k.expr.kind {
                ExprKind::Name(id) => Some(id.name.clone()),
                _ => None,
            })
            .collect();
    }

    /// Keeps one row per group (`row_number() over (partition by keys order by ...) == 1`) and
    /// projects the keys, then `head`, then the `returned` columns.
    fn one_row_per_group(
        &mut self,
        t: Tab,
        by: &[NamedExpr],
        head: Option<(String, Expr, Option<String>)>,
        returned: &[ast::Expr],
        order: Vec<SortExpr>,
        span: Span,
    ) -> Result<Tab> {
        let row = t.row();
        let input_names: Vec<String> = row
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        self.plain_keys_of(by);
        let mut counter = 0usize;
        let mut out_names: Vec<String> = Vec::new();
        let mut keys = Vec::new();
        for k in by {
            let name = match k.names.as_slice() {
                [n] => n.name.clone(),
                _ => expr_name(&k.expr)
                    .unwrap_or_else(|| next_column_name(&mut counter, &input_names)),
            };
            let name = unique(&name, &out_names);
            let x = self.scalar(&k.expr, row)?;
            out_names.push(name.clone());
            keys.push((name, x));
        }
        let exclude = head.as_ref().and_then(|(_, _, e)| e.clone());
        let mut cols: Vec<(String, Expr)> = head.map(|(n, x, _)| vec![(n, x)]).unwrap_or_default();
        cols.extend(self.returned_columns(returned, exclude.as_deref(), row)?);
        let partition = keys.iter().map(|(_, x)| x.clone()).collect();
        let w = if order.is_empty() {
            datafusion_functions_window::expr_fn::row_number()
                .partition_by(partition)
                .build()
        } else {
            datafusion_functions_window::expr_fn::row_number()
                .order_by(order)
                .partition_by(partition)
                .build()
        }
        .map_err(df(span))?;
        let wname = w.schema_name().to_string();
        let plan = LogicalPlanBuilder::window_plan(t.plan.clone(), vec![w]).map_err(df(span))?;
        let plan = build(
            LogicalPlanBuilder::from(plan)
                .filter(column(&wname).eq(lit(ScalarValue::UInt64(Some(1))))),
            span,
        )?;
        let mut exprs = Vec::new();
        for (n, x) in keys {
            exprs.push(x.alias(n));
        }
        for (n, x) in cols {
            let n = unique(&n, &out_names);
            out_names.push(n.clone());
            exprs.push(x.alias(n));
        }
        let plan = build(LogicalPlanBuilder::from(plan).project(exprs), span)?;
        Ok(Tab::new(plan))
    }
}

/// `coalesce(aggregate, 0)`: Kusto's default value of sums and deviations over no values.
fn zero_default(e: Expr, t: KqlType) -> Expr {
    let zero = ScalarValue::Int64(Some(0))
        .cast_to(&t.to_arrow())
        .unwrap_or(ScalarValue::Int64(Some(0)));
    datafusion_functions::core::expr_fn::coalesce(vec![e, lit(zero)])
}
