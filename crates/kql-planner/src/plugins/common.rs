//! Small builders the analytics plugins share: AST nodes for expressions planned over a
//! plugin's intermediate tables, and plan steps.

use datafusion_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use kql_syntax::Span;
use kql_syntax::ast::{self, BinaryOp, ExprKind, Ident};

use kql_functions::KqlType;

use super::Args;
use crate::error::{Result, df};
use crate::leaf::{Tab, cast_to, column};
use crate::planner::Planner;

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

/// The column of the input that argument `e` of `plugin` names (`what`: "id column", ...).
pub(crate) fn input_column(
    schema: &datafusion_common::DFSchema,
    e: &ast::Expr,
    plugin: &str,
    what: &str,
) -> Result<String> {
    match &e.kind {
        ExprKind::Name(id) if schema.fields().iter().any(|f| f.name() == &id.name) => {
            Ok(id.name.clone())
        }
        _ => Err(crate::error::semantic(
            e.span(),
            format!("{plugin}(): the {what} must be a column of the input"),
        )),
    }
}

/// The arguments the activity plugins share: `id, t, start, end` and the dimensions.
pub(crate) struct Timeline<'a> {
    pub(crate) id: String,
    pub(crate) time: String,
    pub(crate) time_t: KqlType,
    pub(crate) start: &'a ast::Expr,
    pub(crate) end: &'a ast::Expr,
    pub(crate) dims: Vec<String>,
}

/// How a plugin reads its [`Timeline`].
pub(crate) struct TimelineSpec<'s> {
    /// The plugin's name, for messages.
    pub(crate) plugin: &'s str,
    /// The positional arguments before the dimensions.
    pub(crate) fixed: usize,
    /// What the step argument is called in messages ("step", "window").
    pub(crate) step_word: &'s str,
    /// The name of the bin column added.
    pub(crate) bin: &'s str,
    /// Leave out the rows whose id is null.
    pub(crate) drop_null_ids: bool,
}

impl Planner<'_> {
    /// Plans `e` over the columns of `plan`, as type `want` when given.
    pub(crate) fn over(
        &mut self,
        plan: &LogicalPlan,
        e: &ast::Expr,
        want: Option<KqlType>,
    ) -> Result<Expr> {
        let t = Tab::new(plan.clone());
        let (x, xt) = self.typed(e, t.row())?;
        Ok(match want {
            Some(w) if w != xt => cast_to(x, xt, w),
            _ => x,
        })
    }

    /// `plan` with `e` as column `as_name`.
    pub(crate) fn extend_with(
        &mut self,
        plan: LogicalPlan,
        as_name: &str,
        e: &ast::Expr,
        want: Option<KqlType>,
        span: Span,
    ) -> Result<LogicalPlan> {
        let x = self.over(&plan, e, want)?;
        let mut cols = all_columns(&plan);
        cols.push(x.alias(as_name));
        LogicalPlanBuilder::from(plan)
            .project(cols)
            .and_then(|b| b.build())
            .map_err(df(span))
    }

    /// Reads `id, t, start, end` and the dimensions after the `fixed` arguments; gives the
    /// input's rows in `start .. end` with the bin `bin_at(t, step, start)` as `spec.bin`.
    pub(crate) fn timeline<'a>(
        &mut self,
        t: &Tab,
        args: &Args<'a>,
        spec: &TimelineSpec<'_>,
        step: &ast::Expr,
        span: Span,
    ) -> Result<(Timeline<'a>, LogicalPlan)> {
        let (plugin, fixed) = (spec.plugin, spec.fixed);
        if !args.named.is_empty() || args.positional.len() < fixed {
            return Err(crate::error::semantic(
                span,
                format!("{plugin}() expects {fixed} positional arguments and optional dimensions"),
            ));
        }
        let p = &args.positional;
        let row = t.row();
        let id = input_column(row.schema, p[0], plugin, "id column")?;
        let time = input_column(row.schema, p[1], plugin, "timeline column")?;
        let mut dims: Vec<String> = Vec::new();
        for d in &p[fixed..] {
            let d = input_column(row.schema, d, plugin, "dimension")?;
            if d == id || d == time || dims.contains(&d) {
                return Err(crate::error::semantic(
                    span,
                    format!("{plugin}(): column '{d}' is given twice"),
                ));
            }
            dims.push(d);
        }
        let (_, time_t) = self.typed(p[1], row)?;
        if !matches!(
            time_t,
            KqlType::DateTime | KqlType::Long | KqlType::Int | KqlType::Real | KqlType::Decimal
        ) {
            return Err(crate::error::semantic(
                p[1].span(),
                format!("{plugin}(): the timeline column must be a datetime or a number"),
            ));
        }
        let step_t = self.typed(step, row)?.1;
        if matches!(step_t, KqlType::String | KqlType::Dynamic | KqlType::Bool) {
            return Err(crate::error::semantic(
                step.span(),
                format!(
                    "{plugin}(): the {} must be a number or a timespan",
                    spec.step_word
                ),
            ));
        }
        let tl = Timeline {
            id,
            time,
            time_t,
            start: p[2],
            end: p[3],
            dims,
        };
        let tcol = name(&tl.time, span);
        let keep = binary(
            BinaryOp::And,
            binary(BinaryOp::GtEq, tcol.clone(), tl.start.clone(), span),
            binary(BinaryOp::LtEq, tcol.clone(), tl.end.clone(), span),
            span,
        );
        let mut k = self.over(&t.plan, &keep, Some(KqlType::Bool))?;
        if spec.drop_null_ids {
            k = k.and(column(&tl.id).is_not_null());
        }
        let plan = LogicalPlanBuilder::from(t.plan.clone())
            .filter(k)
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let bin = call("bin_at", vec![tcol, step.clone(), tl.start.clone()], span);
        let plan = self.extend_with(plan, spec.bin, &bin, Some(tl.time_t), span)?;
        Ok((tl, plan))
    }
}
