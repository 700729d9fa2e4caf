//! The activity plugins over an id and a timeline, planned as aggregations and windows:
//!
//! * `session_count(id, t, start, end, bin, lookback [, dims...])`
//!   (session-count-plugin.md): an id's session goes on while its next event comes within
//!   `lookback` of the previous one, else a new one starts (`lag` and a running sum over
//!   the id's events in time order); `count_sessions` is the number of sessions with an
//!   event in each bin.
//! * `sliding_window_counts(id, t, start, end, lookback, bin [, dims...])`
//!   (sliding-window-counts-plugin.md): for each bin, `Count` and `Dcount` of the ids over
//!   the `lookback / bin` bins ending with it. Each row is joined with the offsets
//!   `0 .. lookback / bin` (a `VALUES` table) and counted under every period it falls in,
//!   as the docs' sliding-window sample does with `range` and `mv-expand`.
//! * `activity_counts_metrics(id, t, start, end, window [, dims...])`
//!   (activity-counts-metrics-plugin.md): per bin, `count`, `dcount`, `new_dcount` (ids whose
//!   first bin it is: a `min` window per id) and `aggregated_dcount` (a running sum of
//!   `new_dcount`).
//!
//! Rows outside `start .. end` (inclusive) are left out, bins are `bin_at(t, bin, start)`,
//! and only periods with rows are output. Distinct counts are exact (Kusto's are HLL
//! estimates, which agree on small sets).

use datafusion_common::ScalarValue;
use datafusion_expr::expr::WindowFunction;
use datafusion_expr::{
    Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, WindowFrame, WindowFrameBound,
    WindowFrameUnits, WindowFunctionDefinition, lit,
};
use datafusion_functions_aggregate as agg;
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, BinaryOp, ExprKind};

use super::Args;
use super::common::{Timeline, TimelineSpec, binary, call, name, with_window};
use crate::error::{Result, df, semantic};
use crate::leaf::{Tab, cast_to, column, type_of};
use crate::planner::Planner;

/// The most bins a sliding window spans (`lookback / bin`).
const MAX_WINDOW_BINS: usize = 100_000;

/// Names of the intermediate columns.
const BIN: &str = "__activity_bin";
const FIRST: &str = "__activity_first";
const PREV: &str = "__activity_prev";
const NEW: &str = "__activity_new";
const SESSION: &str = "__activity_session";
const OFFSET: &str = "__activity_offset";
const NEW_DCOUNT: &str = "__activity_new_dcount";

/// A constant number or timespan as a number (of nanoseconds for a timespan).
fn magnitude(v: &ScalarValue) -> Option<f64> {
    Some(match v {
        ScalarValue::Int64(Some(x)) => *x as f64,
        ScalarValue::Int32(Some(x)) => *x as f64,
        ScalarValue::Float64(Some(x)) => *x,
        ScalarValue::DurationNanosecond(Some(x)) => *x as f64,
        ScalarValue::DurationMicrosecond(Some(x)) => *x as f64 * 1e3,
        ScalarValue::DurationMillisecond(Some(x)) => *x as f64 * 1e6,
        ScalarValue::DurationSecond(Some(x)) => *x as f64 * 1e9,
        ScalarValue::Decimal128(Some(x), _, scale) => *x as f64 / 10f64.powi(i32::from(*scale)),
        _ => return None,
    })
}

/// A window of aggregate `f` over `args`, partitioned by `partition`, ordered by `order`
/// (a running frame) or not (the whole partition).
fn window(
    f: std::sync::Arc<datafusion_expr::AggregateUDF>,
    args: Vec<Expr>,
    partition: Vec<Expr>,
    order: Option<Expr>,
    span: Span,
) -> Result<Expr> {
    let w = Expr::from(WindowFunction::new(
        WindowFunctionDefinition::AggregateUDF(f),
        args,
    ))
    .partition_by(partition);
    match order {
        Some(o) => w
            .order_by(vec![o.sort(true, true)])
            .window_frame(WindowFrame::new_bounds(
                WindowFrameUnits::Rows,
                WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
                WindowFrameBound::CurrentRow,
            ))
            .build(),
        None => w.build(),
    }
    .map_err(df(span))
}

