//! The sequence and rolling plugins, planned with windows, joins and aggregations:
//!
//! * `funnel_sequence(id, t, start, end, max_step, step, state, sequence)`
//!   (funnel-sequence-plugin.md). Only rows in `start .. end` (inclusive) with an id
//!   count. Each id's events are put in time order (`lead`/`lag` windows per id); an
//!   occurrence of the sequence is a run of consecutive events whose states are the
//!   sequence's, each within `max_step` of the one before. Its bin is `bin_at` of its first
//!   event's time (`step` from `start`); `prev` is the state of the id's event just before
//!   it and `next` that of the event just after it, when those come within `max_step`,
//!   else empty (`""` for a string state, null otherwise). The output is the docs' first
//!   table (the one the binder types): per bin, `prev` and `next`, `dcount` (exact
//!   distinct ids) and `samples` (`make_set` of up to 128 ids).
//! * `funnel_sequence_completion(id, t, start, end, step, state, sequence, periods)`
//!   (funnel-sequence-completion-plugin.md): per bin of a first step's event, per step
//!   and per period, the distinct ids that went through the sequence up to that step, the
//!   steps' events in the id's time order (not necessarily adjacent) and all within the
//!   period of the first step's event ("overall" time, as the docs' example reads).
//! * `rolling_percentile(value, pct, index, bin_size, bins_per_window [, dims...])`
//!   (rolling-percentile-plugin.md): per bin of `bin(index, bin_size)` (and dimensions),
//!   the percentile of the values in the window of `bins_per_window` bins ending with it,
//!   by nearest rank (the value at rank `max(1, ceil(pct * n / 100))`, which the docs'
//!   examples give exactly); bins are output from the first bin of the dimensions' rows
//!   to the last one.

use arrow::datatypes::DataType;
use datafusion_common::ScalarValue;
use datafusion_expr::{Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, lit, when};
use datafusion_functions_aggregate as agg;
use datafusion_functions_window::expr_fn::{lag, lead};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, BinaryOp, ExprKind};

use super::Args;
use super::common::{all_columns, binary, call, input_column, name};
use crate::aggregates::AggCall;
use crate::error::{Result, df, semantic};
use crate::leaf::{Tab, cast_to, column, type_of};
use crate::planner::Planner;

/// The longest sequence accepted.
const MAX_STEPS: usize = 64;

/// Names of the intermediate columns.
const BIN: &str = "__funnel_bin";
const PREV_STATE: &str = "__funnel_prev_state";
const PREV_TIME: &str = "__funnel_prev_time";
const PREV: &str = "__funnel_prev";
const NEXT: &str = "__funnel_next";

/// The column of the state `j` events ahead.
fn state_at(j: usize) -> String {
    format!("__funnel_state_{j}")
}

/// The column of the time `j` events ahead.
fn time_at(j: usize) -> String {
    format!("__funnel_time_{j}")
}

/// `plan` with the window expressions `ws` as the columns `names`.
fn with_windows(
    plan: LogicalPlan,
    ws: Vec<Expr>,
    names: &[String],
    span: Span,
) -> Result<LogicalPlan> {
    let mut keep = all_columns(&plan);
    for (w, n) in ws.iter().zip(names) {
        keep.push(column(&w.schema_name().to_string()).alias(n));
    }
    let plan = LogicalPlanBuilder::window_plan(plan, ws).map_err(df(span))?;
    LogicalPlanBuilder::from(plan)
        .project(keep)
        .and_then(|b| b.build())
        .map_err(df(span))
}

/// One element of a constant sequence as a literal of the state column's type.
fn sequence_item(v: &serde_json::Value, dt: &DataType, span: Span) -> Result<Expr> {
    let x = match v {
        serde_json::Value::String(s) => lit(s.clone()),
        serde_json::Value::Bool(b) => lit(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => lit(i),
            None => lit(n.as_f64().unwrap_or(f64::NAN)),
        },
        _ => {
            return Err(semantic(
                span,
                "funnel_sequence(): the sequence must hold scalar values",
            ));
        }
    };
    Ok(Expr::Cast(datafusion_expr::Cast::new(
        Box::new(x),
        dt.clone(),
    )))
}

