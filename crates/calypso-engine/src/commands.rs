//! Management (dot) commands: databases, tables, functions, policies, ingestion of inline
//! data and query results. Results follow ADX's column names and types (see
//! shared/reference/kql-catalog/management-commands.txt).

use calypso_storage::{Catalog, Column, Database, EntityKind, Error as SErr, Function, Table};
use kql_functions::KqlType;
use kql_syntax::ast::{ColumnDecl, Command, CommandKind, ExprKind, Literal, OpParam};
use kql_syntax::token::TokenKind;

pub(crate) mod ingest;
pub(crate) mod mappings;
mod other;
pub(crate) mod principals;

use crate::security::access::creator_assignment;
use crate::table::{Cell, guid, table};
use crate::{Caller, Engine, EngineError, RequestOptions, Result, ResultTable};

/// A word of a command kept as text (`.show tables`, `.alter table T policy ...`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum W {
    /// An identifier or keyword (hyphenated words joined: `materialized-views`).
    Word(String),
    /// A string literal's value.
    Str(String),
    /// Punctuation.
    Punct(&'static str),
}

pub(crate) fn words(text: &str) -> Vec<W> {
    let (toks, _) = kql_syntax::lexer::tokenize(text);
    let mut out: Vec<W> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        match &t.kind {
            TokenKind::Ident(s) => {
                let mut word = s.clone();
                let mut end = t.span.end;
                // join `a-b` when the pieces touch
                while i + 2 < toks.len()
                    && toks[i + 1].is_punct("-")
                    && toks[i + 1].span.start == end
                    && toks[i + 2].span.start == toks[i + 1].span.end
                    && toks[i + 2].ident().is_some()
                {
                    word.push('-');
                    word.push_str(toks[i + 2].ident().unwrap_or_default());
                    end = toks[i + 2].span.end;
                    i += 2;
                }
                out.push(W::Word(word));
            }
            TokenKind::Str { value, .. } => out.push(W::Str(value.clone())),
            TokenKind::Punct("[")
                if matches!(
                    toks.get(i + 1).map(|t| &t.kind),
                    Some(TokenKind::Str { .. })
                ) && toks.get(i + 2).is_some_and(|t| t.is_punct("]")) =>
            {
                if let Some(TokenKind::Str { value, .. }) = toks.get(i + 1).map(|t| &t.kind) {
                    out.push(W::Word(value.clone()));
                }
                i += 2;
            }
            TokenKind::Punct(p) => out.push(W::Punct(p)),
            TokenKind::Long(s) | TokenKind::Real(s) | TokenKind::TimeSpan(s) => {
                out.push(W::Word(s.clone()))
            }
            TokenKind::TypedRaw { ty, raw } => out.push(W::Word(format!("{ty}({raw})"))),
            TokenKind::Unknown(_) | TokenKind::Eof => {}
        }
        i += 1;
    }
    out
}

pub(crate) fn is(w: Option<&W>, kw: &str) -> bool {
    matches!(w, Some(W::Word(s)) if s.eq_ignore_ascii_case(kw))
}

