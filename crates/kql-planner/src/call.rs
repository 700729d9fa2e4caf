//! Function calls in scalar context: user-defined functions first, then the function
//! catalog (`kql_functions::Registry`), whose entry says how the call is planned: a UDF,
//! a planner-built function (`functions/`), a window function, an aggregate's result.

use datafusion_expr::Expr;
use kql_functions::catalog::{FunctionKind, ScalarImpl, Special, WindowImpl};
use kql_functions::{KqlType, Registry};
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind, Ident, StatementKind};

use crate::error::{Result, not_implemented, semantic};
use crate::leaf::{Row, call_udf, cast_to, kql_type, type_of};
use crate::planner::Planner;
use crate::scope::Binding;

impl Planner<'_> {
    pub(crate) fn call(
        &mut self,
        name: &Ident,
        args: &[ast::Expr],
        span: Span,
        row: Row<'_>,
    ) -> Result<Expr> {
        let n = name.name.as_str();
        // User-defined functions shadow built-ins.
        if let Some(Binding::Function(lambda, env)) = self.scope.get(n).cloned() {
            return self.call_user_scalar(n, &lambda, env, args, span, row, None);
        }
        let Some(f) = Registry::global().function(n) else {
            if let Some(f) = self.find_function(n) {
                let lambda = crate::leaf::parse_stored_function(n, &f.text, span)?;
                return self.call_user_scalar(
                    n,
                    &lambda,
                    crate::scope::Scope::default(),
                    args,
                    span,
                    row,
                    None,
                );
            }
            if self.scope.get(n).is_some() || self.has_table(n) {
                return Err(semantic(span, format!("'{n}' is not a function")));
            }
            return Err(semantic(span, format!("Unknown function: '{n}'")));
        };
        if !f.arity.accepts(args.len()) {
            return Err(semantic(
                span,
                format!(
                    "Function '{n}' expects {} arguments, got {}",
                    f.arity.describe(),
                    args.len()
                ),
            ));
        }
        match &f.kind {
            FunctionKind::Scalar(ScalarImpl::Udf(_)) => self.call_scalar_udf(name, args, span, row),
            FunctionKind::Scalar(ScalarImpl::Special(s)) => match s {
                Special::Iff
                | Special::Case
                | Special::IsNull
                | Special::IsNotNull
                | Special::IsEmpty
                | Special::IsNotEmpty
                | Special::Coalesce
                | Special::Not => self.conditional(*s, args, span, row),
                Special::Now
                | Special::Ago
                | Special::ToScalar
                | Special::CurrentPrincipal
                | Special::CurrentPrincipalDetails
                | Special::CurrentPrincipalIsMemberOf
                | Special::HiddenColumn => self.context_function(n, *s, args, span, row),
                Special::Materialize | Special::Table => Err(semantic(
                    span,
                    format!("{n}() returns a table, not a scalar"),
                )),
            },
            FunctionKind::Window(WindowImpl::Builtin(w)) => {
                self.builtin_window(*w, args, span, row)
            }
            FunctionKind::Window(WindowImpl::Udwf(w)) => self.window_udf(w, args, span, row),
            FunctionKind::Aggregate { .. } => {
                match self
                    .agg_columns
                    .get(&(span.start, span.end))
                    .map(Vec::as_slice)
                {
                    Some([c]) => Ok(crate::leaf::column(c)),
                    Some(_) => Err(semantic(
                        span,
                        format!(
                            "'{n}' with several results must be the whole summarize expression"
                        ),
                    )),
                    None => Err(semantic(
                        span,
                        format!("Function '{n}' is an aggregate and can only be used in summarize"),
                    )),
                }
            }
            FunctionKind::Plugin(_) => Err(semantic(
                span,
                format!("'{n}' is a plugin: call it with evaluate"),
            )),
        }
    }

    /// A scalar function implemented by a catalog UDF, called with the planned arguments.
    fn call_scalar_udf(
        &mut self,
        name: &Ident,
        args: &[ast::Expr],
        span: Span,
        row: Row<'_>,
    ) -> Result<Expr> {
        let n = name.name.as_str();
        // extract(regex, group, text, typeof(T)): the result converted to T.
        if n == "extract"
            && args.len() == 4
            && let ExprKind::TypeOf {
                scalar: Some(t), ..
            } = &args[3].kind
        {
            let kt = KqlType::from_name(&t.name)
                .ok_or_else(|| semantic(t.span.0, format!("Unknown type '{}'", t.name)))?;
            let inner = self.call(name, &args[..3], span, row)?;
            return match crate::leaf::conversion_of(kt) {
                None => Ok(inner),
                Some(conv) => call_udf(conv, vec![inner], span),
            };
        }
        let mut planned = Vec::new();
        for a in args {
            if let ExprKind::NamedArg { .. } = a.kind {
                return Err(not_implemented(
                    a.span(),
                    format!("named arguments of {n}()"),
                ));
            }
            planned.push(self.scalar(a, row)?);
        }
        let x = call_udf(n, planned, span)?;
        // Type-check now so that errors point at the call.
        type_of(&x, row.schema, span)?;
        Ok(x)
    }

    /// Inlines a user-defined function with a scalar body; the arguments are planned where
    /// the call is, the body in `home` when it is another database (`database("D").F(x)`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call_user_scalar(
        &mut self,
        name: &str,
        lambda: &ast::Lambda,
        env: crate::scope::Scope,
        args: &[ast::Expr],
        span: Span,
        row: Row<'_>,
        home: Option<String>,
    ) -> Result<Expr> {
        let bound = self.bind_params(name, lambda, args, span, row)?;
        let saved = std::mem::replace(&mut self.scope, env);
        for (pname, b) in bound {
            self.scope.set(&pname, b);
        }
        let r = self.in_database(home, |this| this.function_body_scalar(lambda, row));
        self.scope = saved;
        r
    }

    fn function_body_scalar(&mut self, lambda: &ast::Lambda, row: Row<'_>) -> Result<Expr> {
        let Some((last, lets)) = lambda.body.split_last() else {
            return Err(semantic(None, "Empty function body"));
        };
        for st in lets {
            self.statement(st)?;
        }
        match &last.kind {
            StatementKind::Expr(e) => {
                if crate::planner::is_tabular_syntax(e, self) {
                    return Err(semantic(
                        e.span(),
                        "This function returns a table; it cannot be used as a scalar",
                    ));
                }
                self.scalar(e, row)
            }
            _ => Err(semantic(
                last.span.0,
                "A function body must end with an expression",
            )),
        }
    }

    /// Binds call arguments to parameters (with defaults). Tabular arguments are planned.
    pub(crate) fn bind_params(
        &mut self,
        name: &str,
        lambda: &ast::Lambda,
        args: &[ast::Expr],
        span: Span,
        row: Row<'_>,
    ) -> Result<Vec<(String, Binding)>> {
        if args.len() > lambda.params.len() {
            return Err(semantic(
                span,
                format!(
                    "Function '{name}' expects at most {} arguments, got {}",
                    lambda.params.len(),
                    args.len()
                ),
            ));
        }
        let mut out = Vec::new();
        for (i, p) in lambda.params.iter().enumerate() {
            let arg = args.get(i);
            match &p.ty {
                ast::ParamType::Tabular { .. } => {
                    let Some(a) = arg else {
                        return Err(semantic(
                            span,
                            format!("Missing tabular argument '{}'", p.name.name),
                        ));
                    };
                    let plan = self.tabular_plan(a)?;
                    out.push((p.name.name.clone(), Binding::Tabular(plan)));
                }
                ast::ParamType::Scalar(t) => {
                    let kt = KqlType::from_name(&t.name)
                        .ok_or_else(|| semantic(t.span.0, format!("Unknown type '{}'", t.name)))?;
                    let (x, xt) = match (arg, &p.default) {
                        (Some(a), _) => self.typed(a, row)?,
                        (None, Some(d)) => self.typed(d, row)?,
                        (None, None) => {
                            return Err(semantic(
                                span,
                                format!("Missing argument '{}' of '{name}'", p.name.name),
                            ));
                        }
                    };
                    if xt != kt && !(xt.is_numeric() && kt.is_numeric()) && xt != KqlType::Dynamic {
                        return Err(semantic(
                            span,
                            format!(
                                "Argument '{}' of '{name}' must be {kt}, not {xt}",
                                p.name.name
                            ),
                        ));
                    }
                    out.push((p.name.name.clone(), Binding::Scalar(cast_to(x, xt, kt))));
                }
            }
        }
        Ok(out)
    }
}

/// The KQL type of an Arrow data type, for callers outside `expr`.
#[allow(dead_code)]
pub(crate) fn arrow_kql(dt: &arrow::datatypes::DataType, span: Span) -> Result<KqlType> {
    kql_type(dt, span)
}
