//! The typed AST of management commands: one sub-enum per family. Every command carries its
//! official kind ([`Command::official_kind`]); the engine authorizes and dispatches from
//! these types only.

use crate::ast::{ColumnDecl, Ident, NodeSpan, Operator, Param, Query};
use crate::command::dm::DmCommand;
use crate::command::extents::ExtentsCommand;

/// A control command (`.show tables`, `.create table ...`).
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The official kind (`ShowTables`, `DropTable`): a name of
    /// `Kusto.Language.EngineCommands.All`.
    pub name: &'static str,
    /// The command as written, without the operators piped after it.
    pub text: String,
    /// The command and its arguments.
    pub kind: CommandKind,
    /// Operators piped after the command (`.show tables | where ...`).
    pub pipe: Vec<Operator>,
    /// Where.
    pub span: NodeSpan,
}

impl Command {
    /// The official kind of the command (`ShowDatabaseSchemaAsJson`).
    pub fn official_kind(&self) -> Option<&'static str> {
        match self.kind {
            // Not engine commands: Kusto.Language has no kind for them.
            CommandKind::DataManagement(_) => None,
            _ => Some(self.name),
        }
    }

    /// Whether the command was written `async` (it then answers with an operation id, and
    /// `.show operation <id> details` gives its result).
    pub fn is_async(&self) -> bool {
        match &self.kind {
            CommandKind::Ingest(
                IngestCommand::FromQuery { is_async, .. }
                | IngestCommand::FromStorage { is_async, .. },
            )
            | CommandKind::Table(TableCommand::ClearData { is_async, .. })
            | CommandKind::Extents(
                ExtentsCommand::AlterTags { is_async, .. }
                | ExtentsCommand::DropTags { is_async, .. }
                | ExtentsCommand::Move { is_async, .. }
                | ExtentsCommand::Replace { is_async, .. },
            ) => *is_async,
            _ => false,
        }
    }
}

/// A `name = value` property of `with (...)` (`folder = "x"`, `docstring = 'y'`).
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// The name as written.
    pub name: String,
    /// The value.
    pub value: PropValue,
}

/// The value of a property.
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    /// A string (adjacent literals concatenated).
    Str(String),
    /// A bare word or name (`true`, `csv`, `Info`).
    Word(String),
    /// A number, timespan or other literal, as written.
    Literal(String),
    /// A parenthesized list of values (`tags = ("a", "b")`).
    List(Vec<PropValue>),
}

impl PropValue {
    /// The value as text: strings unquoted, words and literals as written.
    pub fn text(&self) -> String {
        match self {
            PropValue::Str(s) | PropValue::Word(s) | PropValue::Literal(s) => s.clone(),
            PropValue::List(v) => v.iter().map(PropValue::text).collect::<Vec<_>>().join(","),
        }
    }

    /// The value as a boolean (`true`, `"true"`, `false`).
    pub fn as_bool(&self) -> Option<bool> {
        match self.text().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }
}

/// The properties of `with (...)`, case-insensitively by name.
pub fn prop<'a>(with: &'a [Property], name: &str) -> Option<&'a PropValue> {
    with.iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| &p.value)
}

/// A possibly qualified name: `T`, `D.T`, `T.c`, `D.T.c` (parts in order).
#[derive(Debug, Clone, PartialEq)]
pub struct QName {
    /// The parts, outermost first.
    pub parts: Vec<Ident>,
}

impl QName {
    /// The last part (the entity itself).
    pub fn last(&self) -> &Ident {
        // A QName is never built empty (the parser requires one name).
        &self.parts[self.parts.len() - 1]
    }

    /// The part before the last (the table of `T.c`, the database of `D.T`).
    pub fn parent(&self) -> Option<&Ident> {
        self.parts.len().checked_sub(2).map(|i| &self.parts[i])
    }

    /// The part two before the last (the database of `D.T.c`).
    pub fn grandparent(&self) -> Option<&Ident> {
        self.parts.len().checked_sub(3).map(|i| &self.parts[i])
    }
}