impl Planner<'_> {
    /// Groups `plan` by the bin and the dimensions with `aggs`; the bin is named as the
    /// timeline column.
    fn per_bin(
        tl: &Timeline<'_>,
        plan: LogicalPlan,
        aggs: Vec<Expr>,
        span: Span,
    ) -> Result<LogicalPlan> {
        let mut group = vec![column(BIN)];
        group.extend(tl.dims.iter().map(|d| column(d)));
        LogicalPlanBuilder::from(plan)
            .aggregate(group, aggs)
            .and_then(|b| b.build())
            .map_err(df(span))
    }

    /// The output: the bin as the timeline column, the dimensions, then `outs` as Long.
    fn output(
        tl: &Timeline<'_>,
        plan: LogicalPlan,
        outs: &[(&str, &str)],
        span: Span,
    ) -> Result<Tab> {
        let mut cols = vec![column(BIN).alias(&tl.time)];
        cols.extend(tl.dims.iter().map(|d| column(d)));
        for (from, to) in outs {
            let x = column(from);
            let xt = type_of(&x, plan.schema(), span)?;
            cols.push(cast_to(x, xt, KqlType::Long).alias(*to));
        }
        let plan = LogicalPlanBuilder::from(plan)
            .project(cols)
            .and_then(|b| b.build())
            .map_err(df(span))?;
        Ok(Tab::new(plan))
    }

    /// `evaluate activity_counts_metrics(...)`.
    pub(crate) fn activity_counts_metrics(
        &mut self,
        t: Tab,
        args: &Args<'_>,
        span: Span,
    ) -> Result<Tab> {
        let Some(step) = args.positional.get(4).copied() else {
            return Err(semantic(
                span,
                "activity_counts_metrics() expects id, timeline, start, end and window",
            ));
        };
        let (tl, plan) = self.timeline(
            &t,
            args,
            &TimelineSpec {
                plugin: "activity_counts_metrics",
                fixed: 5,
                step_word: "step",
                bin: BIN,
                drop_null_ids: false,
            },
            step,
            span,
        )?;
        // Each id's first bin (per dimensions).
        let mut by_id: Vec<Expr> = tl.dims.iter().map(|d| column(d)).collect();
        by_id.push(column(&tl.id));
        let first = window(
            agg::min_max::min_udaf(),
            vec![column(BIN)],
            by_id,
            None,
            span,
        )?;
        let plan = with_window(plan, first, FIRST, span)?;
        let id = column(&tl.id);
        let aggs = vec![
            agg::count::count(lit(1i64)).alias("count"),
            agg::count::count_distinct(id.clone()).alias("dcount"),
            agg::count::count_distinct(id)
                .filter(column(FIRST).eq(column(BIN)))
                .build()
                .map_err(df(span))?
                .alias(NEW_DCOUNT),
        ];
        let plan = Self::per_bin(&tl, plan, aggs, span)?;
        // The running total of new ids, per dimensions.
        let running = window(
            agg::sum::sum_udaf(),
            vec![column(NEW_DCOUNT)],
            tl.dims.iter().map(|d| column(d)).collect(),
            Some(column(BIN)),
            span,
        )?;
        let plan = with_window(plan, running, "aggregated_dcount", span)?;
        Self::output(
            &tl,
            plan,
            &[
                ("count", "count"),
                ("dcount", "dcount"),
                (NEW_DCOUNT, "new_dcount"),
                ("aggregated_dcount", "aggregated_dcount"),
            ],
            span,
        )
    }

    /// `evaluate sliding_window_counts(...)`.
    pub(crate) fn sliding_window_counts(
        &mut self,
        t: Tab,
        args: &Args<'_>,
        span: Span,
    ) -> Result<Tab> {
        let (Some(lookback), Some(step)) = (args.positional.get(4), args.positional.get(5)) else {
            return Err(semantic(
                span,
                "sliding_window_counts() expects id, timeline, start, end, lookback and bin",
            ));
        };
        let (tl, plan) = self.timeline(
            &t,
            args,
            &TimelineSpec {
                plugin: "sliding_window_counts",
                fixed: 6,
                step_word: "step",
                bin: BIN,
                drop_null_ids: false,
            },
            step,
            span,
        )?;
        // How many bins a window spans.
        let lb = magnitude(&self.const_value(lookback, t.row())?);
        let st = magnitude(&self.const_value(step, t.row())?);
        let bins = match (lb, st) {
            (Some(l), Some(s)) if l > 0.0 && s > 0.0 && (l / s).is_finite() => (l / s).ceil(),
            _ => {
                return Err(semantic(
                    lookback.span(),
                    "sliding_window_counts(): lookback and bin must be positive constants of one kind",
                ));
            }
        };
        if bins > MAX_WINDOW_BINS as f64 {
            return Err(semantic(
                lookback.span(),
                format!(
                    "sliding_window_counts(): a window of {bins} bins is more than the limit of {MAX_WINDOW_BINS}"
                ),
            ));
        }
        let offsets: Vec<Vec<Expr>> = (0..bins as i64).map(|k| vec![lit(k)]).collect();
        let offsets = LogicalPlanBuilder::values(offsets)
            .and_then(|b| b.project(vec![column("column1").alias(OFFSET)]))
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let plan = LogicalPlanBuilder::from(plan)
            .cross_join(offsets)
            .and_then(|b| b.build())
            .map_err(df(span))?;
        // Each row counts under the periods `bin + k * step`, up to `end`.
        let period = binary(
            BinaryOp::Add,
            name(BIN, span),
            binary(BinaryOp::Mul, name(OFFSET, span), (*step).clone(), span),
            span,
        );
        let period = self.over(&plan, &period, Some(tl.time_t))?;
        let mut cols: Vec<Expr> = tl.dims.iter().map(|d| column(d)).collect();
        cols.push(column(&tl.id));
        cols.push(period.alias(BIN));
        let plan = LogicalPlanBuilder::from(plan)
            .project(cols)
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let end = self.over(&plan, tl.end, Some(tl.time_t))?;
        let plan = LogicalPlanBuilder::from(plan)
            .filter(column(BIN).lt_eq(end))
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let aggs = vec![
            agg::count::count(lit(1i64)).alias("Count"),
            agg::count::count_distinct(column(&tl.id)).alias("Dcount"),
        ];
        let plan = Self::per_bin(&tl, plan, aggs, span)?;
        Self::output(&tl, plan, &[("Count", "Count"), ("Dcount", "Dcount")], span)
    }

    /// `evaluate session_count(...)`.
    pub(crate) fn session_count(&mut self, t: Tab, args: &Args<'_>, span: Span) -> Result<Tab> {
        let (Some(step), Some(lookback)) = (args.positional.get(4), args.positional.get(5)) else {
            return Err(semantic(
                span,
                "session_count() expects id, timeline, start, end, bin and lookback",
            ));
        };
        let (tl, plan) = self.timeline(
            &t,
            args,
            &TimelineSpec {
                plugin: "session_count",
                fixed: 6,
                step_word: "step",
                bin: BIN,
                drop_null_ids: false,
            },
            step,
            span,
        )?;
        let plan = LogicalPlanBuilder::from(plan)
            .filter(column(&tl.id).is_not_null())
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let mut by_id: Vec<Expr> = tl.dims.iter().map(|d| column(d)).collect();
        by_id.push(column(&tl.id));
        let in_order = vec![column(&tl.time).sort(true, true)];
        // The id's previous event; a new session when none is within the lookback.
        let prev = datafusion_functions_window::expr_fn::lag(column(&tl.time), Some(1), None)
            .partition_by(by_id.clone())
            .order_by(in_order)
            .build()
            .map_err(df(span))?;
        let plan = with_window(plan, prev, PREV, span)?;
        let gap = binary(BinaryOp::Sub, name(&tl.time, span), name(PREV, span), span);
        let is_new = call(
            "iff",
            vec![
                binary(
                    BinaryOp::Or,
                    call("isnull", vec![name(PREV, span)], span),
                    binary(BinaryOp::Gt, gap, (*lookback).clone(), span),
                    span,
                ),
                ast::Expr::new(ExprKind::Literal(ast::Literal::Long("1".into())), span),
                ast::Expr::new(ExprKind::Literal(ast::Literal::Long("0".into())), span),
            ],
            span,
        );
        let plan = self.extend_with(plan, NEW, &is_new, Some(KqlType::Long), span)?;
        // The session's number: the new sessions so far.
        let session = window(
            agg::sum::sum_udaf(),
            vec![column(NEW)],
            by_id.clone(),
            Some(column(&tl.time)),
            span,
        )?;
        let plan = with_window(plan, session, SESSION, span)?;
        // The distinct sessions of each bin, then their count.
        let mut group = vec![column(BIN)];
        group.extend(by_id.iter().cloned());
        group.push(column(SESSION));
        let plan = LogicalPlanBuilder::from(plan)
            .aggregate(group, Vec::<Expr>::new())
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let aggs = vec![agg::count::count(lit(1i64)).alias("count_sessions")];
        let plan = Self::per_bin(&tl, plan, aggs, span)?;
        Self::output(&tl, plan, &[("count_sessions", "count_sessions")], span)
    }
}
