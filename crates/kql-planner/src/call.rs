//! Function calls in scalar context: conditionals, time, windows, subqueries, user functions
//! and the KQL function registry.

use std::sync::Arc;

use datafusion_common::ScalarValue;
use datafusion_expr::{Expr, ExprFunctionExt, lit, when};
use kql_functions::{KqlType, Registry};
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind, Ident, StatementKind};

use crate::error::{Result, df, not_implemented, semantic};
use crate::expr::{NotExt, Row, call_udf, cast_to, comparable, kql_type, type_of};
use crate::scope::Binding;
use crate::tabular::Planner;

/// A window function over rows in `order`. Serialized input without sort keys (`serialize`
/// of an unsorted table) gives no ORDER BY at all: the rows are taken as they come, in one
/// partition. (An empty ORDER BY would make DataFusion pick a RANGE frame, which needs a
/// sort key: "ORDER BY column cannot be empty".)
fn in_order(w: Expr, order: Vec<datafusion_expr::SortExpr>, span: Span) -> Result<Expr> {
    if order.is_empty() {
        Ok(w)
    } else {
        w.order_by(order).build().map_err(df(span))
    }
}

/// Aggregate functions (only valid in summarize).
pub const AGGREGATES: &[&str] = &[
    "count",
    "countif",
    "sum",
    "sumif",
    "avg",
    "avgif",
    "min",
    "max",
    "minif",
    "maxif",
    "dcount",
    "dcountif",
    "percentile",
    "percentiles",
    "percentilew",
    "percentilesw",
    "arg_max",
    "arg_min",
    "make_list",
    "make_list_if",
    "make_set",
    "make_set_if",
    "make_bag",
    "make_bag_if",
    "take_any",
    "any",
    "take_anyif",
    "stdev",
    "stdevif",
    "stdevp",
    "variance",
    "varianceif",
    "variancep",
    "count_distinct",
    "count_distinctif",
    "hll",
    "hll_merge",
    "tdigest",
    "tdigest_merge",
    "make_list_with_nulls",
    "buildschema",
    "binary_all_and",
    "binary_all_or",
    "binary_all_xor",
];

fn arity(name: &str, args: &[ast::Expr], min: usize, max: usize, span: Span) -> Result<()> {
    if args.len() < min || args.len() > max {
        let expected = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(semantic(
            span,
            format!(
                "Function '{name}' expects {expected} arguments, got {}",
                args.len()
            ),
        ));
    }
    Ok(())
}

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