/// The families of commands.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandKind {
    /// Databases, their schemas and entities.
    Database(DatabaseCommand),
    /// Tables and columns.
    Table(TableCommand),
    /// Stored functions.
    Function(FunctionCommand),
    /// Policies of the cluster, databases, tables and columns.
    Policy(PolicyCommand),
    /// Ingestion mappings of tables and databases.
    Mapping(MappingCommand),
    /// Role assignments.
    Security(SecurityCommand),
    /// Data in: `.ingest inline`, `.set-or-append` and friends.
    Ingest(IngestCommand),
    /// Queries, commands, operations, journal, diagnostics, cluster information.
    Operations(OperationsCommand),
    /// Extents.
    Extents(ExtentsCommand),
    /// Caches.
    Cache(CacheCommand),
    /// The data-management service's commands (`.get ingestion resources`).
    DataManagement(DmCommand),
    /// A command known by its kind only: Calypso parses its shape but does not run it.
    Unsupported {
        /// The command's text.
        text: String,
    },
}

/// `details`, `identity`, `policies`, `datastats`, `metadata` after `.show database(s)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseFlavor {
    /// No flavor.
    Plain,
    /// `details`.
    Details,
    /// `identity`.
    Identity,
    /// `policies`.
    Policies,
    /// `datastats`.
    DataStats,
    /// `metadata`.
    Metadata,
}

/// How a schema is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaFormat {
    /// One row per column.
    Table,
    /// `as json`.
    Json,
    /// `as csl script`.
    CslScript,
    /// `cslschema`: one row per table.
    CslSchema,
}

/// Which databases a schema command shows.
#[derive(Debug, Clone, PartialEq)]
pub enum DatabaseSet {
    /// `.show database D [if_later_than "v1.2"] ...`.
    One(Ident, Option<String>),
    /// `.show databases (A [if_later_than "v1.2"], B) ...`.
    Some(Vec<(Ident, Option<String>)>),
    /// `.show databases ...` / `.show schema ...`: all the caller may see.
    All,
    /// `.show database schema ...`: the request's database.
    Current,
}

/// Database commands.
#[derive(Debug, Clone, PartialEq)]
pub enum DatabaseCommand {
    /// `.create database D [persist (...) | volatile] [ifnotexists] [with (...)]`.
    Create {
        /// Name.
        name: Ident,
        /// `persist (paths)`.
        persist: Vec<String>,
        /// `volatile`.
        volatile: bool,
        /// `ifnotexists`.
        if_not_exists: bool,
        /// Properties.
        with: Vec<Property>,
    },
    /// `.drop database D [ifexists]`.
    Drop {
        /// Name.
        name: Ident,
        /// `ifexists`.
        if_exists: bool,
    },
    /// `.alter database D prettyname 'x'` (`Some`), `.drop database D prettyname` (`None`).
    PrettyName {
        /// Database (the request's when `None`).
        name: Option<Ident>,
        /// The new pretty name.
        pretty: Option<String>,
    },
    /// `.show database [D] [flavor]`.
    Show {
        /// The database (the request's when `None`).
        name: Option<Ident>,
        /// What to show.
        flavor: DatabaseFlavor,
    },
    /// `.show [cluster] databases [(A, B)] [flavor]`.
    ShowAll {
        /// The databases named, if any.
        names: Option<Vec<Ident>>,
        /// What to show.
        flavor: DatabaseFlavor,
    },
    /// `.show databases entities [with (...)]`.
    ShowEntities {
        /// Properties (`showObfuscatedStrings`, `resolveFunctionsSchema`).
        with: Vec<Property>,
    },
    /// `.show database D schema [details] [as json | as csl script]`, `.show database D
    /// cslschema`, `.show databases [(A, B)] schema [as json]`, `.show schema [as json]`.
    ShowSchema {
        /// Which databases.
        databases: DatabaseSet,
        /// `details`.
        details: bool,
        /// How.
        format: SchemaFormat,
        /// Properties.
        with: Vec<Property>,
    },
}

/// `.create`, `.create-merge`, `.alter`, `.alter-merge` of a table schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaVerb {
    /// `.create`.
    Create,
    /// `.create-merge`.
    CreateMerge,
    /// `.alter`.
    Alter,
    /// `.alter-merge`.
    AlterMerge,
}

/// What `.show table T ...` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFlavor {
    /// `.show table T`: its columns.
    Columns,
    /// `details`.
    Details,
    /// `cslschema`.
    CslSchema,
    /// `schema as json`.
    SchemaAsJson,
}

