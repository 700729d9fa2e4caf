//! Tabular operators after `|`: dispatch and the row-wise operators.

mod externaldata;
mod find;
mod fork;
mod join;
mod make_series;
mod mv_apply;
mod mv_expand;
mod parse;
mod parse_kv;
mod partition;
mod passthrough;
mod sample;
mod search;
mod summarize;
mod top_nested;
mod union;
mod windows;

pub(crate) use windows::apply_windows;

use datafusion_common::ScalarValue;
use datafusion_expr::{Expr, LogicalPlan, LogicalPlanBuilder, SortExpr, lit};
use kql_syntax::Span;
use kql_syntax::ast::{self, NamedExpr, OperatorKind};

use crate::Render;
use crate::error::{Result, df, not_implemented, semantic};
use crate::leaf::column;
use crate::leaf::{Tab, const_usize, kql_columns, operator_name};
use crate::naming::{expr_name, next_column_name};
use crate::planner::Planner;

/// True when `name` matches a `project-away`-style pattern with `*` wildcards.
pub(crate) fn matches_pattern(pattern: &str, name: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == name;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(p) => rest = &rest[p + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn build(b: datafusion_common::Result<LogicalPlanBuilder>, span: Span) -> Result<LogicalPlan> {
    b.and_then(|b| b.build()).map_err(df(span))
}

fn names_of(plan: &LogicalPlan) -> Vec<String> {
    plan.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// The operators `operator` and the sources plan (aliases by their own names). The
/// dispatch refuses the rest by their kind; `tests/planned_operators.rs` plans a query of
/// each name here, so the list cannot claim an operator the dispatch does not plan.
pub(crate) const PLANNED: &[&str] = &[
    "where",
    "filter",
    "project",
    "project-away",
    "project-keep",
    "project-rename",
    "project-reorder",
    "extend",
    "parse",
    "parse-where",
    "parse-kv",
    "mv-expand",
    "mv-apply",
    "make-series",
    "sample",
    "sample-distinct",
    "top-hitters",
    "top-nested",
    "partition",
    "assert-schema",
    "consume",
    "invoke",
    "evaluate",
    "search",
    "find",
    "externaldata",
    "fork",
    "facet",
    "summarize",
    "count",
    "take",
    "limit",
    "sort",
    "order",
    "top",
    "distinct",
    "union",
    "join",
    "lookup",
    "as",
    "getschema",
    "serialize",
    "render",
    "print",
    "range",
    "datatable",
];

impl Planner<'_> {
    /// Applies one operator to a tabular value.
    pub(crate) fn operator(&mut self, t: Tab, op: &ast::Operator) -> Result<Tab> {
        let span = op.span.0;
        let t = if keeps_order(&op.kind) {
            t
        } else {
            t.without_order_columns()?
        };
        let t = crate::hidden::with_hidden(t, op);
        match &op.kind {
            OperatorKind::Where { predicate, .. } => {
                let p = self.predicate(predicate, t.row())?;
                let (plan, p) = apply_windows(t.plan.clone(), vec![p], span)?;
                let had_window = plan.schema().fields().len() != t.plan.schema().fields().len();
                let mut plan = build(
                    LogicalPlanBuilder::from(plan)
                        .filter(p.into_iter().next().unwrap_or(lit(true))),
                    span,
                )?;
                if had_window {
                    let keep: Vec<Expr> = names_of(&t.plan).iter().map(|n| column(n)).collect();
                    plan = build(LogicalPlanBuilder::from(plan).project(keep), span)?;
                }
                t.with_plan(plan)
            }
            OperatorKind::Extend(items) => self.extend(t, items, span),
            OperatorKind::MvExpand {
                params,
                items,
                limit,
            } => self.mv_expand(t, params, items, limit.as_ref(), span),
            OperatorKind::MakeSeries {
                params,
                aggs,
                on,
                range,
                by,
            } => self.make_series(t, params, aggs, on, range, by, span),
            OperatorKind::MvApply {
                params,
                items,
                limit,
                subquery,
            } => self.mv_apply(t, params, items, limit.as_ref(), subquery, span),
            OperatorKind::Sample(n) => self.sample(t, n, span),
            OperatorKind::SampleDistinct { count, of } => self.sample_distinct(t, count, of, span),
            OperatorKind::TopHitters { count, of, by } => {
                self.top_hitters(t, count, of, by.as_ref(), span)
            }
            OperatorKind::TopNested(clauses) => self.top_nested(t, clauses, span),
            OperatorKind::Partition {
                params,
                by,
                subquery,
            } => self.partition(t, params, by, subquery, span),
            OperatorKind::AssertSchema(cols) => self.assert_schema(t, cols, span),
            OperatorKind::Consume(params) => self.consume(t, params, span),
            OperatorKind::Invoke(call) => self.invoke(t, call, span),
            OperatorKind::Fork(_) | OperatorKind::Facet { .. } => Err(semantic(
                span,
                format!(
                    "{} gives several tables: it must end a query statement",
                    operator_name(&op.kind)
                ),
            )),
            OperatorKind::Search {
                params,
                tables,
                predicate,
            } => self.search(Some(t), params, tables, predicate, span),
            OperatorKind::Evaluate {
                params,
                call,
                schema,
            } => self.evaluate(t, params, call, schema.as_ref(), span),
            OperatorKind::Parse {
                filter,
                params,
                expr,
                pattern,
            } => self.parse(t, *filter, params, expr, pattern, span),
            OperatorKind::ParseKv {
                expr,
                columns,
                with,
            } => self.parse_kv(t, expr, columns, with, span),
            OperatorKind::Serialize(items) => {
                let mut t = t;
                if t.order.is_none() {
                    t.order = Some(Vec::new());
                }
                if items.is_empty() {
                    Ok(t)
                } else {
                    self.extend(t, items, span)
                }
            }
            OperatorKind::Project(items) => self.project(t, items, span),
            OperatorKind::ProjectAway(pats) => {
                let names = names_of(&t.plan);
                for p in pats {
                    if !p.name.contains('*') && !names.contains(&p.name) {
                        return Err(semantic(
                            p.span.0,
                            format!("Failed to resolve column named '{}'", p.name),
                        ));
                    }
                }
                let keep: Vec<Expr> = names
                    .iter()
                    .filter(|n| !pats.iter().any(|p| matches_pattern(&p.name, n)))
                    .map(|n| column(n))
                    .collect();
                let plan = build(LogicalPlanBuilder::from(t.plan.clone()).project(keep), span)?;
                t.with_plan(plan)
            }
            OperatorKind::ProjectKeep(pats) => {
                let names = names_of(&t.plan);
                for p in pats {
                    if !names.iter().any(|n| matches_pattern(&p.name, n)) && !p.name.contains('*') {
                        return Err(semantic(
                            p.span.0,
                            format!("Failed to resolve column named '{}'", p.name),
                        ));
                    }
                }
                let keep: Vec<Expr> = names
                    .iter()
                    .filter(|n| pats.iter().any(|p| matches_pattern(&p.name, n)))
                    .map(|n| column(n))
                    .collect();
                let plan = build(LogicalPlanBuilder::from(t.plan.clone()).project(keep), span)?;
                t.with_plan(plan)
            }
            OperatorKind::ProjectRename(pairs) => {
                let names = names_of(&t.plan);
                for (_, old) in pairs {
                    if !names.contains(&old.name) {
                        return Err(semantic(
                            old.span.0,
                            format!("Failed to resolve column named '{}'", old.name),
                        ));
                    }
                }
                let exprs: Vec<Expr> = names
                    .iter()
                    .map(|n| match pairs.iter().find(|(_, old)| old.name == *n) {
                        Some((new, _)) => column(n).alias(new.name.clone()),
                        None => column(n),
                    })
                    .collect();
                let plan = build(
                    LogicalPlanBuilder::from(t.plan.clone()).project(exprs),
                    span,
                )?;
                t.with_plan(plan)
            }
            OperatorKind::ProjectReorder(items) => {
                let names = names_of(&t.plan);
                let mut first: Vec<String> = Vec::new();
                for (p, dir) in items {
                    let mut matched: Vec<String> = names
                        .iter()
                        .filter(|n| matches_pattern(&p.name, n) && !first.contains(n))
                        .cloned()
                        .collect();
                    if matched.is_empty() && !p.name.contains('*') {
                        return Err(semantic(
                            p.span.0,
                            format!("Failed to resolve column named '{}'", p.name),
                        ));
                    }
                    match dir.as_deref() {
                        Some("asc") | Some("granny-asc") => matched.sort(),
                        Some("desc") | Some("granny-desc") => {
                            matched.sort();
                            matched.reverse();
                        }
                        _ => {}
                    }
                    first.extend(matched);
                }
                let rest = names.iter().filter(|n| !first.contains(n)).cloned();
                let exprs: Vec<Expr> = first
                    .clone()
                    .into_iter()
                    .chain(rest)
                    .map(|n| column(&n))
                    .collect();
                let plan = build(
                    LogicalPlanBuilder::from(t.plan.clone()).project(exprs),
                    span,
                )?;
                t.with_plan(plan)
            }
            OperatorKind::Summarize { params, aggs, by } => {
                for p in params {
                    if !p.name.starts_with("hint.") {
                        return Err(not_implemented(
                            span,
                            format!("summarize parameter {}", p.name),
                        ));
                    }
                }
                self.summarize(t, aggs, by, span)
            }
            OperatorKind::Count(alias) => {
                let name = alias
                    .as_ref()
                    .map_or("Count".to_string(), |a| a.name.clone());
                let count = datafusion_functions_aggregate::count::count(lit(1i64)).alias(name);
                let plan = build(
                    LogicalPlanBuilder::from(t.plan).aggregate(Vec::<Expr>::new(), vec![count]),
                    span,
                )?;
                Ok(Tab::new(plan))
            }
            OperatorKind::Take { count, .. } => {
                let n = self.const_value(count, t.row())?;
                let n = const_usize(&n, count.span())?;
                let plan = build(
                    LogicalPlanBuilder::from(t.plan.clone()).limit(0, Some(n)),
                    span,
                )?;
                let resort = t.resort;
                let mut t = t.with_plan(plan)?;
                t.resort = resort;
                Ok(t)
            }
            OperatorKind::Sort { keys, .. } => {
                let sort = self.sort_keys(&t, keys)?;
                let plan = build(LogicalPlanBuilder::from(t.plan).sort(sort.clone()), span)?;
                let mut out = Tab::new(plan);
                out.order = Some(sort);
                out.render = t.render;
                Ok(out)
            }
            OperatorKind::Top { count, key } => {
                let n = self.const_value(count, t.row())?;
                let n = const_usize(&n, count.span())?;
                let sort = self.sort_keys(&t, std::slice::from_ref(key))?;
                // `top 0` is empty (DataFusion's TopK needs k > 0).
                let plan = if n == 0 {
                    build(LogicalPlanBuilder::from(t.plan).limit(0, Some(0)), span)?
                } else if sort.iter().all(|k| k.expr.column_refs().is_empty()) {
                    // Keys that read no column (`top 3 by rand()`): evaluated into a column
                    // first, so that projection pushdown cannot leave DataFusion's TopK
                    // with batches of no column.
                    let names = names_of(&t.plan);
                    let mut exprs: Vec<Expr> = names.iter().map(|n| column(n)).collect();
                    let mut keyed = Vec::new();
                    for (i, k) in sort.iter().enumerate() {
                        let name = format!("__top_key{i}");
                        exprs.push(k.expr.clone().alias(name.clone()));
                        keyed.push(SortExpr::new(column(&name), k.asc, k.nulls_first));
                    }
                    let back: Vec<Expr> = names.iter().map(|n| column(n)).collect();
                    build(
                        LogicalPlanBuilder::from(t.plan)
                            .project(exprs)
                            .and_then(|b| b.sort_with_limit(keyed, Some(n)))
                            .and_then(|b| b.project(back)),
                        span,
                    )?
                } else {
                    build(
                        LogicalPlanBuilder::from(t.plan).sort_with_limit(sort.clone(), Some(n)),
                        span,
                    )?
                };
                let mut out = Tab::new(plan);
                out.order = Some(sort);
                Ok(out)
            }
            OperatorKind::Distinct(items) => {
                if items.len() == 1 && matches!(items[0].kind, ast::ExprKind::Star) {
                    let plan = build(LogicalPlanBuilder::from(t.plan).distinct(), span)?;
                    return Ok(Tab::new(plan));
                }
                let named: Vec<NamedExpr> = items
                    .iter()
                    .map(|e| NamedExpr {
                        names: Vec::new(),
                        paren_names: false,
                        expr: e.clone(),
                    })
                    .collect();
                self.summarize(t, &[], &named, span)
            }
            OperatorKind::Union { params, tables } => self.union(Some(t), params, tables, span),
            OperatorKind::Join { params, right, on } => {
                self.join(t, params, right, on, span, false)
            }
            OperatorKind::Lookup { params, right, on } => {
                self.join(t, params, right, on, span, true)
            }
            OperatorKind::As { name, .. } => {
                let mut t = t;
                let plan = self.finish(t.clone())?;
                self.scope
                    .set(&name.name, crate::scope::Binding::Tabular(plan));
                t.name = Some(name.name.clone());
                Ok(t)
            }
            OperatorKind::GetSchema => {
                let cols = kql_columns(&t.plan)?;
                let rows: Vec<Vec<Expr>> = cols
                    .iter()
                    .enumerate()
                    .map(|(i, (n, ty))| {
                        vec![
                            lit(n.clone()),
                            lit(ScalarValue::Int64(Some(i as i64))),
                            lit(ty.dotnet_name().to_string()),
                            lit(ty.name().to_string()),
                        ]
                    })
                    .collect();
                let names = ["ColumnName", "ColumnOrdinal", "DataType", "ColumnType"];
                let plan = if rows.is_empty() {
                    let exprs: Vec<Expr> = vec![
                        lit(ScalarValue::Utf8(None)).alias(names[0]),
                        lit(ScalarValue::Int64(None)).alias(names[1]),
                        lit(ScalarValue::Utf8(None)).alias(names[2]),
                        lit(ScalarValue::Utf8(None)).alias(names[3]),
                    ];
                    build(LogicalPlanBuilder::empty(false).project(exprs), span)?
                } else {
                    let values = build(LogicalPlanBuilder::values(rows), span)?;
                    let fields = names_of(&values);
                    let exprs: Vec<Expr> = fields
                        .iter()
                        .zip(names)
                        .map(|(f, n)| column(f).alias(n))
                        .collect();
                    build(LogicalPlanBuilder::from(values).project(exprs), span)?
                };
                Ok(Tab::new(plan))
            }
            OperatorKind::Render { chart, props, .. } => {
                let mut t = t;
                t.render = Some(Render {
                    visualization: chart.name.clone(),
                    properties: props
                        .iter()
                        .map(|p| {
                            let v = match &p.value.kind {
                                ast::ExprKind::Literal(ast::Literal::String { value, .. }) => {
                                    value.clone()
                                }
                                _ => p.value.to_string(),
                            };
                            (p.name.clone(), v)
                        })
                        .collect(),
                });
                Ok(t)
            }
            other => Err(not_implemented(span, operator_name(other))),
        }
    }

    pub(crate) fn sort_keys(&mut self, t: &Tab, keys: &[ast::SortKey]) -> Result<Vec<SortExpr>> {
        let mut out = Vec::new();
        for k in keys {
            let (x, t) = self.typed(&k.expr, t.row())?;
            let asc = k.asc.unwrap_or(false);
            // Kusto: nulls first when ascending, last when descending, unless written.
            let nulls_first = k.nulls_first.unwrap_or(asc);
            if t == kql_functions::KqlType::Real {
                // Kusto orders NaN below every number: rank null / NaN / number first.
                let null_rank = if asc == nulls_first { 0i64 } else { 3 };
                let isnan = datafusion_functions::math::expr_fn::isnan(x.clone());
                let rank = datafusion_expr::when(x.clone().is_null(), lit(null_rank))
                    .when(isnan, lit(1i64))
                    .otherwise(lit(2i64))
                    .map_err(df(k.expr.span()))?;
                out.push(SortExpr::new(rank, asc, nulls_first));
            }
            out.push(SortExpr::new(x, asc, nulls_first));
        }
        Ok(out)
    }

    fn extend(&mut self, t: Tab, items: &[NamedExpr], span: Span) -> Result<Tab> {
        let mut t = t;
        let mut counter = 0usize;
        for item in items {
            let names = names_of(&t.plan);
            let name = match item.names.as_slice() {
                [n] => n.name.clone(),
                [] => match expr_name(&item.expr) {
                    Some(n) => n,
                    None => next_column_name(&mut counter, &names),
                },
                _ => {
                    return Err(not_implemented(
                        span,
                        "extend with several names for one expression",
                    ));
                }
            };
            let x = self.scalar(&item.expr, t.row())?;
            let (plan, x) = apply_windows(t.plan.clone(), vec![x], span)?;
            let x = x.into_iter().next().unwrap_or(lit(ScalarValue::Null));
            // Kusto: a column that already exists is removed and appended with its new value.
            let mut exprs: Vec<Expr> = names
                .iter()
                .filter(|n| **n != name)
                .map(|n| column(n))
                .collect();
            exprs.push(x.alias(name.clone()));
            let plan = build(LogicalPlanBuilder::from(plan).project(exprs), span)?;
            let numbered = in_arrival_order(&t) && numbers_rows(&item.expr);
            t = t.with_plan(plan)?;
            if numbered {
                t.order = Some(vec![SortExpr::new(column(&name), true, false)]);
                t.resort = true;
            }
        }
        Ok(t)
    }

    fn project(&mut self, t: Tab, items: &[NamedExpr], span: Span) -> Result<Tab> {
        let mut exprs = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut counter = 0usize;
        let input_names = names_of(&t.plan);
        for item in items {
            let name = match item.names.as_slice() {
                [n] => n.name.clone(),
                [] => match expr_name(&item.expr) {
                    Some(n) => crate::naming::unique(&n, &names),
                    None => {
                        let mut taken = names.clone();
                        taken.extend(input_names.iter().cloned());
                        next_column_name(&mut counter, &taken)
                    }
                },
                _ => {
                    return Err(not_implemented(
                        span,
                        "project with several names for one expression",
                    ));
                }
            };
            if names.contains(&name) {
                return Err(semantic(
                    item.expr.span(),
                    format!("A column with the name '{name}' is already declared"),
                ));
            }
            let x = self.scalar(&item.expr, t.row())?;
            names.push(name.clone());
            exprs.push(x.alias(name));
        }
        let numbered = items
            .iter()
            .zip(&names)
            .find(|(item, _)| in_arrival_order(&t) && numbers_rows(&item.expr))
            .map(|(_, name)| name.clone());
        let (plan, exprs) = apply_windows(t.plan.clone(), exprs, span)?;
        let plan = build(LogicalPlanBuilder::from(plan).project(exprs), span)?;
        let mut t = t.with_plan(plan)?;
        if let Some(name) = numbered {
            t.order = Some(vec![SortExpr::new(column(&name), true, false)]);
            t.resort = true;
        }
        Ok(t)
    }
}

/// Operators that keep the rows' order, and with it hidden order columns (see
/// `Tab::with_plan`); `summarize` reads the order too (`make_list` in order).
fn keeps_order(op: &OperatorKind) -> bool {
    matches!(
        op,
        OperatorKind::Where { .. }
            | OperatorKind::Extend(_)
            | OperatorKind::Parse { .. }
            | OperatorKind::ParseKv { .. }
            | OperatorKind::Serialize(_)
            | OperatorKind::Project(_)
            | OperatorKind::ProjectAway(_)
            | OperatorKind::ProjectKeep(_)
            | OperatorKind::ProjectRename(_)
            | OperatorKind::ProjectReorder(_)
            | OperatorKind::Take { .. }
            | OperatorKind::As { .. }
            | OperatorKind::Render { .. }
            | OperatorKind::Summarize { .. }
            | OperatorKind::Evaluate { .. }
    )
}

/// Serialized rows without sort keys (`serialize` of a stored table): their order is the
/// order they arrive in.
fn in_arrival_order(t: &Tab) -> bool {
    t.order.as_ref().is_some_and(Vec::is_empty)
}

/// `row_number()` or `row_number(start)`: a column that grows with the row's position. Once
/// computed over rows in arrival order, it is their order: later operators (and the
/// result) keep it by sorting on it, and later `prev()`/`next()` follow it.
fn numbers_rows(e: &ast::Expr) -> bool {
    matches!(&e.kind, ast::ExprKind::Call { name, args }
        if name.name == "row_number" && args.len() <= 1)
}
