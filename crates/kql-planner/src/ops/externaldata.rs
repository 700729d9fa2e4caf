//! `externaldata (cols) [urls] [with (format=..., ignoreFirstRecord=...)]`
//! (externaldata-operator.md): the rows of files or URLs, read as the declared columns.
//!
//! The planner never reads anything: it asks `KqlContext::external_data` for a table of
//! the sources' rows, and when the caller has not read them yet fails with
//! `Probe::External`; the engine reads them (only what its settings allow) and plans again.

use datafusion_expr::LogicalPlanBuilder;
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, ColumnDecl, ExprKind, OpParam};

use crate::ExternalData;
use crate::error::{Result, df, needs_external, semantic};
use crate::leaf::{Tab, unqualify};
use crate::planner::Planner;

impl Planner<'_> {
    /// `externaldata ...` (a source).
    pub(crate) fn external_data(
        &mut self,
        columns: &[ColumnDecl],
        urls: &[ast::Expr],
        with: &[OpParam],
        span: Span,
    ) -> Result<Tab> {
        let mut cols = Vec::new();
        for c in columns {
            let t = KqlType::from_name(&c.ty.name)
                .ok_or_else(|| semantic(c.ty.span.0, format!("Unknown type '{}'", c.ty.name)))?;
            cols.push((c.name.name.clone(), t));
        }
        let mut sources = Vec::new();
        for u in urls {
            match &u.kind {
                ExprKind::Literal(ast::Literal::String { value, .. }) => {
                    sources.push(value.clone())
                }
                _ => {
                    return Err(semantic(
                        u.span(),
                        "externaldata: each source must be a string literal",
                    ));
                }
            }
        }
        if sources.is_empty() {
            return Err(semantic(span, "externaldata needs at least one source"));
        }
        let mut format = "csv".to_string();
        let mut ignore_first_record = false;
        for p in with {
            let text = match &p.value.kind {
                ExprKind::Literal(ast::Literal::String { value, .. }) => value.clone(),
                ExprKind::Name(id) => id.name.clone(),
                _ => p.value.to_string(),
            };
            match p.name.to_ascii_lowercase().as_str() {
                "format" => format = text.to_ascii_lowercase(),
                "ignorefirstrecord" => ignore_first_record = text.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        let data = ExternalData {
            columns: cols,
            urls: sources,
            format,
            ignore_first_record,
        };
        let Some(table) = self.ctx.external_data(&data) else {
            return Err(needs_external(span, data));
        };
        let plan =
            LogicalPlanBuilder::scan(format!("__externaldata_{}", span.start), table.source, None)
                .and_then(|b| b.build())
                .map_err(df(span))?;
        Ok(Tab::new(unqualify(plan, span)?))
    }
}