/// The common result type of branches (iff/case/coalesce).
fn common_type(types: &[KqlType], span: Span) -> Result<KqlType> {
    let mut t = types[0];
    for u in &types[1..] {
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
        match n {
            "iff" | "iif" => {
                arity(n, args, 3, 3, span)?;
                let c = self.predicate(&args[0], row)?;
                let (a, at) = self.typed(&args[1], row)?;
                let (b, bt) = self.typed(&args[2], row)?;
                let t = common_type(&[at, bt], span)?;
                when(c, cast_to(a, at, t))
                    .otherwise(cast_to(b, bt, t))
                    .map_err(df(span))
            }
            "case" => {
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
            "isnull" | "isnotnull" => {
                arity(n, args, 1, 1, span)?;
                let (x, t) = self.typed(&args[0], row)?;
                let is_null = if t == KqlType::String {
                    lit(false)
                } else {
                    x.is_null()
                };
                Ok(if n == "isnull" {
                    is_null
                } else {
                    is_null.not_kql()
                })
            }
            "isempty" | "isnotempty" => {
                arity(n, args, 1, 1, span)?;
                let (x, t) = self.typed(&args[0], row)?;
                let empty = match t {
                    KqlType::String => x.clone().is_null().or(x.eq(lit(""))),
                    KqlType::Dynamic => x
                        .clone()
                        .is_null()
                        .or(x.eq(lit(ScalarValue::LargeUtf8(Some("\"\"".into()))))),
                    _ => x.is_null(),
                };
                Ok(if n == "isempty" {
                    empty
                } else {
                    empty.not_kql()
                })
            }
            "coalesce" => {
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
            "not" => {
                arity(n, args, 1, 1, span)?;
                Ok(self.predicate(&args[0], row)?.not_kql())
            }
            "now" => {
                arity(n, args, 0, 1, span)?;
                let now = lit(ScalarValue::TimestampNanosecond(Some(self.now), None));
                match args.first() {
                    Some(off) => {
                        let (o, _) = self.typed(off, row)?;
                        call_udf("__t_add", vec![now, o], span)
                    }
                    None => Ok(now),
                }
            }
            "ingestion_time" | "extent_id" | "extentid" | "extent_tags" => {
                arity(n, args, 0, 0, span)?;
                crate::hidden::value(n, row.schema)
                    .ok_or_else(|| semantic(span, format!("'{n}' is not a hidden-column function")))
            }
            "current_principal" => {
                arity(n, args, 0, 0, span)?;
                Ok(lit(self.ctx.principal().fqn))
            }
            "current_principal_details" => {
                arity(n, args, 0, 0, span)?;
                Ok(lit(ScalarValue::LargeUtf8(Some(
                    self.ctx.principal().details_json,
                ))))
            }
            "current_principal_is_member_of" => {
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
            "ago" => {
                arity(n, args, 1, 1, span)?;
                let (o, t) = self.typed(&args[0], row)?;
                if t != KqlType::TimeSpan {
                    return Err(semantic(span, format!("ago() expects a timespan, not {t}")));
                }
                let now = lit(ScalarValue::TimestampNanosecond(Some(self.now), None));
                call_udf("__t_sub", vec![now, o], span)
            }
            "toscalar" => {
                let target = args
                    .iter()
                    .find(|a| !matches!(a.kind, ExprKind::NamedArg { .. }));
                let Some(target) = target else {
                    return Err(semantic(span, "toscalar() needs an argument"));
                };
                let plan = if crate::tabular::is_tabular_syntax(target, self) {
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
                let cols = crate::tabular::kql_columns(&plan)?;
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
                        crate::expr::column(&c).alias(format!("__toscalar_{}", span.start)),
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
            "row_number" => {
                arity(n, args, 0, 2, span)?;
                if args.len() == 2 {
                    let order = self.require_serialized(row, span)?;
                    let (s, st) = self.typed(&args[0], row)?;
                    if !st.is_integer() {
                        return Err(semantic(
                            args[0].span(),
                            "row_number() start must be an integer",
                        ));
                    }
                    let restart = self.predicate(&args[1], row)?;
                    return in_order(
                        kql_functions::window::row_number_restart()
                            .call(vec![cast_to(s, st, KqlType::Long), restart]),
                        order,
                        span,
                    );
                }
                let start = match args.first() {
                    Some(a) => {
                        let (x, t) = self.typed(a, row)?;
                        if !t.is_integer() {
                            return Err(semantic(
                                a.span(),
                                "row_number() start must be an integer",
                            ));
                        }
                        Some(cast_to(x, t, KqlType::Long))
                    }
                    None => None,
                };
                let order = self.require_serialized(row, span)?;
                let w = in_order(
                    datafusion_functions_window::expr_fn::row_number(),
                    order,
                    span,
                )?;
                let w = Expr::Cast(datafusion_expr::Cast::new(
                    Box::new(w),
                    arrow::datatypes::DataType::Int64,
                ));
                Ok(match start {
                    Some(s) => w + s - lit(1i64),
                    None => w,
                })
            }
            "prev" | "next" => {
                arity(n, args, 1, 3, span)?;
                let order = self.require_serialized(row, span)?;
                let (x, t) = self.typed(&args[0], row)?;
                let offset = match args.get(1) {
                    Some(o) => match self.const_value(o, row)? {
                        ScalarValue::Int64(Some(v)) => v,
                        ScalarValue::Int32(Some(v)) => i64::from(v),
                        _ => {
                            return Err(semantic(
                                o.span(),
                                "The offset must be a constant integer",
                            ));
                        }
                    },
                    None => 1,
                };
                let default = match args.get(2) {
                    Some(d) => {
                        let v = self.const_value(d, row)?;
                        let vt = crate::literal::scalar_type(&v).unwrap_or(t);
                        Some(if vt == t {
                            v
                        } else {
                            v.cast_to(&t.to_arrow()).map_err(df(d.span()))?
                        })
                    }
                    None => None,
                };
                let w = if n == "prev" {
                    datafusion_functions_window::expr_fn::lag(x, Some(offset), default)
                } else {
                    datafusion_functions_window::expr_fn::lead(x, Some(offset), default)
                };
                in_order(w, order, span)
            }
            "materialize" => Err(semantic(
                span,
                "materialize() returns a table, not a scalar",
            )),
            _ if AGGREGATES.contains(&n)
                && self.agg_columns.contains_key(&(span.start, span.end)) =>
            {
                match self
                    .agg_columns
                    .get(&(span.start, span.end))
                    .map(Vec::as_slice)
                {
                    Some([c]) => Ok(crate::expr::column(c)),
                    _ => Err(semantic(
                        span,
                        format!(
                            "'{n}' with several results must be the whole summarize expression"
                        ),
                    )),
                }
            }
            _ if AGGREGATES.contains(&n) => Err(semantic(
                span,
                format!("Function '{n}' is an aggregate and can only be used in summarize"),
            )),
            _ => {
                if let Some(f) = self.find_function(n) {
                    let lambda = crate::tabular::parse_stored_function(n, &f.text, span)?;
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
                if Registry::global().scalar(n).is_none() {
                    if self.scope.get(n).is_some() || self.has_table(n) {
                        return Err(semantic(span, format!("'{n}' is not a function")));
                    }
                    return Err(semantic(span, format!("Unknown function: '{n}'")));
                }
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
                    return match crate::expr::conversion_of(kt) {
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
        }
    }

    /// The sort keys of a serialized input, for window functions.
    fn require_serialized(
        &self,
        row: Row<'_>,
        span: Span,
    ) -> Result<Vec<datafusion_expr::SortExpr>> {
        match row.order {
            Some(o) => Ok(o.to_vec()),
            None => Err(semantic(
                span,
                "Function can only be used on serialized input (use serialize, sort, order by or top first)",
            )),
        }
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
                if crate::tabular::is_tabular_syntax(e, self) {
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
