//! Volatile databases (`.create database D volatile`, `Database::persistent == false`): in
//! the catalog in memory, never in its log or its checkpoints; their extents are files of
//! an in-memory object store (`volatile/<db id>/<table id>/<id>.parquet`) and their
//! streaming ingests skip the row store's log. After a restart they are gone.

use std::collections::BTreeSet;
use std::sync::Arc;

use object_store::ObjectStore;

use crate::catalog::Catalog;
use crate::log::Change;
use crate::store::Storage;

/// The folder of volatile extent files (in the in-memory store).
pub(crate) const VOLATILE_DIR: &str = "volatile";

/// The names of the volatile databases of either catalog.
fn volatile_names(a: &Catalog, b: &Catalog) -> BTreeSet<String> {
    a.databases
        .values()
        .chain(b.databases.values())
        .filter(|d| !d.persistent)
        .map(|d| d.name.clone())
        .collect()
}

/// `changes` (from `current` to `next`) without those of volatile databases: what the log
/// records.
pub(crate) fn durable_changes(
    changes: Vec<Change>,
    current: &Catalog,
    next: &Catalog,
) -> Vec<Change> {
    let volatile = volatile_names(current, next);
    if volatile.is_empty() {
        return changes;
    }
    changes
        .into_iter()
        .filter(|c| match c {
            Change::Cluster { .. } | Change::Journal { .. } => true,
            Change::PutDatabase { database } => database.persistent,
            Change::DropDatabase { name } => {
                // A persistent database of that name went (a volatile one may be there now).
                current.databases.get(name).is_some_and(|d| d.persistent)
            }
            Change::PutTable { database, .. }
            | Change::DropTable { database, .. }
            | Change::Extents { database, .. } => next
                .databases
                .get(database)
                .or_else(|| current.databases.get(database))
                .is_none_or(|d| d.persistent),
        })
        .collect()
}

/// `catalog` without its volatile databases: what a checkpoint holds.
pub(crate) fn durable_catalog(catalog: &Catalog) -> Catalog {
    let mut out = catalog.clone();
    out.databases.retain(|_, d| d.persistent);
    out
}

/// `loaded` (read from the store) with the volatile databases of `live`, which the store
/// never has.
pub(crate) fn keep_volatile(loaded: &mut Catalog, live: &Catalog) {
    for d in live.databases.values().filter(|d| !d.persistent) {
        loaded
            .databases
            .entry(d.name.clone())
            .or_insert_with(|| Arc::clone(d));
    }
}

impl Storage {
    /// The object store that holds the extent file at `path`.
    pub(crate) fn store_of(&self, path: &str) -> &Arc<dyn ObjectStore> {
        if path.starts_with(VOLATILE_DIR) && path[VOLATILE_DIR.len()..].starts_with('/') {
            &self.inner.volatile_store
        } else {
            &self.inner.store
        }
    }

    /// Whether the database whose id is `database_id` is volatile.
    pub(crate) fn is_volatile_id(&self, database_id: &str) -> bool {
        self.catalog()
            .databases
            .values()
            .any(|d| d.id == database_id && !d.persistent)
    }
}
