//! Databases: `.create|.drop database`, `.alter database D prettyname`, `.show database`,
//! `.show [cluster] databases [details|identity|policies|datastats|metadata]`, `.show
//! databases entities`. Schemas are in `schema.rs`.

use calypso_storage::{Catalog, Database, EntityKind, Error as SErr};
use kql_functions::KqlType;
use kql_syntax::ast::{DatabaseCommand, DatabaseFlavor, prop};

use super::{Ddl, csl_schema, db_of, new_id, now_rfc3339};
use crate::security::access::{self, Action, Need};
use crate::table::{Cell, guid, table};
use crate::{Caller, Engine, EngineError, Result, ResultTable};

type Cols = &'static [(&'static str, KqlType)];

/// The columns every `.show database(s)` flavor starts with.
const BASE: Cols = &[
    ("DatabaseName", KqlType::String),
    ("PersistentStorage", KqlType::String),
    ("Version", KqlType::String),
    ("IsCurrent", KqlType::Bool),
    ("DatabaseAccessMode", KqlType::String),
    ("PrettyName", KqlType::String),
];

const POLICY_NAMES: &[(&str, &str)] = &[
    ("RetentionPolicy", "retention"),
    ("MergePolicy", "merge"),
    ("CachingPolicy", "caching"),
    ("ShardingPolicy", "sharding"),
    ("StreamingIngestionPolicy", "streamingingestion"),
    ("IngestionBatchingPolicy", "ingestionbatching"),
];

/// The columns after [`BASE`] of a flavor, as ADX's result schemas have them.
fn tail(flavor: DatabaseFlavor, cluster: bool) -> Vec<(&'static str, KqlType)> {
    use KqlType::*;
    let mut v: Vec<(&str, KqlType)> = match flavor {
        DatabaseFlavor::Plain => vec![
            ("ReservedSlot1", Bool),
            ("DatabaseId", Guid),
            ("InTransitionTo", String),
        ],
        DatabaseFlavor::Details => vec![
            ("AuthorizedPrincipals", String),
            ("RetentionPolicy", String),
            ("MergePolicy", String),
            ("ReservedSlot1", String),
            ("CachingPolicy", String),
            ("ShardingPolicy", String),
            ("StreamingIngestionPolicy", String),
            ("IngestionBatchingPolicy", String),
            ("TotalSize", Real),
            ("DatabaseId", Guid),
            ("InTransitionTo", String),
        ],
        DatabaseFlavor::Identity => vec![
            ("CurrentUserIsUnrestrictedViewer", Bool),
            ("DatabaseId", Guid),
            ("InTransitionTo", String),
        ],
        DatabaseFlavor::Policies => vec![
            ("DatabaseId", Guid),
            ("AuthorizedPrincipals", String),
            ("RetentionPolicy", String),
            ("MergePolicy", String),
            ("CachingPolicy", String),
            ("ShardingPolicy", String),
            ("StreamingIngestionPolicy", String),
            ("IngestionBatchingPolicy", String),
        ],
        DatabaseFlavor::DataStats => {
            let mut v = vec![];
            if !cluster {
                // ADX's own spelling of the single-database schema.
                v.push(("CurrentUseIsUnrestrictedViewer", Bool));
            }
            v.extend([
                ("DatabaseId", Guid),
                ("OriginalSize", Real),
                ("ExtentSize", Real),
                ("CompressedSize", Real),
                ("IndexSize", Real),
                ("RowCount", Long),
                ("HotOriginalSize", Real),
                ("HotExtentSize", Real),
                ("HotCompressedSize", Real),
                ("HotIndexSize", Real),
                ("HotRowCount", Long),
            ]);
            v
        }
        DatabaseFlavor::Metadata => Vec::new(),
    };
    if flavor == DatabaseFlavor::Metadata {
        v = vec![
            ("DatabaseName", String),
            ("Version", String),
            ("PersistentStorage", String),
            ("MetadataPersistentStorage", String),
            ("DatabaseAccessMode", String),
        ];
    }
    v
}

fn columns(flavor: DatabaseFlavor, cluster: bool) -> Vec<(&'static str, KqlType)> {
    if flavor == DatabaseFlavor::Metadata {
        return tail(flavor, cluster);
    }
    let mut c = BASE.to_vec();
    c.extend(tail(flavor, cluster));
    c
}

fn storage_path(d: &Database) -> String {
    if d.persistent {
        format!("calypso://{}", d.name)
    } else {
        String::new()
    }
}

fn policy_text(d: &Database, name: &str) -> Cell {
    let v = if name == "streamingingestion" {
        d.streaming_ingestion_policy.as_ref()
    } else {
        d.policies.get(name)
    };
    v.map(|p| p.to_string()).into()
}

