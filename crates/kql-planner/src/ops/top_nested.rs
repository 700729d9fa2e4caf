//! `top-nested` (top-nested-operator.md): hierarchical aggregation and value selection.
//!
//! `T | top-nested [N] of Expr [with others = C] by Agg [asc|desc], top-nested ...`
//!
//! Level k partitions each row group kept by level k-1 by its `of` value, aggregates it,
//! and keeps the N groups with the largest (`desc`, the default) or smallest aggregate;
//! without N every group is kept. The result has two columns per level: the `of` value
//! (named as written, else after its column, else Kusto's binder's `""`) and the
//! aggregate (named as written, else `aggregated_<of column>`).
//!
//! Planned without row-by-row code, one DataFusion aggregate per level:
//!
//! * level k: `summarize agg by key1..keyk`, ranked inside its parent group with
//!   `row_number() over (partition by key1..key(k-1) order by agg)`, rank <= N kept;
//! * the kept groups of the levels are joined on their parent keys (null keys match, as
//!   they form a group of their own in Kusto) into one row per kept path.
//!
//! `with others`: the rows of a kept parent group that fall out of the top N at level k
//! form one more row for that parent (as the docs' earlier example shows): the parent's
//! keys and aggregates, then at level k and below the level's `others` value (or null
//! without one) and the level's aggregate over those rows (null without `others`). Such
//! rows exist for level k when some level at or below k has `with others`. The input
//! rows are tagged with the level they fall out at (left joins with each level's kept
//! groups), and grouped by that level and the keys above it.
//!
//! The result is sorted as the docs' examples show it: per level, `others` rows last,
//! then by the aggregate in the level's direction, then by the value. Ties inside the
//! top N are broken by the smaller value; null aggregates rank last in both directions.

use std::collections::HashMap;

use arrow::datatypes::DataType;
use datafusion_common::{Column, DFSchema, NullEquality, ScalarValue};
use datafusion_expr::{
    Expr, ExprFunctionExt, ExprSchemable, JoinType, LogicalPlan, LogicalPlanBuilder, SortExpr, lit,
    when,
};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, TopNestedClause};

use super::{apply_windows, build, names_of};
use crate::aggregates::find_agg_calls;
use crate::error::{Result, df, not_implemented, semantic};
use crate::leaf::{Row, Tab, call_udf, column, const_usize, conversion_of, strip_cast};
use crate::naming::{expr_name, unique};
use crate::planner::Planner;

/// The level a row falls out at (`levels` when it is kept all the way).
const FALL: &str = "__tn_fall";

/// Level `j`'s value.
fn key(j: usize) -> String {
    format!("__tn_k{j}")
}

/// Level `j`'s aggregate.
fn agg(j: usize) -> String {
    format!("__tn_a{j}")
}

/// Key `j` of level `k`'s kept groups (named apart for the joins).
fn sel(k: usize, j: usize) -> String {
    format!("__tn_s{k}_{j}")
}

/// Marks a row matched by level `k`'s kept groups.
fn mark(k: usize) -> String {
    format!("__tn_m{k}")
}

/// Key `j` of an `others` bucket.
fn bkey(j: usize) -> String {
    format!("__tn_b{j}")
}

/// Level `j`'s aggregate over an `others` bucket.
fn oagg(j: usize) -> String {
    format!("__tn_o{j}")
}

/// The hidden columns of each aggregate call, by the call's span (`Planner::agg_columns`).
type CallColumns = HashMap<(u32, u32), Vec<String>>;

/// One `top-nested` clause, planned.
struct Level<'a> {
    /// The `of` value over the input.
    key: Expr,
    key_name: String,
    agg_name: String,
    /// The clause's aggregate calls, aliased to hidden columns.
    calls: Vec<Expr>,
    by: &'a ast::Expr,
    count: Option<usize>,
    asc: bool,
    /// The `with others` value, converted to the key's type.
    others: Option<Expr>,
}

