//! Management (dot) commands, dispatched from the typed command AST
//! ([`kql_syntax::ast::CommandKind`]), one module per family. Results follow ADX's column
//! names and types (shared/reference/kql-catalog/management-commands.txt).

use calypso_storage::{Catalog, Column, Database, Function, JournalEntry, Table};
use kql_functions::KqlType;
use kql_syntax::ast::{ColumnDecl, Command, CommandKind};

mod caches;
mod databases;
mod dm;
mod extent_ops;
mod extents;
mod functions;
pub(crate) mod ingest;
pub(crate) mod ingest_from;
pub(crate) mod ingest_props;
pub(crate) mod mappings;
pub(crate) mod operations;
pub(crate) mod policies;
mod policy_spec;
pub(crate) mod principals;
mod schema;
mod tables;
pub(crate) mod update_policy;

use crate::table::{Cell, table};
use crate::{Caller, Engine, EngineError, RequestOptions, Result, ResultTable};

pub(crate) fn not_implemented(cmd: &Command) -> EngineError {
    let first_line = cmd.text.lines().next().unwrap_or(&cmd.text);
    EngineError::NotImplemented(format!(
        "The command '{}' ({first_line}) is not implemented by Calypso yet",
        cmd.name
    ))
}

pub(crate) fn columns_of(decls: &[ColumnDecl]) -> Result<Vec<Column>> {
    let mut out: Vec<Column> = Vec::new();
    for c in decls {
        let t = type_of(&c.ty.name, &c.name.name)?;
        if out.iter().any(|o| o.name == c.name.name) {
            return Err(EngineError::BadRequest(format!(
                "Column '{}' is declared more than once",
                c.name.name
            )));
        }
        out.push(Column::new(&c.name.name, t));
    }
    Ok(out)
}

/// A column type by its Kusto name.
pub(crate) fn type_of(name: &str, column: &str) -> Result<KqlType> {
    KqlType::from_name(name).ok_or_else(|| {
        EngineError::BadRequest(format!("Unknown column type '{name}' of column '{column}'"))
    })
}

/// Kusto's internal storage type name, as `.show table T` prints it in `AttributeType`
/// (`StringBuffer`, `I64`, `DateTime`; pykusto reads these).
pub(crate) fn storage_type_name(t: KqlType) -> &'static str {
    match t {
        KqlType::Bool => "I8",
        KqlType::Int => "I32",
        KqlType::Long => "I64",
        KqlType::Real => "R64",
        KqlType::Decimal => "Decimal",
        KqlType::String => "StringBuffer",
        KqlType::DateTime => "DateTime",
        KqlType::TimeSpan => "TimeSpan",
        KqlType::Guid => "UniqueId",
        KqlType::Dynamic => "Dynamic",
    }
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
        .map(|d| &**d)
        .ok_or_else(|| EngineError::UnknownDatabase(name.to_string()))
}

pub(crate) fn table_of<'a>(db: &'a Database, name: &str) -> Result<&'a Table> {
    db.tables.get(name).map(|t| &**t).ok_or_else(|| {
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
        options: &RequestOptions,
    ) -> Result<ResultTable> {
        let ddl = Ddl::new(caller, cmd, options);
        let result = match &cmd.kind {
            CommandKind::Database(c) => self.database_command(caller, database, c, &ddl).await?,
            CommandKind::Table(c) => self.table_command(caller, database, c, &ddl).await?,
            CommandKind::Function(c) => self.function_command(caller, database, c, &ddl).await?,
            CommandKind::Policy(c) => self.policy_command(caller, database, c, &ddl).await?,
            CommandKind::Mapping(c) => self.mapping_command(database, c, &ddl).await?,
            CommandKind::Security(c) => {
                let sc = principals::from_ast(c)?;
                self.security_command(caller, database, sc).await?
            }
            CommandKind::Ingest(c) => self.ingest_command(caller, database, c, options).await?,
            CommandKind::Operations(c) => self.operations_command(caller, database, c).await?,
            CommandKind::Extents(c) => self.extent_change(caller, database, c, options).await?,
            CommandKind::Cache(c) => caches::clear(c)?,
            CommandKind::DataManagement(c) => self.dm_command(caller, c, options).await?,
            CommandKind::Unsupported { .. } => return Err(not_implemented(cmd)),
        };
        if cmd.pipe.is_empty() {
            return Ok(result);
        }
        self.pipe_command_result(caller, result, &cmd.pipe).await
    }
}

/// Who changes metadata, with what command: what the journal records.
#[derive(Debug, Clone)]
pub(crate) struct Ddl {
    principal: String,
    command: String,
    client_request_id: String,
}

impl Ddl {
    fn new(caller: &Caller, cmd: &Command, options: &RequestOptions) -> Ddl {
        Ddl {
            principal: caller.fqn(),
            command: cmd.text.clone(),
            client_request_id: options.client_request_id.clone().unwrap_or_default(),
        }
    }

    /// A journal entry for `event` (`CREATE-TABLE`) on `entity` of `database`.
    pub(crate) fn entry(
        &self,
        event: &str,
        database: &str,
        entity: &str,
        updated: &str,
        before: String,
        after: String,
    ) -> JournalEntry {
        JournalEntry {
            event: event.to_string(),
            database: database.to_string(),
            entity_name: entity.to_string(),
            updated_entity_name: updated.to_string(),
            original_state: before,
            updated_state: after,
            command: self.command.clone(),
            principal: self.principal.clone(),
            client_request_id: self.client_request_id.clone(),
            ..Default::default()
        }
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
    table(FUNCTION_COLS, rows)
}

pub(crate) const FUNCTION_COLS: &[(&str, KqlType)] = &[
    ("Name", KqlType::String),
    ("Parameters", KqlType::String),
    ("Body", KqlType::String),
    ("Folder", KqlType::String),
    ("DocString", KqlType::String),
];
