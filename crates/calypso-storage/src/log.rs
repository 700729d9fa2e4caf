//! The catalog log: what one commit changed, as a small checksummed record.
//!
//! A commit writes `catalog/log/<version>.rec` (twenty digits, so that names sort as
//! numbers) holding only the [`Change`]s between the catalog before and after it: a
//! table's own fields when they changed, the extents added to or removed from it, the
//! journal entries appended, and so on. Its size follows the change, not the catalog.
//! Every so often the whole catalog is written as a checkpoint,
//! `catalog/checkpoint/<version>.json`; the catalog at startup is the newest checkpoint
//! with the records after it applied in order.
//!
//! Both kinds of file are framed the same way ([`frame`]): a header line naming the kind,
//! the payload's length and its CRC-32, then the JSON payload. A file whose frame does not
//! check out was not written whole.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};

use crate::catalog::{
    Catalog, Database, ExtentMeta, FORMAT_VERSION, JOURNAL_LIMIT, JournalEntry, RoleAssignment,
    Table,
};
use crate::error::{Error, Result};

/// The folder of log records.
pub(crate) const LOG_DIR: &str = "catalog/log";
/// The folder of checkpoints.
pub(crate) const CHECKPOINT_DIR: &str = "catalog/checkpoint";
/// Where a torn last record is moved at startup (kept for inspection, never read).
pub(crate) const TORN_DIR: &str = "catalog/torn";

/// One change of a commit. Databases and tables are named as they are after the change;
/// a renamed one is a drop of the old name and a put of the new one (with its extents).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Change {
    /// The cluster's role assignments and policies (small: written whole).
    Cluster {
        cluster_roles: Vec<RoleAssignment>,
        policies: BTreeMap<String, serde_json::Value>,
    },
    /// Journal entries appended (the oldest beyond [`JOURNAL_LIMIT`] go), or the whole
    /// journal when it was not only appended to.
    Journal {
        entries: Vec<JournalEntry>,
        replace: bool,
    },
    /// A database's own fields (its tables are not in it): created or changed.
    PutDatabase { database: Database },
    /// A database is gone, with its tables.
    DropDatabase { name: String },
    /// A table's own fields (its extents are not in it): created or changed.
    PutTable { database: String, table: Table },
    /// A table is gone, with its extents.
    DropTable { database: String, name: String },
    /// Extents removed from a table (by id), then extents added to it: one with the id of
    /// an extent it still has replaces it in place, others are appended in order.
    Extents {
        database: String,
        table: String,
        remove: Vec<String>,
        add: Vec<Arc<ExtentMeta>>,
    },
}

/// The content of a log record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The layout that wrote it (see [`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The catalog version it makes.
    pub version: u64,
    /// What changed.
    pub changes: Vec<Change>,
}

/// `catalog/log/<version>.rec`.
pub(crate) fn record_path(version: u64) -> ObjectPath {
    ObjectPath::from(format!("{LOG_DIR}/{version:020}.rec").as_str())
}

/// `catalog/checkpoint/<version>.json`.
pub(crate) fn checkpoint_path(version: u64) -> ObjectPath {
    ObjectPath::from(format!("{CHECKPOINT_DIR}/{version:020}.json").as_str())
}

/// The version in a record's or checkpoint's file name.
pub(crate) fn version_of(location: &ObjectPath) -> Option<u64> {
    let name = location.filename()?;
    let (stem, ext) = name.rsplit_once('.')?;
    if !matches!(ext, "rec" | "json") || stem.len() != 20 {
        return None;
    }
    stem.parse().ok()
}

/// The header of a framed file: `calypso-catalog <kind> <length> <crc32 hex>\n`.
const MAGIC: &str = "calypso-catalog";

