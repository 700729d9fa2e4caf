//! [`Tab`]: a tabular value being planned (a plan, its row order, a render), and the
//! hidden columns that carry a sort order through operators that drop its keys.

use std::sync::Arc;

use datafusion_common::tree_node::{Transformed, TreeNode};
use datafusion_expr::{Expr, LogicalPlan, SortExpr};

use crate::Render;
use crate::error::{Result, df};
use crate::leaf::exprs::{Row, column};
use crate::leaf::plans::{ORDER_COLUMN, is_order_column, without_order_columns};

/// A tabular value being built: the plan, the row order if it is serialized, a render.
#[derive(Debug, Clone)]
pub(crate) struct Tab {
    pub(crate) plan: LogicalPlan,
    /// Sort keys when the rows are serialized (after sort/top/serialize).
    pub(crate) order: Option<Vec<SortExpr>>,
    /// The order must be re-applied at the end (operators after the sort).
    pub(crate) resort: bool,
    pub(crate) render: Option<Render>,
    /// The name given by `as` (used by `union withsource`).
    pub(crate) name: Option<String>,
}

impl Tab {
    pub(crate) fn new(plan: LogicalPlan) -> Tab {
        Tab {
            plan,
            order: None,
            resort: false,
            render: None,
            name: None,
        }
    }

    /// Replaces the plan by an order-preserving operator's one, keeping the order. When
    /// the operator removed or replaced a column the sort keys read (`project` without it,
    /// `extend k = ...`, `project-away k`), the column's old values travel on as a hidden
    /// column (`__kql_order_<name>`), and a renamed one is followed, so that window
    /// functions and the final re-sort still see the order. [`Planner::finish`] and the
    /// operators that drop the order remove hidden columns.
    pub(crate) fn with_plan(mut self, plan: LogicalPlan) -> Result<Tab> {
        let Some(order) = self.order.take() else {
            self.plan = plan;
            return Ok(self);
        };
        self.resort = true;
        let (plan, order) = carry_order(plan, order)?;
        self.plan = plan;
        self.order = Some(order);
        Ok(self)
    }

    /// This value without hidden order columns (before an operator that drops the order).
    pub(crate) fn without_order_columns(mut self) -> Result<Tab> {
        self.plan = without_order_columns(self.plan)?;
        self.order = None;
        self.resort = false;
        Ok(self)
    }

    pub(crate) fn row(&self) -> Row<'_> {
        Row {
            schema: self.plan.schema(),
            order: self.order.as_deref(),
        }
    }
}

/// Keeps the columns that `order` reads through the projection `plan` (see
/// [`Tab::with_plan`]); other plans keep every column, so they pass unchanged.
fn carry_order(plan: LogicalPlan, order: Vec<SortExpr>) -> Result<(LogicalPlan, Vec<SortExpr>)> {
    let LogicalPlan::Projection(p) = &plan else {
        return Ok((plan, order));
    };
    let mut refs: Vec<String> = Vec::new();
    for s in &order {
        for c in s.expr.column_refs() {
            if !refs.contains(&c.name) {
                refs.push(c.name.clone());
            }
        }
    }
    let schema = Arc::clone(plan.schema());
    let mut renames: Vec<(String, String)> = Vec::new();
    let mut lost: Vec<String> = Vec::new();
    for c in &refs {
        let kept = p.expr.iter().enumerate().find_map(|(i, e)| {
            let mut e = e;
            while let Expr::Alias(a) = e {
                e = &a.expr;
            }
            match e {
                Expr::Column(col) if col.name == *c => Some(schema.field(i).name().clone()),
                _ => None,
            }
        });
        match kept {
            Some(n) if n == *c => {}
            Some(n) => renames.push((c.clone(), n)),
            None => lost.push(c.clone()),
        }
    }
    if renames.is_empty() && lost.is_empty() {
        return Ok((plan, order));
    }
    let plan = if lost.is_empty() {
        plan
    } else {
        let hidden: Vec<String> = lost
            .iter()
            .map(|c| {
                if is_order_column(c) {
                    c.clone()
                } else {
                    format!("{ORDER_COLUMN}{c}")
                }
            })
            .collect();
        // A stale hidden column of an earlier order under the same name gives way.
        let mut exprs: Vec<Expr> = p
            .expr
            .iter()
            .enumerate()
            .filter(|(i, _)| !hidden.contains(schema.field(*i).name()))
            .map(|(_, e)| e.clone())
            .collect();
        for (c, h) in lost.iter().zip(hidden) {
            exprs.push(column(c).alias(h.clone()));
            renames.push((c.clone(), h));
        }
        let projection =
            datafusion_expr::Projection::try_new(exprs, Arc::clone(&p.input)).map_err(df(None))?;
        LogicalPlan::Projection(projection)
    };
    let order = order
        .into_iter()
        .map(|s| {
            let expr = s
                .expr
                .transform(|e| match &e {
                    Expr::Column(c) => match renames.iter().find(|(from, _)| *from == c.name) {
                        Some((_, to)) => Ok(Transformed::yes(column(to))),
                        None => Ok(Transformed::no(e)),
                    },
                    _ => Ok(Transformed::no(e)),
                })
                .map_err(df(None))?
                .data;
            Ok(SortExpr::new(expr, s.asc, s.nulls_first))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((plan, order))
}

/// One result table of a statement: its plan, its render, its name (`fork` legs).
pub(crate) type Leg = (LogicalPlan, Option<Render>, Option<String>);