fn ucol(name: &str) -> Column {
    Column::new_unqualified(name)
}

/// `e` as `dt` (a cast when its type differs), so that the union's parts agree.
fn as_type(e: Expr, dt: &DataType, schema: &DFSchema, span: Span) -> Result<Expr> {
    let have = e.get_type(schema).map_err(df(span))?;
    Ok(if &have == dt {
        e
    } else {
        Expr::Cast(datafusion_expr::Cast::new(Box::new(e), dt.clone()))
    })
}

/// A null of type `dt`.
fn null_of(dt: &DataType, span: Span) -> Result<Expr> {
    Ok(lit(ScalarValue::try_from(dt).map_err(df(span))?))
}

fn field_type(plan: &LogicalPlan, name: &str, span: Span) -> Result<DataType> {
    plan.schema()
        .field_with_unqualified_name(name)
        .map(|f| f.data_type().clone())
        .map_err(df(span))
}

/// `left` joined with `right` on equal keys, nulls matching nulls.
fn join_on(
    left: LogicalPlan,
    right: LogicalPlan,
    kind: JoinType,
    keys: Vec<(String, String)>,
    span: Span,
) -> Result<LogicalPlan> {
    let (l, r): (Vec<Column>, Vec<Column>) = keys.iter().map(|(l, r)| (ucol(l), ucol(r))).unzip();
    build(
        LogicalPlanBuilder::from(left).join_detailed(
            right,
            kind,
            (l, r),
            None,
            NullEquality::NullEqualsNull,
        ),
        span,
    )
}

fn project(plan: LogicalPlan, exprs: Vec<Expr>, span: Span) -> Result<LogicalPlan> {
    build(LogicalPlanBuilder::from(plan).project(exprs), span)
}

fn filter(plan: LogicalPlan, predicate: Expr, span: Span) -> Result<LogicalPlan> {
    build(LogicalPlanBuilder::from(plan).filter(predicate), span)
}

