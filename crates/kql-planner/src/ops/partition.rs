//! `T | partition [hint.strategy=native|shuffle|legacy] [hints] by Column ( subquery )` and
//! the legacy `by Column { subquery with its own source }` (partition-operator.md): the
//! rows of `T` split by the values of `Column`, the subquery run over each part, and the
//! results one union.
//!
//! The partitions are the distinct values of `Column`, which are data: they come from a
//! planning probe (`T | summarize by Column`, see `PlanErrorKind::NeedsProbe`), or straight
//! from the plan when `T` is a `datatable`. Each value `v` (null included, as an `isnull`
//! partition) gives the subquery planned over `T | where Column == v`; inside it the name
//! `Column` is also bound to `v` (the legacy strategy's `toscalar(Column)` and the explicit
//! source form `{ S | where x == c }`; a column of that name comes first). Every partition
//! must give the same columns (names and types). No partition (an empty `T`) gives no rows,
//! with the columns of the subquery over no rows.
//!
//! Limits: the legacy strategy (the default) allows 64 partitions, as the docs say; the
//! native and shuffle ones have no documented limit, and Calypso plans at most
//! [`MAX_PARTITIONS`] of them. A subquery with its own source needs the legacy strategy.
//! The other hints (`hint.shufflekey`, `hint.materialized`, `hint.concurrency`,
//! `hint.spread`) are checked and do not change the result.

use arrow::datatypes::DataType;
use datafusion_common::ScalarValue;
use datafusion_expr::{Expr, LogicalPlan, LogicalPlanBuilder, lit};
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind, Ident, Literal, OpParam, OperatorKind};

use super::build;
use crate::error::{Result, df, internal, needs_probe, not_supported, semantic};
use crate::leaf::{Tab, column, kql_columns, strip_cast};
use crate::literal::null_of;
use crate::planner::Planner;
use crate::scope::Binding;

/// The most partitions the legacy strategy allows (partition-operator.md).
const LEGACY_LIMIT: usize = 64;

/// The most partitions Calypso plans with the native and shuffle strategies (each one is a
/// branch of the plan).
const MAX_PARTITIONS: usize = 10_000;

/// How the subqueries run (`hint.strategy`); the result does not depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Legacy,
    Native,
    Shuffle,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::Legacy => "legacy",
            Strategy::Native => "native",
            Strategy::Shuffle => "shuffle",
        }
    }
}

/// A hint's value as a word: an identifier or a string literal.
fn word(e: &ast::Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Name(id) => Some(&id.name),
        ExprKind::Literal(Literal::String { value, .. }) => Some(value),
        _ => None,
    }
}

/// The strategy the hints ask for; the other hints are checked.
fn strategy(params: &[OpParam]) -> Result<Strategy> {
    let mut strategy = Strategy::Legacy;
    for p in params {
        let span = p.value.span();
        match p.name.as_str() {
            "hint.strategy" => {
                strategy = match word(&p.value) {
                    Some("legacy") => Strategy::Legacy,
                    Some("native") => Strategy::Native,
                    Some("shuffle") => Strategy::Shuffle,
                    _ => {
                        return Err(semantic(
                            span,
                            format!(
                                "partition: unknown hint.strategy '{}' (expected native, shuffle or legacy)",
                                p.value
                            ),
                        ));
                    }
                }
            }
            "hint.shufflekey" => {
                if !matches!(p.value.kind, ExprKind::Name(_)) {
                    return Err(semantic(span, "partition: hint.shufflekey takes a column"));
                }
            }
            "hint.materialized" => {
                if !matches!(p.value.kind, ExprKind::Literal(Literal::Bool(_))) {
                    return Err(semantic(span, "partition: hint.materialized takes a bool"));
                }
            }
            "hint.concurrency" | "hint.spread" => {
                let ok = matches!(&p.value.kind, ExprKind::Literal(Literal::Long(s))
                    if s.parse::<u64>().is_ok_and(|n| n > 0));
                if !ok {
                    return Err(semantic(
                        span,
                        format!("partition: {} takes a positive integer", p.name),
                    ));
                }
            }
            n if n.starts_with("hint.") => {}
            n => {
                return Err(semantic(span, format!("Unknown partition parameter '{n}'")));
            }
        }
    }
    Ok(strategy)
}

