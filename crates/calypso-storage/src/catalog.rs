//! The catalog: databases, tables (with their extents) and stored functions.
//!
//! The catalog is one versioned value; each commit writes only what it changed as a log
//! record and checkpoints hold it whole (see `crate::log` and `crate::manifest`). Every
//! struct is `#[serde(default)]` so files written by older versions (with
//! fewer fields) stay readable; `format_version` tells which layout wrote a file, and a
//! file newer than [`FORMAT_VERSION`] is refused rather than half-read.
//!
//! Names are case-sensitive, as in Kusto.
//!
//! Versions share what they did not change: databases, tables and extents are behind
//! `Arc`s, so copying a catalog for a commit copies pointers, the `_mut` accessors copy
//! (with `Arc::make_mut`) only the database and table a change touches, and comparing two
//! versions skips what they share by pointer. A commit's cost in memory follows the
//! tables it touches, not the size of the catalog. (Serialized, an `Arc` is its value.)

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use kql_types::KqlType;
use serde::{Deserialize, Serialize};

use crate::error::{EntityKind, Error, Result};

/// The catalog layout this build writes (and the newest it reads).
///
/// * 0: files written before `format_version` existed (read as if 1, missing fields
///   take their defaults).
/// * 1: the current layout.
pub const FORMAT_VERSION: u32 = 1;

/// The database every Kusto cluster has.
pub const DEFAULT_DATABASE: &str = "NetDefaultDB";

/// The whole catalog at one version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Catalog {
    /// The layout of the file this was read from (see [`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The version: `N` for `catalog/v{N}.json`, 0 before the first commit.
    pub version: u64,
    /// Databases by name.
    pub databases: BTreeMap<String, Arc<Database>>,
    /// Cluster-level role assignments (`AllDatabasesAdmin`, `AllDatabasesViewer`,
    /// `AllDatabasesMonitor`).
    pub cluster_roles: Vec<RoleAssignment>,
    /// Cluster-level policies by name (`caching`, `ingestionbatching`, ...), as Kusto's
    /// JSON.
    pub policies: BTreeMap<String, serde_json::Value>,
    /// The history of metadata changes (`.show journal`), oldest first, at most
    /// [`JOURNAL_LIMIT`] entries.
    pub journal: Arc<Vec<JournalEntry>>,
}

/// How many journal entries the catalog keeps (the oldest go first).
pub const JOURNAL_LIMIT: usize = 1000;

/// One metadata change (`.show journal`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JournalEntry {
    /// `CREATE-TABLE`, `ADD-COLUMN`, `DROP-TABLE`, ... (Kusto's event names).
    pub event: String,
    /// When (RFC 3339).
    pub timestamp: String,
    /// The database.
    pub database: String,
    /// The entity changed.
    pub entity_name: String,
    /// Its new name (for renames), else the same as `entity_name`.
    pub updated_entity_name: String,
    /// The catalog version that recorded it (`v12.0`).
    pub entity_version: String,
    /// The state before, as text (a schema, a policy).
    pub original_state: String,
    /// The state after.
    pub updated_state: String,
    /// The command text.
    pub command: String,
    /// The principal who ran it (`""` without authentication).
    pub principal: String,
    /// The request's client request id.
    pub client_request_id: String,
}

impl Catalog {
    /// Appends a journal entry, dropping the oldest beyond [`JOURNAL_LIMIT`].
    pub fn record(&mut self, mut entry: JournalEntry) {
        entry.entity_version = format!("v{}.0", self.version + 1);
        if entry.timestamp.is_empty() {
            entry.timestamp = now_rfc3339();
        }
        let journal = Arc::make_mut(&mut self.journal);
        journal.push(entry);
        if journal.len() > JOURNAL_LIMIT {
            let extra = journal.len() - JOURNAL_LIMIT;
            journal.drain(..extra);
        }
    }
}

/// What a stored database without `persistent` is: persistent.
fn persistent_by_default() -> bool {
    true
}