impl Planner<'_> {
    /// `top-nested` clauses applied to `t`.
    pub(crate) fn top_nested(
        &mut self,
        t: Tab,
        clauses: &[TopNestedClause],
        span: Span,
    ) -> Result<Tab> {
        if clauses.is_empty() {
            return Err(semantic(span, "top-nested needs at least one clause"));
        }
        let (levels, call_cols) = self.top_nested_levels(&t, clauses, span)?;
        let saved = std::mem::replace(&mut self.agg_columns, call_cols);
        let planned = self.top_nested_plan(&t, &levels, span);
        self.agg_columns = saved;
        Ok(Tab::new(planned?))
    }

    /// Plans each clause's value, aggregate calls, count and `others` value over the input,
    /// and names the result columns as Kusto's binder does.
    fn top_nested_levels<'a>(
        &mut self,
        t: &Tab,
        clauses: &'a [TopNestedClause],
        span: Span,
    ) -> Result<(Vec<Level<'a>>, CallColumns)> {
        let row = t.row();
        let mut taken: Vec<String> = Vec::new();
        let mut call_cols: CallColumns = HashMap::new();
        let mut levels = Vec::new();
        for (i, c) in clauses.iter().enumerate() {
            let count = match &c.count {
                Some(n) => {
                    let v = self.const_value(n, row)?;
                    Some(const_usize(&v, n.span())?)
                }
                None => None,
            };
            let key_name = match c.of.names.as_slice() {
                [n] => n.name.clone(),
                [] => expr_name(&c.of.expr).unwrap_or_default(),
                _ => return Err(not_implemented(span, "top-nested with several names")),
            };
            let key_name = unique(&key_name, &taken);
            taken.push(key_name.clone());
            let agg_name = match c.by.names.as_slice() {
                [n] => n.name.clone(),
                [] => format!("aggregated_{key_name}"),
                _ => return Err(not_implemented(span, "top-nested with several names")),
            };
            let agg_name = unique(&agg_name, &taken);
            taken.push(agg_name.clone());
            let (key, key_type) = self.typed(&c.of.expr, row)?;

            let mut found = Vec::new();
            find_agg_calls(&c.by.expr, &mut found);
            // Without an aggregate only a constant (`by 1`) has a value per group.
            if found.is_empty() && strip_cast(&self.scalar(&c.by.expr, row)?).is_none() {
                return Err(semantic(
                    c.by.expr.span(),
                    "top-nested: the 'by' expression must be an aggregation",
                ));
            }
            let mut calls = Vec::new();
            for call in &found {
                let exprs = self.aggregate(call, row)?;
                let [e] = exprs.as_slice() else {
                    return Err(semantic(
                        call.span,
                        format!("top-nested: '{}' must give one value", call.name),
                    ));
                };
                let col = format!("__tn_c{i}_{}", calls.len());
                calls.push(e.clone().alias(col.clone()));
                call_cols.insert((call.span.start, call.span.end), vec![col]);
            }

            let others = match &c.others {
                Some(o) => Some(self.others_value(o, key_type, row)?),
                None => None,
            };
            levels.push(Level {
                key,
                key_name,
                agg_name,
                calls,
                by: &c.by.expr,
                count,
                asc: c.asc.unwrap_or(false),
                others,
            });
        }
        Ok((levels, call_cols))
    }

    /// The `with others` constant, converted to the level value's type as Kusto's
    /// conversion functions do (`with others = "x"` of a long column: null).
    fn others_value(&mut self, e: &ast::Expr, kt: KqlType, row: Row<'_>) -> Result<Expr> {
        let (x, vt) = self.typed(e, row)?;
        if strip_cast(&x).is_none() {
            return Err(semantic(
                e.span(),
                "top-nested: the 'with others' value must be a constant",
            ));
        }
        if vt == kt {
            return Ok(x);
        }
        call_udf(conversion_of(kt).unwrap_or("tostring"), vec![x], e.span())
    }

    /// Level `k`'s aggregate expression over the level's (or a bucket's) aggregate plan.
    fn level_value(&mut self, lv: &Level<'_>, plan: &LogicalPlan) -> Result<Expr> {
        let row = Row {
            schema: plan.schema(),
            order: None,
        };
        self.scalar(lv.by, row)
    }

    fn top_nested_plan(
        &mut self,
        t: &Tab,
        levels: &[Level<'_>],
        span: Span,
    ) -> Result<LogicalPlan> {
        let n = levels.len();
        // The input with each level's value as a hidden column.
        let input = names_of(&t.plan);
        let mut exprs: Vec<Expr> = input.iter().map(|c| column(c)).collect();
        for (j, lv) in levels.iter().enumerate() {
            exprs.push(lv.key.clone().alias(key(j)));
        }
        let (plan, exprs) = apply_windows(t.plan.clone(), exprs, span)?;
        let base = project(plan, exprs, span)?;
        let mut key_types = Vec::new();
        for j in 0..n {
            key_types.push(field_type(&base, &key(j), span)?);
        }

        // Each level's kept groups (keys `sel(k, j)`, aggregate `agg(k)`) and the kept
        // paths down to it (keys `key(j)`, aggregates `agg(j)`).
        let mut kept: Vec<LogicalPlan> = Vec::new();
        let mut paths: Vec<LogicalPlan> = Vec::new();
        let mut agg_types = Vec::new();
        for (k, lv) in levels.iter().enumerate() {
            let group: Vec<Expr> = (0..=k).map(|j| column(&key(j))).collect();
            let grouped = build(
                LogicalPlanBuilder::from(base.clone()).aggregate(group.clone(), lv.calls.clone()),
                span,
            )?;
            let value = self.level_value(lv, &grouped)?;
            let mut exprs = group;
            exprs.push(value.alias(agg(k)));
            let mut plan = project(grouped, exprs, span)?;
            agg_types.push(field_type(&plan, &agg(k), span)?);
            if let Some(limit) = lv.count {
                plan = ranked(plan, k, lv.asc, limit, span)?;
            }
            let mut exprs: Vec<Expr> = (0..=k).map(|j| column(&key(j)).alias(sel(k, j))).collect();
            exprs.push(column(&agg(k)));
            let sk = project(plan, exprs, span)?;
            let path = match paths.last() {
                None => project(
                    sk.clone(),
                    vec![column(&sel(0, 0)).alias(key(0)), column(&agg(0))],
                    span,
                )?,
                Some(parent) => {
                    let keys = (0..k).map(|j| (key(j), sel(k, j))).collect();
                    let joined = join_on(parent.clone(), sk.clone(), JoinType::Inner, keys, span)?;
                    let mut exprs: Vec<Expr> = (0..k).map(|j| column(&key(j))).collect();
                    exprs.push(column(&sel(k, k)).alias(key(k)));
                    exprs.extend((0..=k).map(|j| column(&agg(j))));
                    project(joined, exprs, span)?
                }
            };
            kept.push(sk);
            paths.push(path);
        }
        let Some(full) = paths.last().cloned() else {
            return Err(semantic(span, "top-nested needs at least one clause"));
        };

        let last_others = levels.iter().rposition(|lv| lv.others.is_some());
        let mut exprs = Vec::new();
        for j in 0..n {
            exprs.push(column(&key(j)));
            exprs.push(column(&agg(j)));
        }
        if last_others.is_some() {
            exprs.push(lit(n as i64).alias(FALL));
        }
        let mut result = LogicalPlanBuilder::from(project(full, exprs, span)?);
        if let Some(last) = last_others {
            let buckets = self.others_buckets(&base, &input, levels, &kept, last, span)?;
            for f in 0..=last {
                let part = others_rows(&buckets, &paths, levels, f, &key_types, &agg_types, span)?;
                result = result.union(part).map_err(df(span))?;
            }
        }

        // Per level: others rows last, then by the aggregate, then by the value.
        let mut order = Vec::new();
        for (j, lv) in levels.iter().enumerate() {
            if last_others.is_some() {
                order.push(SortExpr::new(
                    column(FALL).lt_eq(lit(j as i64)),
                    true,
                    false,
                ));
            }
            order.push(SortExpr::new(column(&agg(j)), lv.asc, false));
            order.push(SortExpr::new(column(&key(j)), true, false));
        }
        let mut exprs = Vec::new();
        for (j, lv) in levels.iter().enumerate() {
            exprs.push(column(&key(j)).alias(lv.key_name.clone()));
            exprs.push(column(&agg(j)).alias(lv.agg_name.clone()));
        }
        build(result.sort(order).and_then(|b| b.project(exprs)), span)
    }

    /// The `others` buckets: the input rows that fall out at a level `f <= last`, grouped
    /// by `f` (`FALL`) and the keys above it (`bkey(j)`, null from `f` on), with the
    /// aggregate of each `with others` level (`oagg(j)`).
    fn others_buckets(
        &mut self,
        base: &LogicalPlan,
        input: &[String],
        levels: &[Level<'_>],
        kept: &[LogicalPlan],
        last: usize,
        span: Span,
    ) -> Result<LogicalPlan> {
        let mut tagged = base.clone();
        for (k, sk) in kept.iter().enumerate().take(last + 1) {
            let mut exprs: Vec<Expr> = (0..=k).map(|j| column(&sel(k, j))).collect();
            exprs.push(lit(true).alias(mark(k)));
            let marks = project(sk.clone(), exprs, span)?;
            let keys = (0..=k).map(|j| (key(j), sel(k, j))).collect();
            tagged = join_on(tagged, marks, JoinType::Left, keys, span)?;
        }
        let mut fall = when(column(&mark(0)).is_null(), lit(0i64));
        for k in 1..=last {
            fall = fall.when(column(&mark(k)).is_null(), lit(k as i64));
        }
        let fall = fall.otherwise(lit(last as i64 + 1)).map_err(df(span))?;
        let mut exprs: Vec<Expr> = input.iter().map(|c| column(c)).collect();
        exprs.extend((0..levels.len()).map(|j| column(&key(j))));
        exprs.push(fall.alias(FALL));
        let tagged = project(tagged, exprs, span)?;
        let tagged = filter(tagged, column(FALL).lt_eq(lit(last as i64)), span)?;

        let mut group = vec![column(FALL)];
        for j in 0..last {
            let masked = when(column(FALL).gt(lit(j as i64)), column(&key(j)))
                .end()
                .map_err(df(span))?;
            group.push(masked.alias(bkey(j)));
        }
        let calls: Vec<Expr> = levels
            .iter()
            .filter(|lv| lv.others.is_some())
            .flat_map(|lv| lv.calls.iter().cloned())
            .collect();
        let grouped = build(
            LogicalPlanBuilder::from(tagged).aggregate(group, calls),
            span,
        )?;
        let mut exprs = vec![column(FALL)];
        exprs.extend((0..last).map(|j| column(&bkey(j))));
        for (j, lv) in levels.iter().enumerate() {
            if lv.others.is_some() {
                let value = self.level_value(lv, &grouped)?;
                exprs.push(value.alias(oagg(j)));
            }
        }
        project(grouped, exprs, span)
    }
}

/// Level `k`'s groups ranked inside their parent group; the first `limit` kept.
fn ranked(plan: LogicalPlan, k: usize, asc: bool, limit: usize, span: Span) -> Result<LogicalPlan> {
    let names = names_of(&plan);
    let order = vec![
        SortExpr::new(column(&agg(k)), asc, false),
        SortExpr::new(column(&key(k)), true, false),
    ];
    let partition: Vec<Expr> = (0..k).map(|j| column(&key(j))).collect();
    let w = datafusion_functions_window::expr_fn::row_number()
        .partition_by(partition)
        .order_by(order)
        .build()
        .map_err(df(span))?;
    let wname = w.schema_name().to_string();
    let plan = LogicalPlanBuilder::window_plan(plan, vec![w]).map_err(df(span))?;
    let limit = u64::try_from(limit).unwrap_or(u64::MAX);
    let plan = filter(
        plan,
        column(&wname).lt_eq(lit(ScalarValue::UInt64(Some(limit)))),
        span,
    )?;
    project(plan, names.iter().map(|c| column(c)).collect(), span)
}

/// The rows of the buckets that fall out at level `f`: the kept parent path's keys and
/// aggregates, then each level's `others` value and bucket aggregate (null without
/// `with others`).
fn others_rows(
    buckets: &LogicalPlan,
    paths: &[LogicalPlan],
    levels: &[Level<'_>],
    f: usize,
    key_types: &[DataType],
    agg_types: &[DataType],
    span: Span,
) -> Result<LogicalPlan> {
    let at_f = filter(buckets.clone(), column(FALL).eq(lit(f as i64)), span)?;
    let rows = match f.checked_sub(1).and_then(|p| paths.get(p)) {
        None => at_f,
        Some(parent) => {
            let keys = (0..f).map(|j| (key(j), bkey(j))).collect();
            join_on(parent.clone(), at_f, JoinType::Inner, keys, span)?
        }
    };
    let schema = std::sync::Arc::clone(rows.schema());
    let mut exprs = Vec::new();
    let typed = levels.iter().zip(key_types).zip(agg_types);
    for (j, ((lv, kt), at)) in typed.enumerate() {
        let (k, a) = if j < f {
            (column(&key(j)), column(&agg(j)))
        } else {
            match &lv.others {
                Some(o) => (o.clone(), column(&oagg(j))),
                None => (null_of(kt, span)?, null_of(at, span)?),
            }
        };
        exprs.push(as_type(k, kt, &schema, span)?.alias(key(j)));
        exprs.push(as_type(a, at, &schema, span)?.alias(agg(j)));
    }
    exprs.push(lit(f as i64).alias(FALL));
    project(rows, exprs, span)
}