/// Whether the subquery's pipeline starts with the implicit input (no source of its own).
fn has_implicit_source(e: &ast::Expr) -> bool {
    match &e.kind {
        ExprKind::Paren(x) => has_implicit_source(x),
        ExprKind::Pipe { input, .. } => has_implicit_source(input),
        ExprKind::Source(op) => {
            matches!(&op.kind, OperatorKind::Raw { name, .. } if name == "__implicit_input")
        }
        _ => false,
    }
}

/// The type partition values are compared and bound as: the column's, with strings as
/// `Utf8` (stored ones may be views or dictionaries).
fn value_type(dt: &DataType) -> DataType {
    match dt {
        DataType::Dictionary(_, v) => value_type(v),
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        other => other.clone(),
    }
}

/// The values of column `name` when `plan` is a `datatable` (a projection of a `VALUES`),
/// read without running it; `None` for any other plan.
fn literal_column(plan: &LogicalPlan, name: &str) -> Option<Vec<ScalarValue>> {
    let LogicalPlan::Projection(p) = plan else {
        return None;
    };
    let LogicalPlan::Values(v) = p.input.as_ref() else {
        return None;
    };
    let i = p.schema.fields().iter().position(|f| f.name() == name)?;
    let target = value_type(p.schema.field(i).data_type());
    let mut e = p.expr.get(i)?;
    let source = loop {
        match e {
            Expr::Alias(a) => e = &a.expr,
            Expr::Cast(c) => e = &c.expr,
            Expr::Column(c) => break c,
            _ => return None,
        }
    };
    let j = v
        .schema
        .fields()
        .iter()
        .position(|f| f.name() == &source.name)?;
    v.values
        .iter()
        .map(|row| strip_cast(row.get(j)?)?.cast_to(&target).ok())
        .collect()
}

