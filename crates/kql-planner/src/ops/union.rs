//! `union` (source and operator): outer/inner column sets, `withsource`.

use datafusion_expr::{Expr, LogicalPlanBuilder, lit};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind, OpParam};

use super::build;
use crate::error::{Result, not_implemented, semantic};
use crate::leaf::{Tab, kql_columns};
use crate::leaf::{cast_to, column};
use crate::literal::null_of;
use crate::planner::Planner;

impl Planner<'_> {
    pub(crate) fn union(
        &mut self,
        first: Option<Tab>,
        params: &[OpParam],
        tables: &[ast::Expr],
        span: Span,
    ) -> Result<Tab> {
        let mut inner = false;
        let mut source: Option<String> = None;
        for p in params {
            let v = match &p.value.kind {
                ExprKind::Name(id) => id.name.clone(),
                ExprKind::Literal(ast::Literal::String { value, .. }) => value.clone(),
                _ => p.value.to_string(),
            };
            match p.name.as_str() {
                "kind" => match v.as_str() {
                    "inner" => inner = true,
                    "outer" => inner = false,
                    other => {
                        return Err(semantic(
                            p.value.span(),
                            format!("Unknown union kind '{other}'"),
                        ));
                    }
                },
                "withsource" | "with_source" => source = Some(v),
                "isfuzzy" => {}
                other if other.starts_with("hint.") => {}
                other => return Err(not_implemented(span, format!("union parameter {other}"))),
            }
        }
        let mut inputs: Vec<(String, datafusion_expr::LogicalPlan)> = Vec::new();
        if let Some(f) = first {
            let name = f.name.clone().unwrap_or_else(|| "union_arg0".to_string());
            let plan = self.finish(f)?;
            inputs.push((name, plan));
        }
        for t in tables {
            let wildcard = match &t.kind {
                ExprKind::Name(id) => id.name.contains('*'),
                ExprKind::Member { name, .. } => name.name.contains('*'),
                _ => false,
            };
            if wildcard {
                return Err(not_implemented(t.span(), "union with table name wildcards"));
            }
            let tab = self.tab(t)?;
            let name = match (&t.kind, &tab.name) {
                (ExprKind::Name(id), _) => id.name.clone(),
                (ExprKind::Member { .. } | ExprKind::Index { .. }, _) => {
                    match crate::leaf::qualified(t) {
                        Some(q) => q.name.to_string(),
                        None => format!("union_arg{}", inputs.len()),
                    }
                }
                (_, Some(n)) => n.clone(),
                _ => format!("union_arg{}", inputs.len()),
            };
            let plan = self.finish(tab)?;
            inputs.push((name, plan));
        }
        // Output columns: by name; a name with several types becomes name_type per type.
        let mut all: Vec<(String, KqlType)> = Vec::new();
        let mut per_input = Vec::new();
        for (_, plan) in &inputs {
            let cols = kql_columns(plan)?;
            for c in &cols {
                if !all.contains(c) {
                    all.push(c.clone());
                }
            }
            per_input.push(cols);
        }
        let multi_typed = |n: &str| all.iter().filter(|(m, _)| m == n).count() > 1;
        let out_name = |n: &str, t: KqlType| {
            if multi_typed(n) {
                format!("{n}_{t}")
            } else {
                n.to_string()
            }
        };
        let mut out: Vec<(String, String, KqlType)> = all
            .iter()
            .map(|(n, t)| (out_name(n, *t), n.clone(), *t))
            .collect();
        if inner {
            out.retain(|(_, n, t)| {
                per_input
                    .iter()
                    .all(|cols| cols.iter().any(|(m, u)| m == n && u == t))
            });
        }
        let mut plans = Vec::new();
        for ((name, plan), cols) in inputs.into_iter().zip(&per_input) {
            let mut exprs: Vec<Expr> = Vec::new();
            if let Some(s) = &source {
                exprs.push(lit(name.clone()).alias(s.clone()));
            }
            for (o, n, t) in &out {
                let e = match cols.iter().find(|(m, u)| m == n && u == t) {
                    Some((m, u)) => cast_to(column(m), *u, *t),
                    None => lit(null_of(*t)),
                };
                exprs.push(e.alias(o.clone()));
            }
            plans.push(build(LogicalPlanBuilder::from(plan).project(exprs), span)?);
        }
        let mut it = plans.into_iter();
        let Some(first) = it.next() else {
            return Err(semantic(span, "union needs at least one table"));
        };
        let mut b = LogicalPlanBuilder::from(first);
        for p in it {
            b = b.union(p).map_err(crate::error::df(span))?;
        }
        let plan = b.build().map_err(crate::error::df(span))?;
        Ok(Tab::new(plan))
    }
}
