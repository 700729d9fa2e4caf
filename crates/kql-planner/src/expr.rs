//! Scalar expressions: AST → DataFusion `Expr`, with KQL's typing rules.

use std::sync::Arc;

use datafusion_common::ScalarValue;
use datafusion_common::tree_node::TreeNode;
use datafusion_expr::{Expr, lit};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, BinaryOp, ExprKind, ListOp, UnaryOp};

use crate::error::{Result, df, internal, semantic};

use crate::leaf::{
    NotExt, Row, call_udf, cast_to, column, comparable, expand_dynamic_items, null_aware_eq,
    numeric_result, strip_cast, truncate, type_of,
};
use crate::literal::literal_to_scalar;
use crate::planner::Planner;
use crate::scope::Binding;

impl Planner<'_> {
    /// Plans a scalar expression in `row`.
    pub(crate) fn scalar(&mut self, e: &ast::Expr, row: Row<'_>) -> Result<Expr> {
        self.enter()?;
        let r = self.scalar_inner(e, row);
        self.leave();
        r
    }

    /// Plans a scalar expression and returns its KQL type too.
    pub(crate) fn typed(&mut self, e: &ast::Expr, row: Row<'_>) -> Result<(Expr, KqlType)> {
        let x = self.scalar(e, row)?;
        let t = type_of(&x, row.schema, e.span())?;
        Ok((x, t))
    }

    /// A boolean-typed expression (predicates).
    pub(crate) fn predicate(&mut self, e: &ast::Expr, row: Row<'_>) -> Result<Expr> {
        let (x, t) = self.typed(e, row)?;
        match t {
            KqlType::Bool => Ok(x),
            KqlType::Dynamic => Ok(cast_to(x, t, KqlType::Bool)),
            other => Err(semantic(
                e.span(),
                format!("A predicate must be of type bool, not {other}"),
            )),
        }
    }

    fn scalar_inner(&mut self, e: &ast::Expr, row: Row<'_>) -> Result<Expr> {
        let span = e.span();
        match &e.kind {
            ExprKind::Literal(l) => Ok(lit(literal_to_scalar(l, span)?)),
            ExprKind::Name(id) => self.name(&id.name, span, row),
            ExprKind::Paren(inner) => {
                if crate::planner::is_tabular_syntax(inner, self) {
                    return self.tabular_as_scalar(inner, span);
                }
                self.scalar(inner, row)
            }
            ExprKind::Unary { op, expr } => {
                let (x, t) = self.typed(expr, row)?;
                match (op, t) {
                    (UnaryOp::Plus, t) if t.is_numeric() || t == KqlType::TimeSpan => Ok(x),
                    // Whole numbers wrap as `+` and `-` do: -long.MinValue is long.MinValue.
                    (UnaryOp::Neg, KqlType::Int | KqlType::Long) => {
                        let x = cast_to(x, t, KqlType::Long);
                        Ok(match x {
                            // A literal stays a literal (`next(x, 1, -1)` needs constants).
                            Expr::Literal(ScalarValue::Int64(Some(v)), _) => lit(v.wrapping_neg()),
                            x => datafusion_expr::binary_expr(
                                lit(0i64),
                                datafusion_expr::Operator::Minus,
                                x,
                            ),
                        })
                    }
                    (UnaryOp::Neg, t) if t.is_numeric() => Ok(Expr::Negative(Box::new(x))),
                    (UnaryOp::Neg, KqlType::TimeSpan) => call_udf("__t_neg", vec![x], span),
                    (_, t) => Err(semantic(
                        span,
                        format!("Unary operator cannot be applied to {t}"),
                    )),
                }
            }
            ExprKind::Binary { op, left, right } => self.binary(*op, left, right, span, row),
            ExprKind::List { op, expr, items } => self.list_op(*op, expr, items, span, row),
            ExprKind::Between {
                negated,
                expr,
                low,
                high,
            } => {
                let (x, t) = self.typed(expr, row)?;
                let (lo, lt) = self.typed(low, row)?;
                let (hi, ht) = self.typed(high, row)?;
                // datetime between (dt .. timespan): the upper bound is lo + timespan.
                let (hi, ht) = if t == KqlType::DateTime && ht == KqlType::TimeSpan {
                    (
                        call_udf("__t_add", vec![lo.clone(), hi], span)?,
                        KqlType::DateTime,
                    )
                } else {
                    (hi, ht)
                };
                let ct = comparable(t, lt)
                    .and_then(|c| comparable(c, ht))
                    .ok_or_else(|| {
                        semantic(
                            span,
                            format!("between cannot compare {t} with {lt} and {ht}"),
                        )
                    })?;
                let x = cast_to(x, t, ct);
                let b = Expr::Between(datafusion_expr::expr::Between::new(
                    Box::new(x),
                    *negated,
                    Box::new(cast_to(lo, lt, ct)),
                    Box::new(cast_to(hi, ht, ct)),
                ));
                Ok(b)
            }
            ExprKind::Call { name, args } => self.call(name, args, span, row),
            ExprKind::NamedArg { .. } => {
                Err(semantic(span, "A named argument is not allowed here"))
            }
            ExprKind::Member { expr, name } => {
                let (x, t) = self.typed(expr, row)?;
                if t != KqlType::Dynamic {
                    return Err(semantic(
                        span,
                        format!("Property access needs a dynamic value, not {t}"),
                    ));
                }
                call_udf("__dyn_get", vec![x, lit(name.name.clone())], span)
            }
            ExprKind::Index { expr, index } => {
                let (x, t) = self.typed(expr, row)?;
                if t != KqlType::Dynamic {
                    return Err(semantic(
                        span,
                        format!("Indexing needs a dynamic value, not {t}"),
                    ));
                }
                let (i, it) = self.typed(index, row)?;
                let i = match it {
                    KqlType::Int => cast_to(i, it, KqlType::Long),
                    KqlType::Long | KqlType::String => i,
                    other => {
                        return Err(semantic(
                            index.span(),
                            format!("An index must be a string or a number, not {other}"),
                        ));
                    }
                };
                call_udf("__dyn_get", vec![x, i], span)
            }
            ExprKind::Star => Err(semantic(span, "'*' is not allowed here")),
            ExprKind::MethodCall { name, .. } => match crate::leaf::qualified(e) {
                Some(q) => self.qualified_scalar(&q, span, row),
                None => Err(crate::error::not_implemented(
                    span,
                    format!("method call .{}()", name.name),
                )),
            },
            ExprKind::TypeOf { .. } => Err(semantic(span, "typeof() is not a scalar value")),
            ExprKind::Pipe { .. } | ExprKind::Source(_) => self.tabular_as_scalar(e, span),
        }
    }

    fn tabular_as_scalar(&self, e: &ast::Expr, span: Span) -> Result<Expr> {
        Err(semantic(
            span,
            format!(
                "A tabular expression cannot be used as a scalar value (use toscalar()): {}",
                truncate(&e.to_string())
            ),
        ))
    }

    fn name(&mut self, name: &str, span: Span, row: Row<'_>) -> Result<Expr> {
        if row.schema.has_column_with_unqualified_name(name) {
            return Ok(column(name));
        }
        match self.scope.get(name) {
            Some(Binding::Scalar(x)) => return Ok(x.clone()),
            Some(Binding::Tabular(_)) => {
                return Err(semantic(
                    span,
                    format!(
                        "'{name}' is a tabular value and cannot be used as a scalar (use toscalar({name}))"
                    ),
                ));
            }
            Some(Binding::Function(..)) => {
                return Err(semantic(
                    span,
                    format!("'{name}' is a function; call it with ()"),
                ));
            }
            None => {}
        }
        Err(semantic(
            span,
            format!("Failed to resolve scalar expression named '{name}'"),
        ))
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        left: &ast::Expr,
        right: &ast::Expr,
        span: Span,
        row: Row<'_>,
    ) -> Result<Expr> {
        use BinaryOp::*;
        let (l, lt) = self.typed(left, row)?;
        let (r, rt) = self.typed(right, row)?;
        let type_err = || {
            semantic(
                span,
                format!(
                    "Cannot apply operator '{}' to operands of types {lt} and {rt}",
                    op.as_str()
                ),
            )
        };
        match op {
            And | Or => {
                let to_bool = |x: Expr, t: KqlType| match t {
                    KqlType::Bool => Ok(x),
                    KqlType::Dynamic => Ok(cast_to(x, t, KqlType::Bool)),
                    _ => Err(type_err()),
                };
                let (l, r) = (to_bool(l, lt)?, to_bool(r, rt)?);
                Ok(if op == And { l.and(r) } else { l.or(r) })
            }
            Eq | NotEq | Lt | LtEq | Gt | GtEq => {
                let ct = comparable(lt, rt).ok_or_else(type_err)?;
                let (l, r) = (cast_to(l, lt, ct), cast_to(r, rt, ct));
                if matches!(op, Eq | NotEq) {
                    return Ok(null_aware_eq(l, r, op == NotEq));
                }
                let dop = match op {
                    Eq => datafusion_expr::Operator::Eq,
                    NotEq => datafusion_expr::Operator::NotEq,
                    Lt => datafusion_expr::Operator::Lt,
                    LtEq => datafusion_expr::Operator::LtEq,
                    Gt => datafusion_expr::Operator::Gt,
                    _ => datafusion_expr::Operator::GtEq,
                };
                Ok(datafusion_expr::binary_expr(l, dop, r))
            }
            Add | Sub | Mul | Div | Mod => {
                self.arith(op, l, lt, r, rt, span).map_err(|_| type_err())
            }
            EqTilde | NotTilde => {
                let (l, r) = (self.as_string(l, lt, span)?, self.as_string(r, rt, span)?);
                let x = call_udf("__equals_ci", vec![l, r], span)?;
                Ok(if op == NotTilde { x.not_kql() } else { x })
            }
            MatchesRegex => {
                let (l, r) = (self.as_string(l, lt, span)?, self.as_string(r, rt, span)?);
                call_udf("__matches_regex", vec![l, r], span)
            }
            Like | NotLike => {
                let (l, r) = (self.as_string(l, lt, span)?, self.as_string(r, rt, span)?);
                Ok(Expr::Like(datafusion_expr::expr::Like::new(
                    op == NotLike,
                    Box::new(l),
                    Box::new(r),
                    None,
                    true,
                )))
            }
            _ => {
                let (name, negated) = string_op_udf(op);
                let (l, r) = (self.as_string(l, lt, span)?, self.as_string(r, rt, span)?);
                let x = call_udf(name, vec![l, r], span)?;
                Ok(if negated { x.not_kql() } else { x })
            }
        }
    }

    /// Converts a value to string for string operators (dynamic and other scalars via tostring).
    pub(crate) fn as_string(&mut self, x: Expr, t: KqlType, span: Span) -> Result<Expr> {
        match t {
            KqlType::String => Ok(x),
            _ => call_udf("tostring", vec![x], span),
        }
    }

    fn arith(
        &mut self,
        op: BinaryOp,
        l: Expr,
        lt: KqlType,
        r: Expr,
        rt: KqlType,
        span: Span,
    ) -> Result<Expr> {
        use BinaryOp::*;
        use KqlType::{DateTime as Dt, TimeSpan as Ts};
        if let Some(nt) = numeric_result(lt, rt) {
            let (l, r) = (cast_to(l, lt, nt), cast_to(r, rt, nt));
            let dop = match op {
                Add => datafusion_expr::Operator::Plus,
                Sub => datafusion_expr::Operator::Minus,
                Mul => datafusion_expr::Operator::Multiply,
                Div => datafusion_expr::Operator::Divide,
                _ => datafusion_expr::Operator::Modulo,
            };
            // Whole numbers: Kusto's division and modulo, null where no result exists
            // (by zero, `long.MinValue / -1`) instead of an error.
            if nt == KqlType::Long && matches!(op, Div | Mod) {
                let name = if op == Div {
                    "__long_div"
                } else {
                    "__long_mod"
                };
                return call_udf(name, vec![l, r], span);
            }
            if op == Mod {
                // Kusto's modulo is never negative: 0 <= N % D < abs(D).
                let abs_d = datafusion_functions::math::expr_fn::abs(r.clone());
                let rem = datafusion_expr::binary_expr(l, datafusion_expr::Operator::Modulo, r);
                let fixed = datafusion_expr::binary_expr(
                    datafusion_expr::binary_expr(
                        rem,
                        datafusion_expr::Operator::Plus,
                        abs_d.clone(),
                    ),
                    datafusion_expr::Operator::Modulo,
                    abs_d,
                );
                return Ok(if nt == KqlType::Decimal {
                    cast_to(fixed, KqlType::Real, KqlType::Decimal)
                } else {
                    fixed
                });
            }
            let x = datafusion_expr::binary_expr(l, dop, r);
            // DataFusion widens decimal precision/scale; Kusto's decimal stays one type.
            return Ok(if nt == KqlType::Decimal {
                cast_to(x, KqlType::Real, KqlType::Decimal)
            } else {
                x
            });
        }
        let num = |x: Expr, t: KqlType| cast_to(x, t, KqlType::Real);
        let name = match (op, lt, rt) {
            (Add, Dt, Ts) | (Add, Ts, Dt) | (Add, Ts, Ts) => "__t_add",
            (Sub, Dt, Dt) | (Sub, Dt, Ts) | (Sub, Ts, Ts) => "__t_sub",
            (Mul, Ts, n) if n.is_numeric() => {
                return call_udf("__t_mul", vec![l, num(r, rt)], span);
            }
            (Mul, n, Ts) if n.is_numeric() => {
                return call_udf("__t_mul", vec![r, num(l, lt)], span);
            }
            (Div, Ts, n) if n.is_numeric() => {
                return call_udf("__t_div", vec![l, num(r, rt)], span);
            }
            (Div, Ts, Ts) => "__t_div",
            (Mod, Ts, Ts) => "__t_mod",
            _ => return Err(internal("no temporal operator")),
        };
        call_udf(name, vec![l, r], span)
    }

    fn list_op(
        &mut self,
        op: ListOp,
        expr: &ast::Expr,
        items: &[ast::Expr],
        span: Span,
        row: Row<'_>,
    ) -> Result<Expr> {
        let (x, t) = self.typed(expr, row)?;
        // A single tabular item: `x in (T | project c)`.
        if items.len() == 1 && crate::planner::is_tabular_syntax(&items[0], self) {
            let sub = self.tabular_plan(&items[0])?;
            let cols = crate::leaf::kql_columns(&sub)?;
            let Some((c, ct)) = cols.first().cloned() else {
                return Err(semantic(span, "The subquery returns no columns"));
            };
            let ct2 = comparable(t, ct)
                .ok_or_else(|| semantic(span, format!("Cannot compare {t} with {ct}")))?;
            // A name of its own: the outer query may have a column of the same name, and
            // DataFusion's decorrelation joins the two (`T | where k in (U | project k)`).
            let sub = datafusion_expr::LogicalPlanBuilder::from(sub)
                .project(vec![
                    cast_to(column(&c), ct, ct2).alias(format!("__in_{}", span.start)),
                ])
                .and_then(|b| b.build())
                .map_err(df(span))?;
            let negated = matches!(op, ListOp::NotIn | ListOp::NotInCi);
            return match op {
                ListOp::In | ListOp::NotIn => {
                    Ok(Expr::InSubquery(datafusion_expr::expr::InSubquery::new(
                        Box::new(cast_to(x, t, ct2)),
                        datafusion_expr::Subquery {
                            subquery: Arc::new(sub),
                            outer_ref_columns: vec![],
                            spans: Default::default(),
                        },
                        negated,
                    )))
                }
                _ => Err(crate::error::not_implemented(
                    span,
                    format!("{} with a tabular operand", op.as_str()),
                )),
            };
        }
        let mut vals = Vec::new();
        for it in items {
            vals.push(self.typed(it, row)?);
        }
        let vals = expand_dynamic_items(vals);
        match op {
            ListOp::In | ListOp::NotIn => {
                let mut ct = t;
                for (_, vt) in &vals {
                    ct = comparable(ct, *vt).ok_or_else(|| {
                        semantic(span, format!("Cannot compare {t} with {vt} in 'in'"))
                    })?;
                }
                let list: Vec<Expr> = vals.into_iter().map(|(v, vt)| cast_to(v, vt, ct)).collect();
                // Kusto: a null value is not in any list (`in` false, `!in` true).
                let negated = op == ListOp::NotIn;
                let x = cast_to(x, t, ct);
                let test = if list.iter().any(has_scalar_subquery) {
                    // `x in (toscalar(...))`: DataFusion would turn a list holding a scalar
                    // subquery into an `InSubquery`, which runs only as a top-level filter
                    // conjunct. Equalities keep the subqueries scalar ones, planned as
                    // one-row joins wherever they are (a null comparison is false).
                    let found = list
                        .into_iter()
                        .map(|item| {
                            datafusion_functions::core::expr_fn::coalesce(vec![
                                x.clone().eq(item),
                                lit(false),
                            ])
                        })
                        .reduce(Expr::or)
                        .unwrap_or_else(|| lit(false));
                    if negated { !found } else { found }
                } else {
                    x.clone().in_list(list, negated)
                };
                Ok(datafusion_expr::when(x.is_null(), lit(negated))
                    .otherwise(test)
                    .map_err(df(span))?)
            }
            ListOp::InCi | ListOp::NotInCi => {
                let x = self.as_string(x, t, span)?;
                let mut ors: Option<Expr> = None;
                for (v, vt) in vals {
                    let v = self.as_string(v, vt, span)?;
                    let e = call_udf("__equals_ci", vec![x.clone(), v], span)?;
                    ors = Some(match ors {
                        Some(o) => o.or(e),
                        None => e,
                    });
                }
                let e = ors.unwrap_or(lit(false));
                Ok(if op == ListOp::NotInCi {
                    e.not_kql()
                } else {
                    e
                })
            }
            ListOp::HasAny | ListOp::HasAll => {
                let x = self.as_string(x, t, span)?;
                let mut acc: Option<Expr> = None;
                for (v, vt) in vals {
                    let needles = self.as_string(v, vt, span)?;
                    let e = call_udf("__has", vec![x.clone(), needles], span)?;
                    acc = Some(match (acc, op) {
                        (Some(a), ListOp::HasAny) => a.or(e),
                        (Some(a), _) => a.and(e),
                        (None, _) => e,
                    });
                }
                Ok(acc.unwrap_or(lit(op == ListOp::HasAll)))
            }
        }
    }

    /// Evaluates a constant expression that must be a literal (take counts, bin sizes).
    pub(crate) fn const_value(&mut self, e: &ast::Expr, row: Row<'_>) -> Result<ScalarValue> {
        let x = self.scalar(e, row)?;
        match strip_cast(&x) {
            Some(v) => Ok(v),
            None => Err(semantic(e.span(), "Expected a constant value")),
        }
    }
}

