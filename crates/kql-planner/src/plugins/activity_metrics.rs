//! The period-over-period activity plugins, planned as aggregations, windows and joins:
//!
//! * `activity_metrics(id, t, start, end, window [, dims...])` (activity-metrics-plugin.md):
//!   per period, `dcount_values` (distinct ids), `dcount_newvalues` (ids not seen in the
//!   previous period, `period - window`), `retention_rate` (ids also seen in the previous
//!   period / distinct ids of the previous period) and `churn_rate` (`1 - retention_rate`,
//!   computed as lost / previous). The distinct `(period, id)` pairs are left-joined with
//!   themselves shifted by one period; the first period gives `NaN` (0 / 0), as in the docs.
//! * `new_activity_metrics(id, t, start, end, window [, cohort] [, dims...])`
//!   (new-activity-metrics-plugin.md): for each cohort period `from` (the ids first seen in
//!   it, a `min` window per id) and each period `to` from `from` to `end` (empty periods
//!   included, as in the docs' example), `dcount_new_values` (ids of `to` first seen after
//!   `from`, or the cohort itself when `to == from`), `dcount_retained_values` (cohort ids
//!   seen in `to`), `dcount_churn_values` (the rest of the cohort) and the two rates over the
//!   cohort's size. The `(period, id)` pairs are joined with the cohorts on the dimensions;
//!   the grid of `from × to` comes from the periods of `start .. end`, unnested from
//!   `__range_indexes` as the `range` operator does.
//!   The optional trailing tabular *Lookback* argument is not supported.
//! * `active_users_count(id, t, start, end, lookback, period, active_periods, bin [, dims...])`
//!   (active-users-count-plugin.md): an appearance at `t` is active when the id appears in
//!   at least `active_periods` distinct `bin(t', period)` with `t - lookback < t' <= t`
//!   (rows before `start` count too); `dcount` is the number of distinct ids with an active
//!   appearance per bin. The appearances are joined with the id's rows and filtered to the
//!   lookback. The exclusive start matches the docs' example (user B on 2018-07-08 is not
//!   active).
//!
//! Rows outside `start .. end` (inclusive) and rows with a null id are left out, periods are
//! `bin_at(t, window, start)`, dimensions compare nulls as equal, and (except for the `to`
//! periods of `new_activity_metrics`) only periods with rows are output. Distinct counts are
//! exact. String windows (`week`, `month`, `year`) are not supported.

use datafusion_common::{Column, JoinType, NullEquality};
use datafusion_expr::expr::WindowFunction;
use datafusion_expr::{
    Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, WindowFunctionDefinition, lit, when,
};
use datafusion_functions_aggregate as agg;
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, BinaryOp, ExprKind};

use super::Args;
use super::common::{Timeline, TimelineSpec, all_columns, binary, call, name, with_window};
use crate::error::{Result, df, semantic};
use crate::leaf::{Tab, call_udf, cast_to, column, type_of};
use crate::planner::Planner;

/// Names of the intermediate columns.
const BIN: &str = "__am_bin";
const PREV_BIN: &str = "__am_prev_bin";
const PREV_ID: &str = "__am_prev_id";
const PREV_N: &str = "__am_prev_n";
const RETAINED: &str = "__am_retained";
const NEWV: &str = "__am_new";
const FIRST: &str = "__am_first";
const FROM: &str = "__am_from";
const FROM2: &str = "__am_from2";
const TO: &str = "__am_to";
const TO2: &str = "__am_to2";
const COHORT: &str = "__am_cohort";
const K: &str = "__am_k";
const LID: &str = "__am_lid";
const LT: &str = "__am_lt";
const LP: &str = "__am_lp";
const NP: &str = "__am_np";
const DV: &str = "__am_dcount_values";
const DNV: &str = "__am_dcount_newvalues";

/// The renamed copy of dimension `i` on a join's right side.
fn dim_alias(i: usize) -> String {
    format!("__am_dim{i}")
}

/// `plan` projected to `cols`.
fn project(plan: LogicalPlan, cols: Vec<Expr>, span: Span) -> Result<LogicalPlan> {
    LogicalPlanBuilder::from(plan)
        .project(cols)
        .and_then(|b| b.build())
        .map_err(df(span))
}

