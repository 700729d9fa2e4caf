//! Commands kept as text by the parser: `.show ...`, databases, policies, `.clear table`.

use calypso_storage::{Catalog, Database, EntityKind, Error as SErr, Table};
use kql_functions::KqlType;
use kql_syntax::ast::Query;

use super::{
    POLICY_COLS, TABLE_SCHEMA_COLS, TABLES_COLS, W, csl_schema, db_of, function_table, is, name_at,
    new_id, not_supported, now_rfc3339, schema_type_name, table_of, table_schema_json,
    table_schema_row, words,
};
use crate::security::access::{self, Action, Need};
use crate::table::{Cell, guid, rfc3339_nanos, table};
use crate::{Caller, Engine, EngineError, Result, ResultTable};

const DATABASES_COLS: &[(&str, KqlType)] = &[
    ("DatabaseName", KqlType::String),
    ("PersistentStorage", KqlType::String),
    ("Version", KqlType::String),
    ("IsCurrent", KqlType::Bool),
    ("DatabaseAccessMode", KqlType::String),
    ("PrettyName", KqlType::String),
    ("ReservedSlot1", KqlType::Bool),
    ("DatabaseId", KqlType::Guid),
    ("InTransitionTo", KqlType::String),
];

const EXTENTS_COLS: &[(&str, KqlType)] = &[
    ("ExtentId", KqlType::Guid),
    ("DatabaseName", KqlType::String),
    ("TableName", KqlType::String),
    ("MaxCreatedOn", KqlType::DateTime),
    ("OriginalSize", KqlType::Real),
    ("ExtentSize", KqlType::Real),
    ("CompressedSize", KqlType::Real),
    ("IndexSize", KqlType::Real),
    ("Blocks", KqlType::Long),
    ("Segments", KqlType::Long),
    ("ExtentContainerId", KqlType::String),
    ("RowCount", KqlType::Long),
    ("MinCreatedOn", KqlType::DateTime),
    ("Tags", KqlType::String),
    ("Kind", KqlType::String),
    ("DeletedRowCount", KqlType::Long),
];

fn database_row(cat: &Catalog, d: &Database, current: &str) -> Vec<Cell> {
    vec![
        d.name.clone().into(),
        if d.persistent {
            format!("calypso://{}", d.name)
        } else {
            String::new()
        }
        .into(),
        format!("v{}.0", cat.version).into(),
        Cell::Bool(d.name == current),
        "ReadWrite".into(),
        Cell::Null,
        Cell::Bool(false),
        guid(&d.id),
        Cell::Null,
    ]
}

fn extent_rows(db: &Database, tables: &[&Table]) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    for t in tables {
        for e in &t.extents {
            let created = Cell::DateTime(rfc3339_nanos(&e.created_on));
            rows.push(vec![
                guid(&e.id),
                db.name.clone().into(),
                t.name.clone().into(),
                created.clone(),
                Cell::Real(e.size_bytes as f64),
                Cell::Real(e.size_bytes as f64),
                Cell::Real(e.size_bytes as f64),
                Cell::Real(0.0),
                Cell::Long(1),
                Cell::Long(1),
                e.path.clone().into(),
                Cell::Long(e.rows as i64),
                created,
                e.tags.join(" ").into(),
                "StorageExtent".into(),
                Cell::Long(0),
            ]);
        }
    }
    rows
}

/// The policy value for `enable`, `disable` or a JSON text.
fn policy_value(ws: &[W], at: usize, text: &str) -> Result<serde_json::Value> {
    match ws.get(at) {
        Some(W::Word(w)) if w.eq_ignore_ascii_case("enable") => {
            Ok(serde_json::json!({"IsEnabled": true, "HintAllocatedRate": null}))
        }
        Some(W::Word(w)) if w.eq_ignore_ascii_case("disable") => {
            Ok(serde_json::json!({"IsEnabled": false, "HintAllocatedRate": null}))
        }
        Some(W::Str(json)) => {
            let v: serde_json::Value = serde_json::from_str(json).map_err(|e| {
                EngineError::BadRequest(format!(
                    "The streaming ingestion policy is not valid JSON: {e}"
                ))
            })?;
            if !v.is_object() {
                return Err(EngineError::BadRequest(
                    "The streaming ingestion policy must be a JSON object".into(),
                ));
            }
            Ok(v)
        }
        _ => Err(not_supported(text)),
    }
}