/// `payload` framed as a file of `kind` (`record`, `checkpoint`).
pub(crate) fn frame(kind: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!(
        "{MAGIC} {kind} {} {:08x}\n",
        payload.len(),
        crc32fast::hash(payload)
    );
    let mut out = Vec::with_capacity(header.len() + payload.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of a framed file of `kind`, or `None` when the file is not whole (a short
/// payload, a checksum that does not match, a damaged header).
pub(crate) fn unframe<'a>(kind: &str, bytes: &'a [u8]) -> Option<&'a [u8]> {
    let end = bytes.iter().position(|b| *b == b'\n')?;
    let header = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut parts = header.split(' ');
    if parts.next()? != MAGIC || parts.next()? != kind {
        return None;
    }
    let len: usize = parts.next()?.parse().ok()?;
    let crc = u32::from_str_radix(parts.next()?, 16).ok()?;
    let payload = &bytes[end + 1..];
    (parts.next().is_none() && payload.len() == len && crc32fast::hash(payload) == crc)
        .then_some(payload)
}

/// A record's bytes.
pub(crate) fn encode_record(record: &Record) -> Result<Vec<u8>> {
    Ok(frame("record", &serde_json::to_vec(record)?))
}

/// A record from its bytes: `None` when the file is not whole.
pub(crate) fn decode_record(bytes: &[u8]) -> Result<Option<Record>> {
    let Some(payload) = unframe("record", bytes) else {
        return Ok(None);
    };
    let record: Record = serde_json::from_slice(payload)
        .map_err(|e| Error::Corrupt(format!("a catalog log record does not fit the model: {e}")))?;
    if record.format_version > FORMAT_VERSION {
        return Err(Error::UnsupportedFormat {
            found: record.format_version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(Some(record))
}

/// What changed from `old` to `new`. Applying it to `old` ([`apply`]) gives `new`.
pub(crate) fn diff(old: &Catalog, new: &Catalog) -> Vec<Change> {
    let mut out = Vec::new();
    if old.cluster_roles != new.cluster_roles || old.policies != new.policies {
        out.push(Change::Cluster {
            cluster_roles: new.cluster_roles.clone(),
            policies: new.policies.clone(),
        });
    }
    if !Arc::ptr_eq(&old.journal, &new.journal)
        && let Some(journal) = journal_diff(&old.journal, &new.journal)
    {
        out.push(journal);
    }
    for name in old.databases.keys() {
        if !new.databases.contains_key(name) {
            out.push(Change::DropDatabase { name: name.clone() });
        }
    }
    for (name, db) in &new.databases {
        match old.databases.get(name) {
            // Shared with the version before: nothing in it changed.
            Some(before) if Arc::ptr_eq(before, db) => {}
            Some(before) if before.id == db.id => {
                if !same_database_fields(before, db) {
                    out.push(Change::PutDatabase {
                        database: database_fields(db),
                    });
                }
                tables_diff(before, db, &mut out);
            }
            // New, or another database under a taken name: written whole.
            Some(_) | None => {
                if old.databases.contains_key(name) {
                    out.push(Change::DropDatabase { name: name.clone() });
                }
                out.push(Change::PutDatabase {
                    database: database_fields(db),
                });
                for t in db.tables.values() {
                    put_whole_table(name, t, &mut out);
                }
            }
        }
    }
    out
}

fn tables_diff(old: &Database, new: &Database, out: &mut Vec<Change>) {
    let db = &new.name;
    for name in old.tables.keys() {
        if !new.tables.contains_key(name) {
            out.push(Change::DropTable {
                database: db.clone(),
                name: name.clone(),
            });
        }
    }
    for (name, t) in &new.tables {
        match old.tables.get(name) {
            Some(before) if Arc::ptr_eq(before, t) => {}
            Some(before) if before.id == t.id => {
                if !same_table_fields(before, t) {
                    out.push(Change::PutTable {
                        database: db.clone(),
                        table: table_fields(t),
                    });
                }
                if let Some(extents) = extents_diff(db, before, t) {
                    out.push(extents);
                }
            }
            Some(_) | None => {
                if old.tables.contains_key(name) {
                    out.push(Change::DropTable {
                        database: db.clone(),
                        name: name.clone(),
                    });
                }
                put_whole_table(db, t, out);
            }
        }
    }
}

fn put_whole_table(db: &str, t: &Table, out: &mut Vec<Change>) {
    out.push(Change::PutTable {
        database: db.to_string(),
        table: table_fields(t),
    });
    if !t.extents.is_empty() {
        out.push(Change::Extents {
            database: db.to_string(),
            table: t.name.clone(),
            remove: Vec::new(),
            add: t.extents.clone(),
        });
    }
}

/// The extents change of a table, `None` when its extents are the same. When the
/// extents kept do not stay in their order, all are removed and added again.
fn extents_diff(db: &str, old: &Table, new: &Table) -> Option<Change> {
    // Most tables a commit copies keep their extents: no sets to build for them (an
    // `Arc<ExtentMeta>` shared by both compares by pointer first).
    if old.extents == new.extents {
        return None;
    }
    let new_ids: HashSet<&str> = new.extents.iter().map(|e| e.id.as_str()).collect();
    let old_by_id: HashMap<&str, &Arc<ExtentMeta>> =
        old.extents.iter().map(|e| (e.id.as_str(), e)).collect();
    let remove: Vec<String> = old
        .extents
        .iter()
        .filter(|e| !new_ids.contains(e.id.as_str()))
        .map(|e| e.id.clone())
        .collect();
    // Applying keeps the order of the extents that stay and appends new ones: the new
    // list must be those kept, in their old order, then the new ones.
    let kept_old: Vec<&str> = old
        .extents
        .iter()
        .map(|e| e.id.as_str())
        .filter(|id| new_ids.contains(id))
        .collect();
    let kept_new: Vec<&str> = new
        .extents
        .iter()
        .map(|e| e.id.as_str())
        .filter(|id| old_by_id.contains_key(id))
        .collect();
    let prefix = new.extents.len() >= kept_new.len()
        && new.extents[..kept_new.len()]
            .iter()
            .all(|e| old_by_id.contains_key(e.id.as_str()));
    if kept_old != kept_new || !prefix {
        return Some(Change::Extents {
            database: db.to_string(),
            table: new.name.clone(),
            remove: old.extents.iter().map(|e| e.id.clone()).collect(),
            add: new.extents.clone(),
        });
    }
    let add: Vec<Arc<ExtentMeta>> = new
        .extents
        .iter()
        .filter(|e| old_by_id.get(e.id.as_str()).is_none_or(|o| *o != *e))
        .cloned()
        .collect();
    (!remove.is_empty() || !add.is_empty()).then(|| Change::Extents {
        database: db.to_string(),
        table: new.name.clone(),
        remove,
        add,
    })
}

/// The journal change: the entries after the last one `old` has, or the whole journal
/// when `new` does not continue `old`.
fn journal_diff(old: &[JournalEntry], new: &[JournalEntry]) -> Option<Change> {
    if old == new {
        return None;
    }
    let appended = match old.last() {
        None => Some(0),
        Some(last) => new
            .iter()
            .rposition(|e| e == last)
            .map(|i| i + 1)
            .filter(|start| {
                // What stays of `old` must still be there, in order.
                let kept = &new[..*start];
                old.ends_with(kept)
            }),
    };
    Some(match appended {
        Some(start) => Change::Journal {
            entries: new[start..].to_vec(),
            replace: false,
        },
        None => Change::Journal {
            entries: new.to_vec(),
            replace: true,
        },
    })
}

/// Applies a record's changes to `catalog` (the catalog of the version before it).
pub(crate) fn apply(catalog: &mut Catalog, changes: Vec<Change>) -> Result<()> {
    for change in changes {
        match change {
            Change::Cluster {
                cluster_roles,
                policies,
            } => {
                catalog.cluster_roles = cluster_roles;
                catalog.policies = policies;
            }
            Change::Journal { entries, replace } => {
                if replace {
                    catalog.journal = Arc::new(entries);
                } else {
                    let journal = Arc::make_mut(&mut catalog.journal);
                    journal.extend(entries);
                    if journal.len() > JOURNAL_LIMIT {
                        let extra = journal.len() - JOURNAL_LIMIT;
                        journal.drain(..extra);
                    }
                }
            }
            Change::PutDatabase { database } => {
                let name = database.name.clone();
                match catalog.databases.get_mut(&name) {
                    Some(db) => {
                        let db = Arc::make_mut(db);
                        let tables = std::mem::take(&mut db.tables);
                        *db = database;
                        db.tables = tables;
                    }
                    None => {
                        catalog.databases.insert(name, Arc::new(database));
                    }
                }
            }
            Change::DropDatabase { name } => {
                catalog.databases.remove(&name);
            }
            Change::PutTable { database, table } => {
                let db = database_mut(catalog, &database)?;
                let name = table.name.clone();
                match db.tables.get_mut(&name) {
                    Some(t) => {
                        let t = Arc::make_mut(t);
                        let extents = std::mem::take(&mut t.extents);
                        *t = table;
                        t.extents = extents;
                    }
                    None => {
                        db.tables.insert(name, Arc::new(table));
                    }
                }
            }
            Change::DropTable { database, name } => {
                database_mut(catalog, &database)?.tables.remove(&name);
            }
            Change::Extents {
                database,
                table,
                remove,
                add,
            } => {
                let db = database_mut(catalog, &database)?;
                let t = Arc::make_mut(db.tables.get_mut(&table).ok_or_else(|| {
                    Error::Corrupt(format!(
                        "a catalog log record changes the extents of table '{table}' of '{database}', which does not exist"
                    ))
                })?);
                let gone: HashSet<String> = remove.into_iter().collect();
                t.extents.retain(|e| !gone.contains(&e.id));
                for e in add {
                    match t.extents.iter_mut().find(|x| x.id == e.id) {
                        Some(x) => *x = e,
                        None => t.extents.push(e),
                    }
                }
            }
        }
    }
    Ok(())
}

fn database_mut<'a>(catalog: &'a mut Catalog, name: &str) -> Result<&'a mut Database> {
    catalog
        .databases
        .get_mut(name)
        .map(Arc::make_mut)
        .ok_or_else(|| {
            Error::Corrupt(format!(
                "a catalog log record changes database '{name}', which does not exist"
            ))
        })
}

/// A database's own fields: everything but its tables (destructured, so that a new field
/// cannot be forgotten here).
fn database_fields(db: &Database) -> Database {
    let Database {
        name,
        id,
        persistent,
        created_on,
        tables: _,
        functions,
        streaming_ingestion_policy,
        policies,
        pretty_name,
        ingestion_mappings,
        roles,
    } = db;
    Database {
        name: name.clone(),
        id: id.clone(),
        persistent: *persistent,
        created_on: created_on.clone(),
        tables: BTreeMap::new(),
        functions: functions.clone(),
        streaming_ingestion_policy: streaming_ingestion_policy.clone(),
        policies: policies.clone(),
        pretty_name: pretty_name.clone(),
        ingestion_mappings: ingestion_mappings.clone(),
        roles: roles.clone(),
    }
}

/// Whether two databases' own fields are equal (their tables aside).
pub(crate) fn same_database_fields(a: &Database, b: &Database) -> bool {
    // By reference: this runs for every database at every commit.
    fn own(d: &Database) -> impl PartialEq + '_ {
        let Database {
            name,
            id,
            persistent,
            created_on,
            tables: _,
            functions,
            streaming_ingestion_policy,
            policies,
            pretty_name,
            ingestion_mappings,
            roles,
        } = d;
        (
            (name, id, persistent, created_on, functions),
            (streaming_ingestion_policy, policies, pretty_name),
            (ingestion_mappings, roles),
        )
    }
    own(a) == own(b)
}

/// A table's own fields: everything but its extents (destructured, as above).
fn table_fields(t: &Table) -> Table {
    let Table {
        name,
        id,
        columns,
        folder,
        docstring,
        extents: _,
        streaming_ingestion_policy,
        ingestion_mappings,
        roles,
        restricted_view_access,
        policies,
        created_on,
        sealed_seq,
    } = t;
    Table {
        name: name.clone(),
        id: id.clone(),
        columns: columns.clone(),
        folder: folder.clone(),
        docstring: docstring.clone(),
        extents: Vec::new(),
        streaming_ingestion_policy: streaming_ingestion_policy.clone(),
        ingestion_mappings: ingestion_mappings.clone(),
        roles: roles.clone(),
        restricted_view_access: *restricted_view_access,
        policies: policies.clone(),
        created_on: created_on.clone(),
        sealed_seq: *sealed_seq,
    }
}

/// Whether two tables' own fields are equal (their extents aside).
fn same_table_fields(a: &Table, b: &Table) -> bool {
    // By reference: this runs for every table at every commit.
    fn own(t: &Table) -> impl PartialEq + '_ {
        let Table {
            name,
            id,
            columns,
            folder,
            docstring,
            extents: _,
            streaming_ingestion_policy,
            ingestion_mappings,
            roles,
            restricted_view_access,
            policies,
            created_on,
            sealed_seq,
        } = t;
        (
            (name, id, columns, folder, docstring),
            (streaming_ingestion_policy, ingestion_mappings, roles),
            (restricted_view_access, policies, created_on, sealed_seq),
        )
    }
    own(a) == own(b)
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