/// A database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Database {
    /// The name (case-sensitive).
    pub name: String,
    /// A UUID that never changes, even when the database is renamed; extent files live
    /// under `data/<id>/`.
    pub id: String,
    /// False for databases that live only as long as the process (`.create database x
    /// volatile`); true when a stored catalog does not say (catalogs of earlier layouts,
    /// whose databases were all persistent).
    #[serde(default = "persistent_by_default")]
    pub persistent: bool,
    /// When it was created (RFC 3339).
    pub created_on: String,
    /// Tables by name.
    pub tables: BTreeMap<String, Arc<Table>>,
    /// Stored functions by name.
    pub functions: BTreeMap<String, Function>,
    /// The database's streaming ingestion policy, as Kusto's JSON.
    pub streaming_ingestion_policy: Option<serde_json::Value>,
    /// The other policies by name (`retention`, `caching`, `merge`, ...), as Kusto's JSON.
    pub policies: BTreeMap<String, serde_json::Value>,
    /// The pretty name (`.alter database D prettyname 'x'`).
    pub pretty_name: Option<String>,
    /// Database-level ingestion mappings, used when a table has none of that name.
    pub ingestion_mappings: Vec<IngestionMapping>,
    /// Database-level role assignments (`admins`, `users`, `viewers`,
    /// `unrestrictedviewers`, `ingestors`, `monitors`). Dropped with the database.
    pub roles: Vec<RoleAssignment>,
}

/// A table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Table {
    /// The name (case-sensitive).
    pub name: String,
    /// A UUID that never changes; extent files live under `data/<database id>/<id>/`.
    pub id: String,
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// The folder shown by `.show tables details`.
    pub folder: Option<String>,
    /// The docstring.
    pub docstring: Option<String>,
    /// The data: immutable Parquet files, in ingestion order.
    pub extents: Vec<Arc<ExtentMeta>>,
    /// The table's streaming ingestion policy, as Kusto's JSON.
    pub streaming_ingestion_policy: Option<serde_json::Value>,
    /// Named ingestion mappings (`.create table T ingestion csv mapping "m" '...'`).
    pub ingestion_mappings: Vec<IngestionMapping>,
    /// Table-level role assignments (`admins`, `ingestors`). They follow the table when it
    /// is renamed and are dropped with it.
    pub roles: Vec<RoleAssignment>,
    /// The RestrictedViewAccess policy: `Some(true)` when only UnrestrictedViewers may
    /// query the table; `None` when never set or deleted.
    pub restricted_view_access: Option<bool>,
    /// The other policies by name (`retention`, `caching`, `row_level_security`, ...), as
    /// Kusto's JSON.
    pub policies: BTreeMap<String, serde_json::Value>,
    /// When it was created (RFC 3339).
    pub created_on: String,
    /// The row store's high-water mark: every row-store entry of this table with a
    /// sequence number up to this one is in an extent (sealed) or was discarded (the
    /// table's data was cleared). Startup replays only the entries after it.
    #[serde(skip_serializing_if = "is_zero")]
    pub sealed_seq: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A principal's assignment to a security role of the cluster, a database, a table or a
/// function (`.add database D viewers ('aaduser=...')`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoleAssignment {
    /// The role as the commands name it: `admins`, `users`, `viewers`,
    /// `unrestrictedviewers`, `ingestors`, `monitors` (databases, tables, functions), or
    /// `AllDatabasesAdmin`, `AllDatabasesViewer`, `AllDatabasesMonitor` (cluster).
    pub role: String,
    /// The principal's canonical name: `aaduser=alice@contoso.com;<tenant>`,
    /// `aadapp=<app id>;<tenant>`, `aadgroup=<id or name>[;<tenant>]`.
    pub principal: String,
    /// The name `.show ... principals` prints.
    pub display_name: String,
    /// The description given to the command that added it.
    pub notes: String,
    /// When it was added (RFC 3339).
    pub added_on: String,
    /// A UUID (`RoleAssignmentIdentifier`).
    pub id: String,
}

impl RoleAssignment {
    /// Whether this assignment gives `role` to the principal whose canonical name is
    /// `principal` (compared case-insensitively, as Kusto does).
    pub fn is(&self, role: &str, principal: &str) -> bool {
        self.role.eq_ignore_ascii_case(role) && self.principal.eq_ignore_ascii_case(principal)
    }
}

/// A named ingestion mapping of a table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestionMapping {
    /// The name (case-sensitive); unique per table and kind.
    pub name: String,
    /// The kind as Kusto prints it (`Csv`, `Json`).
    pub kind: String,
    /// The mapping's JSON text, normalized.
    pub mapping: String,
    /// When it was created or last altered (RFC 3339).
    pub last_updated_on: String,
}