impl Planner<'_> {
    /// `evaluate funnel_sequence(...)`.
    pub(crate) fn funnel_sequence(&mut self, t: Tab, args: &Args<'_>, span: Span) -> Result<Tab> {
        let p = &args.positional;
        if !args.named.is_empty() || p.len() != 8 {
            return Err(semantic(
                span,
                "funnel_sequence() expects id, timeline, start, end, max step window, step, state and sequence",
            ));
        }
        let row = t.row();
        let col = |e: &ast::Expr, what: &str| input_column(row.schema, e, "funnel_sequence", what);
        let id = col(p[0], "id column")?;
        let time = col(p[1], "timeline column")?;
        let state = col(p[6], "state column")?;
        let (start, end, max_step, step) = (p[2], p[3], p[4], p[5]);
        let (_, time_t) = self.typed(p[1], row)?;
        if time_t != KqlType::DateTime {
            return Err(semantic(
                p[1].span(),
                "funnel_sequence(): the timeline column must be a datetime",
            ));
        }
        let (_, state_t) = self.typed(p[6], row)?;
        let state_dt = t
            .plan
            .schema()
            .field_with_unqualified_name(&state)
            .map_err(df(span))?
            .data_type()
            .clone();
        let items = match self.const_value(p[7], row)? {
            ScalarValue::LargeUtf8(Some(text)) | ScalarValue::Utf8(Some(text)) => {
                match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(serde_json::Value::Array(a)) if !a.is_empty() && a.len() <= MAX_STEPS => a,
                    _ => {
                        return Err(semantic(
                            p[7].span(),
                            format!(
                                "funnel_sequence(): the sequence must be a dynamic array of 1 to {MAX_STEPS} values"
                            ),
                        ));
                    }
                }
            }
            _ => {
                return Err(semantic(
                    p[7].span(),
                    "funnel_sequence(): the sequence must be a constant dynamic array",
                ));
            }
        };
        let seq: Vec<Expr> = items
            .iter()
            .map(|v| sequence_item(v, &state_dt, p[7].span()))
            .collect::<Result<_>>()?;
        let k = seq.len();

        // Rows in `start .. end` with an id, and their bin.
        let tcol = name(&time, span);
        let keep = binary(
            BinaryOp::And,
            binary(BinaryOp::GtEq, tcol.clone(), start.clone(), span),
            binary(BinaryOp::LtEq, tcol.clone(), end.clone(), span),
            span,
        );
        let keep = self.over(&t.plan, &keep, Some(KqlType::Bool))?;
        let plan = LogicalPlanBuilder::from(t.plan.clone())
            .filter(keep.and(column(&id).is_not_null()))
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let bin = call("bin_at", vec![tcol, step.clone(), start.clone()], span);
        let bin = {
            let tab = Tab::new(plan.clone());
            let (x, xt) = self.typed(&bin, tab.row())?;
            cast_to(x, xt, KqlType::DateTime)
        };
        let mut cols = all_columns(&plan);
        cols.push(bin.alias(BIN));
        let plan = LogicalPlanBuilder::from(plan)
            .project(cols)
            .and_then(|b| b.build())
            .map_err(df(span))?;

        // Per id, in time order: the event before, and the `k` events after.
        let order = vec![
            column(&time).sort(true, true),
            column(&state).sort(true, true),
        ];
        let by_id = vec![column(&id)];
        let mut ws = Vec::new();
        let mut names = Vec::new();
        for (f, n) in [(&state, PREV_STATE), (&time, PREV_TIME)] {
            ws.push(
                lag(column(f), Some(1), None)
                    .partition_by(by_id.clone())
                    .order_by(order.clone())
                    .build()
                    .map_err(df(span))?,
            );
            names.push(n.to_string());
        }
        for j in 1..=k {
            for (f, n) in [(&state, state_at(j)), (&time, time_at(j))] {
                ws.push(
                    lead(column(f), Some(j as i64), None)
                        .partition_by(by_id.clone())
                        .order_by(order.clone())
                        .build()
                        .map_err(df(span))?,
                );
                names.push(n);
            }
        }
        let plan = with_windows(plan, ws, &names, span)?;

        // The runs matching the sequence, each step within `max_step` of the one before.
        let mut matched = column(&state).eq(seq[0].clone());
        for (j, s) in seq.iter().enumerate().skip(1) {
            let before = if j == 1 { time.clone() } else { time_at(j - 1) };
            let gap = binary(
                BinaryOp::LtEq,
                binary(
                    BinaryOp::Sub,
                    name(&time_at(j), span),
                    name(&before, span),
                    span,
                ),
                max_step.clone(),
                span,
            );
            let gap = self.over(&plan, &gap, Some(KqlType::Bool))?;
            matched = matched.and(column(&state_at(j)).eq(s.clone())).and(gap);
        }
        let plan = LogicalPlanBuilder::from(plan)
            .filter(matched)
            .and_then(|b| b.build())
            .map_err(df(span))?;

        // `prev` and `next`, when within `max_step`.
        let empty = if state_t == KqlType::String {
            Expr::Cast(datafusion_expr::Cast::new(
                Box::new(lit("")),
                state_dt.clone(),
            ))
        } else {
            lit(ScalarValue::try_from(&state_dt).map_err(df(span))?)
        };
        let within = |a: &str, b: &str| {
            binary(
                BinaryOp::LtEq,
                binary(BinaryOp::Sub, name(a, span), name(b, span), span),
                max_step.clone(),
                span,
            )
        };
        let prev_ok = self.over(&plan, &within(&time, PREV_TIME), Some(KqlType::Bool))?;
        let last = if k == 1 { time.clone() } else { time_at(k - 1) };
        let next_ok = self.over(&plan, &within(&time_at(k), &last), Some(KqlType::Bool))?;
        let prev = when(prev_ok, column(PREV_STATE))
            .otherwise(empty.clone())
            .map_err(df(span))?;
        let next = when(next_ok, column(&state_at(k)))
            .otherwise(empty)
            .map_err(df(span))?;
        let plan = LogicalPlanBuilder::from(plan)
            .project(vec![
                column(BIN),
                column(&id),
                prev.alias(PREV),
                next.alias(NEXT),
            ])
            .and_then(|b| b.build())
            .map_err(df(span))?;

        // Per bin, prev and next: the distinct ids and a sample of them.
        let sample_args = [
            name(&id, span),
            ast::Expr::new(ExprKind::Literal(ast::Literal::Long("128".into())), span),
        ];
        let samples = {
            let tab = Tab::new(plan.clone());
            let c = AggCall {
                name: "make_set",
                args: &sample_args,
                span,
            };
            let mut xs = self.aggregate(&c, tab.row())?;
            if xs.len() != 1 {
                return Err(semantic(
                    span,
                    "funnel_sequence(): unexpected sample aggregate",
                ));
            }
            xs.remove(0)
        };
        let aggs = vec![
            agg::count::count_distinct(column(&id)).alias("dcount"),
            samples.unalias().alias("samples"),
        ];
        let plan = LogicalPlanBuilder::from(plan)
            .aggregate(vec![column(BIN), column(PREV), column(NEXT)], aggs)
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let dcount = column("dcount");
        let dt = type_of(&dcount, plan.schema(), span)?;
        let plan = LogicalPlanBuilder::from(plan)
            .project(vec![
                column(BIN).alias(&time),
                column(PREV).alias("prev"),
                column(NEXT).alias("next"),
                cast_to(dcount, dt, KqlType::Long).alias("dcount"),
                column("samples"),
            ])
            .and_then(|b| b.build())
            .map_err(df(span))?;
        Ok(Tab::new(plan))
    }
}