/// Table and column commands.
#[derive(Debug, Clone, PartialEq)]
pub enum TableCommand {
    /// `.create|.create-merge|.alter|.alter-merge table T (cols) [with (props)]`.
    Schema {
        /// Verb.
        verb: SchemaVerb,
        /// Table.
        table: Ident,
        /// Columns.
        columns: Vec<ColumnDecl>,
        /// Properties (`folder`, `docstring`).
        with: Vec<Property>,
    },
    /// `.create[-merge] tables T1 (cols), T2 (cols) [with (props)]`.
    CreateTables {
        /// `.create-merge`.
        merge: bool,
        /// Tables.
        tables: Vec<(Ident, Vec<ColumnDecl>)>,
        /// Properties.
        with: Vec<Property>,
    },
    /// `.create table T based-on U [ifnotexists] [with (props)]`.
    CreateBasedOn {
        /// The new table.
        table: Ident,
        /// The table whose schema it takes.
        source: Ident,
        /// `ifnotexists`.
        if_not_exists: bool,
        /// Properties.
        with: Vec<Property>,
    },
    /// `.drop table T [ifexists]`, `.drop tables (A, B) [ifexists]`.
    Drop {
        /// Tables.
        tables: Vec<Ident>,
        /// `ifexists`.
        if_exists: bool,
        /// The plural form.
        plural: bool,
    },
    /// `.rename table A to B`, `.rename tables B = A, D = C`.
    Rename {
        /// `(old, new)` pairs.
        pairs: Vec<(Ident, Ident)>,
        /// The plural form.
        plural: bool,
    },
    /// `.alter table T docstring 'x'`.
    AlterDocString {
        /// Table.
        table: Ident,
        /// Docstring.
        value: String,
    },
    /// `.alter table T folder 'x'`.
    AlterFolder {
        /// Table.
        table: Ident,
        /// Folder.
        value: String,
    },
    /// `.alter[-merge] table T column-docstrings (c: 'x', ...)`.
    ColumnDocStrings {
        /// Table.
        table: Ident,
        /// `.alter-merge`: other columns keep theirs.
        merge: bool,
        /// `(column, docstring)`.
        docs: Vec<(Ident, String)>,
    },
    /// `.alter column T.c type = t`, `.alter columns T.a, T.b type = t`.
    AlterColumnType {
        /// Columns (`T.c` or `D.T.c`).
        columns: Vec<QName>,
        /// The new type.
        ty: Ident,
    },
    /// `.rename column T.a to b`, `.rename columns b = T.a, ...`.
    RenameColumns {
        /// `(column, new name)`.
        pairs: Vec<(QName, Ident)>,
    },
    /// `.drop column T.c`, `.drop table T columns (a, b)`.
    DropColumns {
        /// Table.
        table: Ident,
        /// Columns.
        columns: Vec<Ident>,
    },
    /// `.show tables [(A, B)] [details]`.
    ShowAll {
        /// The tables named, if any.
        names: Option<Vec<Ident>>,
        /// `details`.
        details: bool,
    },
    /// `.show table T [details | cslschema | schema as json]`.
    Show {
        /// Table.
        table: Ident,
        /// What to show.
        flavor: TableFlavor,
    },
    /// `.clear [async] table T data`.
    ClearData {
        /// `async`.
        is_async: bool,
        /// Table.
        table: Ident,
    },
}

/// `.create`, `.alter`, `.create-or-alter` of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionVerb {
    /// `.create`.
    Create,
    /// `.alter`.
    Alter,
    /// `.create-or-alter`.
    CreateOrAlter,
}

/// Function commands.
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionCommand {
    /// `.create|.alter|.create-or-alter function [ifnotexists] [with (props)] F(params) { body }`.
    Define {
        /// Verb.
        verb: FunctionVerb,
        /// `ifnotexists`.
        if_not_exists: bool,
        /// Properties (`folder`, `docstring`, `skipvalidation`, `view`).
        with: Vec<Property>,
        /// Name.
        name: Ident,
        /// Parameters.
        params: Vec<Param>,
        /// The parameter list as written, with its parentheses.
        params_text: String,
        /// Body text, as written between the braces.
        body: String,
    },
    /// `.alter function F docstring 'x'`.
    AlterDocString {
        /// Function.
        name: Ident,
        /// Docstring.
        value: String,
    },
    /// `.alter function F folder 'x'`.
    AlterFolder {
        /// Function.
        name: Ident,
        /// Folder.
        value: String,
    },
    /// `.drop function F [ifexists]`, `.drop functions (F, G) [ifexists]`.
    Drop {
        /// Functions.
        names: Vec<Ident>,
        /// `ifexists`.
        if_exists: bool,
        /// The plural form.
        plural: bool,
    },
    /// `.show functions` (`None`), `.show function F [with (...)]`.
    Show {
        /// The function.
        name: Option<Ident>,
        /// Properties (`ShowObfuscatedStrings`).
        with: Vec<Property>,
    },
}

