//! Extent-level changes of the management commands (`.drop extents`, `.alter extent
//! tags`, `.move extents`, `.replace extents`). Each is one commit: all of it happens, or
//! nothing does. They act on sealed extents only: the row store's rows (the stand-in
//! extent) are not an extent yet, so no id names them and "all extents" leaves them, as
//! ADX's row store is left by extent commands.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use kql_types::types::hidden::INGESTION_TIME;
use object_store::ObjectStoreExt;

use crate::catalog::{ExtentMeta, Table, new_id};
use crate::error::{EntityKind, Error, Result};
use crate::hot::HOT_EXTENT_ID;
use crate::merge::read_extent;
use crate::store::{Storage, blocking};

/// An extent named by its table and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtentRef {
    /// The table's name.
    pub table: String,
    /// The extent's id.
    pub id: String,
}

/// An extent a command replaced by another (retagged or moved): the old id and the new.
#[derive(Debug, Clone, PartialEq)]
pub struct Replaced {
    /// The extent's id before.
    pub original: String,
    /// The new extent.
    pub result: ExtentMeta,
}

/// Whether `e` is a sealed extent (not the row store's stand-in).
pub fn is_sealed(e: &ExtentMeta) -> bool {
    e.id != HOT_EXTENT_ID
}

fn unknown(id: &str, table: &str) -> Error {
    Error::not_found(EntityKind::Extent, format!("{id}' in table '{table}"))
}

/// Removes extent `id` from `t`, or fails.
fn take(t: &mut Table, id: &str) -> Result<ExtentMeta> {
    match t.extents.iter().position(|e| e.id == id && is_sealed(e)) {
        Some(i) => Ok(Arc::unwrap_or_clone(t.extents.remove(i))),
        None => Err(unknown(id, &t.name)),
    }
}

/// `e` as an extent of `to` (a new id, the same file): the file's columns mapped to
/// `to`'s by name; every column of `from` with data in the file must be a column of `to`
/// of the same type.
fn moved(e: ExtentMeta, from: &Table, to: &Table) -> Result<ExtentMeta> {
    let mut out = ExtentMeta {
        id: new_id(),
        columns_as: Default::default(),
        column_stats: Vec::new(),
        ..e.clone()
    };
    for c in &from.columns {
        if e.file_column(&c.name).is_none() {
            continue;
        }
        match to.column(&c.name) {
            Some(d) if d.kql_type == c.kql_type => {}
            Some(d) => {
                return Err(Error::invalid(format!(
                    "Column '{}' is of type '{}' in table '{}' but of type '{}' in table '{}': the extents cannot move",
                    c.name,
                    c.kql_type.name(),
                    from.name,
                    d.kql_type.name(),
                    to.name
                )));
            }
            None => {
                return Err(Error::invalid(format!(
                    "Column '{}' of table '{}' does not exist in table '{}': the extents cannot move",
                    c.name, from.name, to.name
                )));
            }
        }
    }
    for c in &to.columns {
        let stored = from
            .column(&c.name)
            .filter(|s| s.kql_type == c.kql_type)
            .and_then(|_| e.file_column(&c.name));
        match stored {
            Some(name) if name == c.name => {}
            Some(name) => {
                out.columns_as.insert(c.name.clone(), name.to_string());
            }
            None => {
                out.columns_as.insert(c.name.clone(), String::new());
            }
        }
        if stored.is_some()
            && let Some(s) = e.stats(&c.name)
        {
            out.column_stats.push(s.clone());
        }
    }
    Ok(out)
}

