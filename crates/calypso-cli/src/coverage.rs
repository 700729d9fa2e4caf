//! `calypso coverage`: what Calypso implements against the official catalog
//! (`shared/reference/kql-catalog`). Functions, aggregates and plugins are counted from the
//! function catalog (`kql_functions::Registry`), operators from the planner's dispatch
//! (`kql_planner::planned_operators`); nothing here keeps a name list of its own.

use std::io::Write;
use std::path::Path;

use kql_functions::Registry;
use kql_functions::catalog::FunctionKind;

/// Public (not hidden, not obsolete) names of a catalog file.
fn catalog_names(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut parts = l.split('\t');
            let name = parts.next()?.trim().to_string();
            let flags = parts.next().unwrap_or("");
            (!flags.contains("hidden") && !flags.contains("obsolete")).then_some(name)
        })
        .collect())
}

/// Section (a) of tabular-operators.txt plus the source keywords of section (b).
fn operator_names(dir: &Path) -> Result<Vec<String>, String> {
    let path = dir.join("tabular-operators.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut ops: Vec<String> = Vec::new();
    let mut section = ' ';
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("# (") {
            section = rest.chars().next().unwrap_or(' ');
            continue;
        }
        if l.starts_with('#') || l.trim().is_empty() || !(section == 'a' || section == 'b') {
            continue;
        }
        let name = l.split('\t').next().unwrap_or("").trim().to_string();
        if !ops.contains(&name) && name != "let" && name != "set" {
            ops.push(name);
        }
    }
    Ok(ops)
}

/// What kind of catalog entry a name must be to count.
#[derive(Clone, Copy)]
enum Want {
    Scalar,
    Aggregate,
    Plugin,
}

fn implemented(name: &str, want: Want) -> bool {
    let Some(f) = Registry::global().function(name) else {
        return false;
    };
    match (&f.kind, want) {
        (FunctionKind::Scalar(_) | FunctionKind::Window(_), Want::Scalar)
        | (FunctionKind::Aggregate { .. }, Want::Aggregate)
        | (FunctionKind::Plugin(_), Want::Plugin) => true,
        (
            FunctionKind::Scalar(_)
            | FunctionKind::Window(_)
            | FunctionKind::Aggregate { .. }
            | FunctionKind::Plugin(_),
            _,
        ) => false,
    }
}

fn line(
    out: &mut dyn Write,
    what: &str,
    names: &[String],
    has: &dyn Fn(&str) -> bool,
    missing: bool,
) -> std::io::Result<()> {
    let done = names.iter().filter(|n| has(n)).count();
    writeln!(out, "{what}: {done} of {} implemented", names.len())?;
    if missing {
        let miss: Vec<&str> = names
            .iter()
            .filter(|n| !has(n))
            .map(String::as_str)
            .collect();
        writeln!(out, "  missing: {}", miss.join(", "))?;
    }
    Ok(())
}

/// Writes the report: one line per family, and with `missing` the names not implemented.
pub(crate) fn report(dir: &Path, missing: bool, out: &mut dyn Write) -> Result<(), String> {
    let ops = operator_names(dir)?;
    let scalars = catalog_names(&dir.join("scalar-functions.txt"))?;
    let aggs = catalog_names(&dir.join("aggregate-functions.txt"))?;
    let plugins = catalog_names(&dir.join("plugins.txt"))?;
    let planned: Vec<&str> = kql_planner::planned_operators().collect();
    let has_op = |n: &str| planned.contains(&n);
    (|| -> std::io::Result<()> {
        line(out, "tabular operators", &ops, &has_op, missing)?;
        line(
            out,
            "scalar functions",
            &scalars,
            &|n| implemented(n, Want::Scalar),
            missing,
        )?;
        line(
            out,
            "aggregate functions",
            &aggs,
            &|n| implemented(n, Want::Aggregate),
            missing,
        )?;
        line(
            out,
            "plugins",
            &plugins,
            &|n| implemented(n, Want::Plugin),
            missing,
        )
    })()
    .map_err(|e| e.to_string())
}
