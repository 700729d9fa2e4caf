//! `parse` and `parse-where` (`query/parse-operator.md`, `parse-where-operator.md`): the
//! pattern becomes one regular expression, matched once per row (DataFusion's
//! `regexp_match`), whose numbered captures are the new columns, converted to their types.
//!
//! * `kind=simple` (default): the text pieces are literal; a string (or datetime, timespan,
//!   dynamic) column captures as little as it can (`(.*?)`), the last one up to the end, and
//!   a number, bool or guid column what looks like one (`long` → `-?\d+`); the match is strict — a row
//!   whose captures do not all convert to their types does not match (every new column is
//!   null, `""` for strings; `parse-where` drops it).
//! * `kind=relaxed`: as `simple`, but a typed column takes what is there when it does not
//!   look like its type, and a capture that does not convert is null alone.
//! * `kind=regex` (`flags=` as RE2's `imsU`): the text pieces are regular expressions, string
//!   columns capture greedily (`(.*)`, lazily with `U`), as the docs' examples show.
//! * `*` skips anything (`.*?`). The pattern is anchored at both ends.

use datafusion_expr::{Expr, LogicalPlanBuilder, lit};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind, OpParam, ParsePart};

use super::build;
use crate::error::{Result, df, semantic};
use crate::leaf::{Tab, kql_columns};
use crate::leaf::{call_udf, cast_to, column, conversion_of};
use crate::planner::Planner;

/// The matching mode of `kind=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Simple,
    Relaxed,
    Regex,
}

/// What a column of a type other than string, datetime, timespan and dynamic captures: what
/// looks like a value of its type (the docs: `long` → `\-\d+`).
fn type_regex(t: KqlType) -> &'static str {
    match t {
        KqlType::Int | KqlType::Long => r"-?\d+",
        KqlType::Real | KqlType::Decimal => r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?",
        KqlType::Bool => r"(?i:true|false|0|1)",
        KqlType::Guid => {
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
        }
        KqlType::String | KqlType::DateTime | KqlType::TimeSpan | KqlType::Dynamic => ".*",
    }
}

/// A parameter's value as text.
fn param_text(p: &OpParam) -> String {
    match &p.value.kind {
        ExprKind::Name(id) => id.name.clone(),
        ExprKind::Literal(ast::Literal::String { value, .. }) => value.clone(),
        _ => p.value.to_string(),
    }
}

