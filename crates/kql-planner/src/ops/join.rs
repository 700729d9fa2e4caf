//! `join` (every kind) and `lookup`.

use datafusion_common::{Column, JoinType};
use datafusion_expr::{Expr, LogicalPlanBuilder};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, BinaryOp, ExprKind, OpParam};

use super::build;
use crate::error::{Result, df, not_implemented, semantic};
use crate::leaf::{Tab, kql_columns};
use crate::leaf::{cast_to, column};
use crate::naming::unique;
use crate::planner::Planner;

/// The join kinds of KQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    InnerUnique,
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
    LeftSemi,
    RightSemi,
    LeftAnti,
    RightAnti,
}

fn param_text(p: &OpParam) -> String {
    match &p.value.kind {
        ExprKind::Name(id) => id.name.clone(),
        ExprKind::Literal(ast::Literal::String { value, .. }) => value.clone(),
        _ => p.value.to_string(),
    }
}

/// `$left.a` → `a` (side 0), `$right.b` → `b` (side 1).
fn side_column(e: &ast::Expr) -> Option<(u8, String)> {
    if let ExprKind::Member { expr, name } = &e.kind
        && let ExprKind::Name(id) = &expr.kind
    {
        match id.name.as_str() {
            "$left" => return Some((0, name.name.clone())),
            "$right" => return Some((1, name.name.clone())),
            _ => {}
        }
    }
    None
}

/// The type two join keys are compared as: the same type, or int with long (Kusto refuses
/// others, e.g. long with real: "Inconsistent data types for join keys").
fn join_comparable(a: KqlType, b: KqlType) -> Option<KqlType> {
    match (a, b) {
        _ if a == b => Some(a),
        (KqlType::Int, KqlType::Long) | (KqlType::Long, KqlType::Int) => Some(KqlType::Long),
        _ => None,
    }
}

/// The key pairs of an `on` clause: (left column, right column, written as a common column).
fn on_pairs(on: &[ast::Expr], out: &mut Vec<(String, String, bool)>) -> Result<()> {
    for c in on {
        match &c.kind {
            ExprKind::Name(id) => out.push((id.name.clone(), id.name.clone(), true)),
            ExprKind::Binary {
                op: BinaryOp::And,
                left,
                right,
            } => {
                on_pairs(std::slice::from_ref(left), out)?;
                on_pairs(std::slice::from_ref(right), out)?;
            }
            ExprKind::Binary {
                op: BinaryOp::Eq,
                left,
                right,
            } => match (side_column(left), side_column(right)) {
                (Some((0, l)), Some((1, r))) | (Some((1, r)), Some((0, l))) => {
                    out.push((l, r, false))
                }
                _ => {
                    return Err(semantic(
                        c.span(),
                        "join conditions must compare $left.column with $right.column",
                    ));
                }
            },
            ExprKind::Paren(inner) => on_pairs(std::slice::from_ref(inner), out)?,
            _ => {
                return Err(not_implemented(
                    c.span(),
                    "join conditions other than equality",
                ));
            }
        }
    }
    Ok(())
}

