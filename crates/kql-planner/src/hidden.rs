//! The hidden columns of a table's rows (`$IngestionTime`, `$ExtentId`, `$ExtentTags`;
//! [`kql_functions::types::hidden`]) and the functions that read them: `ingestion_time()`,
//! `extent_id()` (`extentid()`) and `extent_tags()`.
//!
//! A table scan reads only the visible columns. An operator that calls one of the
//! functions first asks for its column ([`Planner::with_hidden`]): the column is added to
//! the scan and carried up through the operators that keep rows as they are (`where`,
//! `extend`, `project`, `sort`, `take`, windows), which is where ADX documents the
//! functions to work. Anywhere else (after `summarize`, `join`, `union`, or over rows that
//! are no table's) the functions give what ADX gives for rows of no extent: null, an
//! empty guid, an empty array. Hidden columns are never shown: the operators that drop
//! the hidden order columns drop them too.

use std::sync::Arc;

use datafusion_common::arrow::datatypes::Schema;
use datafusion_common::{DFSchema, ScalarValue};
use datafusion_expr::logical_plan::{Projection, TableScanBuilder};
use datafusion_expr::{Expr, LogicalPlan, lit};
use kql_functions::types::hidden::{EXTENT_ID, EXTENT_TAGS, INGESTION_TIME, is_hidden};
use kql_syntax::ast;

use crate::leaf::Tab;
use crate::leaf::column;

/// The functions of hidden columns: KQL name, column.
const FUNCTIONS: &[(&str, &str)] = &[
    ("ingestion_time", INGESTION_TIME),
    ("extent_id", EXTENT_ID),
    ("extentid", EXTENT_ID),
    ("extent_tags", EXTENT_TAGS),
];

/// The column of hidden-column function `name`, if it is one.
pub(crate) fn column_of(name: &str) -> Option<&'static str> {
    FUNCTIONS.iter().find(|(f, _)| *f == name).map(|(_, c)| *c)
}

/// The value of a hidden-column function over rows with `schema`: the column, or what
/// rows of no extent give.
pub(crate) fn value(name: &str, schema: &DFSchema) -> Option<Expr> {
    let c = column_of(name)?;
    let present = schema.has_column_with_unqualified_name(c);
    Some(match c {
        INGESTION_TIME if present => column(c),
        INGESTION_TIME => lit(ScalarValue::TimestampNanosecond(None, None)),
        EXTENT_ID => {
            let empty = lit(ScalarValue::FixedSizeBinary(16, Some(vec![0; 16])));
            if present {
                datafusion_functions::core::expr_fn::coalesce(vec![column(c), empty])
            } else {
                empty
            }
        }
        _ => {
            let empty = lit(ScalarValue::LargeUtf8(Some("[]".into())));
            if present {
                datafusion_functions::core::expr_fn::coalesce(vec![column(c), empty])
            } else {
                empty
            }
        }
    })
}

/// The hidden columns an operator's functions read (by its text: a mention in a string
/// only adds a column no one reads).
fn wanted(op: &ast::Operator) -> Vec<&'static str> {
    let text = op.to_string().to_ascii_lowercase();
    let mut out = Vec::new();
    for (f, c) in FUNCTIONS {
        if text.contains(f) && !out.contains(c) {
            out.push(*c);
        }
    }
    out
}

/// The visible columns' indexes of a scanned source's schema (`None`: all are visible).
pub(crate) fn visible(schema: &Schema) -> Option<Vec<usize>> {
    if !schema.fields().iter().any(|f| is_hidden(f.name())) {
        return None;
    }
    Some(
        schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| !is_hidden(f.name()))
            .map(|(i, _)| i)
            .collect(),
    )
}

/// `plan` with hidden column `name` added from its table scan, through operators that keep
/// rows as they are; `None` when it cannot be.
fn attach(plan: &LogicalPlan, name: &str) -> Option<LogicalPlan> {
    if plan.schema().has_column_with_unqualified_name(name) {
        return Some(plan.clone());
    }
    match plan {
        LogicalPlan::TableScan(scan) => {
            let schema = scan.source.schema();
            let i = schema.index_of(name).ok()?;
            let mut projection = scan
                .projection
                .clone()
                .unwrap_or_else(|| (0..schema.fields().len()).collect());
            projection.push(i);
            TableScanBuilder::new(scan.table_name.clone(), Arc::clone(&scan.source))
                .with_projection(Some(projection))
                .with_filters(scan.filters.clone())
                .with_fetch(scan.fetch)
                .build()
                .ok()
                .map(LogicalPlan::TableScan)
        }
        LogicalPlan::Projection(p) => {
            let input = attach(&p.input, name)?;
            let mut exprs = p.expr.clone();
            exprs.push(column(name).alias(name));
            Projection::try_new(exprs, Arc::new(input))
                .ok()
                .map(LogicalPlan::Projection)
        }
        LogicalPlan::Filter(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Window(_)
        | LogicalPlan::Repartition(_) => {
            let inputs = plan.inputs();
            let [input] = inputs.as_slice() else {
                return None;
            };
            let input = attach(input, name)?;
            plan.with_new_exprs(plan.expressions(), vec![input]).ok()
        }
        _ => None,
    }
}

/// `t` with the hidden columns that `op` reads, where they can be had.
pub(crate) fn with_hidden(mut t: Tab, op: &ast::Operator) -> Tab {
    for name in wanted(op) {
        if let Some(plan) = attach(&t.plan, name) {
            t.plan = plan;
        }
    }
    t
}
