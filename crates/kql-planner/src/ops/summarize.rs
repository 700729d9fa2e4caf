//! `summarize` (and `distinct` of columns): group keys, aggregates, Kusto's result names.
//! Each aggregate call is planned by `crate::aggregates` from the function catalog.

use std::collections::HashMap;

use datafusion_common::ScalarValue;
use datafusion_expr::{Expr, ExprFunctionExt, LogicalPlanBuilder, SortExpr, lit};
use kql_functions::KqlType;
use kql_functions::catalog::{AggregateImpl, BuiltinAggregate};
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind, NamedExpr};

use super::build;
use crate::aggregates::{aggregate_of, default_name, find_agg_calls, percentile_name};
use crate::error::{Result, df, not_implemented, semantic};
use crate::leaf::{Row, Tab, column, type_of};
use crate::naming::{expr_name, next_column_name, path_name, unique};
use crate::planner::Planner;

impl Planner<'_> {
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
            && let Some((AggregateImpl::Builtin(b), _, _)) = aggregate_of(&name.name)
        {
            let several = args.len() > 1 || args.iter().any(|a| matches!(a.kind, ExprKind::Star));
            match b {
                BuiltinAggregate::ArgExtreme { max } => {
                    return self.arg_minmax(t, &aggs[0], *max, args, by, span);
                }
                BuiltinAggregate::TakeAny if several => {
                    return self.any_row(t, args, by, span);
                }
                _ => {}
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
            let bare = matches!(&item.expr.kind, ExprKind::Call { .. } if item.expr.span() == calls[0].span);
            if bare {
                let c = &calls[0];
                let cols = call_cols
                    .get(&(c.span.start, c.span.end))
                    .cloned()
                    .unwrap_or_default();
                if let Some((AggregateImpl::Builtin(BuiltinAggregate::ArgExtreme { max }), _, _)) =
                    aggregate_of(c.name)
                {
                    let prefix = if *max { "max_" } else { "min_" };
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
                        c.args[crate::aggregates::percentages_at(c.name)..]
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
                    match aggregate_of(c.name) {
                        Some((_, naming, _)) => default_name(c.name, naming, c.args)
                            .unwrap_or_else(|| next_column_name(&mut counter, &input_names)),
                        None => next_column_name(&mut counter, &input_names),
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
    pub(crate) fn arg_columns(
        &mut self,
        args: &[ast::Expr],
        row: Row<'_>,
    ) -> Result<Vec<(String, Expr)>> {
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
                            && !crate::leaf::is_hidden_column(n)
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
