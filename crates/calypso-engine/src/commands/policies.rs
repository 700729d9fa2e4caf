//! Policies: `.show|.alter|.alter-merge|.delete <entity> policy <name> [value]` for the
//! cluster, databases, tables (`T`, `D.T`, `*`, `(A, B)`) and columns. Values are stored
//! as Kusto's JSON by policy name; the streaming ingestion and restricted view access
//! policies live in their own catalog fields because ingestion and authorization read them.
//!
//! Which policies are enforced: streamingingestion (streaming ingestion refuses tables
//! without it), restricted_view_access (authorization). The others are stored and shown;
//! the issues that need them enforce them (see README).

use calypso_storage::{Catalog, EntityKind, Error as SErr};
use kql_syntax::ast::{PolicyCommand, PolicyScope, PolicyValue, PolicyVerb, PropValue, QName};

use super::policy_spec::{format_ticks, parse_ticks, spec_of};
use super::{Ddl, POLICY_COLS, db_of, table_of};
use crate::table::{Cell, table};
use crate::{Caller, Engine, EngineError, Result, ResultTable};

/// The entity of a policy, resolved to names.
#[derive(Debug, Clone)]
enum Target {
    Cluster,
    Database(String),
    Table(String, String),
    Column(String, String, String),
}

impl Target {
    fn entity_name(&self) -> String {
        match self {
            Target::Cluster => String::new(),
            Target::Database(d) => format!("[{d}]"),
            Target::Table(d, t) => format!("[{d}].[{t}]"),
            Target::Column(d, t, c) => format!("[{d}].[{t}].[{c}]"),
        }
    }

    fn entity_type(&self) -> &'static str {
        match self {
            Target::Cluster => "Cluster",
            Target::Database(_) => "Database",
            Target::Table(..) => "Table",
            Target::Column(..) => "Column",
        }
    }
}

fn table_target(database: &str, q: &QName) -> Target {
    let db = q.parent().map_or(database, |d| d.name.as_str());
    Target::Table(db.to_string(), q.last().name.clone())
}

fn targets(cat: &Catalog, database: &str, scope: &PolicyScope) -> Result<Vec<Target>> {
    Ok(match scope {
        PolicyScope::Cluster => vec![Target::Cluster],
        PolicyScope::Database(d) => vec![Target::Database(
            d.as_ref().map_or(database, |d| d.name.as_str()).to_string(),
        )],
        PolicyScope::Table(q) => vec![table_target(database, q)],
        PolicyScope::Tables(qs) => qs.iter().map(|q| table_target(database, q)).collect(),
        PolicyScope::AllDatabases => cat
            .databases
            .keys()
            .map(|d| Target::Database(d.clone()))
            .collect(),
        PolicyScope::AllTables => db_of(cat, database)?
            .tables
            .keys()
            .map(|t| Target::Table(database.to_string(), t.clone()))
            .collect(),
        PolicyScope::Column(q) => {
            let Some(t) = q.parent() else {
                return Err(EngineError::BadRequest(format!(
                    "Expected a column as Table.Column, found '{}'",
                    q.last().name
                )));
            };
            let db = q.grandparent().map_or(database, |d| d.name.as_str());
            vec![Target::Column(
                db.to_string(),
                t.name.clone(),
                q.last().name.clone(),
            )]
        }
        PolicyScope::MaterializedView(v) => {
            return Err(EngineError::NotFound(format!(
                "Materialized view '{}' was not found (Calypso has no materialized views yet)",
                v.name
            )));
        }
    })
}

