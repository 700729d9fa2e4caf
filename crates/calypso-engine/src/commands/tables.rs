//! Tables and columns: `.create|.create-merge|.alter|.alter-merge table`, `.create
//! tables`, `.create table T based-on U`, `.drop table(s)`, `.rename table(s)`, `.alter
//! table T docstring|folder|column-docstrings`, `.alter column T.c type`, `.rename
//! column(s)`, `.drop column(s)`, `.show tables [details]`, `.show table T ...`, `.clear
//! table T data`.

use std::sync::Arc;

use calypso_storage::{Catalog, Database, EntityKind, Error as SErr, Table};
use kql_functions::KqlType;
use kql_syntax::ast::{
    ColumnDecl, Ident, Property, QName, SchemaVerb, TableCommand, TableFlavor, prop,
};

use super::{
    Ddl, TABLE_SCHEMA_COLS, TABLES_COLS, columns_of, csl_schema, db_of, new_id, now_rfc3339,
    storage_type_name, table_of, table_schema_row, type_of,
};
use crate::security::access::creator_assignment;
use crate::table::{Cell, guid, rfc3339_nanos, table};
use crate::{Caller, Engine, EngineError, Result, ResultTable};

pub(crate) const TABLE_DETAILS_COLS: &[(&str, KqlType)] = &[
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
];

const COLUMN_RESULT_COLS: &[(&str, KqlType)] = &[
    ("EntityName", KqlType::String),
    ("DataType", KqlType::String),
    ("Policy", KqlType::String),
];

/// A row of `.show table(s) ... details`: real extent counts, rows and sizes (every extent
/// is hot); the rows count those still in the row store (`hot`).
pub(crate) fn details_row(d: &Database, t: &Table, hot: &calypso_storage::Hot) -> Vec<Cell> {
    let rows: i64 = t.extents.iter().map(|e| e.rows as i64).sum::<i64>()
        + hot.table(&t.id).map_or(0, |h| h.rows() as i64);
    let size: f64 = t.extents.iter().map(|e| e.size_bytes as f64).sum();
    let policy = |n: &str| -> Cell { t.policies.get(n).map(|p| p.to_string()).into() };
    let principals: Vec<serde_json::Value> = t
        .roles
        .iter()
        .map(|a| serde_json::json!({"Role": a.role, "PrincipalFQN": a.principal, "DisplayName": a.display_name, "Notes": a.notes}))
        .collect();
    let times: Vec<i64> = t
        .extents
        .iter()
        .map(|e| rfc3339_nanos(&e.created_on))
        .collect();
    vec![
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
        serde_json::Value::Array(principals).to_string().into(),
        policy("retention"),
        policy("caching"),
        policy("sharding"),
        policy("merge"),
        t.streaming_ingestion_policy
            .as_ref()
            .map(|p| p.to_string())
            .into(),
        policy("ingestionbatching"),
        times
            .iter()
            .min()
            .map_or(Cell::Null, |v| Cell::DateTime(*v)),
        times
            .iter()
            .max()
            .map_or(Cell::Null, |v| Cell::DateTime(*v)),
        policy("roworder"),
        guid(&t.id),
    ]
}

fn tables_row(d: &Database, t: &Table) -> Vec<Cell> {
    vec![
        t.name.clone().into(),
        d.name.clone().into(),
        t.folder.clone().into(),
        t.docstring.clone().into(),
    ]
}

/// `T.c` → (table, column) in `database`; `D.T.c` names the database too.
fn column_ref(database: &str, q: &QName) -> Result<(String, String, String)> {
    let Some(t) = q.parent() else {
        return Err(EngineError::BadRequest(format!(
            "Expected a column as Table.Column, found '{}'",
            q.last().name
        )));
    };
    let db = q.grandparent().map_or(database, |d| d.name.as_str());
    Ok((db.to_string(), t.name.clone(), q.last().name.clone()))
}

