//! `find [withsource=C] [in (tables)] where predicate [project-smart | project cols]`
//! (find-operator.md): the rows of each table that match, side by side.
//!
//! Each table (the named ones, or every table of the database) is filtered on its own; a
//! table the predicate cannot be evaluated over (it lacks a column the predicate names) is
//! left out. The predicate takes `search`'s terms. The output: the source column
//! (`source_` unless `withsource=`) naming each row's table, then with `project` the listed
//! columns (null where a table lacks one) and `pack_` for `pack_all()`; with
//! `project-smart` (the default) the columns the predicate names and those all the tables
//! share, then `pack_`, a bag of each row's other columns. The per-table plans are one
//! union.

use datafusion_expr::{LogicalPlanBuilder, lit};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind, Ident, OpParam, SEARCH_COLUMN};

use super::build;
use crate::error::{PlanErrorKind, Result, not_implemented, semantic};
use crate::leaf::{Tab, call_udf, column, is_hidden_column, kql_columns};
use crate::literal::null_of;
use crate::planner::Planner;

/// One table of the find: its name, its filtered plan, its columns.
type Input = (String, datafusion_expr::LogicalPlan, Vec<(String, KqlType)>);

/// Column names a predicate names.
fn named(e: &ast::Expr, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Name(id) => out.push(id.name.clone()),
        ExprKind::Call { name, args } if name.name == SEARCH_COLUMN => {
            if let Some(a) = args.first() {
                named(a, out);
            }
        }
        ExprKind::Call { args, .. } => args.iter().for_each(|a| named(a, out)),
        ExprKind::Binary { left, right, .. } => {
            named(left, out);
            named(right, out);
        }
        ExprKind::Paren(x) | ExprKind::Unary { expr: x, .. } => named(x, out),
        ExprKind::List { expr, items, .. } => {
            named(expr, out);
            items.iter().for_each(|i| named(i, out));
        }
        ExprKind::Between {
            expr, low, high, ..
        } => {
            named(expr, out);
            named(low, out);
            named(high, out);
        }
        ExprKind::Member { expr, .. } | ExprKind::Index { expr, .. } => named(expr, out),
        _ => {}
    }
}

impl Planner<'_> {
    /// `find ...` (a source).
    pub(crate) fn find(
        &mut self,
        params: &[OpParam],
        tables: &[ast::Expr],
        predicate: &ast::Expr,
        project: Option<&[ast::Expr]>,
        span: Span,
    ) -> Result<Tab> {
        let mut source = "source_".to_string();
        for p in params {
            match (p.name.as_str(), &p.value.kind) {
                ("withsource" | "with_source", ExprKind::Name(id)) => source = id.name.clone(),
                (n, _) => {
                    return Err(semantic(
                        p.value.span(),
                        format!("Unknown find parameter '{n}'"),
                    ));
                }
            }
        }
        let names: Vec<ast::Expr> = if tables.is_empty() {
            self.ctx
                .table_names()
                .into_iter()
                .map(|n| ast::Expr::new(ExprKind::Name(Ident::new(n, span)), span))
                .collect()
        } else {
            tables.to_vec()
        };
        // Each table, filtered; those the predicate cannot read are left out.
        let mut inputs: Vec<Input> = Vec::new();
        for t in &names {
            let name = match &t.kind {
                ExprKind::Name(id) if id.name.contains('*') => {
                    return Err(not_implemented(t.span(), "find with table name wildcards"));
                }
                ExprKind::Name(id) => id.name.clone(),
                _ => format!("find_arg{}", inputs.len()),
            };
            let tab = self.tab(t)?;
            let plan = self.finish(tab)?;
            let row = crate::leaf::Row {
                schema: plan.schema(),
                order: None,
            };
            let p = match self.search_predicate(predicate, row, false) {
                Ok(p) => p,
                Err(e) if e.kind == PlanErrorKind::Semantic => continue,
                Err(e) => return Err(e),
            };
            let plan = build(LogicalPlanBuilder::from(plan).filter(p), span)?;
            let cols: Vec<(String, KqlType)> = kql_columns(&plan)?
                .into_iter()
                .filter(|(n, _)| !is_hidden_column(n))
                .collect();
            inputs.push((name, plan, cols));
        }
        if inputs.is_empty() {
            return Err(semantic(
                span,
                "find: no table has the columns the predicate names",
            ));
        }
        // The output columns (name, type) and whether a pack_ column follows.
        let type_of_col = |n: &str| {
            inputs
                .iter()
                .find_map(|(_, _, cols)| cols.iter().find(|(m, _)| m == n).map(|(_, t)| *t))
        };
        let (out, pack): (Vec<(String, KqlType)>, bool) = match project {
            Some(items) if !items.is_empty() => {
                let mut out = Vec::new();
                let mut pack = false;
                for it in items {
                    match &it.kind {
                        // the source column comes first anyway
                        ExprKind::Name(id) if id.name == source => {}
                        ExprKind::Name(id) => out.push((
                            id.name.clone(),
                            type_of_col(&id.name).unwrap_or(KqlType::String),
                        )),
                        ExprKind::Call { name, args }
                            if name.name == "pack_all" && args.is_empty() =>
                        {
                            pack = true
                        }
                        _ => {
                            return Err(semantic(
                                it.span(),
                                "find: project takes column names and pack_all()",
                            ));
                        }
                    }
                }
                (out, pack)
            }
            _ => {
                let mut referenced = Vec::new();
                named(predicate, &mut referenced);
                let first = &inputs[0].2;
                let mut out: Vec<(String, KqlType)> = Vec::new();
                for (n, t) in first {
                    let common = inputs
                        .iter()
                        .all(|(_, _, cols)| cols.iter().any(|(m, u)| m == n && u == t));
                    if common || referenced.contains(n) {
                        out.push((n.clone(), *t));
                    }
                }
                for r in &referenced {
                    if !out.iter().any(|(n, _)| n == r)
                        && let Some(t) = type_of_col(r)
                    {
                        out.push((r.clone(), t));
                    }
                }
                (out, true)
            }
        };
        let mut plans = Vec::new();
        for (name, plan, cols) in inputs {
            let mut exprs = vec![lit(name).alias(source.clone())];
            for (n, t) in &out {
                let e = match cols.iter().find(|(m, _)| m == n) {
                    Some((m, u)) if u == t => column(m),
                    Some((m, u)) => crate::leaf::cast_to(column(m), *u, *t),
                    None => lit(null_of(*t)),
                };
                exprs.push(e.alias(n.clone()));
            }
            if pack {
                let packed_all = project.is_some_and(|p| !p.is_empty());
                let mut kv = Vec::new();
                for (m, _) in &cols {
                    if packed_all || !out.iter().any(|(n, _)| n == m) {
                        kv.push(lit(m.clone()));
                        kv.push(column(m));
                    }
                }
                exprs.push(call_udf("bag_pack", kv, span)?.alias("pack_"));
            }
            plans.push(build(LogicalPlanBuilder::from(plan).project(exprs), span)?);
        }
        let mut it = plans.into_iter();
        let Some(first) = it.next() else {
            return Err(semantic(span, "find needs a table"));
        };
        let mut b = LogicalPlanBuilder::from(first);
        for p in it {
            b = b.union(p).map_err(crate::error::df(span))?;
        }
        Ok(Tab::new(b.build().map_err(crate::error::df(span))?))
    }
}
