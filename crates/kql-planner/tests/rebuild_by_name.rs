//! Every function a plan holds can be rebuilt from its name through the function catalog
//! (ARCHITECTURE.md invariant 8, window functions included): plan the schema corpus and
//! the window/aggregate queries below, and look each function up by its DataFusion name.

use std::path::Path;

use datafusion_common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion_expr::expr::WindowFunctionDefinition;
use datafusion_expr::registry::FunctionRegistry;
use datafusion_expr::{Expr, LogicalPlan};
use kql_functions::Registry;
mod common;

use common::NoTables;

/// (kind, name) of every function in `plan`, subqueries included.
fn functions(plan: &LogicalPlan, out: &mut Vec<(&'static str, String)>) {
    let _ = plan.apply_with_subqueries(|node| {
        for e in node.expressions() {
            let _ = e.apply(|x| {
                match x {
                    Expr::ScalarFunction(f) => out.push(("scalar", f.func.name().to_string())),
                    Expr::AggregateFunction(f) => {
                        out.push(("aggregate", f.func.name().to_string()))
                    }
                    Expr::WindowFunction(w) => match &w.fun {
                        WindowFunctionDefinition::AggregateUDF(f) => {
                            out.push(("aggregate", f.name().to_string()))
                        }
                        WindowFunctionDefinition::WindowUDF(f) => {
                            out.push(("window", f.name().to_string()))
                        }
                    },
                    _ => {}
                }
                Ok(TreeNodeRecursion::Continue)
            });
        }
        Ok(TreeNodeRecursion::Continue)
    });
}

fn corpus() -> Vec<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema_corpus.kql"),
    )
    .unwrap_or_default();
    let mut qs: Vec<String> = text
        .split("\n// ---\n")
        .map(|c| c.trim_matches('\n').to_string())
        .filter(|c| !c.is_empty())
        .collect();
    qs.extend(
        [
            "range x from 1 to 5 step 1 | serialize | extend a = row_number(), b = prev(x), c = next(x, 2, 0), d = row_number(1, x % 2 == 0)",
            "range x from 1 to 5 step 1 | summarize make_list(x), make_set(x), dcount(x), take_any(x), percentiles(x, 50, 90), arg_max(x, *)",
            "range x from 1 to 5 step 1 | summarize sumif(x, x > 1), countif(x > 2), count_distinct(x), stdev(x), variancep(x)",
        ]
        .map(String::from),
    );
    qs
}

#[test]
fn every_planned_function_is_found_by_its_name() {
    let registry = Registry::global();
    let mut seen = 0;
    let mut planned_queries = 0;
    for q in corpus() {
        let parsed = kql_syntax::parse(&q);
        if !parsed.diagnostics.is_empty() {
            continue;
        }
        let Ok(planned) = kql_planner::plan_query(&NoTables, &parsed.query) else {
            continue;
        };
        planned_queries += 1;
        for r in &planned.results {
            let mut fs = Vec::new();
            functions(&r.plan, &mut fs);
            for (kind, name) in fs {
                seen += 1;
                let found = match kind {
                    "scalar" => registry.udf(&name).map(|f| f.name().to_string()),
                    "aggregate" => registry.udaf(&name).map(|f| f.name().to_string()),
                    _ => registry.udwf(&name).map(|f| f.name().to_string()),
                };
                match found {
                    Ok(n) => assert_eq!(n, name, "{kind} {name} rebuilt as {n} in {q}"),
                    Err(e) => panic!("{kind} function {name} of `{q}` is not in the catalog: {e}"),
                }
            }
        }
    }
    assert!(
        planned_queries > 50,
        "only {planned_queries} corpus queries planned"
    );
    assert!(seen > 100, "only {seen} functions seen");
}

#[test]
fn catalog_window_functions_are_rebuildable() {
    let registry = Registry::global();
    assert!(registry.udwf("__row_number_restart").is_ok());
    assert!(registry.udwf("lag").is_ok());
    assert!(registry.udaf("make_list").is_ok());
    assert!(registry.udf("no_such_function").is_err());
}