/// Sorts and deduplicates the values, nulls last.
fn distinct(mut vals: Vec<ScalarValue>) -> Vec<ScalarValue> {
    vals.sort_by(|a, b| match (a.is_null(), b.is_null()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    vals.dedup_by(|a, b| a == b || (a.is_null() && b.is_null()));
    vals
}

impl Planner<'_> {
    /// `partition [hints] by Column (subquery)`.
    pub(crate) fn partition(
        &mut self,
        t: Tab,
        params: &[OpParam],
        by: &Ident,
        subquery: &ast::Expr,
        span: Span,
    ) -> Result<Tab> {
        let strategy = strategy(params)?;
        if strategy != Strategy::Legacy && !has_implicit_source(subquery) {
            return Err(semantic(
                subquery.span(),
                format!(
                    "partition: with hint.strategy={} the subquery cannot have its own source (use the legacy strategy)",
                    strategy.name()
                ),
            ));
        }
        let Some(field) = t
            .plan
            .schema()
            .fields()
            .iter()
            .find(|f| f.name() == &by.name)
        else {
            return Err(semantic(
                by.span.0,
                format!("partition: no column '{}' in the input", by.name),
            ));
        };
        let vt = value_type(field.data_type());
        let kt = crate::leaf::kql_type(&vt, by.span.0)?;
        let values = self.partition_values(&t, by, &vt, span)?;
        let limit = match strategy {
            Strategy::Legacy => LEGACY_LIMIT,
            _ => MAX_PARTITIONS,
        };
        if values.len() > limit {
            let msg = format!(
                "partition: column '{}' has {} distinct values, more than the {limit} partitions the {} strategy allows",
                by.name,
                values.len(),
                strategy.name()
            );
            return Err(match strategy {
                Strategy::Legacy => semantic(
                    span,
                    format!("{msg} (use hint.strategy=native or hint.strategy=shuffle)"),
                ),
                _ => not_supported(span, msg),
            });
        }
        if values.is_empty() {
            // No partition: no rows, with the subquery's columns over no rows.
            let input = build(
                LogicalPlanBuilder::from(t.plan.clone()).filter(lit(false)),
                span,
            )?;
            let plan = self.one_partition(input, by, null_of(kt), subquery)?;
            let plan = build(LogicalPlanBuilder::from(plan).limit(0, Some(0)), span)?;
            return Ok(Tab::new(plan));
        }
        let mut plans = Vec::with_capacity(values.len());
        for v in values {
            let cond = if v.is_null() {
                column(&by.name).is_null()
            } else {
                column(&by.name).eq(lit(v.clone()))
            };
            let input = build(LogicalPlanBuilder::from(t.plan.clone()).filter(cond), span)?;
            plans.push(self.one_partition(input, by, v, subquery)?);
        }
        union_all(plans, span).map(Tab::new)
    }

    /// The distinct values of `by` in `t`, as `vt`.
    fn partition_values(
        &mut self,
        t: &Tab,
        by: &Ident,
        vt: &DataType,
        span: Span,
    ) -> Result<Vec<ScalarValue>> {
        if let Some(vals) = literal_column(&t.plan, &by.name) {
            return Ok(distinct(vals));
        }
        let probe = build(
            LogicalPlanBuilder::from(t.plan.clone())
                .aggregate(vec![column(&by.name)], Vec::<Expr>::new()),
            span,
        )?;
        let Some(batches) = self.ctx.probed(&probe) else {
            return Err(needs_probe(span, "partition", probe));
        };
        let mut vals = Vec::new();
        for b in &batches {
            let a = arrow::compute::cast(b.column(0), vt).map_err(|e| internal(e.to_string()))?;
            for i in 0..b.num_rows() {
                vals.push(ScalarValue::try_from_array(&a, i).map_err(df(span))?);
            }
        }
        Ok(distinct(vals))
    }

    /// The subquery over one partition's rows, with the key's name bound to its value.
    fn one_partition(
        &mut self,
        input: LogicalPlan,
        by: &Ident,
        value: ScalarValue,
        subquery: &ast::Expr,
    ) -> Result<LogicalPlan> {
        // `as` inside the subquery binds names: they stay inside it.
        let saved = self.scope.clone();
        self.scope.set(&by.name, Binding::Scalar(lit(value)));
        let r = self
            .over_input(input, subquery)
            .and_then(|tab| self.finish(tab));
        self.scope = saved;
        r
    }
}

/// The union of the partitions' results, which must have the same columns.
fn union_all(plans: Vec<LogicalPlan>, span: Span) -> Result<LogicalPlan> {
    let mut it = plans.into_iter();
    let Some(first) = it.next() else {
        return Err(internal("partition: no partition to union"));
    };
    let cols = kql_columns(&first)?;
    let fields: Vec<(String, DataType)> = first
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let mut b = LogicalPlanBuilder::from(first);
    for p in it {
        let these = kql_columns(&p)?;
        if these != cols {
            let show = |c: &[(String, kql_functions::KqlType)]| {
                c.iter()
                    .map(|(n, t)| format!("{n}:{t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(semantic(
                span,
                format!(
                    "partition: the subquery gives different columns for different partitions: ({}) and ({})",
                    show(&cols),
                    show(&these)
                ),
            ));
        }
        // Same KQL types, maybe different Arrow ones (views): cast to the first's.
        let same = p
            .schema()
            .fields()
            .iter()
            .zip(&fields)
            .all(|(f, (_, dt))| f.data_type() == dt);
        let p = if same {
            p
        } else {
            let exprs: Vec<Expr> = fields
                .iter()
                .map(|(n, dt)| {
                    Expr::Cast(datafusion_expr::Cast::new(Box::new(column(n)), dt.clone()))
                        .alias(n.clone())
                })
                .collect();
            build(LogicalPlanBuilder::from(p).project(exprs), span)?
        };
        b = b.union(p).map_err(df(span))?;
    }
    b.build().map_err(df(span))
}