impl Table {
    /// Renames column `from` to `to` in what the existing extents hold: each keeps its data
    /// under the name it was written with, now read as `to`, and holds nothing for `from`.
    /// The catalog's column list is the caller's to change.
    pub fn rename_column_data(&mut self, from: &str, to: &str) {
        for e in &mut self.extents {
            let e = Arc::make_mut(e);
            let file = e
                .columns_as
                .remove(from)
                .unwrap_or_else(|| from.to_string());
            e.columns_as.insert(from.to_string(), String::new());
            if file == to {
                e.columns_as.remove(to);
            } else {
                e.columns_as.insert(to.to_string(), file);
            }
            e.column_stats.retain(|c| c.name != to);
            for c in &mut e.column_stats {
                if c.name == from {
                    c.name = to.to_string();
                }
            }
        }
    }

    /// Detaches column `name` from the data of the existing extents (after `.alter column`
    /// changed its type, or the column was dropped): it reads as null there, and a column of
    /// that name added later does not see the old data.
    pub fn forget_column_data(&mut self, name: &str) {
        for e in &mut self.extents {
            let e = Arc::make_mut(e);
            e.columns_as.insert(name.to_string(), String::new());
            e.column_stats.retain(|c| c.name != name);
        }
    }

    /// The mapping `name` of `kind` (case-insensitive kind, case-sensitive name).
    pub fn ingestion_mapping(&self, kind: &str, name: &str) -> Option<&IngestionMapping> {
        self.ingestion_mappings
            .iter()
            .find(|m| m.name == name && m.kind.eq_ignore_ascii_case(kind))
    }
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Column {
    /// The name (case-sensitive).
    pub name: String,
    /// The type, stored as its Kusto name (`long`, `datetime`...).
    #[serde(with = "kql_type_name")]
    pub kql_type: KqlType,
    /// The docstring.
    pub docstring: Option<String>,
    /// Column-level policies by name (`encoding`), as Kusto's JSON.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, serde_json::Value>,
}

impl Default for Column {
    fn default() -> Column {
        Column {
            name: String::new(),
            kql_type: KqlType::String,
            docstring: None,
            policies: BTreeMap::new(),
        }
    }
}

/// A stored function (`.create function`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Function {
    /// The name (case-sensitive).
    pub name: String,
    /// The parameter list as written, with its parentheses: `(x:long, y:string="a")`.
    pub parameters: String,
    /// The body as written, with its braces.
    pub body: String,
    /// The folder.
    pub folder: Option<String>,
    /// The docstring.
    pub docstring: Option<String>,
    /// Function-level role assignments (`admins`). Dropped with the function.
    pub roles: Vec<RoleAssignment>,
    /// `with (view=true)`: the function is a view (it takes part in `union *`).
    pub view: bool,
    /// `with (skipvalidation=true)`: the body was stored without being checked.
    pub skip_validation: bool,
}

/// An immutable Parquet file holding some rows of a table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExtentMeta {
    /// A UUID.
    pub id: String,
    /// The file, relative to the storage root: `data/<database id>/<table id>/<id>.parquet`.
    pub path: String,
    /// The number of rows.
    pub rows: u64,
    /// The size of the file in bytes.
    pub size_bytes: u64,
    /// The size of its data uncompressed, in memory (`.show extents` OriginalSize); 0 in
    /// extents written before it was kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub original_size: u64,
    /// When it was written (RFC 3339); for a merged extent, the latest of its sources'.
    pub created_on: String,
    /// For a merged extent, the earliest creation time of its sources (empty: the same as
    /// `created_on`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub min_created_on: String,
    /// Statistics of the columns the file has (columns added to the table later are
    /// absent: they are all null in this extent).
    pub column_stats: Vec<ColumnStats>,
    /// Extent tags (`drop-by:...`, `ingest-by:...`).
    pub tags: Vec<String>,
    /// Columns of the table that the file stores under another name, or not at all:
    /// logical name -> name in the file, `""` when the file has no data for it. Written when a
    /// column is renamed (its data keeps the old name in files written before), retyped or
    /// dropped (the old data no longer belongs to a column of that name). Absent: the file's
    /// column has the table column's name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub columns_as: BTreeMap<String, String>,
    /// The ids of the queued-ingestion messages whose rows it holds: a message found here
    /// was ingested already (a crash came between its commit and its deletion) and is not
    /// ingested again. Merges keep those whose messages still wait
    /// ([`crate::Storage::keep_sources_while`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

/// Statistics of one column in one extent.
///
/// `min`/`max` are JSON values whose form depends on the column's type: booleans for
/// `bool`, numbers for `int`, `long`, `real` and `timespan` (in nanoseconds), strings
/// for `string`, `decimal` (its decimal text) and `datetime` (RFC 3339 with 9 fractional
/// digits). `None` means unknown (no non-null value, a type without order such as
/// `dynamic` or `guid`, non-finite reals, or a string too long to keep).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ColumnStats {
    /// The column name.
    pub name: String,
    /// The smallest non-null value, or a lower bound of it.
    pub min: Option<serde_json::Value>,
    /// The largest non-null value.
    pub max: Option<serde_json::Value>,
    /// The number of nulls.
    pub null_count: u64,
}