impl Planner<'_> {
    pub(crate) fn join(
        &mut self,
        left: Tab,
        params: &[OpParam],
        right: &ast::Expr,
        on: &[ast::Expr],
        span: Span,
        lookup: bool,
    ) -> Result<Tab> {
        let mut kind = if lookup {
            Kind::LeftOuter
        } else {
            Kind::InnerUnique
        };
        for p in params {
            if p.name == "kind" {
                let v = param_text(p);
                kind = match v.as_str() {
                    "innerunique" if !lookup => Kind::InnerUnique,
                    "inner" => Kind::Inner,
                    "leftouter" => Kind::LeftOuter,
                    "rightouter" if !lookup => Kind::RightOuter,
                    "fullouter" if !lookup => Kind::FullOuter,
                    "leftsemi" if !lookup => Kind::LeftSemi,
                    "rightsemi" if !lookup => Kind::RightSemi,
                    "leftanti" | "anti" | "leftantisemi" if !lookup => Kind::LeftAnti,
                    "rightanti" | "rightantisemi" if !lookup => Kind::RightAnti,
                    other => {
                        return Err(semantic(
                            p.value.span(),
                            format!(
                                "Unknown {} kind '{other}'",
                                if lookup { "lookup" } else { "join" }
                            ),
                        ));
                    }
                };
            } else if !p.name.starts_with("hint.") {
                return Err(not_implemented(span, format!("join parameter {}", p.name)));
            }
        }
        let right = self.tabular_plan(right)?;
        let mut pairs = Vec::new();
        on_pairs(on, &mut pairs)?;
        if pairs.is_empty() {
            return Err(semantic(span, "join needs at least one 'on' condition"));
        }
        let lcols = kql_columns(&left.plan)?;
        let rcols = kql_columns(&right)?;
        let ltype = |n: &str| lcols.iter().find(|(c, _)| c == n).map(|(_, t)| *t);
        let rtype = |n: &str| rcols.iter().find(|(c, _)| c == n).map(|(_, t)| *t);
        let mut lkeys = Vec::new();
        let mut rkeys = Vec::new();
        for (l, r, common) in &pairs {
            let lt = ltype(l).ok_or_else(|| {
                semantic(
                    span,
                    format!("Failed to resolve column named '{l}' on the left side of the join"),
                )
            })?;
            let rt = rtype(r).ok_or_else(|| {
                semantic(
                    span,
                    format!("Failed to resolve column named '{r}' on the right side of the join"),
                )
            })?;
            // Kusto (KS241, KS227, KS242): no dynamic keys; a common column has one type
            // on both sides; `$left.a == $right.b` needs comparable types.
            if lt == KqlType::Dynamic || rt == KqlType::Dynamic {
                return Err(semantic(span, "Join keys cannot be dynamic"));
            }
            if *common && lt != rt {
                return Err(semantic(
                    span,
                    format!(
                        "The common column '{l}' must have the same type on both sides of the join ({lt}, {rt})"
                    ),
                ));
            }
            let ct = join_comparable(lt, rt).ok_or_else(|| {
                semantic(
                    span,
                    format!("Inconsistent data types for join keys '{l}' and '{r}': ({lt}, {rt})"),
                )
            })?;
            lkeys.push((l.clone(), lt, ct));
            rkeys.push((r.clone(), rt, ct));
        }

        // innerunique: one (arbitrary) left row per key.
        let mut lplan = left.plan.clone();
        if kind == Kind::InnerUnique {
            let on_exprs: Vec<Expr> = lkeys.iter().map(|(n, _, _)| column(n)).collect();
            let select: Vec<Expr> = lcols.iter().map(|(n, _)| column(n)).collect();
            lplan = build(
                LogicalPlanBuilder::from(lplan).distinct_on(on_exprs, select, None),
                span,
            )?;
            lplan = crate::leaf::unqualify(lplan, span)?;
        }

        // Key columns cast to a common type are added as hidden columns on each side.
        let with_keys = |plan: datafusion_expr::LogicalPlan,
                         cols: &[(String, KqlType)],
                         keys: &[(String, KqlType, KqlType)],
                         prefix: &str| {
            let mut exprs: Vec<Expr> = cols.iter().map(|(n, _)| column(n)).collect();
            for (i, (n, t, ct)) in keys.iter().enumerate() {
                exprs.push(cast_to(column(n), *t, *ct).alias(format!("{prefix}{i}")));
            }
            build(LogicalPlanBuilder::from(plan).project(exprs), span)
        };
        let lplan = with_keys(lplan, &lcols, &lkeys, "__lk")?;
        let rplan = with_keys(right, &rcols, &rkeys, "__rk")?;
        let lplan = build(LogicalPlanBuilder::from(lplan).alias("__l"), span)?;
        let rplan = build(LogicalPlanBuilder::from(rplan).alias("__r"), span)?;
        let lk: Vec<Column> = (0..lkeys.len())
            .map(|i| Column::new(Some("__l"), format!("__lk{i}")))
            .collect();
        let rk: Vec<Column> = (0..rkeys.len())
            .map(|i| Column::new(Some("__r"), format!("__rk{i}")))
            .collect();
        let jt = match kind {
            Kind::InnerUnique | Kind::Inner => JoinType::Inner,
            Kind::LeftOuter => JoinType::Left,
            Kind::RightOuter => JoinType::Right,
            Kind::FullOuter => JoinType::Full,
            Kind::LeftSemi => JoinType::LeftSemi,
            Kind::RightSemi => JoinType::RightSemi,
            Kind::LeftAnti => JoinType::LeftAnti,
            Kind::RightAnti => JoinType::RightAnti,
        };
        let joined = build(
            LogicalPlanBuilder::from(lplan).join(rplan, jt, (lk, rk), None),
            span,
        )?;

        let lref = |n: &str| Expr::Column(Column::new(Some("__l"), n));
        let rref = |n: &str| Expr::Column(Column::new(Some("__r"), n));
        let mut exprs = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let left_out = !matches!(kind, Kind::RightSemi | Kind::RightAnti);
        let right_out = !matches!(kind, Kind::LeftSemi | Kind::LeftAnti);
        if left_out {
            for (n, _) in &lcols {
                names.push(n.clone());
                exprs.push(lref(n).alias(n.clone()));
            }
        }
        if right_out {
            let left_names: Vec<String> = lcols.iter().map(|(n, _)| n.clone()).collect();
            for (n, _) in &rcols {
                if lookup && pairs.iter().any(|(_, r, _)| r == n) {
                    continue;
                }
                let out = if left_out {
                    let mut taken = names.clone();
                    taken.extend(left_names.iter().cloned());
                    if taken.contains(n) {
                        taken.extend(rcols.iter().map(|(r, _)| r.clone()).filter(|r| r != n));
                    }
                    unique(n, &taken)
                } else {
                    n.clone()
                };
                names.push(out.clone());
                exprs.push(rref(n).alias(out));
            }
        }
        let plan = build(LogicalPlanBuilder::from(joined).project(exprs), span).map_err(|e| {
            if e.message.contains("Schema") {
                semantic(span, e.message)
            } else {
                e
            }
        })?;
        let _ = df(span);
        Ok(Tab::new(plan))
    }
}
