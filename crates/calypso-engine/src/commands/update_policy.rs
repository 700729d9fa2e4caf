//! Update policies (`management/update-policy.md`): a table's `update` policy is an array of
//! objects, each naming a `Source` table of the same database and a `Query`. Whenever rows
//! are ingested into a source table (streaming, queued, `.ingest`, `.set-or-append` and the
//! rest of the family), each enabled policy's query runs over **the new rows only** (the
//! source table's name resolves to them) and its result is appended to the policy's table.
//!
//! * The query's result must match the target table's columns in number, type and order;
//!   this is checked when the policy is set ([`check`]) and again at every run.
//! * `IsTransactional: true`: a failing query fails the source ingestion, and nothing is
//!   written to any table. `false` (the default): the failure is recorded
//!   (`.show ingestion failures`, `OriginatesFromUpdatePolicy`) and the rest goes in.
//! * Chains (A → B → C) run in one ingestion: the rows a policy produced are the new rows of
//!   its target's own dependents. Each table is written at most once per ingestion (the
//!   docs: "data is ingested only once to each table in the chain"); a policy that would
//!   close a cycle is refused when it is set.
//! * `PropagateIngestionProperties: true`: the source ingestion's extent tags and creation
//!   time apply to the target's extent too.
//! * `SourceIsWildCard: true`: `Source` is a pattern (`*` matches any run of characters);
//!   the query names the triggering table `$source_table` (or by its own name).
//! * The source and all targets are committed in one catalog commit: a reader sees all of
//!   them or none.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use calypso_storage::{Database, Table};
use datafusion::datasource::MemTable;
use kql_functions::KqlType;
use serde_json::Value;

use super::ingest_props::ExtentProps;
use crate::queued::failures::FailureRecord;
use crate::{Engine, EngineError, RequestOptions, Result, security};

/// The name a query uses for the table that triggered it (wildcard sources, docs: "Update
/// policy with source table wildcard pattern").
const SOURCE_TABLE: &str = "$source_table";

/// Kusto's error code of a failed update policy (the docs' "Update policy failures").
pub(crate) const FAILURE_CODE: &str = "UpdatePolicy_QueryFailed";

/// One entry of a table's update policy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UpdatePolicy {
    /// The table the policy is set on (its results go there).
    pub(crate) target: String,
    pub(crate) source: String,
    pub(crate) wildcard: bool,
    pub(crate) query: String,
    pub(crate) enabled: bool,
    pub(crate) transactional: bool,
    pub(crate) propagate: bool,
}

/// The entries of `value` (a stored or normalized `update` policy) set on `target`.
fn entries_of(target: &str, value: &Value) -> Vec<UpdatePolicy> {
    let Some(items) = value.as_array() else {
        return Vec::new();
    };
    let flag = |o: &serde_json::Map<String, Value>, k: &str, d: bool| {
        o.get(k).and_then(Value::as_bool).unwrap_or(d)
    };
    items
        .iter()
        .filter_map(Value::as_object)
        .map(|o| UpdatePolicy {
            target: target.to_string(),
            source: o
                .get("Source")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            wildcard: flag(o, "SourceIsWildCard", false),
            query: o
                .get("Query")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            enabled: flag(o, "IsEnabled", true),
            transactional: flag(o, "IsTransactional", false),
            propagate: flag(o, "PropagateIngestionProperties", false),
        })
        .collect()
}

/// Every update policy entry of the database's tables.
fn all_policies(db: &Database) -> Vec<UpdatePolicy> {
    db.tables
        .values()
        .flat_map(|t| {
            t.policies
                .get("update")
                .map(|v| entries_of(&t.name, v))
                .unwrap_or_default()
        })
        .collect()
}