/// `.show`, `.alter`, `.alter-merge` or `.delete` of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyVerb {
    /// `.show`.
    Show,
    /// `.alter`.
    Alter,
    /// `.alter-merge`.
    AlterMerge,
    /// `.delete`.
    Delete,
}

/// What a policy command is about.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyScope {
    /// The cluster.
    Cluster,
    /// A database (the request's when `None`).
    Database(Option<Ident>),
    /// A table (`T` or `D.T`).
    Table(QName),
    /// Several tables: `.alter tables (A, B) policy ...`.
    Tables(Vec<QName>),
    /// Every table: `.show table * policy ...`.
    AllTables,
    /// Every database: `.show database * policy ...`.
    AllDatabases,
    /// A column: `T.c` or `D.T.c`.
    Column(QName),
    /// A materialized view.
    MaterializedView(Ident),
}

/// The policy's value in an `.alter` command.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyValue {
    /// No value (`.show`, `.delete`).
    None,
    /// A JSON text (adjacent literals concatenated).
    Json(String),
    /// `enable` / `disable`.
    Enabled(bool),
    /// `true` / `false` (restricted_view_access).
    Bool(bool),
    /// `enable|disable "query"` (row_level_security).
    RowLevelSecurity {
        /// `enable`.
        enabled: bool,
        /// The query.
        query: String,
    },
    /// `name = value, ...` (caching `hot = 7d`, retention `softdelete = 10d`, encoding
    /// `type = 'identifier'`); a range `a .. b` is one literal.
    Assignments(Vec<Property>),
    /// `(c1 asc, c2 desc)` (roworder).
    RowOrder(Vec<(Ident, bool)>),
}

/// A policy command.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyCommand {
    /// Verb.
    pub verb: PolicyVerb,
    /// Entity.
    pub scope: PolicyScope,
    /// The policy as written (`retention`, `streamingingestion`); `None` for `.show ...
    /// policies`.
    pub policy: Option<String>,
    /// The new value.
    pub value: PolicyValue,
    /// Properties (`with (...)`).
    pub with: Vec<Property>,
}

/// A mapping command's entity.
#[derive(Debug, Clone, PartialEq)]
pub enum MappingScope {
    /// `table T`.
    Table(Ident),
    /// `database D`.
    Database(Ident),
    /// `database` alone: the request's database.
    CurrentDatabase,
}

/// `.create`, `.create-or-alter`, `.alter`, `.alter-merge` or `.drop` of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingVerb {
    /// `.create`.
    Create,
    /// `.create-or-alter`.
    CreateOrAlter,
    /// `.alter`.
    Alter,
    /// `.alter-merge`.
    AlterMerge,
    /// `.drop`.
    Drop,
}

/// Ingestion mapping commands.
#[derive(Debug, Clone, PartialEq)]
pub enum MappingCommand {
    /// `.create|.alter|... table T ingestion csv mapping "name" '[...]'`, `.drop ... "name"`.
    Change {
        /// Verb.
        verb: MappingVerb,
        /// Entity.
        scope: MappingScope,
        /// Mapping kind as written (`csv`, `json`, `avro`, ...).
        mapping_kind: String,
        /// Name.
        name: String,
        /// The mapping JSON (not for `.drop`).
        mapping: Option<String>,
        /// Properties.
        with: Vec<Property>,
    },
    /// `.show table T ingestion [kind] mapping[s] ["name"]`.
    Show {
        /// Entity.
        scope: MappingScope,
        /// Kind.
        mapping_kind: Option<String>,
        /// Name.
        name: Option<String>,
    },
}

/// `.add`, `.drop` or `.set` of principals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleVerb {
    /// `.add`.
    Add,
    /// `.drop`.
    Drop,
    /// `.set`.
    Set,
}

/// The entity of a role command.
#[derive(Debug, Clone, PartialEq)]
pub enum SecurityScope {
    /// The cluster.
    Cluster,
    /// A database (the request's when `None`).
    Database(Option<Ident>),
    /// A table.
    Table(Ident),
    /// A function.
    Function(Ident),
    /// A materialized view.
    MaterializedView(Ident),
}