/// Whether `e` holds a scalar subquery (`toscalar(...)`), at any depth.
fn has_scalar_subquery(e: &Expr) -> bool {
    e.exists(|e| Ok(matches!(e, Expr::ScalarSubquery(_))))
        .unwrap_or(false)
}

fn string_op_udf(op: BinaryOp) -> (&'static str, bool) {
    use BinaryOp::*;
    match op {
        Has => ("__has", false),
        NotHas => ("__has", true),
        HasCs => ("__has_cs", false),
        NotHasCs => ("__has_cs", true),
        HasPrefix => ("__hasprefix", false),
        NotHasPrefix => ("__hasprefix", true),
        HasPrefixCs => ("__hasprefix_cs", false),
        NotHasPrefixCs => ("__hasprefix_cs", true),
        HasSuffix => ("__hassuffix", false),
        NotHasSuffix => ("__hassuffix", true),
        HasSuffixCs => ("__hassuffix_cs", false),
        NotHasSuffixCs => ("__hassuffix_cs", true),
        Contains => ("__contains", false),
        NotContains => ("__contains", true),
        ContainsCs => ("__contains_cs", false),
        NotContainsCs => ("__contains_cs", true),
        StartsWith => ("__startswith", false),
        NotStartsWith => ("__startswith", true),
        StartsWithCs => ("__startswith_cs", false),
        NotStartsWithCs => ("__startswith_cs", true),
        EndsWith => ("__endswith", false),
        NotEndsWith => ("__endswith", true),
        EndsWithCs => ("__endswith_cs", false),
        NotEndsWithCs => ("__endswith_cs", true),
        Add | Sub | Mul | Div | Mod | Eq | NotEq | Lt | LtEq | Gt | GtEq | And | Or | EqTilde
        | NotTilde | MatchesRegex | Like | NotLike => ("", false),
    }
}