/// Whether `pattern` (`*` any run of characters) matches `name`.
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == name;
    };
    if parts.len() == 1 {
        return pattern == name;
    }
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    for p in middle {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

impl UpdatePolicy {
    /// Whether ingestion into `table` triggers this entry.
    fn triggered_by(&self, table: &str) -> bool {
        if self.wildcard {
            glob(&self.source, table)
        } else {
            self.source == table
        }
    }
}

/// The enabled update policies that ingestion into `table` triggers.
pub(crate) fn triggered_by(db: &Database, table: &str) -> Vec<UpdatePolicy> {
    all_policies(db)
        .into_iter()
        .filter(|p| p.enabled && p.triggered_by(table))
        .collect()
}

/// The column list of a table.
fn columns_of(t: &Table) -> Vec<(String, KqlType)> {
    t.columns
        .iter()
        .map(|c| (c.name.clone(), c.kql_type))
        .collect()
}

fn schema_text(columns: &[(String, KqlType)]) -> String {
    columns
        .iter()
        .map(|(n, t)| format!("{n}:{}", t.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses a query result whose columns differ from the target's in number or type.
fn check_schema(target: &str, got: &[(String, KqlType)], want: &[(String, KqlType)]) -> Result<()> {
    let same = got.len() == want.len() && got.iter().zip(want).all(|(a, b)| a.1 == b.1);
    if same {
        return Ok(());
    }
    Err(EngineError::BadRequest(format!(
        "The update policy's query result schema ({}) does not match the schema of table '{target}' ({}): the columns must match in number, type and order",
        schema_text(got),
        schema_text(want)
    )))
}

/// The tables `start` leads to through update policies (source → target edges) up to
/// `goal`, as a path, if it reaches `goal`.
fn path_to(
    policies: &[UpdatePolicy],
    db: &Database,
    start: &str,
    goal: &str,
) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([vec![start.to_string()]]);
    while let Some(path) = queue.pop_front() {
        let last = path.last().cloned().unwrap_or_default();
        for p in policies.iter().filter(|p| p.triggered_by(&last)) {
            let mut next = path.clone();
            next.push(p.target.clone());
            if p.target == goal {
                return Some(next);
            }
            if db.tables.contains_key(&p.target) && seen.insert(p.target.clone()) {
                queue.push_back(next);
            }
        }
    }
    None
}

impl Engine {
    /// Checks an `update` policy `value` (normalized) before it is set on table `target` of
    /// `database`: every source exists (or, for a wildcard, is a pattern), every query plans
    /// over its source and yields the target's columns, and no entry closes a cycle.
    pub(crate) fn check_update_policy(
        &self,
        caller: &crate::Caller,
        database: &str,
        target: &str,
        value: &Value,
    ) -> Result<()> {
        let cat = self.storage.catalog();
        let db = super::db_of(&cat, database)?;
        let t = super::table_of(db, target)?;
        let want = columns_of(t);
        let new = entries_of(target, value);
        for p in &new {
            if p.source.trim().is_empty() {
                return Err(EngineError::BadRequest(
                    "An update policy needs a Source table".into(),
                ));
            }
            if p.query.trim().is_empty() {
                return Err(EngineError::BadRequest(
                    "An update policy needs a Query".into(),
                ));
            }
            let sources: Vec<&Table> = if p.wildcard {
                db.tables
                    .values()
                    .filter(|s| p.triggered_by(&s.name))
                    .map(|s| &**s)
                    .collect()
            } else {
                let s = db.tables.get(&p.source).ok_or_else(|| {
                    EngineError::BadRequest(format!(
                        "The update policy's Source table '{}' does not exist in database '{database}'",
                        p.source
                    ))
                })?;
                vec![&**s]
            };
            for s in sources {
                if s.name == target {
                    return Err(EngineError::BadRequest(format!(
                        "The update policy of table '{target}' cannot have the table itself as its Source"
                    )));
                }
                let got = self
                    .policy_query_columns(caller, database, &s.name, &columns_of(s), &p.query)
                    .map_err(|e| {
                        EngineError::BadRequest(format!(
                            "The update policy's query is not valid for source '{}': {e}",
                            s.name
                        ))
                    })?;
                check_schema(target, &got, &want)?;
            }
        }
        // The graph with this table's entries replaced.
        let mut graph: Vec<UpdatePolicy> = all_policies(db)
            .into_iter()
            .filter(|p| p.target != target)
            .collect();
        graph.extend(new.iter().cloned());
        if let Some(path) = path_to(&graph, db, target, target) {
            return Err(EngineError::BadRequest(format!(
                "The update policy of table '{target}' would make a cycle of update policies: {}",
                path.join(" -> ")
            )));
        }
        Ok(())
    }

    /// The result columns of an update policy query over an (empty) source of `columns`.
    fn policy_query_columns(
        &self,
        caller: &crate::Caller,
        database: &str,
        source: &str,
        columns: &[(String, KqlType)],
        query: &str,
    ) -> Result<Vec<(String, KqlType)>> {
        let parsed = Self::parse_query(query)?;
        let options = RequestOptions::default();
        let mut ctx = self.context(caller, database, &options)?;
        let mem = MemTable::try_new(kql_functions::types::schema(columns), vec![Vec::new()])
            .map_err(|e| EngineError::Execution(e.to_string()))?;
        let mem: Arc<dyn datafusion::catalog::TableProvider> = Arc::new(mem);
        ctx.extra = vec![(source, Arc::clone(&mem)), (SOURCE_TABLE, mem)];
        let planned = crate::plan(&ctx, &parsed, query)?;
        let [result] = planned.results.as_slice() else {
            return Err(EngineError::BadRequest(
                "The query must have exactly one tabular result".into(),
            ));
        };
        Ok(result.columns.clone())
    }

    /// Runs `policy`'s query over `rows` (the new rows of `source`) and returns the result
    /// shaped as the target's `columns`.
    async fn run_update_policy(
        &self,
        database: &str,
        source: &str,
        source_columns: &[(String, KqlType)],
        rows: &[RecordBatch],
        policy: &UpdatePolicy,
        columns: &[(String, KqlType)],
    ) -> Result<Vec<RecordBatch>> {
        let parsed = Self::parse_query(&policy.query)?;
        let options = RequestOptions::default();
        let mut ctx = self.context(&security::UNAUTHENTICATED, database, &options)?;
        let schema = kql_functions::types::schema(source_columns);
        let mem = MemTable::try_new(schema, vec![rows.to_vec()])
            .map_err(|e| EngineError::Execution(e.to_string()))?;
        let mem: Arc<dyn datafusion::catalog::TableProvider> = Arc::new(mem);
        ctx.extra = vec![(source, Arc::clone(&mem)), (SOURCE_TABLE, mem)];
        let planned = crate::plan(&ctx, &parsed, &policy.query)?;
        drop(ctx);
        let result = self.run_planned(planned, &options).await?;
        let [table] = result.tables.as_slice() else {
            return Err(EngineError::BadRequest(
                "The update policy's query must have exactly one tabular result".into(),
            ));
        };
        check_schema(&policy.target, &table.columns, columns)?;
        let schema = kql_functions::types::schema(columns);
        table
            .batches
            .iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| {
                let arrays: Vec<ArrayRef> = b.columns().to_vec();
                RecordBatch::try_new(Arc::clone(&schema), arrays)
                    .map_err(|e| EngineError::Execution(e.to_string()))
            })
            .collect()
    }

    /// The rows that ingesting `rows` into `database.table` adds to other tables through
    /// update policies (chains followed, each table once), with the properties of their
    /// extents. A transactional policy's failure is returned as the error; a
    /// non-transactional one's is recorded (`.show ingestion failures`) and left out.
    pub(crate) async fn derive_update_rows(
        &self,
        database: &str,
        table: &str,
        rows: &[RecordBatch],
        props: &ExtentProps,
    ) -> Result<Vec<Derived>> {
        let mut out: Vec<Derived> = Vec::new();
        let mut written = BTreeSet::from([table.to_string()]);
        let mut queue: VecDeque<NewRows> = VecDeque::new();
        {
            let cat = self.storage.catalog();
            let db = super::db_of(&cat, database)?;
            if triggered_by(db, table).is_empty() {
                return Ok(out);
            }
            let t = super::table_of(db, table)?;
            queue.push_back((table.to_string(), columns_of(t), rows.to_vec()));
        }
        while let Some((source, source_columns, new_rows)) = queue.pop_front() {
            let policies = {
                let cat = self.storage.catalog();
                triggered_by(super::db_of(&cat, database)?, &source)
            };
            for p in policies {
                if !written.insert(p.target.clone()) {
                    continue;
                }
                let columns = {
                    let cat = self.storage.catalog();
                    match super::db_of(&cat, database)?.tables.get(&p.target) {
                        Some(t) => columns_of(t),
                        None => continue,
                    }
                };
                let run = self
                    .run_update_policy(database, &source, &source_columns, &new_rows, &p, &columns)
                    .await;
                match run {
                    Ok(batches) => {
                        let extent_props = ExtentProps {
                            tags: if p.propagate {
                                props.tags.clone()
                            } else {
                                Vec::new()
                            },
                            creation_time: if p.propagate {
                                props.creation_time.clone()
                            } else {
                                None
                            },
                            ..ExtentProps::default()
                        };
                        queue.push_back((p.target.clone(), columns.clone(), batches.clone()));
                        out.push(Derived {
                            table: p.target.clone(),
                            columns,
                            batches,
                            props: extent_props,
                        });
                    }
                    Err(e) if p.transactional => {
                        return Err(EngineError::BadRequest(format!(
                            "The transactional update policy of table '{}' (source '{source}') failed, so nothing was ingested: {e}",
                            p.target
                        )));
                    }
                    Err(e) => {
                        self.record_failure(&FailureRecord {
                            operation_id: super::new_id(),
                            database: database.to_string(),
                            table: p.target.clone(),
                            failed_on: chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
                            source: source.clone(),
                            details: format!(
                                "The update policy of table '{}' (source '{source}') failed: {e}",
                                p.target
                            ),
                            error_code: FAILURE_CODE.to_string(),
                            root_activity_id: super::new_id(),
                            principal: String::new(),
                            properties: String::new(),
                            from_update_policy: true,
                        })
                        .await;
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A table's new rows in one ingestion: its name, its columns, the rows.
type NewRows = (String, Vec<(String, KqlType)>, Vec<RecordBatch>);

/// Rows an update policy adds to a table in one ingestion.
#[derive(Debug, Clone)]
pub(crate) struct Derived {
    pub(crate) table: String,
    /// The table's columns when the rows were made.
    pub(crate) columns: Vec<(String, KqlType)>,
    pub(crate) batches: Vec<RecordBatch>,
    pub(crate) props: ExtentProps,
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn wildcard_sources() {
        assert!(glob("SourceTable*", "SourceTable1"));
        assert!(glob("SourceTable*", "SourceTable"));
        assert!(!glob("SourceTable*", "OtherTable1"));
        assert!(glob("*Raw", "EventsRaw"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exact2"));
        assert!(glob("*", "anything"));
    }
}