/// Serializes a [`KqlType`] as its Kusto name.
mod kql_type_name {
    use kql_types::KqlType;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(crate) fn serialize<S: Serializer>(t: &KqlType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.name())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<KqlType, D::Error> {
        let name = String::deserialize(d)?;
        KqlType::from_name(&name).ok_or_else(|| D::Error::custom(format!("unknown type '{name}'")))
    }
}

/// A new UUID as text.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The current time as RFC 3339 (UTC, 7 fractional digits like Kusto).
pub fn now_rfc3339() -> String {
    use chrono::Timelike;
    let now = chrono::Utc::now();
    // chrono has no 7-digit fraction specifier.
    format!(
        "{}.{:07}Z",
        now.format("%Y-%m-%dT%H:%M:%S"),
        now.nanosecond() % 1_000_000_000 / 100
    )
}

impl Catalog {
    /// An empty catalog (version 0) with the current format version.
    pub fn new() -> Catalog {
        Catalog {
            format_version: FORMAT_VERSION,
            version: 0,
            ..Default::default()
        }
    }

    /// The starting catalog: version 0 with the persistent [`DEFAULT_DATABASE`].
    pub fn initial() -> Catalog {
        let mut c = Catalog::new();
        c.ensure_database(DEFAULT_DATABASE, true);
        c
    }

    /// The database called `name`.
    pub fn database(&self, name: &str) -> Option<&Database> {
        self.databases.get(name).map(|d| &**d)
    }

    /// The database called `name`, mutably (this version's own copy of it).
    pub fn database_mut(&mut self, name: &str) -> Option<&mut Database> {
        self.databases.get_mut(name).map(Arc::make_mut)
    }

    /// The table `table` of database `database`.
    pub fn table(&self, database: &str, table: &str) -> Option<&Table> {
        self.database(database)?.tables.get(table).map(|t| &**t)
    }

    /// The table `table` of database `database`, mutably (this version's own copy of it
    /// and of its database; the other tables stay shared).
    pub fn table_mut(&mut self, database: &str, table: &str) -> Option<&mut Table> {
        if !self.database(database)?.tables.contains_key(table) {
            return None;
        }
        self.database_mut(database)?
            .tables
            .get_mut(table)
            .map(Arc::make_mut)
    }

    /// The database called `name`, or `EntityNotFound`.
    pub fn require_database(&self, name: &str) -> Result<&Database> {
        self.database(name)
            .ok_or_else(|| Error::not_found(EntityKind::Database, name))
    }

    /// The database called `name` mutably, or `EntityNotFound`.
    pub fn require_database_mut(&mut self, name: &str) -> Result<&mut Database> {
        self.database_mut(name)
            .ok_or_else(|| Error::not_found(EntityKind::Database, name))
    }

    /// The table, or `EntityNotFound` (for the database or the table).
    pub fn require_table(&self, database: &str, table: &str) -> Result<&Table> {
        self.require_database(database)?.require_table(table)
    }

    /// The table mutably, or `EntityNotFound` (for the database or the table).
    pub fn require_table_mut(&mut self, database: &str, table: &str) -> Result<&mut Table> {
        self.require_database_mut(database)?
            .require_table_mut(table)
    }

    /// The database called `name`, created (empty) if missing. Idempotent: an existing
    /// database is returned unchanged, whatever `persistent` says.
    pub fn ensure_database(&mut self, name: &str, persistent: bool) -> &mut Database {
        Arc::make_mut(
            self.databases
                .entry(name.to_string())
                .or_insert_with(|| Arc::new(Database::new(name, persistent))),
        )
    }

    /// The database and the table whose id is `id`.
    pub fn table_by_id(&self, id: &str) -> Option<(&Database, &Table)> {
        self.databases
            .values()
            .find_map(|d| d.tables.values().find(|t| t.id == id).map(|t| (&**d, &**t)))
    }

    /// The table whose id is `id`, mutably (copying only it and its database).
    pub fn table_by_id_mut(&mut self, id: &str) -> Option<&mut Table> {
        let (db, table) = self.table_by_id(id)?;
        let (db, table) = (db.name.clone(), table.name.clone());
        self.table_mut(&db, &table)
    }

