//! Kusto's rules for naming unnamed result columns.

use kql_syntax::ast::{Expr, ExprKind};

/// Functions whose unnamed result takes the name of their first (column) argument.
const NAME_FROM_ARG: &[&str] = &[
    "tostring",
    "toint",
    "tolong",
    "todouble",
    "toreal",
    "todecimal",
    "tobool",
    "toboolean",
    "todatetime",
    "totimespan",
    "toguid",
    "todynamic",
    "abs",
    "bin",
    "floor",
    "bin_at",
    "startofday",
    "startofweek",
    "startofmonth",
    "startofyear",
    "endofday",
    "endofweek",
    "endofmonth",
    "endofyear",
];

/// Functions whose unnamed result is `<function>_<column>`.
const NAME_PREFIXED: &[&str] = &["strlen"];

/// The column path an expression names (`x`, `d.a` → `d_a`, `d['a']` → `d_a`), if any.
pub(crate) fn path_name(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Name(id) => Some(id.name.clone()),
        ExprKind::Member { expr, name } => Some(format!("{}_{}", path_name(expr)?, name.name)),
        ExprKind::Index { expr, index } => {
            let base = path_name(expr)?;
            match &index.kind {
                ExprKind::Literal(kql_syntax::ast::Literal::String { value, .. }) => {
                    Some(format!("{base}_{value}"))
                }
                ExprKind::Literal(kql_syntax::ast::Literal::Long(v)) => Some(format!("{base}_{v}")),
                _ => None,
            }
        }
        ExprKind::Paren(inner) => path_name(inner),
        _ => None,
    }
}

/// The name Kusto gives an unnamed `extend`/`project`/`by` expression, or `None` for `ColumnN`.
pub(crate) fn expr_name(e: &Expr) -> Option<String> {
    if let Some(p) = path_name(e) {
        return Some(p);
    }
    if let ExprKind::Call { name, args } = &e.kind {
        let f = name.name.as_str();
        let first = args.first().and_then(expr_name);
        if NAME_FROM_ARG.contains(&f) {
            return first;
        }
        if NAME_PREFIXED.contains(&f) {
            return first.map(|a| format!("{f}_{a}"));
        }
    }
    None
}

/// Makes `name` unique among `taken` by appending 1, 2, ... as Kusto does.
pub(crate) fn unique(name: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == name) {
        return name.to_string();
    }
    let mut i = 1;
    loop {
        let cand = format!("{name}{i}");
        if !taken.contains(&cand) {
            return cand;
        }
        i += 1;
    }
}

/// The next free `ColumnN` name.
pub(crate) fn next_column_name(counter: &mut usize, taken: &[String]) -> String {
    loop {
        *counter += 1;
        let cand = format!("Column{counter}");
        if !taken.contains(&cand) {
            return cand;
        }
    }
}