/// The stored value of `policy` on `target` (`None` when not set).
fn read(cat: &Catalog, target: &Target, policy: &str) -> Result<Option<serde_json::Value>> {
    Ok(match target {
        Target::Cluster => cat.policies.get(policy).cloned(),
        Target::Database(d) => {
            let d = db_of(cat, d)?;
            if policy == "streamingingestion" {
                d.streaming_ingestion_policy.clone()
            } else {
                d.policies.get(policy).cloned()
            }
        }
        Target::Table(d, t) => {
            let t = table_of(db_of(cat, d)?, t)?;
            match policy {
                "streamingingestion" => t.streaming_ingestion_policy.clone(),
                "restricted_view_access" => t.restricted_view_access.map(serde_json::Value::Bool),
                _ => t.policies.get(policy).cloned(),
            }
        }
        Target::Column(d, t, c) => {
            let t = table_of(db_of(cat, d)?, t)?;
            let col = t
                .column(c)
                .ok_or_else(|| SErr::not_found(EntityKind::Column, c.clone()))?;
            col.policies.get(policy).cloned()
        }
    })
}

/// Stores (or with `None` deletes) `policy` on `target`.
fn write(
    cat: &mut Catalog,
    target: &Target,
    policy: &str,
    value: Option<serde_json::Value>,
) -> calypso_storage::Result<()> {
    let set = |m: &mut std::collections::BTreeMap<String, serde_json::Value>| match &value {
        Some(v) => {
            m.insert(policy.to_string(), v.clone());
        }
        None => {
            m.remove(policy);
        }
    };
    match target {
        Target::Cluster => set(&mut cat.policies),
        Target::Database(d) => {
            let d = cat.require_database_mut(d)?;
            if policy == "streamingingestion" {
                d.streaming_ingestion_policy = value.clone();
            } else {
                set(&mut d.policies);
            }
        }
        Target::Table(d, t) => {
            let t = cat.require_table_mut(d, t)?;
            match policy {
                "streamingingestion" => t.streaming_ingestion_policy = value.clone(),
                "restricted_view_access" => {
                    t.restricted_view_access = value.as_ref().and_then(serde_json::Value::as_bool)
                }
                _ => set(&mut t.policies),
            }
        }
        Target::Column(d, t, c) => {
            let t = cat.require_table_mut(d, t)?;
            let col = t
                .columns
                .iter_mut()
                .find(|x| x.name == *c)
                .ok_or_else(|| SErr::not_found(EntityKind::Column, c.clone()))?;
            set(&mut col.policies);
        }
    }
    Ok(())
}

/// A timespan as policies write it (`7.00:00:00`), from a KQL literal (`7d`) or text.
fn timespan_text(v: &PropValue) -> Result<String> {
    let text = v.text();
    let ticks = parse_ticks(&text)
        .ok_or_else(|| EngineError::BadRequest(format!("'{text}' is not a timespan")))?;
    Ok(format_ticks(ticks))
}