    /// Every extent path of every table.
    pub fn extent_paths(&self) -> impl Iterator<Item = &str> + '_ {
        self.databases
            .values()
            .flat_map(|d| d.tables.values())
            .flat_map(|t| t.extents.iter())
            .map(|e| e.path.as_str())
    }

    /// Fills what older files may lack: names from the map keys and missing ids.
    pub(crate) fn normalize(&mut self) {
        for (name, db) in &mut self.databases {
            let db = Arc::make_mut(db);
            if db.name.is_empty() {
                db.name.clone_from(name);
            }
            if db.id.is_empty() {
                db.id = new_id();
            }
            for (tname, t) in &mut db.tables {
                let t = Arc::make_mut(t);
                if t.name.is_empty() {
                    t.name.clone_from(tname);
                }
                if t.id.is_empty() {
                    t.id = new_id();
                }
            }
            for (fname, f) in &mut db.functions {
                if f.name.is_empty() {
                    f.name.clone_from(fname);
                }
            }
        }
    }
}

impl Database {
    /// A new empty database with a fresh id.
    pub fn new(name: &str, persistent: bool) -> Database {
        Database {
            name: name.to_string(),
            id: new_id(),
            persistent,
            created_on: now_rfc3339(),
            ..Database::default()
        }
    }

    /// The table called `name`, or `EntityNotFound`.
    pub fn require_table(&self, name: &str) -> Result<&Table> {
        self.tables
            .get(name)
            .map(|t| &**t)
            .ok_or_else(|| Error::not_found(EntityKind::Table, name))
    }

    /// The table called `name` mutably (this version's own copy of it), or
    /// `EntityNotFound`.
    pub fn require_table_mut(&mut self, name: &str) -> Result<&mut Table> {
        self.tables
            .get_mut(name)
            .map(Arc::make_mut)
            .ok_or_else(|| Error::not_found(EntityKind::Table, name))
    }
}

impl Table {
    /// A new table without data and with a fresh id.
    pub fn new(name: &str, columns: Vec<Column>) -> Table {
        Table {
            name: name.to_string(),
            id: new_id(),
            columns,
            ..Table::default()
        }
    }

    /// The extents, each mutably (this version's own copy of each; to change a few, take
    /// them by index with `Arc::make_mut` instead).
    pub fn extents_mut(&mut self) -> impl Iterator<Item = &mut ExtentMeta> {
        self.extents.iter_mut().map(Arc::make_mut)
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The Arrow schema of the table: each column with its KQL type's Arrow type, nullable.
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(&c.name, c.kql_type.to_arrow(), true))
                .collect::<Vec<_>>(),
        ))
    }

    /// The schema rows are stored with: the table's columns, then the hidden
    /// `$IngestionTime`.
    pub fn stored_schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.kql_type.to_arrow(), true))
            .collect();
        fields.push(crate::extent::ingestion_time_field());
        Arc::new(Schema::new(fields))
    }

    /// The number of rows over all extents.
    pub fn total_rows(&self) -> u64 {
        self.extents.iter().map(|e| e.rows).sum()
    }

    /// Adds columns that are missing (Kusto's `.alter-merge table`): existing columns
    /// keep their position; a column whose name exists with another type is an error.
    pub fn merge_columns(&mut self, columns: &[Column]) -> Result<()> {
        for c in columns {
            match self.column(&c.name) {
                Some(old) if old.kql_type != c.kql_type => {
                    return Err(Error::invalid(format!(
                        "column '{}' of table '{}' has type '{}', it cannot become '{}'",
                        c.name,
                        self.name,
                        old.kql_type.name(),
                        c.kql_type.name()
                    )));
                }
                Some(_) => {}
                None => self.columns.push(c.clone()),
            }
        }
        Ok(())
    }
}

impl Column {
    /// A column without docstring.
    pub fn new(name: &str, kql_type: KqlType) -> Column {
        Column {
            name: name.to_string(),
            kql_type,
            ..Default::default()
        }
    }
}

impl ExtentMeta {
    /// The statistics of column `name`, if the extent has that column.
    pub fn stats(&self, name: &str) -> Option<&ColumnStats> {
        self.column_stats.iter().find(|s| s.name == name)
    }

    /// The name under which this file stores table column `logical`; `None` when the file
    /// holds no data for it (the column reads as null in this extent).
    pub fn file_column<'a>(&'a self, logical: &'a str) -> Option<&'a str> {
        match self.columns_as.get(logical) {
            Some(p) if p.is_empty() => None,
            Some(p) => Some(p),
            None => Some(logical),
        }
    }
}