fn principals_text(d: &Database) -> String {
    let list: Vec<serde_json::Value> = d
        .roles
        .iter()
        .map(|a| {
            serde_json::json!({"Type": "AadUser", "DisplayName": a.display_name, "ObjectId": a.principal,
                "FQN": a.principal, "Notes": a.notes, "RoleAssignmentIdentifier": a.id, "Role": a.role})
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// Sizes of a database's extents: (bytes, rows).
fn totals(d: &Database) -> (f64, i64) {
    let mut size = 0.0;
    let mut rows = 0i64;
    for t in d.tables.values() {
        for e in &t.extents {
            size += e.size_bytes as f64;
            rows += e.rows as i64;
        }
    }
    (size, rows)
}

/// One row of `.show database(s) [flavor]`.
fn row(
    cat: &Catalog,
    d: &Database,
    current: &str,
    flavor: DatabaseFlavor,
    cluster: bool,
    unrestricted: bool,
) -> Vec<Cell> {
    let version: Cell = format!("v{}.0", cat.version).into();
    if flavor == DatabaseFlavor::Metadata {
        return vec![
            d.name.clone().into(),
            version,
            storage_path(d).into(),
            storage_path(d).into(),
            "ReadWrite".into(),
        ];
    }
    let mut r = vec![
        d.name.clone().into(),
        storage_path(d).into(),
        version,
        Cell::Bool(d.name == current),
        "ReadWrite".into(),
        d.pretty_name.clone().map_or(Cell::Null, Cell::Str),
    ];
    let (size, rows) = totals(d);
    let policies = |r: &mut Vec<Cell>, names: &[&str]| {
        for n in names {
            r.push(policy_text(d, n));
        }
    };
    match flavor {
        DatabaseFlavor::Plain => r.extend([Cell::Bool(false), guid(&d.id), Cell::Null]),
        DatabaseFlavor::Details => {
            r.push(principals_text(d).into());
            policies(&mut r, &["retention", "merge"]);
            r.push(Cell::Null);
            policies(
                &mut r,
                &[
                    "caching",
                    "sharding",
                    "streamingingestion",
                    "ingestionbatching",
                ],
            );
            r.extend([Cell::Real(size), guid(&d.id), Cell::Null]);
        }
        DatabaseFlavor::Identity => r.extend([Cell::Bool(unrestricted), guid(&d.id), Cell::Null]),
        DatabaseFlavor::Policies => {
            r.push(guid(&d.id));
            r.push(principals_text(d).into());
            let names: Vec<&str> = POLICY_NAMES.iter().map(|(_, n)| *n).collect();
            policies(&mut r, &names);
        }
        DatabaseFlavor::DataStats => {
            if !cluster {
                r.push(Cell::Bool(unrestricted));
            }
            r.push(guid(&d.id));
            // Every extent is hot: Calypso has no cold tier.
            for _ in 0..2 {
                r.extend([
                    Cell::Real(size),
                    Cell::Real(size),
                    Cell::Real(size),
                    Cell::Real(0.0),
                    Cell::Long(rows),
                ]);
            }
        }
        DatabaseFlavor::Metadata => {}
    }
    r
}

impl Engine {
    pub(crate) async fn database_command(
        &self,
        caller: &Caller,
        database: &str,
        cmd: &DatabaseCommand,
        ddl: &Ddl,
    ) -> Result<ResultTable> {
        match cmd {
            DatabaseCommand::Create {
                name,
                persist,
                volatile,
                if_not_exists,
                with,
            } => {
                let db = name.name.clone();
                let (persistent, ine) = (!*volatile, *if_not_exists);
                let pretty = prop(with, "prettyname").map(|v| v.text());
                let _ = persist;
                let entry = ddl.entry(
                    "CREATE-DATABASE",
                    &db,
                    &db,
                    &db,
                    String::new(),
                    String::new(),
                );
                let d2 = db.clone();
                self.storage
                    .commit(move |c| {
                        if c.databases.contains_key(&d2) {
                            if ine {
                                return Ok(());
                            }
                            return Err(SErr::already_exists(EntityKind::Database, d2.clone()));
                        }
                        c.databases.insert(
                            d2.clone(),
                            Database {
                                name: d2.clone(),
                                id: new_id(),
                                persistent,
                                created_on: now_rfc3339(),
                                pretty_name: pretty,
                                ..Default::default()
                            }
                            .into(),
                        );
                        c.record(entry);
                        Ok(())
                    })
                    .await?;
                let cat = self.storage.catalog();
                let d = db_of(&cat, &db)?;
                table(
                    &[
                        ("DatabaseName", KqlType::String),
                        ("PersistentPath", KqlType::String),
                        ("Created", KqlType::String),
                        ("StoresMetadata", KqlType::Bool),
                        ("StoresData", KqlType::Bool),
                    ],
                    vec![vec![
                        d.name.clone().into(),
                        storage_path(d).into(),
                        d.created_on.clone().into(),
                        Cell::Bool(d.persistent),
                        Cell::Bool(d.persistent),
                    ]],
                )
            }
            DatabaseCommand::Drop { name, if_exists } => {
                let db = name.name.clone();
                if db == crate::DEFAULT_DATABASE {
                    return Err(EngineError::BadRequest(format!(
                        "The database '{db}' cannot be dropped"
                    )));
                }
                let if_exists = *if_exists;
                let entry = ddl.entry("DROP-DATABASE", &db, &db, &db, String::new(), String::new());
                let d2 = db.clone();
                let dropped = self
                    .storage
                    .commit(move |c| match c.databases.remove(&d2) {
                        Some(d) => {
                            c.record(entry);
                            Ok(Some(d))
                        }
                        None if if_exists => Ok(None),
                        None => Err(SErr::not_found(EntityKind::Database, d2.clone())),
                    })
                    .await?;
                // `.drop database` answers with the tables it removed and their extents.
                let rows = dropped
                    .map(|d| {
                        d.tables
                            .values()
                            .map(|t| {
                                vec![t.name.clone().into(), t.extents.len().to_string().into()]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                table(
                    &[
                        ("Table", KqlType::String),
                        ("NumberOfRemovedExtents", KqlType::String),
                    ],
                    rows,
                )
            }
            DatabaseCommand::PrettyName { name, pretty } => {
                let db = name
                    .as_ref()
                    .map_or_else(|| database.to_string(), |n| n.name.clone());
                let p = pretty.clone();
                let entry = ddl.entry(
                    "ALTER-DATABASE-PRETTY-NAME",
                    &db,
                    &db,
                    &db,
                    String::new(),
                    p.clone().unwrap_or_default(),
                );
                let d2 = db.clone();
                self.storage
                    .commit(move |c| {
                        c.require_database_mut(&d2)?.pretty_name = p;
                        c.record(entry);
                        Ok(())
                    })
                    .await?;
                let cat = self.storage.catalog();
                let d = db_of(&cat, &db)?;
                table(
                    &[
                        ("DatabaseName", KqlType::String),
                        ("PrettyName", KqlType::String),
                    ],
                    vec![vec![d.name.clone().into(), d.pretty_name.clone().into()]],
                )
            }
            DatabaseCommand::Show { name, flavor } => {
                let cat = self.storage.catalog();
                let target = name.as_ref().map_or(database, |n| n.name.as_str());
                let d = db_of(&cat, target)?;
                let unrestricted = access::is_unrestricted(caller, &cat, d);
                let cols = columns(*flavor, false);
                table(
                    &cols,
                    vec![row(&cat, d, database, *flavor, false, unrestricted)],
                )
            }
            DatabaseCommand::ShowAll { names, flavor } => {
                let cat = self.storage.catalog();
                let mut rows = Vec::new();
                if let Some(names) = names {
                    for n in names {
                        let d = db_of(&cat, &n.name)?;
                        if access::sees_database(caller, &cat, d) {
                            let u = access::is_unrestricted(caller, &cat, d);
                            rows.push(row(&cat, d, database, *flavor, true, u));
                        }
                    }
                } else {
                    for d in cat.databases.values() {
                        if access::sees_database(caller, &cat, d) {
                            let u = access::is_unrestricted(caller, &cat, d);
                            rows.push(row(&cat, d, database, *flavor, true, u));
                        }
                    }
                }
                table(&columns(*flavor, true), rows)
            }
            DatabaseCommand::ShowEntities { with } => {
                let cat = self.storage.catalog();
                Ok(entities(caller, &cat, with.as_slice())?)
            }
            DatabaseCommand::ShowSchema { .. } => self.schema_command(caller, database, cmd),
        }
    }
}

/// `.show databases entities [with (...)]`: every table, function and materialized view of
/// the databases the caller may read the metadata of.
fn entities(
    caller: &Caller,
    cat: &Catalog,
    _with: &[kql_syntax::ast::Property],
) -> Result<ResultTable> {
    let mut rows = Vec::new();
    for d in cat.databases.values() {
        let may = access::allowed(
            caller,
            cat,
            &Action::new(
                "DatabasesEntitiesShowCommand",
                Need::DatabaseMetadata {
                    database: d.name.clone(),
                },
            ),
        );
        if !may {
            continue;
        }
        for t in d.tables.values() {
            rows.push(vec![
                d.name.clone().into(),
                "Table".into(),
                t.name.clone().into(),
                t.docstring.clone().into(),
                t.folder.clone().into(),
                Cell::Null,
                Cell::Null,
                format!("({})", csl_schema(t)).into(),
                Cell::Dynamic("{}".into()),
            ]);
        }
        for f in d.functions.values() {
            rows.push(vec![
                d.name.clone().into(),
                "Function".into(),
                f.name.clone().into(),
                f.docstring.clone().into(),
                f.folder.clone().into(),
                f.parameters.clone().into(),
                f.body.clone().into(),
                Cell::Null,
                Cell::Dynamic(serde_json::json!({"IsView": f.view}).to_string()),
            ]);
        }
    }
    table(
        &[
            ("DatabaseName", KqlType::String),
            ("EntityType", KqlType::String),
            ("EntityName", KqlType::String),
            ("DocString", KqlType::String),
            ("Folder", KqlType::String),
            ("CslInputSchema", KqlType::String),
            ("Content", KqlType::String),
            ("CslOutputSchema", KqlType::String),
            ("Properties", KqlType::Dynamic),
        ],
        rows,
    )
}