/// `plan` filtered by `cond`.
fn filter(plan: LogicalPlan, cond: Expr, span: Span) -> Result<LogicalPlan> {
    LogicalPlanBuilder::from(plan)
        .filter(cond)
        .and_then(|b| b.build())
        .map_err(df(span))
}

/// `plan` grouped by `group` with `aggs`.
fn aggregate(
    plan: LogicalPlan,
    group: Vec<Expr>,
    aggs: Vec<Expr>,
    span: Span,
) -> Result<LogicalPlan> {
    LogicalPlanBuilder::from(plan)
        .aggregate(group, aggs)
        .and_then(|b| b.build())
        .map_err(df(span))
}

/// `left` joined (`jt`) with `right` on the equal column pairs `keys`, nulls equal.
fn join(
    left: LogicalPlan,
    right: LogicalPlan,
    jt: JoinType,
    keys: &[(String, String)],
    span: Span,
) -> Result<LogicalPlan> {
    let lk: Vec<Column> = keys
        .iter()
        .map(|(l, _)| Column::new_unqualified(l))
        .collect();
    let rk: Vec<Column> = keys
        .iter()
        .map(|(_, r)| Column::new_unqualified(r))
        .collect();
    LogicalPlanBuilder::from(left)
        .join_detailed(right, jt, (lk, rk), None, NullEquality::NullEqualsNull)
        .and_then(|b| b.build())
        .map_err(df(span))
}

/// `x` (a count) as a Long.
fn long(plan: &LogicalPlan, x: Expr, span: Span) -> Result<Expr> {
    let xt = type_of(&x, plan.schema(), span)?;
    Ok(cast_to(x, xt, KqlType::Long))
}

/// `x`, or 0 when null.
fn or_zero(x: Expr) -> Expr {
    when(x.clone().is_null(), lit(0i64))
        .otherwise(x.clone())
        .unwrap_or(x)
}

/// `num / den` as reals (`NaN` for 0 / 0).
fn ratio(num: Expr, den: Expr) -> Expr {
    use datafusion_common::arrow::datatypes::DataType;
    datafusion_expr::cast(num, DataType::Float64) / datafusion_expr::cast(den, DataType::Float64)
}

impl Timeline<'_> {
    /// The dimensions as columns.
    fn dim_cols(&self) -> Vec<Expr> {
        self.dims.iter().map(|d| column(d)).collect()
    }

    /// The dimensions renamed to their right-side copies.
    fn dim_aliases(&self) -> Vec<Expr> {
        self.dims
            .iter()
            .enumerate()
            .map(|(i, d)| column(d).alias(dim_alias(i)))
            .collect()
    }

    /// Join keys pairing the dimensions with their right-side copies.
    fn dim_keys(&self) -> Vec<(String, String)> {
        self.dims
            .iter()
            .enumerate()
            .map(|(i, d)| (d.clone(), dim_alias(i)))
            .collect()
    }
}

/// Whether `e` names a column of `t`.
fn is_column(t: &Tab, e: &ast::Expr) -> bool {
    matches!(&e.kind, ExprKind::Name(id) if t.plan.schema().fields().iter().any(|f| f.name() == &id.name))
}

/// The distinct `(bin, dims..., id)` of `plan`.
fn distinct_ids(tl: &Timeline<'_>, plan: LogicalPlan, span: Span) -> Result<LogicalPlan> {
    let mut group = vec![column(BIN)];
    group.extend(tl.dim_cols());
    group.push(column(&tl.id));
    aggregate(plan, group, Vec::new(), span)
}

/// `name(BIN) + step` over `plan`, as the timeline's type.
fn next_bin(
    p: &mut Planner<'_>,
    tl: &Timeline<'_>,
    plan: &LogicalPlan,
    step: &ast::Expr,
    span: Span,
) -> Result<Expr> {
    let e = binary(BinaryOp::Add, name(BIN, span), step.clone(), span);
    p.over(plan, &e, Some(tl.time_t))
}