impl Storage {
    /// Drops the extents `which` (each of the named table of `database`) in one commit and
    /// returns them with their tables. An id that is not a sealed extent of its table is an
    /// error when `strict` (nothing is dropped), and is passed over otherwise. The files
    /// are deleted after the grace period.
    pub async fn drop_extents(
        &self,
        database: &str,
        which: Vec<ExtentRef>,
        strict: bool,
    ) -> Result<Vec<(String, ExtentMeta)>> {
        let db = database.to_string();
        let dropped = self
            .commit(move |c| {
                let d = c.require_database_mut(&db)?;
                let mut out = Vec::new();
                let mut seen = BTreeSet::new();
                for r in which {
                    if !seen.insert((r.table.clone(), r.id.clone())) {
                        continue;
                    }
                    let t = d.require_table_mut(&r.table)?;
                    match take(t, &r.id) {
                        Ok(e) => out.push((r.table, e)),
                        Err(e) if strict => return Err(e),
                        Err(_) => {}
                    }
                }
                Ok(out)
            })
            .await?;
        self.delete_later(dropped.iter().map(|(_, e)| e.path.clone()).collect());
        Ok(dropped)
    }

    /// Gives extents of `database.table` new tags, in one commit: each named extent
    /// becomes a new one (a new id, the same file) with the tags `tags_of` returns for its
    /// id and current tags. An id that is not a sealed extent of the table is an error.
    pub async fn retag_extents(
        &self,
        database: &str,
        table: &str,
        ids: Vec<String>,
        tags_of: impl Fn(&str, &[String]) -> Vec<String> + Send + 'static,
    ) -> Result<Vec<Replaced>> {
        let (db, tn) = (database.to_string(), table.to_string());
        self.commit(move |c| {
            let t = c.require_table_mut(&db, &tn)?;
            let mut out = Vec::new();
            let mut seen = BTreeSet::new();
            for id in ids {
                if !seen.insert(id.clone()) {
                    continue;
                }
                let Some(e) = t.extents.iter_mut().find(|e| e.id == id && is_sealed(e)) else {
                    return Err(unknown(&id, &tn));
                };
                let e = Arc::make_mut(e);
                e.tags = tags_of(&id, &e.tags);
                e.id = new_id();
                out.push(Replaced {
                    original: id,
                    result: e.clone(),
                });
            }
            Ok(out)
        })
        .await
    }

    /// Moves extents into `database.to` and drops `drop` (ids of `to`'s extents), in one
    /// commit. A moved extent gets a new id and keeps its file; its columns must exist in
    /// `to` with the same types. With `new_ingestion_time` (`setNewIngestionTime=true`)
    /// its rows are written again as a new file whose `$IngestionTime` is now (null when
    /// `to`'s IngestionTime policy is off), keeping the extent's tags and creation time.
    /// Any id that is not a sealed extent of its table is an error and nothing changes
    /// (a rewritten file is deleted). Returns the dropped extents and the moved ones.
    pub async fn move_extents(
        &self,
        database: &str,
        to: &str,
        moves: Vec<ExtentRef>,
        drop: Vec<String>,
        new_ingestion_time: bool,
    ) -> Result<(Vec<ExtentMeta>, Vec<Replaced>)> {
        let rewritten = if new_ingestion_time {
            self.restamped(database, to, &moves).await?
        } else {
            Vec::new()
        };
        let files: Vec<String> = rewritten.iter().map(|r| r.1.path.clone()).collect();
        let replaced_files: Vec<String> = rewritten.iter().map(|r| r.0.path.clone()).collect();
        let (db, to) = (database.to_string(), to.to_string());
        let committed = self
            .commit(move |c| {
                let d = c.require_database_mut(&db)?;
                let mut dropped = Vec::new();
                {
                    let dest = d.require_table_mut(&to)?;
                    for id in drop.iter().collect::<BTreeSet<_>>() {
                        dropped.push(take(dest, id)?);
                    }
                }
                let mut out = Vec::new();
                let mut seen = BTreeSet::new();
                for r in moves {
                    if !seen.insert((r.table.clone(), r.id.clone())) {
                        continue;
                    }
                    if r.table == to {
                        return Err(Error::invalid(format!(
                            "Extent '{}' is already in table '{to}'",
                            r.id
                        )));
                    }
                    let src = d.require_table_mut(&r.table)?;
                    let e = take(src, &r.id)?;
                    let from = src.clone();
                    let dest = d.require_table_mut(&to)?;
                    let m = moved(e.clone(), &from, dest)?;
                    let m = if new_ingestion_time {
                        // The rows as they were read, stamped again.
                        match rewritten.iter().find(|(read, _)| *read == e) {
                            Some((_, again)) => ExtentMeta {
                                tags: e.tags.clone(),
                                sources: e.sources.clone(),
                                ..again.clone()
                            },
                            None => {
                                return Err(Error::Conflict(format!(
                                    "Extent '{}' of table '{}' changed while it was being moved",
                                    r.id, r.table
                                )));
                            }
                        }
                    } else {
                        m
                    };
                    dest.extents.push(Arc::new(m.clone()));
                    out.push(Replaced {
                        original: r.id,
                        result: m,
                    });
                }
                Ok((dropped, out))
            })
            .await;
        let (dropped, moved_out) = match committed {
            Ok(done) => done,
            Err(e) => {
                for path in files {
                    let location = object_store::path::Path::from(path.as_str());
                    let _ = self.store_of(&path).delete(&location).await;
                }
                return Err(e);
            }
        };
        self.delete_later(dropped.iter().map(|e| e.path.clone()).collect());
        // The files of extents whose rows were written again are no longer referenced.
        self.delete_later(replaced_files);
        Ok((dropped, moved_out))
    }

