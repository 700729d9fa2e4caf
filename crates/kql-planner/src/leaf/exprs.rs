//! Expression helpers that know nothing of the planner: columns, casts, KQL typing of
//! Arrow types, calls into the function catalog, constant folding of literals.

use arrow::datatypes::DataType;
use datafusion_common::{Column, DFSchema, ScalarValue};
use datafusion_expr::expr::ScalarFunction;
use datafusion_expr::{Expr, ExprSchemable, SortExpr, lit};
use kql_functions::{KqlType, Registry};
use kql_syntax::Span;

use crate::error::{Result, df, semantic};

/// The row context scalar expressions are planned in.
#[derive(Clone, Copy)]
pub(crate) struct Row<'a> {
    /// Input columns.
    pub(crate) schema: &'a DFSchema,
    /// The input's order, for row_number/prev/next.
    pub(crate) order: Option<&'a [SortExpr]>,
}

/// A column reference by unqualified name.
pub(crate) fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

/// Calls a KQL function from the registry by name.
pub(crate) fn call_udf(name: &str, args: Vec<Expr>, span: Span) -> Result<Expr> {
    let udf = Registry::global()
        .scalar(name)
        .ok_or_else(|| semantic(span, format!("Unknown function: '{name}'")))?;
    Ok(Expr::ScalarFunction(ScalarFunction::new_udf(udf, args)))
}

/// The KQL function that converts a string (or any value) to `t`, as `extract(..., typeof(t))`
/// and `parse` do; `None` for string, which needs none.
pub(crate) fn conversion_of(t: KqlType) -> Option<&'static str> {
    Some(match t {
        KqlType::String => return None,
        KqlType::Bool => "tobool",
        KqlType::Int => "toint",
        KqlType::Long => "tolong",
        KqlType::Real => "toreal",
        KqlType::Decimal => "todecimal",
        KqlType::DateTime => "todatetime",
        KqlType::TimeSpan => "totimespan",
        KqlType::Guid => "toguid",
        KqlType::Dynamic => "todynamic",
    })
}

/// `CAST(e AS t)` unless `e` already has the type. A dynamic value is converted with the
/// KQL conversion function of the target type (`todatetime`, `toreal`, ...), which gives
/// null for a value that does not convert, as Kusto does; an Arrow cast of its JSON text
/// would fail the query instead.
pub(crate) fn cast_to(e: Expr, from: KqlType, to: KqlType) -> Expr {
    if from == to {
        return e;
    }
    if from == KqlType::Dynamic {
        let conv = match to {
            KqlType::Bool => Some("tobool"),
            KqlType::Int => Some("toint"),
            KqlType::Long => Some("tolong"),
            KqlType::Real => Some("toreal"),
            KqlType::Decimal => Some("todecimal"),
            KqlType::DateTime => Some("todatetime"),
            KqlType::TimeSpan => Some("totimespan"),
            KqlType::Guid => Some("toguid"),
            KqlType::String => Some("tostring"),
            KqlType::Dynamic => None,
        };
        if let Some(udf) = conv.and_then(|n| Registry::global().scalar(n)) {
            return Expr::ScalarFunction(ScalarFunction::new_udf(udf, vec![e]));
        }
    }
    Expr::Cast(datafusion_expr::Cast::new(Box::new(e), to.to_arrow()))
}

/// The KQL type of a planned expression.
pub(crate) fn type_of(e: &Expr, schema: &DFSchema, span: Span) -> Result<KqlType> {
    let dt = e.get_type(schema).map_err(df(span))?;
    kql_type(&dt, span)
}

/// The KQL type of an Arrow type.
pub(crate) fn kql_type(dt: &DataType, span: Span) -> Result<KqlType> {
    KqlType::from_arrow(dt).ok_or_else(|| {
        semantic(
            span,
            format!("The expression has an Arrow type with no KQL equivalent: {dt}"),
        )
    })
}