pub(crate) fn name_at(ws: &[W], i: usize) -> Option<String> {
    match ws.get(i) {
        Some(W::Word(s)) | Some(W::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

pub(crate) fn not_supported(text: &str) -> EngineError {
    let first_line = text.lines().next().unwrap_or(text);
    EngineError::NotSupported(format!(
        "The command is not supported by Calypso yet: {first_line}"
    ))
}

pub(crate) fn prop_text(p: &OpParam) -> String {
    match &p.value.kind {
        ExprKind::Literal(Literal::String { value, .. }) => value.clone(),
        ExprKind::Name(id) => id.name.clone(),
        _ => p.value.to_string(),
    }
}

pub(crate) fn prop<'a>(with: &'a [OpParam], name: &str) -> Option<&'a OpParam> {
    with.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

pub(crate) fn columns_of(decls: &[ColumnDecl]) -> Result<Vec<Column>> {
    decls
        .iter()
        .map(|c| {
            let t = KqlType::from_name(&c.ty.name).ok_or_else(|| {
                EngineError::BadRequest(format!(
                    "Unknown column type '{}' of column '{}'",
                    c.ty.name, c.name.name
                ))
            })?;
            Ok(Column {
                name: c.name.name.clone(),
                kql_type: t,
                docstring: None,
            })
        })
        .collect()
}

/// Kusto's .NET type name as `.show table schema as json` prints it.
pub(crate) fn schema_type_name(t: KqlType) -> &'static str {
    match t {
        KqlType::Bool => "System.SByte",
        other => other.dotnet_name(),
    }
}

/// `{"Name":..,"OrderedColumns":[{"Name","Type","CslType"}]}`.
pub(crate) fn table_schema_json(t: &Table) -> serde_json::Value {
    let cols: Vec<serde_json::Value> = t
        .columns
        .iter()
        .map(|c| {
            serde_json::json!({"Name": c.name, "Type": schema_type_name(c.kql_type), "CslType": c.kql_type.name()})
        })
        .collect();
    serde_json::json!({"Name": t.name, "OrderedColumns": cols, "Folder": t.folder, "DocString": t.docstring})
}

pub(crate) fn csl_schema(t: &Table) -> String {
    t.columns
        .iter()
        .map(|c| format!("{}:{}", c.name, c.kql_type.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) const TABLE_SCHEMA_COLS: &[(&str, KqlType)] = &[
    ("TableName", KqlType::String),
    ("Schema", KqlType::String),
    ("DatabaseName", KqlType::String),
    ("Folder", KqlType::String),
    ("DocString", KqlType::String),
];

pub(crate) const TABLES_COLS: &[(&str, KqlType)] = &[
    ("TableName", KqlType::String),
    ("DatabaseName", KqlType::String),
    ("Folder", KqlType::String),
    ("DocString", KqlType::String),
];

pub(crate) const EXTENT_RESULT_COLS: &[(&str, KqlType)] = &[
    ("ExtentId", KqlType::Guid),
    ("OriginalSize", KqlType::Long),
    ("ExtentSize", KqlType::Long),
    ("ColumnSize", KqlType::Long),
    ("IndexSize", KqlType::Long),
    ("RowCount", KqlType::Long),
];

pub(crate) const POLICY_COLS: &[(&str, KqlType)] = &[
    ("PolicyName", KqlType::String),
    ("EntityName", KqlType::String),
    ("Policy", KqlType::String),
    ("ChildEntities", KqlType::String),
    ("EntityType", KqlType::String),
];

pub(crate) fn table_schema_row(db: &str, t: &Table) -> Vec<Cell> {
    vec![
        t.name.clone().into(),
        table_schema_json(t).to_string().into(),
        db.into(),
        t.folder.clone().into(),
        t.docstring.clone().into(),
    ]
}

pub(crate) fn db_of<'a>(cat: &'a Catalog, name: &str) -> Result<&'a Database> {
    cat.databases
        .get(name)
        .ok_or_else(|| EngineError::UnknownDatabase(name.to_string()))
}

pub(crate) fn table_of<'a>(db: &'a Database, name: &str) -> Result<&'a Table> {
    db.tables.get(name).ok_or_else(|| {
        EngineError::NotFound(format!(
            "Table '{name}' was not found in database '{}'",
            db.name
        ))
    })
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl Engine {
    /// Runs one control command on behalf of `caller` (already authorized; the caller
    /// becomes Admin of the tables and functions it creates).
    pub(crate) async fn command(
        &self,
        caller: &Caller,
        database: &str,
        cmd: &Command,
        text: &str,
        options: &RequestOptions,
    ) -> Result<ResultTable> {
        let result = match &cmd.kind {
            CommandKind::TableSchema {
                verb,
                table: name,
                columns,
                with,
            } => {
                self.table_schema_command(caller, database, verb, &name.name, columns, with)
                    .await?
            }
            CommandKind::CreateTables { verb, tables } => {
                let mut rows = Vec::new();
                for (name, cols) in tables {
                    let t = self
                        .table_schema_command(caller, database, verb, &name.name, cols, &[])
                        .await?;
                    let _ = t;
                    rows.push(vec![
                        Cell::from(name.name.as_str()),
                        database.into(),
                        Cell::from(""),
                        Cell::from(""),
                    ]);
                }
                table(TABLES_COLS, rows)?
            }
            CommandKind::DropTable {
                table: name,
                if_exists,
            } => {
                let n = name.name.clone();
                let if_exists = *if_exists;
                let db = database.to_string();
                self.storage
                    .commit(move |cat| {
                        let d = cat.require_database_mut(&db)?;
                        if d.tables.remove(&n).is_none() && !if_exists {
                            return Err(SErr::not_found(EntityKind::Table, n.clone()));
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
                )?
            }
            CommandKind::RenameTable { from, to } => {
                let (f, t, db) = (from.name.clone(), to.name.clone(), database.to_string());
                self.storage
                    .commit(move |cat| {
                        let d = cat.require_database_mut(&db)?;
                        if d.tables.contains_key(&t) {
                            return Err(SErr::already_exists(EntityKind::Table, t.clone()));
                        }
                        let mut table = d
                            .tables
                            .remove(&f)
                            .ok_or_else(|| SErr::not_found(EntityKind::Table, f.clone()))?;
                        table.name = t.clone();
                        d.tables.insert(t, table);
                        Ok(())
                    })
                    .await?;
                let cat = self.storage.catalog();
                let d = db_of(&cat, database)?;
                let tb = table_of(d, &to.name)?;
                table(
                    TABLES_COLS,
                    vec![vec![
                        tb.name.clone().into(),
                        database.into(),
                        tb.folder.clone().into(),
                        tb.docstring.clone().into(),
                    ]],
                )?
            }
            CommandKind::IngestInline {
                table: name,
                with,
                data,
            } => {
                let format_name = prop(with, "format")
                    .map(prop_text)
                    .unwrap_or_else(|| "csv".into());
                let format = calypso_ingest::Format::parse(&format_name).ok_or_else(|| {
                    EngineError::BadRequest(format!("Unsupported ingestion format '{format_name}'"))
                })?;
                let reference = prop(with, "ingestionMappingReference").map(prop_text);
                let inline = prop(with, "ingestionMapping").map(prop_text);
                let mapping = match (&reference, &inline) {
                    (Some(_), Some(_)) => {
                        return Err(EngineError::Ingest(calypso_ingest::IngestError::new(
                            calypso_ingest::codes::DUPLICATE_MAPPING,
                            "The ingestion properties give both ingestionMapping and ingestionMappingReference",
                        )));
                    }
                    (Some(r), None) => ingest::MappingSpec::Reference(r),
                    (None, Some(m)) => ingest::MappingSpec::Inline(m),
                    (None, None) => ingest::MappingSpec::Identity,
                };
                let extent = self
                    .ingest_bytes(
                        database,
                        &name.name,
                        format,
                        mapping,
                        data.as_bytes(),
                        false,
                    )
                    .await?;
                let rows = extent.map(|e| vec![guid(&e.id)]).into_iter().collect();
                table(&[("ExtentId", KqlType::Guid)], rows)?
            }
            CommandKind::SetOrAppend {
                verb,
                table: name,
                query,
                ..
            } => {
                self.set_or_append(caller, database, verb, &name.name, query, options)
                    .await?
            }
            CommandKind::Function {
                verb,
                if_not_exists,
                with,
                name,
                params,
                body,
            } => {
                let params_text = format!(
                    "({})",
                    params
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let f = Function {
                    name: name.name.clone(),
                    parameters: params_text,
                    body: format!("{{ {body} }}"),
                    folder: prop(with, "folder").map(prop_text),
                    docstring: prop(with, "docstring").map(prop_text),
                    roles: Vec::new(),
                };
                let (db, verb, ine) = (database.to_string(), verb.clone(), *if_not_exists);
                let mut f2 = f.clone();
                let owner = creator_assignment(caller);
                self.storage
                    .commit(move |cat| {
                        let d = cat.require_database_mut(&db)?;
                        let exists = d.functions.contains_key(&f2.name);
                        match (verb.as_str(), exists) {
                            ("create", true) if ine => return Ok(()),
                            ("create", true) => {
                                return Err(SErr::already_exists(
                                    EntityKind::Function,
                                    f2.name.clone(),
                                ));
                            }
                            ("alter", false) => {
                                return Err(SErr::not_found(EntityKind::Function, f2.name.clone()));
                            }
                            _ => {}
                        }
                        // Altering keeps the function's roles; its creator becomes its Admin.
                        f2.roles = match d.functions.get(&f2.name) {
                            Some(old) => old.roles.clone(),
                            None => owner.into_iter().collect(),
                        };
                        d.functions.insert(f2.name.clone(), f2);
                        Ok(())
                    })
                    .await?;
                function_table(&[f])?
            }
            CommandKind::Other {
                text: cmd_text,
                query,
            } => {
                self.other_command(caller, database, cmd_text, query.as_deref())
                    .await?
            }
        };
        if cmd.pipe.is_empty() {
            return Ok(result);
        }
        self.pipe_command_result(caller, result, &cmd.pipe, text)
            .await
    }

    async fn table_schema_command(
        &self,
        caller: &Caller,
        database: &str,
        verb: &str,
        name: &str,
        decls: &[ColumnDecl],
        with: &[OpParam],
    ) -> Result<ResultTable> {
        let cols = columns_of(decls)?;
        let (db, verb_s, n) = (database.to_string(), verb.to_string(), name.to_string());
        let folder = prop(with, "folder").map(prop_text);
        let docstring = prop(with, "docstring").map(prop_text);
        let owner = creator_assignment(caller);
        self.storage
            .commit(move |cat| {
                let d = cat.require_database_mut(&db)?;
                match (verb_s.as_str(), d.tables.get_mut(&n)) {
                    ("create", Some(existing)) => {
                        // `.create table` on an existing table with the same schema is a no-op in ADX.
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
                    }
                    ("create" | "create-merge", None) => {
                        let t = Table {
                            name: n.clone(),
                            id: new_id(),
                            columns: cols,
                            folder,
                            docstring,
                            roles: owner.into_iter().collect(),
                            ..Default::default()
                        };
                        d.tables.insert(n.clone(), t);
                    }
                    ("create-merge" | "alter-merge", Some(existing)) => {
                        for c in cols {
                            match existing.columns.iter().find(|e| e.name == c.name) {
                                Some(e) if e.kql_type != c.kql_type => {
                                    return Err(SErr::invalid(format!(
                                        "Column '{}' already exists with type {}, not {}",
                                        c.name, e.kql_type, c.kql_type
                                    )));
                                }
                                Some(_) => {}
                                None => existing.columns.push(c),
                            }
                        }
                        if folder.is_some() {
                            existing.folder = folder;
                        }
                        if docstring.is_some() {
                            existing.docstring = docstring;
                        }
                    }
                    ("alter", Some(existing)) => {
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
                        existing.columns = cols;
                        if folder.is_some() {
                            existing.folder = folder;
                        }
                        if docstring.is_some() {
                            existing.docstring = docstring;
                        }
                    }
                    (_, None) => {
                        return Err(SErr::not_found(EntityKind::Table, n.clone()));
                    }
                    (other, Some(_)) => {
                        return Err(SErr::invalid(format!("Unexpected table command .{other}")));
                    }
                }
                Ok(())
            })
            .await?;
        let cat = self.storage.catalog();
        let d = db_of(&cat, database)?;
        let t = table_of(d, name)?;
        table(TABLE_SCHEMA_COLS, vec![table_schema_row(database, t)])
    }
}

pub(crate) fn function_table(fs: &[Function]) -> Result<ResultTable> {
    let rows = fs
        .iter()
        .map(|f| {
            vec![
                f.name.clone().into(),
                f.parameters.clone().into(),
                f.body.clone().into(),
                f.folder.clone().into(),
                f.docstring.clone().into(),
            ]
        })
        .collect();
    table(
        &[
            ("Name", KqlType::String),
            ("Parameters", KqlType::String),
            ("Body", KqlType::String),
            ("Folder", KqlType::String),
            ("DocString", KqlType::String),
        ],
        rows,
    )
}
