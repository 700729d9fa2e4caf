//! Plan helpers that know nothing of the planner: hidden columns, a plan's KQL columns,
//! stored function texts, operator names, constants.

use std::sync::Arc;

use datafusion_common::ScalarValue;
use datafusion_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, LetValue, OperatorKind, StatementKind};

use crate::error::{Result, df, semantic};
use crate::leaf::exprs::{column, kql_type, strip_cast};

/// Whether `name` is a hidden column: an order column or a hidden column of a table's rows
/// (`$IngestionTime`, ...).
pub(crate) fn is_hidden_column(name: &str) -> bool {
    is_order_column(name) || kql_functions::types::hidden::is_hidden(name)
}

/// `plan` without its hidden columns (order columns, the rows' hidden columns).
pub(crate) fn without_order_columns(plan: LogicalPlan) -> Result<LogicalPlan> {
    let fields = plan.schema().fields();
    if !fields.iter().any(|f| is_hidden_column(f.name())) {
        return Ok(plan);
    }
    let keep: Vec<Expr> = fields
        .iter()
        .filter(|f| !is_hidden_column(f.name()))
        .map(|f| column(f.name()))
        .collect();
    LogicalPlanBuilder::from(plan)
        .project(keep)
        .and_then(|b| b.build())
        .map_err(df(None))
}

/// Column names and KQL types of a plan.
pub(crate) fn kql_columns(plan: &LogicalPlan) -> Result<Vec<(String, KqlType)>> {
    plan.schema()
        .fields()
        .iter()
        .map(|f| Ok((f.name().clone(), kql_type(f.data_type(), Span::default())?)))
        .collect()
}

/// Parses a stored function's `(params) { body }` text.
pub(crate) fn parse_stored_function(name: &str, text: &str, span: Span) -> Result<ast::Lambda> {
    let parsed = kql_syntax::parse(&format!("let {name} = {text}"));
    if let Some(d) = parsed.diagnostics.first() {
        return Err(semantic(
            span,
            format!("Stored function '{name}' does not parse: {}", d.message),
        ));
    }
    match parsed.query.statements.first().map(|s| &s.kind) {
        Some(StatementKind::Let {
            value: LetValue::Function(l) | LetValue::View(l),
            ..
        }) => Ok(l.clone()),
        _ => Err(semantic(
            span,
            format!("Stored function '{name}' is not a function"),
        )),
    }
}

/// Projects every column to its unqualified name (after scans, joins, subquery aliases).
pub(crate) fn unqualify(plan: LogicalPlan, span: Span) -> Result<LogicalPlan> {
    let schema = Arc::clone(plan.schema());
    if schema.iter().all(|(q, _)| q.is_none()) {
        return Ok(plan);
    }
    let exprs: Vec<Expr> = schema
        .iter()
        .map(|(q, f)| {
            Expr::Column(datafusion_common::Column::new(q.cloned(), f.name()))
                .alias(f.name().clone())
        })
        .collect();
    LogicalPlanBuilder::from(plan)
        .project(exprs)
        .and_then(|b| b.build())
        .map_err(df(span))
}

/// The KQL name of an operator (for "not implemented" messages).
pub(crate) fn operator_name(op: &OperatorKind) -> String {
    match op {
        OperatorKind::Where { .. } => "where",
        OperatorKind::Project(_) => "project",
        OperatorKind::ProjectAway(_) => "project-away",
        OperatorKind::ProjectKeep(_) => "project-keep",
        OperatorKind::ProjectRename(_) => "project-rename",
        OperatorKind::ProjectReorder(_) => "project-reorder",
        OperatorKind::Extend(_) => "extend",
        OperatorKind::Summarize { .. } => "summarize",
        OperatorKind::Count(_) => "count",
        OperatorKind::Take { .. } => "take",
        OperatorKind::Sort { .. } => "sort",
        OperatorKind::Top { .. } => "top",
        OperatorKind::Distinct(_) => "distinct",
        OperatorKind::Union { .. } => "union",
        OperatorKind::Join { .. } => "join",
        OperatorKind::Lookup { .. } => "lookup",
        OperatorKind::As { .. } => "as",
        OperatorKind::GetSchema => "getschema",
        OperatorKind::Serialize(_) => "serialize",
        OperatorKind::Render { .. } => "render",
        OperatorKind::Print(_) => "print",
        OperatorKind::Range { .. } => "range",
        OperatorKind::Datatable { .. } => "datatable",
        OperatorKind::MvExpand { .. } => "mv-expand",
        OperatorKind::MvApply { .. } => "mv-apply",
        OperatorKind::Parse { filter: false, .. } => "parse",
        OperatorKind::Parse { filter: true, .. } => "parse-where",
        OperatorKind::ParseKv { .. } => "parse-kv",
        OperatorKind::MakeSeries { .. } => "make-series",
        OperatorKind::TopNested(_) => "top-nested",
        OperatorKind::TopHitters { .. } => "top-hitters",
        OperatorKind::Sample(_) => "sample",
        OperatorKind::SampleDistinct { .. } => "sample-distinct",
        OperatorKind::Search { .. } => "search",
        OperatorKind::Find { .. } => "find",
        OperatorKind::Evaluate { .. } => "evaluate",
        OperatorKind::Invoke(_) => "invoke",
        OperatorKind::Fork(_) => "fork",
        OperatorKind::Facet { .. } => "facet",
        OperatorKind::Partition { .. } => "partition",
        OperatorKind::Reduce { .. } => "reduce",
        OperatorKind::Consume(_) => "consume",
        OperatorKind::ExternalData { .. } => "externaldata",
        OperatorKind::AssertSchema(_) => "assert-schema",
        OperatorKind::Raw { name, .. } => return name.clone(),
    }
    .to_string()
}

/// A constant `usize` (take/top counts).
pub(crate) fn const_usize(v: &ScalarValue, span: Span) -> Result<usize> {
    let n = match v {
        ScalarValue::Int64(Some(n)) => *n,
        ScalarValue::Int32(Some(n)) => i64::from(*n),
        _ => return Err(semantic(span, "Expected a constant integer")),
    };
    usize::try_from(n.max(0)).map_err(|_| semantic(span, "The count is too large"))
}

#[allow(dead_code)]
pub(crate) fn is_const(x: &Expr) -> bool {
    strip_cast(x).is_some()
}

/// Prefix of the hidden columns that carry sort keys an operator removed or replaced.
pub(crate) const ORDER_COLUMN: &str = "__kql_order_";

/// Whether `name` is a hidden order column (never shown, never expanded by `*`).
pub(crate) fn is_order_column(name: &str) -> bool {
    name.starts_with(ORDER_COLUMN)
}

/// The names of a schema's columns users see (hidden and order columns left out).
pub(crate) fn visible_columns(schema: &datafusion_common::DFSchema) -> Vec<String> {
    schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| !is_hidden_column(n))
        .collect()
}
