//! `mv-apply [with_itemindex=I] items [limit n] on (subquery)` (mv-apply-operator.md): each
//! row's arrays expanded into a subtable, the subquery applied to each subtable, the row's
//! other columns added to its results, the union of all.
//!
//! Vectorised, not row by row: every row gets an id (`__mva_row`), the arrays are expanded
//! as `mv-expand` does, and the subquery is planned once over all subtables with the id as
//! an extra key of every operator whose result depends on its rows' grouping: `summarize`
//! and `count` group by it, `take` and `top` keep n rows per id (a window), `sort` sorts
//! within it, `project`, `project-keep` and `distinct` keep it. Operators that act row by
//! row (`where`, `extend`, `parse`, `parse-kv`, `mv-expand`, `project-away`,
//! `project-rename`, `project-reorder`, `as`) are planned as they are; any other operator
//! in the subquery is refused as not implemented. The results are joined back to the rows'
//! other columns by id, in input order.

use datafusion_common::JoinType;
use datafusion_expr::{Expr, ExprFunctionExt, LogicalPlanBuilder, SortExpr, lit};
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind, Ident, MvExpandItem, NamedExpr, OpParam, OperatorKind};

use super::build;
use crate::error::{Result, df, not_implemented, semantic};
use crate::leaf::{Tab, column, const_usize, operator_name, visible_columns};
use crate::naming::{expr_name, next_column_name};
use crate::planner::Planner;

const ROW: &str = "__mva_row";

fn key_named(span: Span) -> NamedExpr {
    NamedExpr {
        names: Vec::new(),
        paren_names: false,
        expr: ast::Expr::new(ExprKind::Name(Ident::new(ROW, span)), span),
    }
}

/// The operators of a subquery pipeline, first to last (its source is the implicit input).
fn pipeline(e: &ast::Expr) -> Result<Vec<&ast::Operator>> {
    match &e.kind {
        ExprKind::Paren(inner) => pipeline(inner),
        ExprKind::Pipe { input, op } => {
            let mut ops = pipeline(input)?;
            ops.push(op);
            Ok(ops)
        }
        ExprKind::Source(op) if matches!(&op.kind, OperatorKind::Raw { name, .. } if name == "__implicit_input") => {
            Ok(Vec::new())
        }
        _ => Err(semantic(
            e.span(),
            "mv-apply: the subquery must start from its subtable (no source)",
        )),
    }
}

