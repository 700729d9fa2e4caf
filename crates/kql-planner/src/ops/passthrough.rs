//! Operators that hand their input on or swallow it: `assert-schema`, `consume`,
//! `invoke`.
//!
//! * `assert-schema (c: t, ...)`: the input unchanged when it has every declared column
//!   with its declared type; otherwise the query fails naming the first difference.
//! * `consume`: the input is computed and nothing is returned (no rows, no columns).
//! * `invoke f(args)`: `f(T, args)` for a function whose first parameter is tabular.

use datafusion_expr::{LogicalPlanBuilder, lit};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, ColumnDecl, ExprKind, Ident, OpParam};

use super::build;
use crate::error::{Result, semantic};
use crate::leaf::{Tab, kql_type};
use crate::planner::Planner;
use crate::scope::Binding;

impl Planner<'_> {
    /// `assert-schema (cols)`.
    pub(crate) fn assert_schema(&mut self, t: Tab, cols: &[ColumnDecl], span: Span) -> Result<Tab> {
        for c in cols {
            let want = KqlType::from_name(&c.ty.name)
                .ok_or_else(|| semantic(c.ty.span.0, format!("Unknown type '{}'", c.ty.name)))?;
            let field = t
                .plan
                .schema()
                .fields()
                .iter()
                .find(|f| f.name() == &c.name.name)
                .cloned();
            let Some(field) = field else {
                return Err(semantic(
                    span,
                    format!("assert-schema: the input has no column '{}'", c.name.name),
                ));
            };
            let got = kql_type(field.data_type(), span)?;
            if got != want {
                return Err(semantic(
                    span,
                    format!(
                        "assert-schema: column '{}' is {got}, not {want}",
                        c.name.name
                    ),
                ));
            }
        }
        Ok(t)
    }

    /// `consume [decodeblocks=b]`: no rows and no columns.
    pub(crate) fn consume(&mut self, t: Tab, params: &[OpParam], span: Span) -> Result<Tab> {
        if let Some(p) = params.iter().find(|p| p.name != "decodeblocks") {
            return Err(semantic(
                p.value.span(),
                format!("Unknown consume parameter '{}'", p.name),
            ));
        }
        let plan = build(
            LogicalPlanBuilder::from(t.plan)
                .filter(lit(false))
                .and_then(|b| b.project(Vec::<datafusion_expr::Expr>::new())),
            span,
        )?;
        Ok(Tab::new(plan))
    }

    /// `invoke f(args)`: the input becomes the function's first (tabular) argument.
    pub(crate) fn invoke(&mut self, t: Tab, call: &ast::Expr, span: Span) -> Result<Tab> {
        let ExprKind::Call { name, args } = &call.kind else {
            return Err(semantic(
                call.span(),
                "invoke expects a function call: invoke f(...)",
            ));
        };
        let input = format!("__invoke_input_{}", span.start);
        let plan = self.finish(t)?;
        let saved = self.scope.get(&input).cloned();
        self.scope.set(&input, Binding::Tabular(plan));
        let mut all = vec![ast::Expr::new(
            ExprKind::Name(Ident::new(input.clone(), call.span())),
            call.span(),
        )];
        all.extend(args.iter().cloned());
        let call = ast::Expr::new(
            ExprKind::Call {
                name: name.clone(),
                args: all,
            },
            call.span(),
        );
        let r = self.tab(&call);
        match saved {
            Some(b) => self.scope.set(&input, b),
            None => self.scope.remove(&input),
        }
        r
    }
}
