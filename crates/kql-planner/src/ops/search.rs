//! `search [kind=case_sensitive] [in (tables)] predicate` (search-operator.md).
//!
//! The input is the pipe's (`T | search ...`), the union of the named tables, or every
//! table of the database; a `$table` column first names each row's table. The predicate
//! is a boolean expression whose string-literal terms match any column (`"err"`: `has`,
//! `"err*"`: `hasprefix`, `"*err"`: `hassuffix`, `"*err*"`: `contains`, `"a*b"`: the
//! regex `\ba.*b\b`), `Column:"term"` one column, `*` every row; everything else is an
//! ordinary predicate. `kind=case_sensitive` makes the terms case-sensitive. Each term is
//! one vectorised string kernel per column, OR-ed.

use datafusion_expr::{Expr, LogicalPlanBuilder, lit};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, BinaryOp, ExprKind, Ident, OpParam, SEARCH_COLUMN};

use super::build;
use crate::error::{Result, semantic};
use crate::leaf::{NotExt, Row, Tab, call_udf, column, is_hidden_column, type_of};
use crate::planner::Planner;

/// The string kernel of a search term, and the text it compares.
fn term_kernel(term: &str, case_sensitive: bool) -> (&'static str, String) {
    let starts = term.starts_with('*');
    let ends = term.ends_with('*') && term.len() > 1;
    let inner = term.trim_matches('*');
    let cs = |ci: &'static str, cs: &'static str| if case_sensitive { cs } else { ci };
    if inner.contains('*') {
        let parts: Vec<String> = inner.split('*').map(regex::escape).collect();
        let flags = if case_sensitive { "" } else { "(?i)" };
        let lead = if starts { "" } else { r"\b" };
        let trail = if ends { "" } else { r"\b" };
        return (
            "__matches_regex",
            format!("{flags}{lead}{}{trail}", parts.join(".*")),
        );
    }
    let name = match (starts, ends) {
        (false, false) => cs("__has", "__has_cs"),
        (false, true) => cs("__hasprefix", "__hasprefix_cs"),
        (true, false) => cs("__hassuffix", "__hassuffix_cs"),
        (true, true) => cs("__contains", "__contains_cs"),
    };
    (name, inner.to_string())
}

impl Planner<'_> {
    /// `search` over the pipe's input (`Some`) or as a source (`None`).
    pub(crate) fn search(
        &mut self,
        input: Option<Tab>,
        params: &[OpParam],
        tables: &[ast::Expr],
        predicate: &ast::Expr,
        span: Span,
    ) -> Result<Tab> {
        let mut case_sensitive = false;
        for p in params {
            let v = match &p.value.kind {
                ExprKind::Name(id) => id.name.clone(),
                _ => p.value.to_string(),
            };
            match (p.name.as_str(), v.as_str()) {
                ("kind", "case_sensitive") => case_sensitive = true,
                ("kind", "case_insensitive" | "default") => case_sensitive = false,
                _ => {
                    return Err(semantic(
                        p.value.span(),
                        format!("Unknown search parameter {}={v}", p.name),
                    ));
                }
            }
        }
        let t = match input {
            Some(t) => {
                if !tables.is_empty() {
                    return Err(semantic(
                        span,
                        "search: in (...) cannot follow a piped input",
                    ));
                }
                let name = t.name.clone().unwrap_or_default();
                let mut exprs = vec![lit(name).alias("$table")];
                exprs.extend(
                    t.plan
                        .schema()
                        .fields()
                        .iter()
                        .filter(|f| f.name() != "$table")
                        .map(|f| column(f.name())),
                );
                Tab::new(build(
                    LogicalPlanBuilder::from(t.plan).project(exprs),
                    span,
                )?)
            }
            None => {
                let names: Vec<ast::Expr> = if tables.is_empty() {
                    let all = self.ctx.table_names();
                    if all.is_empty() {
                        return Err(semantic(span, "search: the database has no tables"));
                    }
                    all.into_iter()
                        .map(|n| ast::Expr::new(ExprKind::Name(Ident::new(n, span)), span))
                        .collect()
                } else {
                    tables.to_vec()
                };
                let source = OpParam {
                    name: "withsource".to_string(),
                    value: ast::Expr::new(ExprKind::Name(Ident::new("$table", span)), span),
                };
                self.union(None, &[source], &names, span)?
            }
        };
        let p = self.search_predicate(predicate, t.row(), case_sensitive)?;
        let plan = build(LogicalPlanBuilder::from(t.plan.clone()).filter(p), span)?;
        t.with_plan(plan)
    }

    /// A search predicate: terms over the columns, the rest as `where` has it.
    pub(crate) fn search_predicate(
        &mut self,
        e: &ast::Expr,
        row: Row<'_>,
        cs: bool,
    ) -> Result<Expr> {
        match &e.kind {
            ExprKind::Binary {
                op: op @ (BinaryOp::And | BinaryOp::Or),
                left,
                right,
            } => {
                let l = self.search_predicate(left, row, cs)?;
                let r = self.search_predicate(right, row, cs)?;
                Ok(if *op == BinaryOp::And {
                    l.and(r)
                } else {
                    l.or(r)
                })
            }
            ExprKind::Paren(inner) => self.search_predicate(inner, row, cs),
            ExprKind::Call { name, args } if name.name == "not" && args.len() == 1 => {
                Ok(self.search_predicate(&args[0], row, cs)?.not_kql())
            }
            ExprKind::Star => Ok(lit(true)),
            ExprKind::Literal(ast::Literal::String { value, .. }) => {
                let columns: Vec<String> = row
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .filter(|n| n != "$table" && !is_hidden_column(n))
                    .collect();
                let mut any: Option<Expr> = None;
                for c in columns {
                    let m = self.term_match(column(&c), value, row, cs, e.span())?;
                    any = Some(match any {
                        Some(a) => a.or(m),
                        None => m,
                    });
                }
                Ok(any.unwrap_or(lit(false)))
            }
            ExprKind::Call { name, args } if name.name == SEARCH_COLUMN && args.len() == 2 => {
                let ExprKind::Literal(ast::Literal::String { value, .. }) = &args[1].kind else {
                    return Err(semantic(
                        args[1].span(),
                        "search: Column:\"term\" needs a string term",
                    ));
                };
                let x = self.scalar(&args[0], row)?;
                self.term_match(x, value, row, cs, e.span())
            }
            _ => self.predicate(e, row),
        }
    }

    /// Whether `x` matches the search term `term`.
    fn term_match(
        &mut self,
        x: Expr,
        term: &str,
        row: Row<'_>,
        cs: bool,
        span: Span,
    ) -> Result<Expr> {
        let t = type_of(&x, row.schema, span)?;
        let x = if t == KqlType::String {
            x
        } else {
            self.as_string(x, t, span)?
        };
        let (kernel, text) = term_kernel(term, cs);
        call_udf(kernel, vec![x, lit(text)], span)
    }
}

#[cfg(test)]
mod tests {
    use super::term_kernel;

    #[test]
    fn terms_pick_the_documented_operator() {
        assert_eq!(term_kernel("err", false), ("__has", "err".to_string()));
        assert_eq!(
            term_kernel("err*", false),
            ("__hasprefix", "err".to_string())
        );
        assert_eq!(
            term_kernel("*err", false),
            ("__hassuffix", "err".to_string())
        );
        assert_eq!(
            term_kernel("*err*", true),
            ("__contains_cs", "err".to_string())
        );
        assert_eq!(
            term_kernel("Lab*PC", false),
            ("__matches_regex", r"(?i)\bLab.*PC\b".to_string())
        );
    }
}