    /// For `setNewIngestionTime`: each extent of `moves` (as it is now) and a new extent
    /// of `database.to` holding its rows with `$IngestionTime` now, written durably but in
    /// no commit yet. Extents that are not there are left out (the commit reports them).
    async fn restamped(
        &self,
        database: &str,
        to: &str,
        moves: &[ExtentRef],
    ) -> Result<Vec<(ExtentMeta, ExtentMeta)>> {
        let catalog = self.catalog();
        let d = catalog.require_database(database)?;
        let dest = d.require_table(to)?;
        let mut out: Vec<(ExtentMeta, ExtentMeta)> = Vec::new();
        let result = async {
            for r in moves {
                let Some(src) = d.tables.get(&r.table) else {
                    continue;
                };
                let Some(e) = src.extents.iter().find(|e| e.id == r.id && is_sealed(e)) else {
                    continue;
                };
                if r.table == to || out.iter().any(|(read, _)| read.id == e.id) {
                    continue;
                }
                let as_dest = moved(e.as_ref().clone(), src, dest)?;
                let location = object_store::path::Path::from(e.path.as_str());
                let bytes = self.store_of(&e.path).get(&location).await?.bytes().await?;
                let table = dest.clone();
                let batches = blocking(move || {
                    let read = read_extent(&table, &as_dest, bytes)?;
                    read.iter()
                        .map(without_ingestion_time)
                        .collect::<Result<Vec<_>>>()
                })
                .await?;
                let mut again = self.write_extent_of(&d.id, dest, &batches).await?;
                again.created_on = e.created_on.clone();
                again.min_created_on = e.min_created_on.clone();
                out.push((e.as_ref().clone(), again));
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => Ok(out),
            Err(e) => {
                for (_, written) in out {
                    self.forget_extent_file(&written).await;
                }
                Err(e)
            }
        }
    }
}

/// `batch` without its `$IngestionTime` column (the extent written from it gets a new one).
fn without_ingestion_time(batch: &RecordBatch) -> Result<RecordBatch> {
    match batch.schema().index_of(INGESTION_TIME) {
        Ok(i) => {
            let mut b = batch.clone();
            b.remove_column(i);
            Ok(b)
        }
        Err(_) => Ok(batch.clone()),
    }
}

impl Storage {
    /// Deletes the file of an extent that was written but that no commit added (its
    /// commit decided against it); errors are ignored (startup collects what is left).
    pub async fn forget_extent_file(&self, e: &ExtentMeta) {
        let location = object_store::path::Path::from(e.path.as_str());
        let _ = self.store_of(&e.path).delete(&location).await;
    }
}