/// The JSON of an `.alter` value.
fn value_json(policy: &str, value: &PolicyValue) -> Result<serde_json::Value> {
    let bad =
        |what: &str| EngineError::BadRequest(format!("The {policy} policy is not valid: {what}"));
    Ok(match value {
        PolicyValue::None => return Err(bad("a value is required")),
        PolicyValue::Json(text) => {
            serde_json::from_str(text).map_err(|e| bad(&format!("not valid JSON ({e})")))?
        }
        PolicyValue::Enabled(on) => match policy {
            "streamingingestion" => serde_json::json!({"IsEnabled": on, "HintAllocatedRate": null}),
            _ => serde_json::json!({"IsEnabled": on}),
        },
        PolicyValue::Bool(b) => match policy {
            "restricted_view_access" => serde_json::Value::Bool(*b),
            _ => serde_json::json!({"IsEnabled": b}),
        },
        PolicyValue::RowLevelSecurity { enabled, query } => {
            serde_json::json!({"IsEnabled": enabled, "Query": query})
        }
        PolicyValue::RowOrder(cols) => {
            let entries: Vec<String> = cols
                .iter()
                .map(|(c, asc)| format!("{} {}", c.name, if *asc { "asc" } else { "desc" }))
                .collect();
            serde_json::json!({"RowOrder": entries})
        }
        PolicyValue::Assignments(props) => {
            let mut out = serde_json::Map::new();
            for p in props {
                let key = p.name.to_ascii_lowercase();
                match (policy, key.as_str()) {
                    ("caching", "hot" | "hotdata" | "hotindex") => {
                        let ts = serde_json::json!({"Value": timespan_text(&p.value)?});
                        if key != "hotindex" {
                            out.insert("DataHotSpan".into(), ts.clone());
                        }
                        if key != "hotdata" {
                            out.insert("IndexHotSpan".into(), ts);
                        }
                    }
                    ("caching", "hot_window") => {
                        let windows = out
                            .entry("HotWindows")
                            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
                        if let serde_json::Value::Array(a) = windows {
                            let t = p.value.text();
                            let (from, to) = t.split_once("..").unwrap_or((&t, &t));
                            a.push(
                                serde_json::json!({"MinValue": from.trim(), "MaxValue": to.trim()}),
                            );
                        }
                    }
                    ("retention", "softdelete") => {
                        out.insert("SoftDeletePeriod".into(), timespan_text(&p.value)?.into());
                    }
                    ("retention", "recoverability") => {
                        let v = p.value.text();
                        let v = match v.to_ascii_lowercase().as_str() {
                            "enabled" => "Enabled",
                            "disabled" => "Disabled",
                            _ => return Err(bad("recoverability is enabled or disabled")),
                        };
                        out.insert("Recoverability".into(), v.into());
                    }
                    ("encoding", "type") => {
                        out.insert("EncodingProfile".into(), p.value.text().into());
                    }
                    _ => return Err(bad(&format!("unknown property '{}'", p.name))),
                }
            }
            serde_json::Value::Object(out)
        }
    })
}

fn row(cat: &Catalog, target: &Target, policy: &str) -> Result<Vec<Cell>> {
    let spec = spec_of(policy)?;
    let value = read(cat, target, policy)?.or_else(|| match target {
        Target::Database(_) => spec
            .database_default
            .and_then(|d| serde_json::from_str(d).ok()),
        // "The policy is enabled by default on all newly created tables"
        // (continuous-data-export.md).
        Target::Table(..) if policy == "ingestiontime" => {
            Some(serde_json::json!({"IsEnabled": true}))
        }
        _ => None,
    });
    let children = match target {
        Target::Database(d) => {
            let names: Vec<String> = db_of(cat, d)?.tables.keys().cloned().collect();
            Cell::Str(serde_json::json!(names).to_string())
        }
        _ => Cell::Null,
    };
    Ok(vec![
        spec.name.into(),
        target.entity_name().into(),
        value
            .map(|v| v.to_string())
            .unwrap_or_else(|| "null".into())
            .into(),
        children,
        target.entity_type().into(),
    ])
}