fn names(t: &Tab) -> Vec<String> {
    t.plan
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

impl Planner<'_> {
    /// `mv-apply ... on (subquery)`.
    pub(crate) fn mv_apply(
        &mut self,
        t: Tab,
        params: &[OpParam],
        items: &[MvExpandItem],
        limit: Option<&ast::Expr>,
        subquery: &ast::Expr,
        span: Span,
    ) -> Result<Tab> {
        let ops = pipeline(subquery)?;
        // Every row gets an id.
        let input = visible_columns(t.plan.schema());
        let id = datafusion_functions_window::expr_fn::row_number();
        let id_name = id.schema_name().to_string();
        let with_id =
            LogicalPlanBuilder::window_plan(t.plan.clone(), vec![id]).map_err(df(span))?;
        let mut exprs: Vec<Expr> = input.iter().map(|n| column(n)).collect();
        exprs.push(
            Expr::Cast(datafusion_expr::Cast::new(
                Box::new(column(&id_name)),
                arrow::datatypes::DataType::Int64,
            ))
            .alias(ROW),
        );
        let with_id = build(LogicalPlanBuilder::from(with_id).project(exprs), span)?;
        // The expanded items' names, as mv-expand gives them.
        let mut taken = input.clone();
        taken.push(ROW.to_string());
        let mut counter = 0usize;
        let mut item_names = Vec::new();
        for it in items {
            item_names.push(match it.item.names.as_slice() {
                [n] => n.name.clone(),
                _ => expr_name(&it.item.expr)
                    .unwrap_or_else(|| next_column_name(&mut counter, &taken)),
            });
        }
        let index = params
            .iter()
            .find_map(|p| match (&p.name[..], &p.value.kind) {
                ("with_itemindex", ExprKind::Name(id)) => Some(id.name.clone()),
                _ => None,
            });
        let expanded = self.mv_expand(Tab::new(with_id.clone()), params, items, limit, span)?;
        // The subtables: the items (and the index) with the row id.
        let mut sub_cols: Vec<Expr> = vec![column(ROW)];
        sub_cols.extend(item_names.iter().map(|n| column(n)));
        if let Some(i) = &index {
            sub_cols.push(column(i));
        }
        let sub = build(
            LogicalPlanBuilder::from(expanded.plan).project(sub_cols),
            span,
        )?;
        let mut cur = Tab::new(sub);
        for op in ops {
            cur = self.apply_op(cur, op)?;
        }
        let result = self.finish(cur)?;
        let result_names: Vec<String> = result
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| n != ROW)
            .collect();
        if result.schema().field_with_unqualified_name(ROW).is_err() {
            return Err(semantic(
                span,
                "mv-apply: the subquery lost its rows' identity",
            ));
        }
        // The rows' other columns, joined back by id.
        let carried: Vec<String> = input
            .iter()
            .filter(|n| !item_names.contains(n) && !result_names.contains(n))
            .cloned()
            .collect();
        let mut left: Vec<Expr> = vec![column(ROW).alias("__mva_left")];
        left.extend(carried.iter().map(|n| column(n)));
        let left = build(LogicalPlanBuilder::from(with_id).project(left), span)?;
        let joined = build(
            LogicalPlanBuilder::from(left).join(
                result,
                JoinType::Inner,
                (vec!["__mva_left"], vec![ROW]),
                None,
            ),
            span,
        )?;
        let mut out: Vec<Expr> = carried.iter().map(|n| column(n)).collect();
        out.extend(result_names.iter().map(|n| column(n)));
        let plan = build(
            LogicalPlanBuilder::from(joined)
                .sort(vec![SortExpr::new(column("__mva_left"), true, false)])
                .and_then(|b| b.project(out)),
            span,
        )?;
        Ok(Tab::new(plan))
    }

    /// One operator of an mv-apply subquery, with the row id as an extra key.
    fn apply_op(&mut self, t: Tab, op: &ast::Operator) -> Result<Tab> {
        let span = op.span.0;
        let with = |kind: OperatorKind| ast::Operator {
            kind,
            span: op.span,
        };
        match &op.kind {
            OperatorKind::Where { .. }
            | OperatorKind::Extend(_)
            | OperatorKind::Parse { .. }
            | OperatorKind::ParseKv { .. }
            | OperatorKind::MvExpand { .. }
            | OperatorKind::ProjectAway(_)
            | OperatorKind::ProjectRename(_)
            | OperatorKind::ProjectReorder(_)
            | OperatorKind::As { .. } => self.operator(t, op),
            OperatorKind::Project(items) => {
                let mut items = items.clone();
                items.push(key_named(span));
                self.operator(t, &with(OperatorKind::Project(items)))
            }
            OperatorKind::ProjectKeep(pats) => {
                let mut pats = pats.clone();
                pats.push(Ident::new(ROW, span));
                self.operator(t, &with(OperatorKind::ProjectKeep(pats)))
            }
            OperatorKind::Summarize { params, aggs, by } => {
                let mut by = by.clone();
                by.push(key_named(span));
                self.operator(
                    t,
                    &with(OperatorKind::Summarize {
                        params: params.clone(),
                        aggs: aggs.clone(),
                        by,
                    }),
                )
            }
            OperatorKind::Count(alias) => {
                let name = alias.clone().unwrap_or_else(|| Ident::new("Count", span));
                let count = NamedExpr {
                    names: vec![name],
                    paren_names: false,
                    expr: ast::Expr::new(
                        ExprKind::Call {
                            name: Ident::new("count", span),
                            args: Vec::new(),
                        },
                        span,
                    ),
                };
                self.operator(
                    t,
                    &with(OperatorKind::Summarize {
                        params: Vec::new(),
                        aggs: vec![count],
                        by: vec![key_named(span)],
                    }),
                )
            }
            OperatorKind::Distinct(items) => {
                if items.iter().any(|i| matches!(i.kind, ExprKind::Star)) {
                    return self.operator(t, op);
                }
                let mut items = items.clone();
                items.push(key_named(span).expr);
                self.operator(t, &with(OperatorKind::Distinct(items)))
            }
            OperatorKind::Take { count, .. } => self.per_row(t, count, &[], span),
            OperatorKind::Top { count, key } => {
                self.per_row(t, count, std::slice::from_ref(key), span)
            }
            OperatorKind::Sort { keys, .. } => {
                let mut sort = vec![SortExpr::new(column(ROW), true, false)];
                sort.extend(self.sort_keys(&t, keys)?);
                let plan = build(LogicalPlanBuilder::from(t.plan).sort(sort.clone()), span)?;
                let mut out = Tab::new(plan);
                out.order = Some(sort);
                Ok(out)
            }
            other => Err(not_implemented(
                span,
                format!("{} inside mv-apply", operator_name(other)),
            )),
        }
    }

    /// `take n` / `top n by k` per row id: a window numbering each id's rows.
    fn per_row(&mut self, t: Tab, n: &ast::Expr, keys: &[ast::SortKey], span: Span) -> Result<Tab> {
        let count = const_usize(&self.const_value(n, t.row())?, n.span())?;
        let order = self.sort_keys(&t, keys)?;
        let w = datafusion_functions_window::expr_fn::row_number().partition_by(vec![column(ROW)]);
        let w = if order.is_empty() {
            w.build()
        } else {
            w.order_by(order.clone()).build()
        }
        .map_err(df(span))?;
        let wname = w.schema_name().to_string();
        let back: Vec<Expr> = names(&t).iter().map(|c| column(c)).collect();
        let plan = LogicalPlanBuilder::window_plan(t.plan, vec![w]).map_err(df(span))?;
        let plan = build(
            LogicalPlanBuilder::from(plan)
                .filter(column(&wname).lt_eq(lit(count as u64)))
                .and_then(|b| b.project(back)),
            span,
        )?;
        let mut out = Tab::new(plan);
        if !order.is_empty() {
            let mut o = vec![SortExpr::new(column(ROW), true, false)];
            o.extend(order);
            out.order = Some(o);
        }
        Ok(out)
    }
}
