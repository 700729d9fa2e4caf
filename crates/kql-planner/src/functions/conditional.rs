//! Conditional and null-testing functions: `iff`/`iif`, `case`, `coalesce`, `isnull`,
//! `isnotnull`, `isempty`, `isnotempty`, `not`. Branches are converted to their common type.

use datafusion_common::ScalarValue;
use datafusion_expr::{Expr, lit, when};
use kql_functions::KqlType;
use kql_functions::catalog::Special;
use kql_syntax::Span;
use kql_syntax::ast;

use crate::error::{Result, df, internal, semantic};
use crate::leaf::{NotExt, Row, cast_to, comparable};
use crate::planner::Planner;

/// The common result type of branches (iff/case/coalesce).
fn common_type(types: &[KqlType], span: Span) -> Result<KqlType> {
    let Some((first, rest)) = types.split_first() else {
        return Err(semantic(span, "No branches"));
    };
    let mut t = *first;
    for u in rest {
        t = comparable(t, *u).ok_or_else(|| {
            semantic(
                span,
                format!("The branches have incompatible types {t} and {u}"),
            )
        })?;
    }
    Ok(t)
}

impl Planner<'_> {
    /// Plans a conditional function (`s` is one of this module's).
    pub(crate) fn conditional(
        &mut self,
        s: Special,
        args: &[ast::Expr],
        span: Span,
        row: Row<'_>,
    ) -> Result<Expr> {
        match s {
            Special::Iff => {
                let c = self.predicate(&args[0], row)?;
                let (a, at) = self.typed(&args[1], row)?;
                let (b, bt) = self.typed(&args[2], row)?;
                let t = common_type(&[at, bt], span)?;
                when(c, cast_to(a, at, t))
                    .otherwise(cast_to(b, bt, t))
                    .map_err(df(span))
            }
            Special::Case => {
                if args.len() < 3 || args.len().is_multiple_of(2) {
                    return Err(semantic(
                        span,
                        "case() expects predicate/value pairs and an else value",
                    ));
                }
                let mut preds = Vec::new();
                let mut vals = Vec::new();
                for pair in args[..args.len() - 1].chunks(2) {
                    preds.push(self.predicate(&pair[0], row)?);
                    vals.push(self.typed(&pair[1], row)?);
                }
                let (e, et) = self.typed(&args[args.len() - 1], row)?;
                let mut types: Vec<KqlType> = vals.iter().map(|v| v.1).collect();
                types.push(et);
                let t = common_type(&types, span)?;
                let mut b: Option<datafusion_expr::conditional_expressions::CaseBuilder> = None;
                for (p, (v, vt)) in preds.into_iter().zip(vals) {
                    let v = cast_to(v, vt, t);
                    b = Some(match b {
                        None => when(p, v),
                        Some(b) => {
                            let mut b = b;
                            b.when(p, v)
                        }
                    });
                }
                match b {
                    Some(mut b) => b.otherwise(cast_to(e, et, t)).map_err(df(span)),
                    None => Ok(e),
                }
            }
            Special::IsNull | Special::IsNotNull => {
                let (x, t) = self.typed(&args[0], row)?;
                let is_null = if t == KqlType::String {
                    lit(false)
                } else {
                    x.is_null()
                };
                Ok(if s == Special::IsNull {
                    is_null
                } else {
                    is_null.not_kql()
                })
            }
            Special::IsEmpty | Special::IsNotEmpty => {
                let (x, t) = self.typed(&args[0], row)?;
                let empty = match t {
                    KqlType::String => x.clone().is_null().or(x.eq(lit(""))),
                    KqlType::Dynamic => x
                        .clone()
                        .is_null()
                        .or(x.eq(lit(ScalarValue::LargeUtf8(Some("\"\"".into()))))),
                    _ => x.is_null(),
                };
                Ok(if s == Special::IsEmpty {
                    empty
                } else {
                    empty.not_kql()
                })
            }
            Special::Coalesce => {
                if args.is_empty() {
                    return Err(semantic(span, "coalesce() needs arguments"));
                }
                let mut vals = Vec::new();
                for a in args {
                    vals.push(self.typed(a, row)?);
                }
                let types: Vec<KqlType> = vals.iter().map(|v| v.1).collect();
                let t = common_type(&types, span)?;
                let vals: Vec<Expr> = vals.into_iter().map(|(v, vt)| cast_to(v, vt, t)).collect();
                if t == KqlType::String {
                    // the first non-empty string
                    let mut it = vals.into_iter().rev();
                    let mut acc = it.next().unwrap_or(lit(""));
                    for v in it {
                        acc = when(v.clone().is_not_null().and(v.clone().not_eq(lit(""))), v)
                            .otherwise(acc)
                            .map_err(df(span))?;
                    }
                    Ok(acc)
                } else {
                    Ok(datafusion_functions::core::expr_fn::coalesce(vals))
                }
            }
            Special::Not => Ok(self.predicate(&args[0], row)?.not_kql()),
            other => Err(internal(format!("{other:?} is not a conditional function"))),
        }
    }
}