impl Engine {
    pub(crate) async fn policy_command(
        &self,
        caller: &Caller,
        database: &str,
        cmd: &PolicyCommand,
        ddl: &Ddl,
    ) -> Result<ResultTable> {
        let Some(policy) = cmd.policy.clone() else {
            return Err(EngineError::BadRequest("A policy name is required".into()));
        };
        let spec = spec_of(&policy)?;
        let cat = self.storage.catalog();
        let mut targets = targets(&cat, database, &cmd.scope)?;
        if matches!(cmd.scope, PolicyScope::AllDatabases) {
            // Only the databases the caller may read the metadata of.
            targets.retain(|t| match t {
                Target::Database(d) => crate::security::access::allowed(
                    caller,
                    &cat,
                    &crate::security::access::Action::new(
                        "DatabasePolicyShowCommand",
                        crate::security::access::Need::DatabaseMetadata {
                            database: d.clone(),
                        },
                    ),
                ),
                _ => true,
            });
        }
        drop(cat);
        if cmd.verb != PolicyVerb::Show {
            let mut new = match (cmd.verb, &cmd.value) {
                (PolicyVerb::Delete, _) => None,
                // `.alter column T.c policy encoding` without a type resets the profile.
                (_, PolicyValue::None) if policy == "encoding" => None,
                _ => Some(value_json(&policy, &cmd.value)?),
            };
            // `.alter` values are complete policies: checked and normalized now, once.
            // `.alter-merge` values are checked once merged into each entity's policy.
            let merge = cmd.verb == PolicyVerb::AlterMerge;
            if cmd.verb == PolicyVerb::Alter
                && let Some(v) = &new
            {
                let v = spec.normalize(v)?;
                if policy == "row_level_security"
                    && v.get("IsEnabled") == Some(&serde_json::Value::Bool(true))
                    && let Some(query) = v.get("Query").and_then(serde_json::Value::as_str)
                {
                    let options = crate::RequestOptions::default();
                    let ctx = self.context(caller, database, &options)?;
                    for t in &targets {
                        if let Target::Table(d, name) = t {
                            crate::rls::check(&ctx, d, name, query)?;
                        }
                    }
                }
                new = Some(v);
            }
            if policy == "update"
                && let Some(v) = &new
            {
                let cat = self.storage.catalog();
                for t in &targets {
                    if let Target::Table(d, name) = t {
                        // `.alter-merge` appends its entries to the stored ones.
                        let value = match (merge, read(&cat, t, &policy)?) {
                            (true, Some(serde_json::Value::Array(mut old))) => {
                                old.extend(v.as_array().cloned().unwrap_or_default());
                                spec.normalize(&serde_json::Value::Array(old))?
                            }
                            (true, _) => spec.normalize(v)?,
                            (false, _) => v.clone(),
                        };
                        self.check_update_policy(caller, d, name, &value)?;
                    }
                }
            }
            let (t2, p2, ddl) = (targets.clone(), policy.clone(), ddl.clone());
            self.storage
                .commit(move |c| {
                    for t in &t2 {
                        let old = read(c, t, &p2).map_err(|e| SErr::invalid(e.to_string()))?;
                        let value = match (new.clone(), old.clone(), merge) {
                            (
                                Some(serde_json::Value::Object(n)),
                                Some(serde_json::Value::Object(mut o)),
                                true,
                            ) => {
                                // Keys match case-insensitively: a merged key replaces the
                                // stored spelling.
                                for (k, v) in n {
                                    o.retain(|old, _| !old.eq_ignore_ascii_case(&k));
                                    o.insert(k, v);
                                }
                                Some(serde_json::Value::Object(o))
                            }
                            // Policies that are lists (update): the entries are appended.
                            (
                                Some(serde_json::Value::Array(n)),
                                Some(serde_json::Value::Array(mut o)),
                                true,
                            ) => {
                                o.extend(n);
                                Some(serde_json::Value::Array(o))
                            }
                            (v, _, _) => v,
                        };
                        let value = match value {
                            Some(v) if merge => Some(
                                spec.normalize(&v)
                                    .map_err(|e| SErr::invalid(e.to_string()))?,
                            ),
                            v => v,
                        };
                        let after = value.as_ref().map(|v| v.to_string()).unwrap_or_default();
                        write(c, t, &p2, value)?;
                        let (db, entity) = match t {
                            Target::Cluster => (String::new(), String::new()),
                            Target::Database(d) => (d.clone(), d.clone()),
                            Target::Table(d, n) => (d.clone(), n.clone()),
                            Target::Column(d, n, col) => (d.clone(), format!("{n}.{col}")),
                        };
                        let event = format!(
                            "ALTER-{}-POLICY-{}",
                            t.entity_type().to_ascii_uppercase(),
                            p2.to_ascii_uppercase()
                        );
                        let before = old.map(|v| v.to_string()).unwrap_or_default();
                        c.record(ddl.entry(&event, &db, &entity, &entity, before, after));
                    }
                    Ok(())
                })
                .await?;
        }
        let cat = self.storage.catalog();
        let mut rows = Vec::new();
        for t in &targets {
            rows.push(row(&cat, t, &policy)?);
        }
        table(POLICY_COLS, rows)
    }
}
