//! Row-level security (row-level-security-policy.md): when a table's `row_level_security`
//! policy is enabled, "access is entirely replaced by the RLS query that's defined on the
//! table", for every caller, database admins included. A query that reads the table reads
//! the policy's query instead; inside that query the table's name means its rows as stored
//! (so the query can filter them), and it runs with the caller's identity
//! (`current_principal()` and friends), in the table's database.

use std::sync::Arc;

use datafusion::catalog::view::ViewTable;
use datafusion::datasource::provider_as_source;
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
/// policy's query does not plan (the table then cannot be read, rather than being read
/// unfiltered).
pub(crate) fn view(ctx: &Ctx<'_>, database: &str, table: &str) -> Option<Option<TableRef>> {
    let key = (database.to_string(), table.to_string());
    if ctx.rls_bypass.contains(&key) {
        return None;
    }
    let text = policy_query(ctx, database, table)?;
    let parsed = kql_syntax::parse(&text);
    // A policy query that does not parse makes its table unreadable (the planner then
    // says the table is unknown), never readable unfiltered.
    if !parsed.is_ok() {
        return Some(None);
    }
    let mut bypass = ctx.rls_bypass.clone();
    bypass.push(key);
    let child = ctx.child(database, bypass);
    let planned = kql_planner::plan_query(&child, &parsed.query).ok();
    ctx.absorb(&child);
    let plan = planned?.results.into_iter().last()?.plan;
    Some(Some(TableRef {
        source: provider_as_source(Arc::new(ViewTable::new(plan, Some(text)))),
    }))
}