impl Planner<'_> {
    /// `evaluate activity_metrics(...)`.
    pub(crate) fn activity_metrics(&mut self, t: Tab, args: &Args<'_>, span: Span) -> Result<Tab> {
        let Some(step) = args.positional.get(4).copied() else {
            return Err(semantic(
                span,
                "activity_metrics() expects id, timeline, start, end and window",
            ));
        };
        let (tl, plan) = self.timeline(
            &t,
            args,
            &TimelineSpec {
                plugin: "activity_metrics",
                fixed: 5,
                step_word: "window",
                bin: BIN,
                drop_null_ids: true,
            },
            step,
            span,
        )?;
        let pairs = distinct_ids(&tl, plan, span)?;
        // The pairs of the previous period, moved to the period after it.
        let mut prev = vec![next_bin(self, &tl, &pairs, step, span)?.alias(PREV_BIN)];
        prev.extend(tl.dim_aliases());
        prev.push(column(&tl.id).alias(PREV_ID));
        let prev = project(pairs.clone(), prev, span)?;
        let mut keys = vec![(BIN.to_string(), PREV_BIN.to_string())];
        keys.extend(tl.dim_keys());
        keys.push((tl.id.clone(), PREV_ID.to_string()));
        let joined = join(pairs, prev, JoinType::Left, &keys, span)?;
        let mut group = vec![column(BIN)];
        group.extend(tl.dim_cols());
        let aggs = vec![
            agg::count::count(lit(1i64)).alias(DV),
            agg::count::count(lit(1i64))
                .filter(column(PREV_ID).is_null())
                .build()
                .map_err(df(span))?
                .alias(DNV),
            agg::count::count(column(PREV_ID)).alias(RETAINED),
        ];
        let counts = aggregate(joined, group, aggs, span)?;
        // The previous period's distinct count.
        let mut prev = vec![next_bin(self, &tl, &counts, step, span)?.alias(PREV_BIN)];
        prev.extend(tl.dim_aliases());
        prev.push(column(DV).alias(PREV_N));
        let prev = project(counts.clone(), prev, span)?;
        let mut keys = vec![(BIN.to_string(), PREV_BIN.to_string())];
        keys.extend(tl.dim_keys());
        let plan = join(counts, prev, JoinType::Left, &keys, span)?;
        let before = or_zero(column(PREV_N));
        let mut cols = vec![column(BIN).alias(&tl.time)];
        cols.extend(tl.dim_cols());
        cols.push(long(&plan, column(DV), span)?.alias("dcount_values"));
        cols.push(long(&plan, column(DNV), span)?.alias("dcount_newvalues"));
        cols.push(ratio(column(RETAINED), before.clone()).alias("retention_rate"));
        cols.push(ratio(before.clone() - column(RETAINED), before).alias("churn_rate"));
        Ok(Tab::new(project(plan, cols, span)?))
    }

    /// `evaluate new_activity_metrics(...)`.
    pub(crate) fn new_activity_metrics(
        &mut self,
        t: Tab,
        args: &Args<'_>,
        span: Span,
    ) -> Result<Tab> {
        let pos = &args.positional;
        let Some(step) = pos.get(4).copied() else {
            return Err(semantic(
                span,
                "new_activity_metrics() expects id, timeline, start, end and window",
            ));
        };
        // A sixth argument that is not a column is the cohort.
        let cohort = pos.get(5).copied().filter(|e| !is_column(&t, e));
        let fixed = if cohort.is_some() { 6 } else { 5 };
        let (tl, plan) = self.timeline(
            &t,
            args,
            &TimelineSpec {
                plugin: "new_activity_metrics",
                fixed,
                step_word: "window",
                bin: BIN,
                drop_null_ids: true,
            },
            step,
            span,
        )?;
        // The periods of `start .. end`: `start + k * window` for `k` in `0 .. count`, the
        // indexes unnested from `__range_indexes` as the `range` operator does.
        let one = LogicalPlanBuilder::empty(true).build().map_err(df(span))?;
        let num_t = match tl.time_t {
            KqlType::DateTime => KqlType::DateTime,
            KqlType::Real | KqlType::Decimal => KqlType::Real,
            _ => KqlType::Long,
        };
        let from = self.over(&one, tl.start, Some(num_t))?;
        let until = self.over(&one, tl.end, Some(num_t))?;
        let by = self.over(&one, step, (num_t != KqlType::DateTime).then_some(num_t))?;
        let count = call_udf("__range_count", vec![from, until, by], span)?;
        let series = call_udf(kql_functions::operators::RANGE_INDEXES, vec![count], span)?;
        let ks = LogicalPlanBuilder::from(one)
            .project(vec![series.alias(K)])
            .and_then(|b| b.unnest_column(K))
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let to = binary(
            BinaryOp::Add,
            tl.start.clone(),
            binary(BinaryOp::Mul, name(K, span), step.clone(), span),
            span,
        );
        let to = self.over(&ks, &to, Some(tl.time_t))?;
        let to_periods = project(ks, vec![to.alias(TO)], span)?;

        // Each id's pairs with its first period.
        let pairs = distinct_ids(&tl, plan, span)?;
        let mut by_id = tl.dim_cols();
        by_id.push(column(&tl.id));
        let first = Expr::from(WindowFunction::new(
            WindowFunctionDefinition::AggregateUDF(agg::min_max::min_udaf()),
            vec![column(BIN)],
        ))
        .partition_by(by_id)
        .build()
        .map_err(df(span))?;
        let pairs = with_window(pairs, first, FIRST, span)?;

        // The cohorts: the ids first seen in each period.
        let firsts = filter(pairs.clone(), column(BIN).eq(column(FIRST)), span)?;
        let mut group = vec![column(BIN)];
        group.extend(tl.dim_cols());
        let cohorts = aggregate(
            firsts,
            group,
            vec![agg::count::count(lit(1i64)).alias(COHORT)],
            span,
        )?;
        let cohorts = match cohort {
            Some(c) => {
                let c = call(
                    "bin_at",
                    vec![c.clone(), step.clone(), tl.start.clone()],
                    span,
                );
                let c = self.over(&cohorts, &c, Some(tl.time_t))?;
                filter(cohorts, column(BIN).eq(c), span)?
            }
            None => cohorts,
        };
        let mut cols = vec![column(BIN).alias(FROM)];
        cols.extend(tl.dim_cols());
        cols.push(column(COHORT));
        let cohorts = project(cohorts, cols, span)?;

        // The grid of `from × to`, `to` from `from` on.
        let grid = LogicalPlanBuilder::from(cohorts.clone())
            .cross_join(to_periods)
            .and_then(|b| b.filter(column(TO).gt_eq(column(FROM))))
            .and_then(|b| b.build())
            .map_err(df(span))?;

        // Each pair under every cohort of its dimensions up to its period.
        let mut cols = vec![column(FROM).alias(FROM2)];
        cols.extend(tl.dim_aliases());
        let cohort_keys = project(cohorts, cols, span)?;
        let under = join(pairs, cohort_keys, JoinType::Inner, &tl.dim_keys(), span)?;
        let under = filter(under, column(BIN).gt_eq(column(FROM2)), span)?;
        let mut group = vec![column(FROM2), column(BIN).alias(TO2)];
        group.extend(tl.dim_aliases());
        let is_new = column(FIRST)
            .gt(column(FROM2))
            .or(column(FIRST).eq(column(BIN)));
        let aggs = vec![
            agg::count::count(lit(1i64))
                .filter(is_new)
                .build()
                .map_err(df(span))?
                .alias(NEWV),
            agg::count::count(lit(1i64))
                .filter(column(FIRST).eq(column(FROM2)))
                .build()
                .map_err(df(span))?
                .alias(RETAINED),
        ];
        let counts = aggregate(under, group, aggs, span)?;

        let mut keys = vec![
            (FROM.to_string(), FROM2.to_string()),
            (TO.to_string(), TO2.to_string()),
        ];
        keys.extend(tl.dim_keys());
        let plan = join(grid, counts, JoinType::Left, &keys, span)?;
        let retained = or_zero(column(RETAINED));
        let churned = column(COHORT) - retained.clone();
        let mut cols = vec![
            column(FROM).alias(format!("from_{}", tl.time)),
            column(TO).alias(format!("to_{}", tl.time)),
        ];
        cols.extend(tl.dim_cols());
        cols.push(long(&plan, or_zero(column(NEWV)), span)?.alias("dcount_new_values"));
        cols.push(long(&plan, retained.clone(), span)?.alias("dcount_retained_values"));
        cols.push(long(&plan, churned.clone(), span)?.alias("dcount_churn_values"));
        cols.push(ratio(retained, column(COHORT)).alias("retention_rate"));
        cols.push(ratio(churned, column(COHORT)).alias("churn_rate"));
        Ok(Tab::new(project(plan, cols, span)?))
    }

    /// `evaluate active_users_count(...)`.
    pub(crate) fn active_users_count(
        &mut self,
        t: Tab,
        args: &Args<'_>,
        span: Span,
    ) -> Result<Tab> {
        let pos = &args.positional;
        let (Some(lookback), Some(period), Some(active), Some(step)) =
            (pos.get(4), pos.get(5), pos.get(6), pos.get(7))
        else {
            return Err(semantic(
                span,
                "active_users_count() expects id, timeline, start, end, lookback window, period, active periods count and bin",
            ));
        };
        let (tl, plan) = self.timeline(
            &t,
            args,
            &TimelineSpec {
                plugin: "active_users_count",
                fixed: 8,
                step_word: "window",
                bin: BIN,
                drop_null_ids: true,
            },
            step,
            span,
        )?;
        // The distinct appearances.
        let mut group = vec![column(BIN)];
        group.extend(tl.dim_cols());
        group.push(column(&tl.id));
        group.push(column(&tl.time));
        let seen = aggregate(plan, group, Vec::new(), span)?;
        // Every row of the input (before `start` too) with its period.
        let p = call("bin", vec![name(&tl.time, span), (*period).clone()], span);
        let p = self.over(&t.plan, &p, Some(tl.time_t))?;
        let mut cols = vec![column(&tl.id).alias(LID)];
        cols.extend(tl.dim_aliases());
        cols.push(column(&tl.time).alias(LT));
        cols.push(p.alias(LP));
        let rows = project(t.plan.clone(), cols, span)?;
        let rows = aggregate(rows.clone(), all_columns(&rows), Vec::new(), span)?;
        let mut keys = vec![(tl.id.clone(), LID.to_string())];
        keys.extend(tl.dim_keys());
        let joined = join(seen, rows, JoinType::Inner, &keys, span)?;
        // The rows in each appearance's lookback, `t - lookback < t' <= t`.
        let tcol = name(&tl.time, span);
        let within = binary(
            BinaryOp::And,
            binary(BinaryOp::LtEq, name(LT, span), tcol.clone(), span),
            binary(
                BinaryOp::Gt,
                name(LT, span),
                binary(BinaryOp::Sub, tcol, (*lookback).clone(), span),
                span,
            ),
            span,
        );
        let within = self.over(&joined, &within, Some(KqlType::Bool))?;
        let joined = filter(joined, within, span)?;
        let mut group = vec![column(BIN)];
        group.extend(tl.dim_cols());
        group.push(column(&tl.id));
        group.push(column(&tl.time));
        let periods = aggregate(
            joined,
            group,
            vec![agg::count::count_distinct(column(LP)).alias(NP)],
            span,
        )?;
        let n = self.over(&periods, active, Some(KqlType::Long))?;
        let np = long(&periods, column(NP), span)?;
        let active_rows = filter(periods, np.gt_eq(n), span)?;
        let mut group = vec![column(BIN)];
        group.extend(tl.dim_cols());
        let plan = aggregate(
            active_rows,
            group,
            vec![agg::count::count_distinct(column(&tl.id)).alias("dcount")],
            span,
        )?;
        let mut cols = vec![column(BIN).alias(&tl.time)];
        cols.extend(tl.dim_cols());
        cols.push(long(&plan, column("dcount"), span)?.alias("dcount"));
        Ok(Tab::new(project(plan, cols, span)?))
    }
}
