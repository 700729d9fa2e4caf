//! Row-level security (row-level-security-policy.md): when a table's `row_level_security`
//! policy is enabled, "access is entirely replaced by the RLS query that's defined on the
//! table", for every caller, database admins included. A query that reads the table reads
//! the policy's query instead; inside that query the table's name means its rows as stored
//! (so the query can filter them), and it runs with the caller's identity
//! (`current_principal()` and friends), in the table's database.

use std::sync::Arc;

use datafusion::catalog::view::ViewTable;
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::LogicalPlan;
use kql_planner::TableRef;

use crate::Ctx;

/// The enabled policy query of `database.table`, if any.
pub(crate) fn policy_query(ctx: &Ctx<'_>, database: &str, table: &str) -> Option<String> {
    let t = ctx.catalog.table(database, table)?;
    let p = t.policies.get("row_level_security")?;
    let enabled = p.get("IsEnabled").and_then(serde_json::Value::as_bool) == Some(true);
    let query = p.get("Query").and_then(serde_json::Value::as_str)?.trim();
    (enabled && !query.is_empty()).then(|| query.to_string())
}

/// What a read of `database.table` sees through its policy: `None` when no policy applies
/// (read the table itself), else the policy query's plan as a view — or `Some(None)` when the
/// policy's query does not parse or plan: the table then cannot be read (never read
/// unfiltered), and the failure is recorded so the query's error names the policy.
pub(crate) fn view(ctx: &Ctx<'_>, database: &str, table: &str) -> Option<Option<TableRef>> {
    let key = (database.to_string(), table.to_string());
    if ctx.rls_bypass.contains(&key) {
        return None;
    }
    let text = policy_query(ctx, database, table)?;
    let mut bypass = ctx.rls_bypass.clone();
    bypass.push(key);
    let child = ctx.child(database, bypass);
    let planned = plan(&child, &text);
    ctx.absorb(&child);
    match planned {
        Ok(plan) => Some(Some(TableRef {
            source: provider_as_source(Arc::new(ViewTable::new(plan, Some(text)))),
        })),
        Err(why) => {
            ctx.record_failure(format!(
                "The row_level_security policy of table '{database}.{table}' is not valid, so the table cannot be read: {why}"
            ));
            Some(None)
        }
    }
}

/// The plan of a policy query, or why it has none.
fn plan(ctx: &Ctx<'_>, text: &str) -> Result<LogicalPlan, String> {
    let parsed = kql_syntax::parse(text);
    if let Some(d) = parsed.diagnostics.first() {
        return Err(d.render(text));
    }
    let planned = kql_planner::plan_query(ctx, &parsed.query).map_err(|e| e.render(text))?;
    planned
        .results
        .into_iter()
        .last()
        .map(|r| r.plan)
        .ok_or_else(|| "the query has no tabular result".to_string())
}

/// Checks a policy query before it is stored (`.alter table T policy row_level_security
/// enable "..."`): it must parse and plan in the table's database, reading the table as
/// stored. A query that cannot is refused, as ADX validates the query when the policy is set.
pub(crate) fn check(ctx: &Ctx<'_>, database: &str, table: &str, text: &str) -> crate::Result<()> {
    let child = ctx.child(database, vec![(database.to_string(), table.to_string())]);
    plan(&child, text).map(|_| ()).map_err(|why| {
        crate::EngineError::BadRequest(format!(
            "The row_level_security policy's query for table '{database}.{table}' is not valid: {why}"
        ))
    })
}
