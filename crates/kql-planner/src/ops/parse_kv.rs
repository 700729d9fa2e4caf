//! `parse-kv` (`query/parse-kv-operator.md`): `T | parse-kv Expression as (Keys) with (...)`
//! extracts the listed keys from a string in a key/value form.
//!
//! Planned as one projection: the input's columns, then one column per key, in the order
//! listed, each read from the property bag of `__parse_kv(text, keys, options)` (see
//! `kql_functions::string::parse_kv`, which finds the pairs) and converted to its type with
//! the KQL conversion functions: a missing key (or a value that does not convert) is null,
//! `""` for a string; a `dynamic` key is its value parsed as JSON. A key named like an input
//! column does not replace it: Kusto's binder adds a second column, named with a number
//! suffix (`b1`) as Kusto does for a repeated name. The `with (...)` parameters are checked
//! here, so that an invalid one is a semantic error before the query runs.

use datafusion_expr::{LogicalPlanBuilder, lit};
use kql_functions::KqlType;
use kql_functions::string::parse_kv::KvSpec;
use kql_syntax::Span;
use kql_syntax::ast::{self, ColumnDecl, ExprKind, OpParam};
use serde_json::{Map, Value};

use super::build;
use crate::error::{Result, semantic};
use crate::leaf::{Tab, call_udf, cast_to, column, kql_columns};
use crate::naming::unique;
use crate::planner::Planner;

/// A `with (...)` parameter's value: a constant string or bool.
fn param_value(p: &OpParam) -> Result<Value> {
    match &p.value.kind {
        ExprKind::Literal(ast::Literal::String { value, .. }) => Ok(Value::String(value.clone())),
        ExprKind::Literal(ast::Literal::Bool(b)) => Ok(Value::Bool(*b)),
        _ => Err(semantic(
            p.value.span(),
            format!(
                "parse-kv: the value of '{}' must be a constant string literal",
                p.name
            ),
        )),
    }
}

/// The options JSON `__parse_kv` takes, from the `with (...)` parameters.
fn options(with: &[OpParam]) -> Result<Map<String, Value>> {
    let mut o = Map::new();
    let mut quotes: Vec<Value> = Vec::new();
    let mut escapes: Vec<Value> = Vec::new();
    for p in with {
        let value = param_value(p)?;
        let text_only = |v: Value| match v {
            Value::String(_) => Ok(v),
            _ => Err(semantic(
                p.value.span(),
                format!("parse-kv: '{}' must be a string", p.name),
            )),
        };
        match p.name.as_str() {
            "pair_delimiter" | "kv_delimiter" | "regex" => {
                if o.insert(p.name.clone(), text_only(value)?).is_some() {
                    return Err(semantic(
                        p.value.span(),
                        format!("parse-kv: '{}' is given more than once", p.name),
                    ));
                }
            }
            "quote" => quotes.push(text_only(value)?),
            "escape" => escapes.push(text_only(value)?),
            "greedy" => {
                let Value::Bool(b) = value else {
                    return Err(semantic(
                        p.value.span(),
                        "parse-kv: 'greedy' must be true or false",
                    ));
                };
                o.insert("greedy".to_string(), Value::Bool(b));
            }
            other => {
                return Err(semantic(
                    p.value.span(),
                    format!(
                        "Unknown parse-kv parameter '{other}' (pair_delimiter, kv_delimiter, quote, escape, greedy, regex)"
                    ),
                ));
            }
        }
    }
    if !quotes.is_empty() {
        o.insert("quote".to_string(), Value::Array(quotes));
    }
    if !escapes.is_empty() {
        o.insert("escape".to_string(), Value::Array(escapes));
    }
    Ok(o)
}

impl Planner<'_> {
    /// `parse-kv expr as (key:type, ...) with (...)`.
    pub(crate) fn parse_kv(
        &mut self,
        t: Tab,
        expr: &ast::Expr,
        columns: &[ColumnDecl],
        with: &[OpParam],
        span: Span,
    ) -> Result<Tab> {
        let mut keys: Vec<(String, KqlType)> = Vec::new();
        for c in columns {
            let ty = KqlType::from_name(&c.ty.name)
                .ok_or_else(|| semantic(c.ty.span.0, format!("Unknown type '{}'", c.ty.name)))?;
            if keys.iter().any(|(n, _)| *n == c.name.name) {
                return Err(semantic(
                    c.name.span.0,
                    format!(
                        "A column with the name '{}' is already declared",
                        c.name.name
                    ),
                ));
            }
            keys.push((c.name.name.clone(), ty));
        }
        let key_names: Vec<Value> = keys.iter().map(|(n, _)| Value::String(n.clone())).collect();
        let keys_json = Value::Array(key_names).to_string();
        let options_json = Value::Object(options(with)?).to_string();
        KvSpec::from_json(&keys_json, &options_json).map_err(|e| semantic(span, e))?;
        let (text, text_type) = self.typed(expr, t.row())?;
        let text = cast_to(text, text_type, KqlType::String);
        let bag = call_udf(
            "__parse_kv",
            vec![text, lit(keys_json), lit(options_json)],
            span,
        )?;
        let mut taken: Vec<String> = kql_columns(&t.plan)?.into_iter().map(|(n, _)| n).collect();
        let mut exprs: Vec<datafusion_expr::Expr> = taken.iter().map(|n| column(n)).collect();
        for (name, ty) in &keys {
            let value = call_udf("__dyn_get", vec![bag.clone(), lit(name.clone())], span)?;
            let value = if *ty == KqlType::Dynamic {
                // The value's text as JSON (a missing key: "", which is null).
                let text = cast_to(value, KqlType::Dynamic, KqlType::String);
                call_udf("todynamic", vec![text], span)?
            } else {
                cast_to(value, KqlType::Dynamic, *ty)
            };
            let out = unique(name, &taken);
            taken.push(out.clone());
            exprs.push(value.alias(out));
        }
        let plan = build(
            LogicalPlanBuilder::from(t.plan.clone()).project(exprs),
            span,
        )?;
        t.with_plan(plan)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kql_syntax::ast::OperatorKind;

    /// The `with (...)` parameters of `text`, a query ending with parse-kv.
    fn with_of(text: &str) -> Vec<OpParam> {
        let parsed = kql_syntax::parse(text);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        match parsed.query.statements.last().map(|s| &s.kind) {
            Some(ast::StatementKind::Expr(e)) => match &e.kind {
                ExprKind::Pipe { op, .. } => match &op.kind {
                    OperatorKind::ParseKv { with, .. } => with.clone(),
                    other => panic!("not parse-kv: {other:?}"),
                },
                other => panic!("not a pipe: {other:?}"),
            },
            other => panic!("not an expression: {other:?}"),
        }
    }

    #[test]
    fn options_json() {
        let w = with_of(
            r#"print s="" | parse-kv s as (a:long) with (pair_delimiter=',', kv_delimiter=':', quote='"', quote='()', escape='\\', greedy=true)"#,
        );
        let o = Value::Object(options(&w).unwrap());
        assert_eq!(
            o,
            serde_json::json!({"pair_delimiter": ",", "kv_delimiter": ":",
                "quote": ["\"", "()"], "escape": ["\\"], "greedy": true})
        );
        let w = with_of(r#"print s="" | parse-kv s as (a:long) with (foo='x')"#);
        assert!(options(&w).is_err());
        let w = with_of(r#"print s="" | parse-kv s as (a:long) with (greedy='yes')"#);
        assert!(options(&w).is_err());
    }
}
