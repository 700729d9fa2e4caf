//! Small builders the analytics plugins share: AST nodes for expressions planned over a
//! plugin's intermediate tables, and plan steps.

use datafusion_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use kql_syntax::Span;
use kql_syntax::ast::{self, BinaryOp, ExprKind, Ident};

use crate::error::{Result, df};
use crate::leaf::column;

/// A column reference in the syntax tree.
pub(crate) fn name(n: &str, span: Span) -> ast::Expr {
    ast::Expr::new(ExprKind::Name(Ident::new(n, span)), span)
}

/// `l op r` in the syntax tree.
pub(crate) fn binary(op: BinaryOp, l: ast::Expr, r: ast::Expr, span: Span) -> ast::Expr {
    ast::Expr::new(
        ExprKind::Binary {
            op,
            left: Box::new(l),
            right: Box::new(r),
        },
        span,
    )
}

/// `f(args)` in the syntax tree.
pub(crate) fn call(f: &str, args: Vec<ast::Expr>, span: Span) -> ast::Expr {
    ast::Expr::new(
        ExprKind::Call {
            name: Ident::new(f, span),
            args,
        },
        span,
    )
}

/// Every column of `plan`, by name.
pub(crate) fn all_columns(plan: &LogicalPlan) -> Vec<Expr> {
    plan.schema()
        .fields()
        .iter()
        .map(|f| column(f.name()))
        .collect()
}

/// `plan` with the window expression `w` as column `as_name`.
pub(crate) fn with_window(
    plan: LogicalPlan,
    w: Expr,
    as_name: &str,
    span: Span,
) -> Result<LogicalPlan> {
    let mut keep = all_columns(&plan);
    let wname = w.schema_name().to_string();
    let plan = LogicalPlanBuilder::window_plan(plan, vec![w]).map_err(df(span))?;
    keep.push(column(&wname).alias(as_name));
    LogicalPlanBuilder::from(plan)
        .project(keep)
        .and_then(|b| b.build())
        .map_err(df(span))
}