fn policy_row(entity: &str, kind: &str, policy: Option<&serde_json::Value>) -> Vec<Cell> {
    vec![
        "StreamingIngestionPolicy".into(),
        entity.into(),
        policy
            .map(|p| p.to_string())
            .unwrap_or_else(|| "null".into())
            .into(),
        Cell::Null,
        kind.into(),
    ]
}

impl Engine {
    pub(crate) async fn other_command(
        &self,
        caller: &Caller,
        database: &str,
        text: &str,
        _query: Option<&Query>,
    ) -> Result<ResultTable> {
        let ws = words(text);
        if let Some(sc) = super::principals::parse(&ws) {
            return self.security_command(caller, database, sc).await;
        }
        if super::mappings::is_mapping_command(&ws) {
            return self.mapping_command(database, &ws, text).await;
        }
        // ws[0] is the leading '.'
        let w = |i: usize| ws.get(i + 1);
        let name = |i: usize| name_at(&ws, i + 1);
        let cat = self.storage.catalog();
        let verb = match w(0) {
            Some(W::Word(v)) => v.to_ascii_lowercase(),
            _ => return Err(not_supported(text)),
        };
        match verb.as_str() {
            "show" => self.show_command(caller, database, &ws, text, &cat),
            "create" if is(w(1), "database") => {
                let db = name(2).ok_or_else(|| not_supported(text))?;
                let if_not_exists = ws
                    .iter()
                    .any(|x| matches!(x, W::Word(s) if s.eq_ignore_ascii_case("ifnotexists")));
                let volatile = ws
                    .iter()
                    .any(|x| matches!(x, W::Word(s) if s.eq_ignore_ascii_case("volatile")));
                let d2 = db.clone();
                self.storage
                    .commit(move |c| {
                        if c.databases.contains_key(&d2) {
                            if if_not_exists {
                                return Ok(());
                            }
                            return Err(SErr::already_exists(EntityKind::Database, d2.clone()));
                        }
                        c.databases.insert(
                            d2.clone(),
                            Database {
                                name: d2.clone(),
                                id: new_id(),
                                persistent: !volatile,
                                created_on: now_rfc3339(),
                                ..Default::default()
                            },
                        );
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
                        if d.persistent {
                            format!("calypso://{}", d.name)
                        } else {
                            String::new()
                        }
                        .into(),
                        d.created_on.clone().into(),
                        Cell::Bool(d.persistent),
                        Cell::Bool(d.persistent),
                    ]],
                )
            }
            "drop" if is(w(1), "database") => {
                let db = name(2).ok_or_else(|| not_supported(text))?;
                let if_exists = is(w(3), "ifexists");
                if db == crate::DEFAULT_DATABASE {
                    return Err(EngineError::BadRequest(format!(
                        "The database '{db}' cannot be dropped"
                    )));
                }
                let d2 = db.clone();
                self.storage
                    .commit(move |c| {
                        if c.databases.remove(&d2).is_none() && !if_exists {
                            return Err(SErr::not_found(EntityKind::Database, d2.clone()));
                        }
                        Ok(())
                    })
                    .await?;
                let cat = self.storage.catalog();
                let rows = cat
                    .databases
                    .values()
                    .map(|d| database_row(&cat, d, database))
                    .collect();
                table(DATABASES_COLS, rows)
            }
            "drop" if is(w(1), "function") => {
                let f = name(2).ok_or_else(|| not_supported(text))?;
                let if_exists = is(w(3), "ifexists");
                let (db, f2) = (database.to_string(), f.clone());
                self.storage
                    .commit(move |c| {
                        let d = c.require_database_mut(&db)?;
                        if d.functions.remove(&f2).is_none() && !if_exists {
                            return Err(SErr::not_found(EntityKind::Function, f2.clone()));
                        }
                        Ok(())
                    })
                    .await?;
                table(&[("Name", KqlType::String)], vec![vec![f.into()]])
            }
            "clear" if is(w(1), "table") && is(w(3), "data") => {
                let t = name(2).ok_or_else(|| not_supported(text))?;
                let db = database.to_string();
                self.storage
                    .commit(move |c| {
                        let d = c.require_database_mut(&db)?;
                        let tb = d
                            .tables
                            .get_mut(&t)
                            .ok_or_else(|| SErr::not_found(EntityKind::Table, t.clone()))?;
                        tb.extents.clear();
                        Ok(())
                    })
                    .await?;
                table(&[("Status", KqlType::String)], vec![vec!["Success".into()]])
            }
            "alter" | "alter-merge" | "delete"
                if is(w(3), "policy") && is(w(4), "streamingingestion") =>
            {
                let kind = if is(w(1), "database") {
                    "Database"
                } else if is(w(1), "table") {
                    "Table"
                } else {
                    return Err(not_supported(text));
                };
                let entity = name(2).ok_or_else(|| not_supported(text))?;
                let new_value = if verb == "delete" {
                    None
                } else {
                    Some(policy_value(&ws, 6, text)?)
                };
                let merge = verb == "alter-merge";
                let (db, ent, nv) = (database.to_string(), entity.clone(), new_value);
                let table_kind = kind == "Table";
                self.storage
                    .commit(move |c| {
                        let slot = if table_kind {
                            let d = c.require_database_mut(&db)?;
                            &mut d
                                .tables
                                .get_mut(&ent)
                                .ok_or_else(|| SErr::not_found(EntityKind::Table, ent.clone()))?
                                .streaming_ingestion_policy
                        } else {
                            &mut c.require_database_mut(&ent)?.streaming_ingestion_policy
                        };
                        *slot = match (nv, slot.take(), merge) {
                            (None, _, _) => None,
                            (
                                Some(serde_json::Value::Object(new)),
                                Some(serde_json::Value::Object(mut old)),
                                true,
                            ) => {
                                old.extend(new);
                                Some(serde_json::Value::Object(old))
                            }
                            (Some(v), _, _) => Some(v),
                        };
                        Ok(())
                    })
                    .await?;
                let cat = self.storage.catalog();
                self.policy_table(&cat, database, kind, &entity)
            }
            _ => Err(not_supported(text)),
        }
    }

    fn policy_table(
        &self,
        cat: &Catalog,
        database: &str,
        kind: &str,
        entity: &str,
    ) -> Result<ResultTable> {
        let row = if kind == "Table" {
            let d = db_of(cat, database)?;
            let t = table_of(d, entity)?;
            policy_row(
                &format!("[{}].[{}]", d.name, t.name),
                "Table",
                t.streaming_ingestion_policy.as_ref(),
            )
        } else {
            let d = db_of(cat, entity)?;
            policy_row(
                &format!("[{}]", d.name),
                "Database",
                d.streaming_ingestion_policy.as_ref(),
            )
        };
        table(POLICY_COLS, vec![row])
    }

    fn show_command(
        &self,
        caller: &Caller,
        database: &str,
        ws: &[W],
        text: &str,
        cat: &Catalog,
    ) -> Result<ResultTable> {
        let w = |i: usize| ws.get(i + 1);
        let name = |i: usize| name_at(ws, i + 1);
        let rest_is = |from: usize, kws: &[&str]| {
            ws.len() == from + 1 + kws.len()
                && kws.iter().enumerate().all(|(i, k)| is(w(from + i), k))
        };
        // Cluster-wide lists show only the databases the caller has a role in (any role for
        // `.show databases`, one that may read metadata for the others).
        let metadata = |d: &Database| {
            access::allowed(
                caller,
                cat,
                &Action::new(
                    "DatabasesShowCommand",
                    Need::DatabaseMetadata {
                        database: d.name.clone(),
                    },
                ),
            )
        };
        if rest_is(1, &["databases"]) {
            let rows = cat
                .databases
                .values()
                .filter(|d| access::sees_database(caller, cat, d))
                .map(|d| database_row(cat, d, database))
                .collect();
            return table(DATABASES_COLS, rows);
        }
        if rest_is(1, &["databases", "entities"]) {
            let mut rows = Vec::new();
            for d in cat.databases.values().filter(|d| metadata(d)) {
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
                        Cell::Dynamic("{}".into()),
                    ]);
                }
            }
            return table(
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
            );
        }
        if rest_is(1, &["version"]) {
            return table(
                &[
                    ("BuildVersion", KqlType::String),
                    ("BuildTime", KqlType::DateTime),
                    ("ServiceType", KqlType::String),
                    ("ProductVersion", KqlType::String),
                ],
                vec![vec![
                    env!("CARGO_PKG_VERSION").into(),
                    Cell::DateTime(self.started_nanos),
                    "Engine".into(),
                    format!("Calypso {}", env!("CARGO_PKG_VERSION")).into(),
                ]],
            );
        }
        if rest_is(1, &["cluster"]) {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i32;
            return table(
                &[
                    ("NodeId", KqlType::String),
                    ("Address", KqlType::String),
                    ("Name", KqlType::String),
                    ("StartTime", KqlType::DateTime),
                    ("IsAdmin", KqlType::Bool),
                    ("MachineTotalMemory", KqlType::Long),
                    ("MachineAvailableMemory", KqlType::Long),
                    ("ProcessorCount", KqlType::Int),
                    ("EnvironmentDescription", KqlType::String),
                ],
                vec![vec![
                    "calypso-0".into(),
                    "127.0.0.1".into(),
                    "calypso".into(),
                    Cell::DateTime(self.started_nanos),
                    Cell::Bool(true),
                    Cell::Null,
                    Cell::Null,
                    Cell::Int(cpus),
                    "{\"Product\":\"Calypso\"}".into(),
                ]],
            );
        }
        if rest_is(1, &["functions"]) {
            let d = db_of(cat, database)?;
            let fs: Vec<_> = d.functions.values().cloned().collect();
            return function_table(&fs);
        }
        if is(w(1), "function") && ws.len() == 4 {
            let d = db_of(cat, database)?;
            let f = name(2)
                .and_then(|n| d.functions.get(&n).cloned())
                .ok_or_else(|| {
                    EngineError::NotFound(format!(
                        "Function '{}' was not found",
                        name(2).unwrap_or_default()
                    ))
                })?;
            return function_table(&[f]);
        }
        if rest_is(1, &["materialized-views"]) {
            return table(
                &[
                    ("Name", KqlType::String),
                    ("SourceTable", KqlType::String),
                    ("Query", KqlType::String),
                    ("MaterializedTo", KqlType::DateTime),
                    ("LastRun", KqlType::DateTime),
                    ("LastRunResult", KqlType::String),
                    ("IsHealthy", KqlType::Bool),
                    ("IsEnabled", KqlType::Bool),
                    ("Folder", KqlType::String),
                    ("DocString", KqlType::String),
                    ("AutoUpdateSchema", KqlType::Bool),
                    ("EffectiveDateTime", KqlType::DateTime),
                    ("Lookback", KqlType::TimeSpan),
                    ("LookbackColumn", KqlType::String),
                ],
                Vec::new(),
            );
        }
        if rest_is(1, &["entity_groups"]) {
            return table(
                &[("Name", KqlType::String), ("Entities", KqlType::String)],
                Vec::new(),
            );
        }
        if rest_is(1, &["tables"]) {
            let d = db_of(cat, database)?;
            let rows = d
                .tables
                .values()
                .map(|t| {
                    vec![
                        t.name.clone().into(),
                        d.name.clone().into(),
                        t.folder.clone().into(),
                        t.docstring.clone().into(),
                    ]
                })
                .collect();
            return table(TABLES_COLS, rows);
        }
        if rest_is(1, &["extents"]) || rest_is(1, &["database", "extents"]) {
            let d = db_of(cat, database)?;
            let tables: Vec<&Table> = d.tables.values().collect();
            return table(EXTENTS_COLS, extent_rows(d, &tables));
        }
        if rest_is(1, &["cluster", "extents"]) {
            let mut rows = Vec::new();
            for d in cat.databases.values() {
                let tables: Vec<&Table> = d.tables.values().collect();
                rows.extend(extent_rows(d, &tables));
            }
            return table(EXTENTS_COLS, rows);
        }
        if rest_is(1, &["schema", "as", "json"])
            || (is(w(1), "database")
                && ws.len() == 6
                && is(w(3), "schema")
                && is(w(4), "as")
                && is(w(5), "json"))
        {
            let dbs: Vec<&Database> = if is(w(1), "schema") {
                cat.databases.values().filter(|d| metadata(d)).collect()
            } else {
                vec![db_of(cat, &name(2).unwrap_or_default())?]
            };
            let mut out = serde_json::Map::new();
            for d in dbs {
                let tables: serde_json::Map<String, serde_json::Value> = d
                    .tables
                    .values()
                    .map(|t| (t.name.clone(), table_schema_json(t)))
                    .collect();
                let functions: serde_json::Map<String, serde_json::Value> = d
                    .functions
                    .values()
                    .map(|f| {
                        (
                            f.name.clone(),
                            serde_json::json!({"Name": f.name, "InputParameters": [], "Body": f.body, "Folder": f.folder, "DocString": f.docstring, "FunctionKind": "Unknown", "OutputColumns": []}),
                        )
                    })
                    .collect();
                out.insert(
                    d.name.clone(),
                    serde_json::json!({"Name": d.name, "Tables": tables, "ExternalTables": {}, "MaterializedViews": {}, "Functions": functions, "EntityGroups": {}, "DatabaseAccessMode": "ReadWrite"}),
                );
            }
            let json = serde_json::json!({"Databases": out});
            return table(
                &[("DatabaseSchema", KqlType::String)],
                vec![vec![json.to_string().into()]],
            );
        }
        if is(w(1), "database")
            && ws.len() == 5
            && is(w(3), "policy")
            && is(w(4), "streamingingestion")
        {
            return self.policy_table(cat, database, "Database", &name(2).unwrap_or_default());
        }
        if is(w(1), "database") && ws.len() == 4 && is(w(3), "schema") {
            let d = db_of(cat, &name(2).unwrap_or_default())?;
            let mut rows = Vec::new();
            for t in d.tables.values() {
                for c in &t.columns {
                    rows.push(vec![
                        d.name.clone().into(),
                        t.name.clone().into(),
                        c.name.clone().into(),
                        schema_type_name(c.kql_type).into(),
                        Cell::Bool(false),
                        Cell::Bool(false),
                        Cell::Null,
                        format!("v{}.0", cat.version).into(),
                        t.folder.clone().into(),
                        c.docstring.clone().into(),
                    ]);
                }
            }
            return table(
                &[
                    ("DatabaseName", KqlType::String),
                    ("TableName", KqlType::String),
                    ("ColumnName", KqlType::String),
                    ("ColumnType", KqlType::String),
                    ("IsDefaultTable", KqlType::Bool),
                    ("IsDefaultColumn", KqlType::Bool),
                    ("PrettyName", KqlType::String),
                    ("Version", KqlType::String),
                    ("Folder", KqlType::String),
                    ("DocString", KqlType::String),
                ],
                rows,
            );
        }
        if is(w(1), "table") {
            let tname = name(2).ok_or_else(|| not_supported(text))?;
            let d = db_of(cat, database)?;
            let t = table_of(d, &tname)?;
            let rest: Vec<String> = ws[4..]
                .iter()
                .map(|x| match x {
                    W::Word(s) | W::Str(s) => s.to_ascii_lowercase(),
                    W::Punct(p) => (*p).to_string(),
                })
                .collect();
            let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
            return match rest.as_slice() {
                ["schema", "as", "json"] => {
                    table(TABLE_SCHEMA_COLS, vec![table_schema_row(database, t)])
                }
                ["cslschema"] => table(
                    TABLE_SCHEMA_COLS,
                    vec![vec![
                        t.name.clone().into(),
                        csl_schema(t).into(),
                        database.into(),
                        t.folder.clone().into(),
                        t.docstring.clone().into(),
                    ]],
                ),
                ["extents"] => table(EXTENTS_COLS, extent_rows(d, &[t])),
                ["policy", "streamingingestion"] => {
                    self.policy_table(cat, database, "Table", &tname)
                }
                ["details"] => {
                    let rows: i64 = t.extents.iter().map(|e| e.rows as i64).sum();
                    let size: f64 = t.extents.iter().map(|e| e.size_bytes as f64).sum();
                    table(
                        &[
                            ("TableName", KqlType::String),
                            ("DatabaseName", KqlType::String),
                            ("Folder", KqlType::String),
                            ("DocString", KqlType::String),
                            ("TotalExtents", KqlType::Long),
                            ("TotalExtentSize", KqlType::Real),
                            ("TotalOriginalSize", KqlType::Real),
                            ("TotalRowCount", KqlType::Long),
                            ("HotExtents", KqlType::Long),
                            ("HotExtentSize", KqlType::Real),
                            ("HotOriginalSize", KqlType::Real),
                            ("HotRowCount", KqlType::Long),
                            ("AuthorizedPrincipals", KqlType::String),
                            ("RetentionPolicy", KqlType::String),
                            ("CachingPolicy", KqlType::String),
                            ("ShardingPolicy", KqlType::String),
                            ("MergePolicy", KqlType::String),
                            ("StreamingIngestionPolicy", KqlType::String),
                            ("IngestionBatchingPolicy", KqlType::String),
                            ("MinExtentsCreationTime", KqlType::DateTime),
                            ("MaxExtentsCreationTime", KqlType::DateTime),
                            ("RowOrderPolicy", KqlType::String),
                            ("TableId", KqlType::Guid),
                        ],
                        vec![vec![
                            t.name.clone().into(),
                            d.name.clone().into(),
                            t.folder.clone().into(),
                            t.docstring.clone().into(),
                            Cell::Long(t.extents.len() as i64),
                            Cell::Real(size),
                            Cell::Real(size),
                            Cell::Long(rows),
                            Cell::Long(t.extents.len() as i64),
                            Cell::Real(size),
                            Cell::Real(size),
                            Cell::Long(rows),
                            "[]".into(),
                            Cell::Null,
                            Cell::Null,
                            Cell::Null,
                            Cell::Null,
                            t.streaming_ingestion_policy
                                .as_ref()
                                .map(|p| p.to_string())
                                .into(),
                            Cell::Null,
                            t.extents
                                .iter()
                                .map(|e| rfc3339_nanos(&e.created_on))
                                .min()
                                .map_or(Cell::Null, Cell::DateTime),
                            t.extents
                                .iter()
                                .map(|e| rfc3339_nanos(&e.created_on))
                                .max()
                                .map_or(Cell::Null, Cell::DateTime),
                            Cell::Null,
                            guid(&t.id),
                        ]],
                    )
                }
                [] => {
                    let rows = t
                        .columns
                        .iter()
                        .map(|c| {
                            vec![
                                c.name.clone().into(),
                                schema_type_name(c.kql_type).into(),
                                Cell::Long(0),
                                Cell::Real(0.0),
                                Cell::Long(0),
                                Cell::Real(0.0),
                                Cell::Long(0),
                                Cell::Guid([0; 16]),
                                Cell::Long(0),
                                "V3".into(),
                            ]
                        })
                        .collect();
                    table(
                        &[
                            ("AttributeName", KqlType::String),
                            ("AttributeType", KqlType::String),
                            ("ExtentSize", KqlType::Long),
                            ("CompressionRatio", KqlType::Real),
                            ("IndexSize", KqlType::Long),
                            ("IndexSizePercent", KqlType::Real),
                            ("OriginalSize", KqlType::Long),
                            ("AttributeId", KqlType::Guid),
                            ("SharedIndexSize", KqlType::Long),
                            ("StorageEngineVersion", KqlType::String),
                        ],
                        rows,
                    )
                }
                _ => Err(not_supported(text)),
            };
        }
        Err(not_supported(text))
    }
}