pub(crate) fn numeric_result(a: KqlType, b: KqlType) -> Option<KqlType> {
    if !a.is_numeric() || !b.is_numeric() {
        return None;
    }
    Some(if a == KqlType::Decimal || b == KqlType::Decimal {
        KqlType::Decimal
    } else if a == KqlType::Real || b == KqlType::Real {
        KqlType::Real
    } else {
        KqlType::Long
    })
}

/// The common type two compared values are converted to.
pub(crate) fn comparable(a: KqlType, b: KqlType) -> Option<KqlType> {
    if a == b {
        return Some(a);
    }
    if let Some(n) = numeric_result(a, b) {
        return Some(n);
    }
    match (a, b) {
        (KqlType::Dynamic, other) | (other, KqlType::Dynamic) => Some(other),
        (KqlType::Bool, t) | (t, KqlType::Bool) if t.is_numeric() => Some(KqlType::Long),
        _ => None,
    }
}

/// The literal under casts/negations, if the expression is constant in a trivial way.
pub(crate) fn strip_cast(x: &Expr) -> Option<ScalarValue> {
    match x {
        Expr::Literal(v, _) => Some(v.clone()),
        Expr::Cast(c) => {
            let v = strip_cast(&c.expr)?;
            v.cast_to(c.field.data_type()).ok()
        }
        Expr::Negative(inner) => {
            let v = strip_cast(inner)?;
            v.arithmetic_negate().ok()
        }
        Expr::Alias(a) => strip_cast(&a.expr),
        _ => None,
    }
}

/// Shortens a text for messages.
pub(crate) fn truncate(s: &str) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// `NOT e` (DataFusion implements it as the `!` operator).
pub(crate) trait NotExt {
    fn not_kql(self) -> Expr;
}

impl NotExt for Expr {
    fn not_kql(self) -> Expr {
        !self
    }
}

/// Kusto's `==`/`!=`: a null and a non-null value are unequal (not null); two nulls give null.
pub(crate) fn null_aware_eq(l: Expr, r: Expr, negated: bool) -> Expr {
    let non_null_literal = |x: &Expr| matches!(strip_cast(x), Some(v) if !v.is_null());
    let distinct = if negated {
        datafusion_expr::binary_expr(
            l.clone(),
            datafusion_expr::Operator::IsDistinctFrom,
            r.clone(),
        )
    } else {
        datafusion_expr::binary_expr(
            l.clone(),
            datafusion_expr::Operator::IsNotDistinctFrom,
            r.clone(),
        )
    };
    if non_null_literal(&l) || non_null_literal(&r) {
        return distinct;
    }
    datafusion_expr::when(
        l.is_null().and(r.is_null()),
        lit(ScalarValue::Boolean(None)),
    )
    .otherwise(distinct)
    .unwrap_or_else(|_| lit(ScalarValue::Boolean(None)))
}

/// Expands constant dynamic arrays in `in`/`has_any` lists into their elements.
pub(crate) fn expand_dynamic_items(vals: Vec<(Expr, KqlType)>) -> Vec<(Expr, KqlType)> {
    let mut out = Vec::new();
    for (v, t) in vals {
        if t == KqlType::Dynamic
            && let Some(ScalarValue::LargeUtf8(Some(text))) = strip_cast(&v)
            && let Ok(serde_json::Value::Array(items)) =
                serde_json::from_str::<serde_json::Value>(&text)
        {
            for it in items {
                match it {
                    serde_json::Value::Bool(b) => out.push((lit(b), KqlType::Bool)),
                    serde_json::Value::Number(n) => match n.as_i64() {
                        Some(i) => out.push((lit(i), KqlType::Long)),
                        None => out.push((lit(n.as_f64().unwrap_or(f64::NAN)), KqlType::Real)),
                    },
                    serde_json::Value::String(s) => out.push((lit(s), KqlType::String)),
                    serde_json::Value::Null => {}
                    other => out.push((
                        lit(ScalarValue::LargeUtf8(Some(other.to_string()))),
                        KqlType::Dynamic,
                    )),
                }
            }
            continue;
        }
        out.push((v, t));
    }
    out
}