/// `re` with its capturing groups (`(x)`, `(?P<n>x)`, `(?<n>x)`) made non-capturing.
fn uncaptured(re: &str) -> String {
    let mut out = String::with_capacity(re.len() + 8);
    let mut chars = re.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // `[]...]` and `[^]...]`: a leading `]` is a member.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '(' if !in_class => {
                if chars.peek() == Some(&'?') {
                    let rest: String = chars.clone().take(3).collect();
                    if rest.starts_with("?P<")
                        || (rest.starts_with("?<")
                            && !rest.starts_with("?<=")
                            && !rest.starts_with("?<!"))
                    {
                        // A named group: drop its name.
                        for n in chars.by_ref() {
                            if n == '>' {
                                break;
                            }
                        }
                        out.push_str("(?:");
                    } else {
                        out.push('(');
                    }
                } else {
                    out.push_str("(?:");
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// A column `parse` adds: its name, its type and its capture group.
type NewColumn = (String, KqlType, usize);

/// The regular expression of a pattern and its columns (name, type, capture group).
fn pattern_regex(
    pattern: &[ParsePart],
    kind: Kind,
    flags: &str,
    span: Span,
) -> Result<(String, Vec<NewColumn>)> {
    let mut re = String::from("^");
    let mut columns: Vec<NewColumn> = Vec::new();
    let mut groups = 0usize;
    for (i, part) in pattern.iter().enumerate() {
        match part {
            ParsePart::Text(text) => {
                if kind == Kind::Regex {
                    regex::Regex::new(text).map_err(|e| {
                        semantic(span, format!("'{text}' is not a regular expression: {e}"))
                    })?;
                    // The delimiter's own groups are not columns; an optional one that does
                    // not take part in the match would shift the columns' captures.
                    re.push_str(&format!("(?:{})", uncaptured(text)));
                } else {
                    re.push_str(&regex::escape(text));
                }
            }
            ParsePart::Star => re.push_str(".*?"),
            ParsePart::Column { name, ty } => {
                let t = match ty {
                    None => KqlType::String,
                    Some(t) => KqlType::from_name(&t.name)
                        .ok_or_else(|| semantic(t.span.0, format!("Unknown type '{}'", t.name)))?,
                };
                let last = i + 1 == pattern.len();
                let textual = matches!(
                    t,
                    KqlType::String | KqlType::DateTime | KqlType::TimeSpan | KqlType::Dynamic
                );
                let capture = match kind {
                    // Relaxed: a value that does not look like its type is still captured
                    // (and is null once converted), so the rest still matches.
                    Kind::Relaxed if !textual => format!("({}|.*?)", type_regex(t)),
                    _ if !textual => format!("({})", type_regex(t)),
                    Kind::Regex => "(.*)".to_string(),
                    Kind::Simple | Kind::Relaxed if last => "(.*)".to_string(),
                    Kind::Simple | Kind::Relaxed => "(.*?)".to_string(),
                };
                re.push_str(&capture);
                groups += 1;
                columns.push((name.name.clone(), t, groups));
            }
        }
    }
    re.push('$');
    let flags: String = flags.chars().filter(|c| "imsU".contains(*c)).collect();
    let re = if flags.is_empty() {
        format!("(?s){re}")
    } else {
        format!("(?s{flags}){re}")
    };
    regex::Regex::new(&re)
        .map_err(|e| semantic(span, format!("The parse pattern is not valid: {e}")))?;
    Ok((re, columns))
}

impl Planner<'_> {
    /// `parse` (`filter` false) and `parse-where` (`filter` true).
    pub(crate) fn parse(
        &mut self,
        t: Tab,
        filter: bool,
        params: &[OpParam],
        source: &ast::Expr,
        pattern: &[ParsePart],
        span: Span,
    ) -> Result<Tab> {
        let mut kind = Kind::Simple;
        let mut flags = String::new();
        for p in params {
            match p.name.to_ascii_lowercase().as_str() {
                "kind" => {
                    kind = match param_text(p).to_ascii_lowercase().as_str() {
                        "simple" => Kind::Simple,
                        "relaxed" => Kind::Relaxed,
                        "regex" => Kind::Regex,
                        other => {
                            return Err(semantic(
                                p.value.span(),
                                format!("'{other}' is not a parse kind (simple, regex, relaxed)"),
                            ));
                        }
                    }
                }
                "flags" => flags = param_text(p),
                other => {
                    return Err(semantic(
                        p.value.span(),
                        format!("Unknown parse parameter '{other}'"),
                    ));
                }
            }
        }
        let (re, columns) = pattern_regex(pattern, kind, &flags, span)?;
        let (text, text_type) = self.typed(source, t.row())?;
        let text = cast_to(text, text_type, KqlType::String);
        let matched = datafusion_functions::regex::expr_fn::regexp_match(text, lit(re), None);
        // Each column's capture, converted; `ok`: it converted (or is a string).
        let mut values: Vec<(String, KqlType, Expr, Expr)> = Vec::new();
        for (name, ty, group) in &columns {
            let capture = datafusion_functions_nested::expr_fn::array_element(
                matched.clone(),
                lit(*group as i64),
            );
            let (value, ok) = match conversion_of(*ty) {
                None => (capture, lit(true)),
                Some(f) => {
                    let v = call_udf(f, vec![capture], span)?;
                    (v.clone(), v.is_not_null())
                }
            };
            values.push((name.clone(), *ty, value, ok));
        }
        let all_ok = values
            .iter()
            .fold(matched.clone().is_not_null(), |acc, (_, _, _, ok)| {
                acc.and(ok.clone())
            });
        let names: Vec<String> = kql_columns(&t.plan)?.into_iter().map(|(n, _)| n).collect();
        let new: Vec<&String> = values.iter().map(|(n, _, _, _)| n).collect();
        let mut exprs: Vec<Expr> = names
            .iter()
            .filter(|n| !new.contains(n))
            .map(|n| column(n))
            .collect();
        for (name, ty, value, ok) in &values {
            let keep = match kind {
                Kind::Relaxed => matched.clone().is_not_null().and(ok.clone()),
                Kind::Simple | Kind::Regex => all_ok.clone(),
            };
            let missing = if *ty == KqlType::String {
                lit("")
            } else {
                lit(crate::literal::null_of(*ty))
            };
            let x = datafusion_expr::when(keep, value.clone())
                .otherwise(missing)
                .map_err(df(span))?;
            exprs.push(x.alias(name.clone()));
        }
        let mut b = LogicalPlanBuilder::from(t.plan.clone());
        if filter {
            b = b.filter(all_ok).map_err(df(span))?;
        }
        let plan = build(b.project(exprs), span)?;
        t.with_plan(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::uncaptured;

    #[test]
    fn delimiter_groups_do_not_capture() {
        assert_eq!(uncaptured("(.*?)[a-z]*="), "(?:.*?)[a-z]*=");
        assert_eq!(uncaptured(r"\(x\)(previous)?"), r"\(x\)(?:previous)?");
        assert_eq!(
            uncaptured("[(]a(?:b)(?P<n>c)(?<m>d)"),
            "[(]a(?:b)(?:c)(?:d)"
        );
        assert_eq!(uncaptured("[]()]"), "[]()]");
        assert_eq!(uncaptured("(?i)x"), "(?i)x");
    }
}
