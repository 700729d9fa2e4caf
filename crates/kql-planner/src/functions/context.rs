//! Functions of the request's context: `now`, `ago`, the caller (`current_principal*`),
//! a row's hidden columns (`ingestion_time`, `extent_id`, `extent_tags`), and `toscalar`.

use std::sync::Arc;

use datafusion_common::ScalarValue;
use datafusion_expr::{Expr, lit};
use kql_functions::KqlType;
use kql_functions::catalog::Special;
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind};

use crate::error::{Result, df, internal, semantic};
use crate::leaf::{Row, call_udf};
use crate::planner::Planner;

/// The principal names given to `current_principal_is_member_of()`: string literals, or
/// one `dynamic([...])` array of string literals (Kusto accepts literals only).
fn principal_literals(args: &[ast::Expr], span: Span) -> Result<Vec<String>> {
    fn strings(d: &ast::Dynamic, out: &mut Vec<String>) -> bool {
        match d {
            ast::Dynamic::Scalar(l) => match l.as_ref() {
                ast::Literal::String { value, .. } => {
                    out.push(value.clone());
                    true
                }
                _ => false,
            },
            ast::Dynamic::Array(items) => items.iter().all(|i| strings(i, out)),
            ast::Dynamic::Null | ast::Dynamic::Object(_) | ast::Dynamic::Neg(_) => false,
        }
    }
    if args.is_empty() {
        return Err(semantic(
            span,
            "current_principal_is_member_of() expects at least one principal",
        ));
    }
    let mut out = Vec::new();
    for a in args {
        let ok = match &a.kind {
            ExprKind::Literal(ast::Literal::String { value, .. }) => {
                out.push(value.clone());
                true
            }
            ExprKind::Literal(ast::Literal::Dynamic(d)) => strings(d, &mut out),
            _ => false,
        };
        if !ok {
            return Err(semantic(
                a.span(),
                "current_principal_is_member_of() accepts only string literals or a dynamic array of string literals",
            ));
        }
    }
    Ok(out)
}

impl Planner<'_> {
    /// Plans a function of the request's context (`s` is one of this module's); `n` is the
    /// name as called.
    pub(crate) fn context_function(
        &mut self,
        n: &str,
        s: Special,
        args: &[ast::Expr],
        span: Span,
        row: Row<'_>,
    ) -> Result<Expr> {
        match s {
            Special::Now => {
                let now = lit(ScalarValue::TimestampNanosecond(Some(self.now), None));
                match args.first() {
                    Some(off) => {
                        let (o, _) = self.typed(off, row)?;
                        call_udf("__t_add", vec![now, o], span)
                    }
                    None => Ok(now),
                }
            }
            Special::HiddenColumn => crate::hidden::value(n, row.schema)
                .ok_or_else(|| semantic(span, format!("'{n}' is not a hidden-column function"))),
            Special::CurrentPrincipal => Ok(lit(self.ctx.principal().fqn)),
            Special::CurrentPrincipalDetails => Ok(lit(ScalarValue::LargeUtf8(Some(
                self.ctx.principal().details_json,
            )))),
            Special::CurrentPrincipalIsMemberOf => {
                let names = principal_literals(args, span)?;
                let mut member = false;
                for name in &names {
                    member |= self
                        .ctx
                        .principal_is_member_of(name)
                        .map_err(|m| semantic(span, m))?;
                }
                Ok(lit(member))
            }
            Special::Ago => {
                let (o, t) = self.typed(&args[0], row)?;
                if t != KqlType::TimeSpan {
                    return Err(semantic(span, format!("ago() expects a timespan, not {t}")));
                }
                let now = lit(ScalarValue::TimestampNanosecond(Some(self.now), None));
                call_udf("__t_sub", vec![now, o], span)
            }
            Special::ToScalar => {
                let target = args
                    .iter()
                    .find(|a| !matches!(a.kind, ExprKind::NamedArg { .. }));
                let Some(target) = target else {
                    return Err(semantic(span, "toscalar() needs an argument"));
                };
                let plan = if crate::planner::is_tabular_syntax(target, self) {
                    self.tabular_plan(target)?
                } else {
                    // A scalar: evaluated once, as Kusto does, through a one-row subquery.
                    let empty = Planner::empty_schema();
                    let x = self.scalar(
                        target,
                        Row {
                            schema: &empty,
                            order: None,
                        },
                    )?;
                    datafusion_expr::LogicalPlanBuilder::empty(true)
                        .project(vec![x.alias("__toscalar")])
                        .and_then(|b| b.build())
                        .map_err(df(span))?
                };
                let cols = crate::leaf::kql_columns(&plan)?;
                let Some((c, _)) = cols.first().cloned() else {
                    return Err(semantic(
                        span,
                        "toscalar() needs a tabular expression with a column",
                    ));
                };
                // A name of its own: DataFusion's type coercion sees a subquery's columns
                // next to the outer query's, and an outer column of the same name and
                // another type (`extend b = d | sort by toscalar(T | project b) < true`)
                // would win.
                let plan = datafusion_expr::LogicalPlanBuilder::from(plan)
                    .project(vec![
                        crate::leaf::column(&c).alias(format!("__toscalar_{}", span.start)),
                    ])
                    .and_then(|b| b.limit(0, Some(1)))
                    .and_then(|b| b.build())
                    .map_err(df(span))?;
                Ok(Expr::ScalarSubquery(datafusion_expr::Subquery {
                    subquery: Arc::new(plan),
                    outer_ref_columns: vec![],
                    spans: Default::default(),
                }))
            }
            other => Err(internal(format!("{other:?} is not a context function"))),
        }
    }
}