/// Role assignment commands.
#[derive(Debug, Clone, PartialEq)]
pub enum SecurityCommand {
    /// `.add|.drop|.set <scope> <role> ('p', ...) | none [skip-results] ['notes']`.
    ChangeRoles {
        /// Verb.
        verb: RoleVerb,
        /// Entity.
        scope: SecurityScope,
        /// The role word as written (`viewers`, `AllDatabasesAdmin`).
        role: String,
        /// Principals (empty for `none`).
        principals: Vec<String>,
        /// `none`.
        none: bool,
        /// `skip-results`.
        skip_results: bool,
        /// Notes.
        notes: String,
    },
    /// `.show <scope> principals`.
    ShowPrincipals(SecurityScope),
    /// `.show [<scope>] principal ['name'] roles [with (...)]`: the roles of the caller, or
    /// of the principal named.
    ShowRoles {
        /// Where (all scopes when `None`).
        scope: Option<SecurityScope>,
        /// Another principal.
        principal: Option<String>,
    },
}

/// `.set`, `.append`, `.set-or-append`, `.set-or-replace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetVerb {
    /// `.set`: creates the table.
    Set,
    /// `.append`: appends to an existing table.
    Append,
    /// `.set-or-append`.
    SetOrAppend,
    /// `.set-or-replace`.
    SetOrReplace,
}

/// Ingestion commands.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestCommand {
    /// `.ingest inline into table T [with (props)] <| data`.
    Inline {
        /// Table.
        table: Ident,
        /// Properties.
        with: Vec<Property>,
        /// The raw data after `<|`.
        data: String,
    },
    /// `.ingest [async] into table T ('source' | ('s1', 's2', ...)) [with (props)]`: pulls
    /// the data from files or URLs.
    FromStorage {
        /// `async`.
        is_async: bool,
        /// Table.
        table: Ident,
        /// The source URIs (connection strings), in order.
        sources: Vec<String>,
        /// Properties.
        with: Vec<Property>,
    },
    /// `.set|.append|.set-or-append|.set-or-replace [async] T [with (props)] <| query`.
    FromQuery {
        /// Verb.
        verb: SetVerb,
        /// `async`.
        is_async: bool,
        /// Table.
        table: Ident,
        /// Properties.
        with: Vec<Property>,
        /// The query.
        query: Box<Query>,
    },
}

/// Operations, monitoring and cluster information.
#[derive(Debug, Clone, PartialEq)]
pub enum OperationsCommand {
    /// `.show queries`, `.show running queries`.
    ShowQueries {
        /// `running`.
        running: bool,
    },
    /// `.cancel query "id" [with (reason = "...")]`.
    CancelQuery {
        /// The ClientActivityId of the query.
        client_activity_id: String,
        /// Reason.
        reason: Option<String>,
    },
    /// `.show commands`.
    ShowCommands,
    /// `.show commands-and-queries`.
    ShowCommandsAndQueries,
    /// `.show operations [id | (id, ...)]`.
    ShowOperations {
        /// Operation ids.
        ids: Vec<String>,
    },
    /// `.show operation id details`.
    ShowOperationDetails {
        /// Operation id.
        id: String,
    },
    /// `.show [database D] journal`.
    ShowJournal {
        /// The database, for `.show database D journal`.
        database: Option<Ident>,
    },
    /// `.show ingestion failures [with (OperationId = guid)]`.
    ShowIngestionFailures {
        /// `OperationId`: only that failure.
        operation_id: Option<String>,
    },
    /// `.show diagnostics`.
    ShowDiagnostics,
    /// `.show capacity`.
    ShowCapacity,
    /// `.show cluster`.
    ShowCluster,
    /// `.show version`.
    ShowVersion,
    /// `.show materialized-views`.
    ShowMaterializedViews,
    /// `.show entity_groups`.
    ShowEntityGroups,
    /// `.show external tables`.
    ShowExternalTables,
}

/// The caches `.clear ... cache` empties.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheCommand {
    /// `.clear database cache streamingingestion schema`, `.clear table T cache
    /// streamingingestion schema` (`Some`).
    StreamingIngestionSchema {
        /// The table of the table form.
        table: Option<Ident>,
    },
    /// `.clear database cache query_results`.
    QueryResults,
    /// `.clear database cache query_weak_consistency` and the other forms, by words.
    Other {
        /// `cluster` or `database`.
        scope: String,
        /// The words after `cache`.
        what: Vec<String>,
    },
}