impl Engine {
    pub(crate) async fn table_command(
        &self,
        caller: &Caller,
        database: &str,
        cmd: &TableCommand,
        ddl: &Ddl,
    ) -> Result<ResultTable> {
        let db = database.to_string();
        match cmd {
            TableCommand::Schema {
                verb,
                table: name,
                columns,
                with,
            } => {
                self.schema_change(caller, database, *verb, &name.name, columns, with, ddl)
                    .await?;
                let cat = self.storage.catalog();
                let t = table_of(db_of(&cat, database)?, &name.name)?;
                table(TABLE_SCHEMA_COLS, vec![table_schema_row(database, t)])
            }
            TableCommand::CreateTables {
                merge,
                tables,
                with,
            } => {
                let verb = if *merge {
                    SchemaVerb::CreateMerge
                } else {
                    SchemaVerb::Create
                };
                for (name, cols) in tables {
                    self.schema_change(caller, database, verb, &name.name, cols, with, ddl)
                        .await?;
                }
                let cat = self.storage.catalog();
                let d = db_of(&cat, database)?;
                let mut rows = Vec::new();
                for (name, _) in tables {
                    rows.push(tables_row(d, table_of(d, &name.name)?));
                }
                table(TABLES_COLS, rows)
            }
            TableCommand::CreateBasedOn {
                table: name,
                source,
                if_not_exists,
                with,
            } => {
                let cols: Vec<ColumnDecl> = {
                    let cat = self.storage.catalog();
                    let src = table_of(db_of(&cat, database)?, &source.name)?;
                    if *if_not_exists && db_of(&cat, database)?.tables.contains_key(&name.name) {
                        let t = table_of(db_of(&cat, database)?, &name.name)?;
                        return table(TABLE_SCHEMA_COLS, vec![table_schema_row(database, t)]);
                    }
                    if db_of(&cat, database)?.tables.contains_key(&name.name) {
                        return Err(
                            SErr::already_exists(EntityKind::Table, name.name.clone()).into()
                        );
                    }
                    src.columns
                        .iter()
                        .map(|c| ColumnDecl {
                            name: Ident::new(c.name.clone(), kql_syntax::Span::new(0, 0)),
                            ty: Ident::new(c.kql_type.name(), kql_syntax::Span::new(0, 0)),
                        })
                        .collect()
                };
                self.schema_change(
                    caller,
                    database,
                    SchemaVerb::Create,
                    &name.name,
                    &cols,
                    with,
                    ddl,
                )
                .await?;
                let cat = self.storage.catalog();
                let t = table_of(db_of(&cat, database)?, &name.name)?;
                table(TABLE_SCHEMA_COLS, vec![table_schema_row(database, t)])
            }
            TableCommand::Drop {
                tables,
                if_exists,
                plural: _,
            } => {
                let names: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
                let if_exists = *if_exists;
                let entries: Vec<_> = names
                    .iter()
                    .map(|n| ddl.entry("DROP-TABLE", database, n, n, String::new(), String::new()))
                    .collect();
                self.storage
                    .commit(move |cat| {
                        let d = cat.require_database_mut(&db)?;
                        // All or nothing: check every table first.
                        if !if_exists
                            && let Some(missing) = names.iter().find(|n| !d.tables.contains_key(*n))
                        {
                            return Err(SErr::not_found(EntityKind::Table, missing.clone()));
                        }
                        let mut dropped = Vec::new();
                        for (n, e) in names.iter().zip(entries) {
                            if d.tables.remove(n).is_some() {
                                dropped.push(e);
                            }
                        }
                        for e in dropped {
                            cat.record(e);
                        }
                        Ok(())
                    })
                    .await?;
                let cat = self.storage.catalog();
                let d = db_of(&cat, database)?;
                let rows = d
                    .tables
                    .values()
                    .map(|t| vec![Cell::from(t.name.as_str()), database.into()])
                    .collect();
                table(
                    &[
                        ("TableName", KqlType::String),
                        ("DatabaseName", KqlType::String),
                    ],
                    rows,
                )
            }
            TableCommand::Rename { pairs, plural: _ } => {
                let pairs: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(a, b)| (a.name.clone(), b.name.clone()))
                    .collect();
                let entries: Vec<_> = pairs
                    .iter()
                    .map(|(a, b)| {
                        ddl.entry("RENAME-TABLE", database, a, b, String::new(), String::new())
                    })
                    .collect();
                let p2 = pairs.clone();
                self.storage
                    .commit(move |cat| {
                        let d = cat.require_database_mut(&db)?;
                        // Take every table out first, so `A=B, B=A` swaps.
                        let mut moved = Vec::new();
                        for (from, _) in &p2 {
                            let t = d
                                .tables
                                .remove(from)
                                .ok_or_else(|| SErr::not_found(EntityKind::Table, from.clone()))?;
                            moved.push(Arc::unwrap_or_clone(t));
                        }
                        for ((_, to), mut t) in p2.iter().zip(moved) {
                            if d.tables.contains_key(to) {
                                return Err(SErr::already_exists(EntityKind::Table, to.clone()));
                            }
                            t.name = to.clone();
                            d.tables.insert(to.clone(), t.into());
                        }
                        for e in entries {
                            cat.record(e);
                        }
                        Ok(())
                    })
                    .await?;
                let cat = self.storage.catalog();
                let d = db_of(&cat, database)?;
                let mut rows = Vec::new();
                for (_, to) in &pairs {
                    rows.push(tables_row(d, table_of(d, to)?));
                }
                table(TABLES_COLS, rows)
            }
            TableCommand::AlterDocString { table: t, value }
            | TableCommand::AlterFolder { table: t, value } => {
                let docstring = matches!(cmd, TableCommand::AlterDocString { .. });
                let (tn, v) = (t.name.clone(), value.clone());
                let entry = ddl.entry(
                    if docstring {
                        "ALTER-TABLE-DOCSTRING"
                    } else {
                        "ALTER-TABLE-FOLDER"
                    },
                    database,
                    &tn,
                    &tn,
                    String::new(),
                    v.clone(),
                );
                self.storage
                    .commit(move |cat| {
                        let t = cat.require_table_mut(&db, &tn)?;
                        if docstring {
                            t.docstring = Some(v);
                        } else {
                            t.folder = Some(v);
                        }
                        cat.record(entry);
                        Ok(())
                    })
                    .await?;
                self.schema_row_of(database, &t.name)
            }
            TableCommand::ColumnDocStrings {
                table: t,
                merge,
                docs,
            } => {
                let tn = t.name.clone();
                let merge = *merge;
                let docs: Vec<(String, String)> = docs
                    .iter()
                    .map(|(c, d)| (c.name.clone(), d.clone()))
                    .collect();
                let entry = ddl.entry(
                    "ALTER-TABLE-COLUMN-DOCSTRINGS",
                    database,
                    &tn,
                    &tn,
                    String::new(),
                    String::new(),
                );
                self.storage
                    .commit(move |cat| {
                        let t = cat.require_table_mut(&db, &tn)?;
                        for (c, _) in &docs {
                            if t.column(c).is_none() {
                                return Err(SErr::not_found(EntityKind::Column, c.clone()));
                            }
                        }
                        for col in &mut t.columns {
                            match docs.iter().find(|(c, _)| *c == col.name) {
                                Some((_, d)) => col.docstring = Some(d.clone()),
                                None if !merge => col.docstring = None,
                                None => {}
                            }
                        }
                        cat.record(entry);
                        Ok(())
                    })
                    .await?;
                self.schema_row_of(database, &t.name)
            }
            TableCommand::AlterColumnType { columns, ty } => {
                let new_type = type_of(
                    &ty.name,
                    &columns
                        .first()
                        .map(|c| c.last().name.clone())
                        .unwrap_or_default(),
                )?;
                let mut refs = Vec::new();
                for c in columns {
                    refs.push(column_ref(database, c)?);
                }
                let entries: Vec<_> = refs
                    .iter()
                    .map(|(d, t, c)| {
                        ddl.entry(
                            "ALTER-COLUMN-TYPE",
                            d,
                            &format!("{t}.{c}"),
                            &format!("{t}.{c}"),
                            String::new(),
                            new_type.name().into(),
                        )
                    })
                    .collect();
                let r2 = refs.clone();
                self.storage
                    .commit(move |cat| {
                        for (d, t, c) in &r2 {
                            let table = cat.require_table_mut(d, t)?;
                            let col = table_column(table, c)?;
                            // alter-column.md: data written before reads as null.
                            if col.kql_type != new_type {
                                col.kql_type = new_type;
                                table.forget_column_data(c);
                            }
                        }
                        for e in entries {
                            cat.record(e);
                        }
                        Ok(())
                    })
                    .await?;
                let rows = refs
                    .iter()
                    .map(|(d, t, c)| {
                        vec![
                            format!("[{d}].[{t}].[{c}]").into(),
                            new_type.name().into(),
                            Cell::Null,
                        ]
                    })
                    .collect();
                table(COLUMN_RESULT_COLS, rows)
            }
            TableCommand::RenameColumns { pairs } => {
                let mut refs = Vec::new();
                for (c, new) in pairs {
                    let (d, t, old) = column_ref(database, c)?;
                    refs.push((d, t, old, new.name.clone()));
                }
                let entries: Vec<_> = refs
                    .iter()
                    .map(|(d, t, o, n)| {
                        ddl.entry(
                            "RENAME-COLUMN",
                            d,
                            &format!("{t}.{o}"),
                            &format!("{t}.{n}"),
                            String::new(),
                            String::new(),
                        )
                    })
                    .collect();
                let r2 = refs.clone();
                self.storage
                    .commit(move |cat| {
                        // Every old name is moved aside first, so that one command can
                        // swap names (`.rename columns a = b, b = a`).
                        for (i, (d, t, old, _)) in r2.iter().enumerate() {
                            let table = cat.require_table_mut(d, t)?;
                            let aside = format!("\u{0}rename:{i}");
                            table_column(table, old)?.name = aside.clone();
                            table.rename_column_data(old, &aside);
                        }
                        for (i, (d, t, _, new)) in r2.iter().enumerate() {
                            let table = cat.require_table_mut(d, t)?;
                            if table.column(new).is_some() {
                                return Err(SErr::already_exists(EntityKind::Column, new.clone()));
                            }
                            let aside = format!("\u{0}rename:{i}");
                            table_column(table, &aside)?.name = new.clone();
                            table.rename_column_data(&aside, new);
                        }
                        for e in entries {
                            cat.record(e);
                        }
                        Ok(())
                    })
                    .await?;
                let cat = self.storage.catalog();
                let mut rows = Vec::new();
                for (d, t, _, new) in &refs {
                    let c = cat
                        .table(d, t)
                        .and_then(|t| t.column(new))
                        .map(|c| c.kql_type.name())
                        .unwrap_or_default();
                    rows.push(vec![
                        format!("[{d}].[{t}].[{new}]").into(),
                        c.into(),
                        Cell::Null,
                    ]);
                }
                table(COLUMN_RESULT_COLS, rows)
            }
            TableCommand::DropColumns { table: t, columns } => {
                let tn = t.name.clone();
                let cols: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
                let entry = ddl.entry(
                    "DROP-COLUMNS",
                    database,
                    &tn,
                    &tn,
                    cols.join(", "),
                    String::new(),
                );
                self.storage
                    .commit(move |cat| {
                        let t = cat.require_table_mut(&db, &tn)?;
                        for c in &cols {
                            if t.column(c).is_none() {
                                return Err(SErr::not_found(EntityKind::Column, c.clone()));
                            }
                        }
                        if cols.len() >= t.columns.len() {
                            return Err(SErr::invalid(format!(
                                "Cannot drop every column of table '{tn}'"
                            )));
                        }
                        // Extents keep the column's data in their files, detached from any
                        // column: a column of that name added later starts empty.
                        t.columns.retain(|c| !cols.contains(&c.name));
                        for c in &cols {
                            t.forget_column_data(c);
                        }
                        cat.record(entry);
                        Ok(())
                    })
                    .await?;
                self.schema_row_of(database, &t.name)
            }
            TableCommand::ShowAll { names, details } => {
                let cat = self.storage.catalog();
                let d = db_of(&cat, database)?;
                let list: Vec<&Table> = match names {
                    Some(ns) => {
                        let mut v = Vec::new();
                        for n in ns {
                            v.push(table_of(d, &n.name)?);
                        }
                        v
                    }
                    None => d.tables.values().map(|t| &**t).collect(),
                };
                if *details {
                    table(
                        TABLE_DETAILS_COLS,
                        list.iter()
                            .map(|t| details_row(d, t, &self.storage.snapshot().hot))
                            .collect(),
                    )
                } else {
                    table(TABLES_COLS, list.iter().map(|t| tables_row(d, t)).collect())
                }
            }
            TableCommand::Show {
                table: name,
                flavor,
            } => {
                let cat = self.storage.catalog();
                show_table(
                    &cat,
                    &self.storage.snapshot().hot,
                    database,
                    &name.name,
                    *flavor,
                )
            }
            TableCommand::ClearData { table: t, .. } => {
                let tn = t.name.clone();
                let entry = ddl.entry(
                    "CLEAR-TABLE-DATA",
                    database,
                    &tn,
                    &tn,
                    String::new(),
                    String::new(),
                );
                self.storage
                    .commit(move |cat| {
                        cat.require_table_mut(&db, &tn)?.extents.clear();
                        cat.record(entry);
                        Ok(())
                    })
                    .await?;
                table(&[("Status", KqlType::String)], vec![vec!["Success".into()]])
            }
        }
    }

    fn schema_row_of(&self, database: &str, name: &str) -> Result<ResultTable> {
        let cat = self.storage.catalog();
        let t = table_of(db_of(&cat, database)?, name)?;
        table(TABLE_SCHEMA_COLS, vec![table_schema_row(database, t)])
    }

    /// Creates or changes a table's schema, as `.create|.create-merge|.alter|.alter-merge
    /// table` do.
    #[allow(clippy::too_many_arguments)]
    async fn schema_change(
        &self,
        caller: &Caller,
        database: &str,
        verb: SchemaVerb,
        name: &str,
        decls: &[ColumnDecl],
        with: &[Property],
        ddl: &Ddl,
    ) -> Result<()> {
        let cols = columns_of(decls)?;
        let (db, n) = (database.to_string(), name.to_string());
        let folder = prop(with, "folder").map(|v| v.text());
        let docstring = prop(with, "docstring").map(|v| v.text());
        let owner = creator_assignment(caller);
        let after = format!(
            "({})",
            cols.iter()
                .map(|c| format!("{}:{}", c.name, c.kql_type.name()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let ddl = ddl.clone();
        self.storage
            .commit(move |cat| {
                let before = cat
                    .table(&db, &n)
                    .map(|t| format!("({})", csl_schema(t)))
                    .unwrap_or_default();
                let d = cat.require_database_mut(&db)?;
                let event = match (verb, d.tables.get_mut(&n).map(Arc::make_mut)) {
                    (SchemaVerb::Create, Some(existing)) => {
                        // `.create table` on an existing table with the same schema is a no-op.
                        let same = existing.columns.len() == cols.len()
                            && existing
                                .columns
                                .iter()
                                .zip(&cols)
                                .all(|(a, b)| a.name == b.name && a.kql_type == b.kql_type);
                        if !same {
                            return Err(SErr::invalid(format!(
                                "Table '{n}' already exists with a different schema"
                            )));
                        }
                        None
                    }
                    (SchemaVerb::Create | SchemaVerb::CreateMerge, None) => {
                        d.tables.insert(
                            n.clone(),
                            Table {
                                name: n.clone(),
                                id: new_id(),
                                columns: cols,
                                folder,
                                docstring,
                                roles: owner.into_iter().collect(),
                                created_on: now_rfc3339(),
                                ..Default::default()
                            }
                            .into(),
                        );
                        Some("CREATE-TABLE")
                    }
                    (SchemaVerb::CreateMerge | SchemaVerb::AlterMerge, Some(existing)) => {
                        let mut added = false;
                        for c in cols {
                            match existing.columns.iter().find(|e| e.name == c.name) {
                                Some(e) if e.kql_type != c.kql_type => {
                                    return Err(SErr::invalid(format!(
                                        "Column '{}' already exists with type {}, not {}",
                                        c.name, e.kql_type, c.kql_type
                                    )));
                                }
                                Some(_) => {}
                                None => {
                                    existing.columns.push(c);
                                    added = true;
                                }
                            }
                        }
                        let changed = added || folder.is_some() || docstring.is_some();
                        if folder.is_some() {
                            existing.folder = folder;
                        }
                        if docstring.is_some() {
                            existing.docstring = docstring;
                        }
                        changed.then_some("ADD-COLUMNS")
                    }
                    (SchemaVerb::Alter, Some(existing)) => {
                        for c in &cols {
                            if let Some(e) = existing.columns.iter().find(|e| e.name == c.name)
                                && e.kql_type != c.kql_type
                            {
                                return Err(SErr::invalid(format!(
                                    "Changing the type of column '{}' is not supported",
                                    c.name
                                )));
                            }
                        }
                        for gone in existing.columns.clone() {
                            if !cols.iter().any(|c| c.name == gone.name) {
                                existing.forget_column_data(&gone.name);
                            }
                        }
                        existing.columns = cols;
                        if folder.is_some() {
                            existing.folder = folder;
                        }
                        if docstring.is_some() {
                            existing.docstring = docstring;
                        }
                        Some("ALTER-TABLE")
                    }
                    (SchemaVerb::Alter | SchemaVerb::AlterMerge, None) => {
                        return Err(SErr::not_found(EntityKind::Table, n.clone()));
                    }
                };
                if let Some(event) = event {
                    cat.record(ddl.entry(event, &db, &n, &n, before, after));
                }
                Ok(())
            })
            .await?;
        Ok(())
    }
}

/// Column `c` of `table`, to rename or retype.
fn table_column<'a>(
    table: &'a mut Table,
    c: &str,
) -> calypso_storage::Result<&'a mut calypso_storage::Column> {
    table
        .columns
        .iter_mut()
        .find(|x| x.name == c)
        .ok_or_else(|| SErr::not_found(EntityKind::Column, c.to_string()))
}

/// `.show table T [details | cslschema | schema as json]`.
fn show_table(
    cat: &Catalog,
    hot: &calypso_storage::Hot,
    database: &str,
    name: &str,
    flavor: TableFlavor,
) -> Result<ResultTable> {
    let d = db_of(cat, database)?;
    let t = table_of(d, name)?;
    match flavor {
        TableFlavor::SchemaAsJson => table(TABLE_SCHEMA_COLS, vec![table_schema_row(database, t)]),
        TableFlavor::CslSchema => table(
            TABLE_SCHEMA_COLS,
            vec![vec![
                t.name.clone().into(),
                csl_schema(t).into(),
                database.into(),
                t.folder.clone().into(),
                t.docstring.clone().into(),
            ]],
        ),
        TableFlavor::Details => table(TABLE_DETAILS_COLS, vec![details_row(d, t, hot)]),
        TableFlavor::Columns => {
            let rows = t
                .columns
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone().into(),
                        storage_type_name(c.kql_type).into(),
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
    }
}