/// Names of the intermediate columns of `funnel_sequence_completion`.
const F_ID: &str = "__funnel_f_id";
const F_START: &str = "__funnel_f_start";
const F_T1: &str = "__funnel_f_t1";
const F_BIN: &str = "__funnel_f_bin";
const F_PERIOD: &str = "__funnel_f_period";
const F_PERIOD_NS: &str = "__funnel_f_period_ns";
const F_RN: &str = "__funnel_f_rn";
const E_ID: &str = "__funnel_e_id";
const E_RN: &str = "__funnel_e_rn";
const E_T: &str = "__funnel_e_t";
const RN: &str = "__funnel_rn";
const T_NS: &str = "__funnel_t_ns";

/// `x` cast to `dt`.
fn cast(x: Expr, dt: DataType) -> Expr {
    Expr::Cast(datafusion_expr::Cast::new(Box::new(x), dt))
}

/// The JSON items of the constant dynamic array `v`, at most `max`.
fn json_items(
    v: ScalarValue,
    max: usize,
    what: &str,
    span: Span,
) -> Result<Vec<serde_json::Value>> {
    let bad = || {
        semantic(
            span,
            format!("the {what} must be a constant dynamic array of 1 to {max} values"),
        )
    };
    match v {
        ScalarValue::LargeUtf8(Some(text)) | ScalarValue::Utf8(Some(text)) => {
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Array(a)) if !a.is_empty() && a.len() <= max => Ok(a),
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

impl Planner<'_> {
    /// `plan` with `e` (planned over it) as column `as_name`, of type `want`.
    fn funnel_extend(
        &mut self,
        plan: LogicalPlan,
        as_name: &str,
        e: &ast::Expr,
        want: KqlType,
        span: Span,
    ) -> Result<LogicalPlan> {
        let tab = Tab::new(plan.clone());
        let (x, xt) = self.typed(e, tab.row())?;
        let x = if xt == want { x } else { cast_to(x, xt, want) };
        let mut cols = all_columns(&plan);
        cols.push(x.alias(as_name));
        LogicalPlanBuilder::from(plan)
            .project(cols)
            .and_then(|b| b.build())
            .map_err(df(span))
    }

    /// `evaluate funnel_sequence_completion(...)`: per bin of a first step's event and
    /// per period, the distinct ids that went on through each step of the sequence, the
    /// steps' events in order (later rows of the id's time order) and all within the
    /// period of the first step's event. The earliest event of each next step is taken,
    /// per first event and period (a join and a `min` per step).
    pub(crate) fn funnel_sequence_completion(
        &mut self,
        t: Tab,
        args: &Args<'_>,
        span: Span,
    ) -> Result<Tab> {
        let p = &args.positional;
        if !args.named.is_empty() || p.len() != 8 {
            return Err(semantic(
                span,
                "funnel_sequence_completion() expects id, timeline, start, end, step, state, sequence and periods",
            ));
        }
        let row = t.row();
        let col = |e: &ast::Expr, what: &str| {
            input_column(row.schema, e, "funnel_sequence_completion", what)
        };
        let id = col(p[0], "id column")?;
        let time = col(p[1], "timeline column")?;
        let state = col(p[5], "state column")?;
        let (start, end, step) = (p[2], p[3], p[4]);
        if self.typed(p[1], row)?.1 != KqlType::DateTime {
            return Err(semantic(
                p[1].span(),
                "funnel_sequence_completion(): the timeline column must be a datetime",
            ));
        }
        let state_dt = t
            .plan
            .schema()
            .field_with_unqualified_name(&state)
            .map_err(df(span))?
            .data_type()
            .clone();
        let items = json_items(
            self.const_value(p[6], row)?,
            MAX_STEPS,
            "sequence",
            p[6].span(),
        )?;
        let seq: Vec<Expr> = items
            .iter()
            .map(|v| sequence_item(v, &state_dt, p[6].span()))
            .collect::<Result<_>>()?;
        let seq_names: Vec<String> = items
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        // The periods, as timespans.
        let mut periods: Vec<i64> = Vec::new();
        for v in json_items(
            self.const_value(p[7], row)?,
            MAX_STEPS,
            "periods",
            p[7].span(),
        )? {
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            match crate::literal::parse_value_text(&text, KqlType::TimeSpan) {
                Ok(ScalarValue::DurationNanosecond(Some(ns))) if ns >= 0 => periods.push(ns),
                _ => {
                    return Err(semantic(
                        p[7].span(),
                        "funnel_sequence_completion(): the periods must be non-negative timespans",
                    ));
                }
            }
        }

        // Rows in `start .. end` with an id, their bin, time in ticks and order per id.
        let tcol = name(&time, span);
        let keep = binary(
            BinaryOp::And,
            binary(BinaryOp::GtEq, tcol.clone(), start.clone(), span),
            binary(BinaryOp::LtEq, tcol.clone(), end.clone(), span),
            span,
        );
        let keep = self.over(&t.plan, &keep, Some(KqlType::Bool))?;
        let plan = LogicalPlanBuilder::from(t.plan.clone())
            .filter(keep.and(column(&id).is_not_null()))
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let bin = call("bin_at", vec![tcol, step.clone(), start.clone()], span);
        let plan = self.funnel_extend(plan, BIN, &bin, KqlType::DateTime, span)?;
        let mut cols = all_columns(&plan);
        cols.push(cast(column(&time), DataType::Int64).alias(T_NS));
        let plan = LogicalPlanBuilder::from(plan)
            .project(cols)
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let rn = datafusion_functions_window::expr_fn::row_number()
            .partition_by(vec![column(&id)])
            .order_by(vec![
                column(&time).sort(true, true),
                column(&state).sort(true, true),
            ])
            .build()
            .map_err(df(span))?;
        let plan = with_windows(plan, vec![rn], &[RN.to_string()], span)?;

        // The events of step `j`.
        let events = |s: &Expr| -> Result<LogicalPlan> {
            LogicalPlanBuilder::from(plan.clone())
                .filter(column(&state).eq(s.clone()))
                .and_then(|b| {
                    b.project(vec![
                        column(&id).alias(E_ID),
                        cast(column(RN), DataType::Int64).alias(E_RN),
                        column(T_NS).alias(E_T),
                    ])
                })
                .and_then(|b| b.build())
                .map_err(df(span))
        };
        let period_rows: Vec<Vec<Expr>> = periods
            .iter()
            .map(|ns| vec![lit(ScalarValue::DurationNanosecond(Some(*ns))), lit(*ns)])
            .collect();
        let period_plan = LogicalPlanBuilder::values(period_rows)
            .and_then(|b| {
                b.project(vec![
                    column("column1").alias(F_PERIOD),
                    column("column2").alias(F_PERIOD_NS),
                ])
            })
            .and_then(|b| b.build())
            .map_err(df(span))?;
        // The first step: every event of it, under every period.
        let first = LogicalPlanBuilder::from(plan.clone())
            .filter(column(&state).eq(seq[0].clone()))
            .and_then(|b| {
                b.project(vec![
                    column(&id).alias(F_ID),
                    cast(column(RN), DataType::Int64).alias(F_START),
                    column(T_NS).alias(F_T1),
                    column(BIN).alias(F_BIN),
                ])
            })
            .and_then(|b| b.cross_join(period_plan))
            .and_then(|b| {
                b.project(vec![
                    column(F_ID),
                    column(F_START),
                    column(F_T1),
                    column(F_BIN),
                    column(F_PERIOD),
                    column(F_PERIOD_NS),
                    column(F_START).alias(F_RN),
                ])
            })
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let mut frontiers = vec![first];
        for s in &seq[1..] {
            let Some(f) = frontiers.last().cloned() else {
                break;
            };
            let e = events(s)?;
            let next = LogicalPlanBuilder::from(f)
                .join(
                    e,
                    datafusion_expr::JoinType::Inner,
                    (vec![F_ID], vec![E_ID]),
                    None,
                )
                .and_then(|b| {
                    b.filter(
                        column(E_RN)
                            .gt(column(F_RN))
                            .and((column(E_T) - column(F_T1)).lt_eq(column(F_PERIOD_NS))),
                    )
                })
                .and_then(|b| {
                    b.aggregate(
                        vec![
                            column(F_ID),
                            column(F_START),
                            column(F_T1),
                            column(F_BIN),
                            column(F_PERIOD),
                            column(F_PERIOD_NS),
                        ],
                        vec![agg::min_max::min(column(E_RN)).alias(F_RN)],
                    )
                })
                .and_then(|b| b.build())
                .map_err(df(span))?;
            frontiers.push(next);
        }
        // Per step, bin and period: the distinct ids that got there.
        let mut out: Option<LogicalPlanBuilder> = None;
        for (f, s) in frontiers.into_iter().zip(seq_names) {
            let g = LogicalPlanBuilder::from(f)
                .aggregate(
                    vec![column(F_BIN), column(F_PERIOD)],
                    vec![agg::count::count_distinct(column(F_ID)).alias("dcount")],
                )
                .and_then(|b| {
                    b.project(vec![
                        column(F_BIN).alias(&time),
                        cast(lit(s), DataType::Utf8).alias(&state),
                        column(F_PERIOD).alias("Period"),
                        cast(column("dcount"), DataType::Int64).alias("dcount"),
                    ])
                })
                .and_then(|b| b.build())
                .map_err(df(span))?;
            out = Some(match out {
                None => LogicalPlanBuilder::from(g),
                Some(b) => b.union(g).map_err(df(span))?,
            });
        }
        let Some(out) = out else {
            return Err(semantic(
                span,
                "funnel_sequence_completion(): empty sequence",
            ));
        };
        Ok(Tab::new(out.build().map_err(df(span))?))
    }
}

/// The most bins a rolling window spans.
const MAX_WINDOW_BINS: usize = 10_000;

/// Names of the intermediate columns of `rolling_percentile`.
const R_BIN: &str = "__rolling_bin";
const R_LAST: &str = "__rolling_last";
const R_OFFSET: &str = "__rolling_offset";
const R_PERIOD: &str = "__rolling_period";
const R_RN: &str = "__rolling_rn";
const R_N: &str = "__rolling_n";

/// Percentiles are taken to this many parts of a percent.
const PCT_SCALE: i64 = 1_000_000;

impl Planner<'_> {
    /// `evaluate rolling_percentile(value, pct, index, bin_size, bins_per_window [, dims...])`:
    /// each row is joined with the offsets `0 .. bins_per_window` (a `VALUES` table) and
    /// counted under every window it falls in; per window end and dimensions, `row_number`
    /// and `count` windows pick the value at the nearest rank. Window ends go up to the
    /// last bin of the dimensions' rows.
    pub(crate) fn rolling_percentile(
        &mut self,
        t: Tab,
        args: &Args<'_>,
        span: Span,
    ) -> Result<Tab> {
        let p = &args.positional;
        if !args.named.is_empty() || p.len() < 5 {
            return Err(semantic(
                span,
                "rolling_percentile() expects value, percentile, index, bin size, bins per window and optional dimensions",
            ));
        }
        let row = t.row();
        let col =
            |e: &ast::Expr, what: &str| input_column(row.schema, e, "rolling_percentile", what);
        let value = col(p[0], "value column")?;
        let index = col(p[2], "index column")?;
        let mut dims: Vec<String> = Vec::new();
        for d in &p[5..] {
            let d = col(d, "dimension")?;
            if d == index || dims.contains(&d) {
                return Err(semantic(
                    span,
                    format!("rolling_percentile(): column '{d}' is given twice"),
                ));
            }
            dims.push(d);
        }
        let (pct, bin_size) = (p[1], p[3]);
        let (_, index_t) = self.typed(p[2], row)?;
        if !matches!(
            index_t,
            KqlType::DateTime | KqlType::Long | KqlType::Int | KqlType::Real | KqlType::Decimal
        ) {
            return Err(semantic(
                p[2].span(),
                "rolling_percentile(): the index column must be a datetime or a number",
            ));
        }
        let bins = crate::leaf::const_usize(&self.const_value(p[4], row)?, p[4].span())?;
        if bins == 0 || bins > MAX_WINDOW_BINS {
            return Err(semantic(
                p[4].span(),
                format!("rolling_percentile(): bins per window must be 1 to {MAX_WINDOW_BINS}"),
            ));
        }
        let (pct_text, pct_value) = match self.const_value(pct, row)? {
            ScalarValue::Int64(Some(x)) => (x.to_string(), x as f64),
            ScalarValue::Int32(Some(x)) => (x.to_string(), f64::from(x)),
            ScalarValue::Float64(Some(x)) => (x.to_string(), x),
            _ => (String::new(), f64::NAN),
        };
        if !(0.0..=100.0).contains(&pct_value) {
            return Err(semantic(
                pct.span(),
                "rolling_percentile(): the percentile must be a constant number from 0 to 100",
            ));
        }
        let out_name = format!("rolling_{bins}_percentile_{value}_{pct_text}");

        // Rows with an index, and their bin.
        let plan = LogicalPlanBuilder::from(t.plan.clone())
            .filter(column(&index).is_not_null())
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let bin = call("bin", vec![name(&index, span), bin_size.clone()], span);
        let plan = self.funnel_extend(plan, R_BIN, &bin, index_t, span)?;
        // The last bin of the dimensions' rows.
        let last = Expr::from(datafusion_expr::expr::WindowFunction::new(
            datafusion_expr::WindowFunctionDefinition::AggregateUDF(agg::min_max::max_udaf()),
            vec![column(R_BIN)],
        ))
        .partition_by(dims.iter().map(|d| column(d)).collect())
        .build()
        .map_err(df(span))?;
        let plan = with_windows(plan, vec![last], &[R_LAST.to_string()], span)?;
        let offsets: Vec<Vec<Expr>> = (0..bins as i64).map(|k| vec![lit(k)]).collect();
        let offsets = LogicalPlanBuilder::values(offsets)
            .and_then(|b| b.project(vec![column("column1").alias(R_OFFSET)]))
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let plan = LogicalPlanBuilder::from(plan)
            .cross_join(offsets)
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let period = binary(
            BinaryOp::Add,
            name(R_BIN, span),
            binary(BinaryOp::Mul, name(R_OFFSET, span), bin_size.clone(), span),
            span,
        );
        let plan = self.funnel_extend(plan, R_PERIOD, &period, index_t, span)?;
        let plan = LogicalPlanBuilder::from(plan)
            .filter(column(R_PERIOD).lt_eq(column(R_LAST)))
            .and_then(|b| b.build())
            .map_err(df(span))?;
        // Nearest rank: the value at rank `max(1, ceil(pct * n / 100))` of each window.
        let mut part = vec![column(R_PERIOD)];
        part.extend(dims.iter().map(|d| column(d)));
        let rn = datafusion_functions_window::expr_fn::row_number()
            .partition_by(part.clone())
            .order_by(vec![column(&value).sort(true, true)])
            .build()
            .map_err(df(span))?;
        let n = Expr::from(datafusion_expr::expr::WindowFunction::new(
            datafusion_expr::WindowFunctionDefinition::AggregateUDF(agg::count::count_udaf()),
            vec![lit(1i64)],
        ))
        .partition_by(part)
        .build()
        .map_err(df(span))?;
        let plan = LogicalPlanBuilder::from(plan)
            .filter(column(&value).is_not_null())
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let plan = with_windows(
            plan,
            vec![rn, n],
            &[R_RN.to_string(), R_N.to_string()],
            span,
        )?;
        let scaled = (pct_value * PCT_SCALE as f64).round() as i64;
        let whole = 100 * PCT_SCALE;
        let rank = (cast(column(R_N), DataType::Int64) * lit(scaled) + lit(whole - 1)) / lit(whole);
        let rank = when(rank.clone().lt(lit(1i64)), lit(1i64))
            .otherwise(rank)
            .map_err(df(span))?;
        let plan = LogicalPlanBuilder::from(plan)
            .filter(cast(column(R_RN), DataType::Int64).eq(rank))
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let mut cols = vec![column(R_PERIOD).alias(&index)];
        cols.extend(dims.iter().map(|d| column(d)));
        cols.push(column(&value).alias(&out_name));
        let plan = LogicalPlanBuilder::from(plan)
            .project(cols)
            .and_then(|b| b.build())
            .map_err(df(span))?;
        Ok(Tab::new(plan))
    }
}
