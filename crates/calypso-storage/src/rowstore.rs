//! The row store: small streaming ingests land in a write-ahead log (`wal.rs`) with group
//! commit and are queryable from memory (`hot.rs`) at once; a background task seals each
//! table's hot rows into an extent.
//!
//! One writer thread owns the log. It takes every request waiting, checks each against
//! the current catalog, appends them all with one fsync, publishes their rows and only
//! then answers: an acknowledged ingest is durable and visible. It does so holding the
//! commit lock, so that no catalog commit interleaves: a commit sees the hot rows of the
//! version it starts from, and changes them only through the stand-in extent
//! ([`add_stand_ins`], [`settle`]).
//!
//! A seal writes a table's hot rows (entries up to sequence number `S`) as an extent,
//! then commits it with the table's `sealed_seq` raised to `S`; that commit drops those
//! rows from memory, so every row is read exactly once. Log segments go once all their
//! entries are sealed. At startup the log is replayed: entries after their table's
//! `sealed_seq` become hot rows again.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use object_store::ObjectStoreExt;
use tokio::sync::oneshot;

use crate::catalog::Catalog;
use crate::error::{EntityKind, Error, Result};
use crate::hot::{self, HOT_EXTENT_ID, Hot, HotTable};
use crate::store::{Inner, Storage, blocking};
use crate::wal::{self, EntryHeader, WalFaults, WalFiles};

/// The most bytes of rows one group commit takes.
const GROUP_BYTES: usize = 32 << 20;
/// The largest ingest the row store takes (in memory); larger ones become extents.
const MAX_ENTRY_BYTES: usize = 16 << 20;

/// The row store of an open storage.
pub(crate) struct RowStore {
    requests: Mutex<Sender<Request>>,
    files: Arc<Mutex<WalFiles>>,
    /// Entries logged and log fsyncs so far (several entries share one with group commit).
    entries: AtomicU64,
    syncs: AtomicU64,
}

/// Where an answer goes, and the answer.
type Answer = (oneshot::Sender<Result<u64>>, Result<u64>);

struct Request {
    database: String,
    table: String,
    batch: RecordBatch,
    reply: oneshot::Sender<Result<u64>>,
}

/// What [`Storage::append_rows`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowsAppended {
    /// The entry's sequence number in the row store.
    pub seq: u64,
    /// The rows.
    pub rows: u64,
}

/// Opens the row store of a local-disk storage: replays the log, then starts the writer
/// thread and the sealing task.
pub(crate) async fn open(storage: &Storage, root: &Path) -> Result<()> {
    let root = root.to_path_buf();
    let segment_bytes = storage.inner.options.wal_segment_bytes;
    let (mut files, entries) = blocking(move || WalFiles::open(&root, segment_bytes)).await?;
    let mut progress = storage.inner.commit_lock.lock().await;
    let catalog = storage.catalog();
    let mut hot = Hot::default();
    let mut by_table: HashMap<String, Vec<(u64, RecordBatch)>> = HashMap::new();
    let mut last = catalog
        .databases
        .values()
        .flat_map(|d| d.tables.values())
        .map(|t| t.sealed_seq)
        .max()
        .unwrap_or(0);
    for entry in entries {
        last = last.max(entry.header.seq);
        let Some((_, t)) = catalog.table_by_id(&entry.header.table_id) else {
            continue;
        };
        if entry.header.seq <= t.sealed_seq {
            continue;
        }
        if !hot::fits(t, &entry.batch.schema()) {
            return Err(Error::Corrupt(format!(
                "row-store log entry {} does not fit the columns of table '{}'",
                entry.header.seq, t.name
            )));
        }
        by_table
            .entry(t.id.clone())
            .or_default()
            .push((entry.header.seq, entry.batch));
    }
    for (id, entries) in by_table {
        hot.append(&id, entries);
    }
    progress.next_seq = last + 1;
    files.remove_sealed(&catalog)?;
    storage.set_state(catalog, Arc::new(hot));
    drop(progress);

    let (tx, rx) = std::sync::mpsc::channel();
    let weak = Arc::downgrade(&storage.inner);
    std::thread::Builder::new()
        .name("calypso-wal".into())
        .spawn(move || writer(weak, rx))?;
    let files = Arc::new(Mutex::new(files));
    let row_store = RowStore {
        requests: Mutex::new(tx),
        files,
        entries: AtomicU64::new(0),
        syncs: AtomicU64::new(0),
    };
    if storage.inner.rows.set(row_store).is_err() {
        return Err(Error::Task("the row store is already open".into()));
    }
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(sealer(Arc::downgrade(&storage.inner)));
    }
    Ok(())
}

/// The writer thread: one group commit per turn, until the storage is gone.
fn writer(weak: Weak<Inner>, requests: Receiver<Request>) {
    while let Ok(first) = requests.recv() {
        let mut group = vec![first];
        let mut bytes = group[0].batch.get_array_memory_size();
        while bytes < GROUP_BYTES {
            match requests.try_recv() {
                Ok(r) => {
                    bytes += r.batch.get_array_memory_size();
                    group.push(r);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let Some(inner) = weak.upgrade() else {
            for r in group {
                let _ = r
                    .reply
                    .send(Err(Error::Task("the storage is closed".into())));
            }
            break;
        };
        let answers = Storage { inner }.write_group(group);
        // Answered once the storage handle is dropped: a caller that closes the storage
        // after its ingest returned finds it closed (its directory lock released).
        for (reply, answer) in answers {
            let _ = reply.send(answer);
        }
    }
}

/// The sealing task: every so often, seals the tables whose hot rows are due.
async fn sealer(weak: Weak<Inner>) {
    let tick = match weak.upgrade() {
        Some(inner) => {
            (inner.options.seal_after / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
        }
        None => return,
    };
    loop {
        tokio::time::sleep(tick).await;
        let Some(inner) = weak.upgrade() else {
            return;
        };
        // A seal that fails is tried again at the next tick.
        let _ = Storage { inner }.seal_due().await;
    }
}

/// Before a commit's change runs: the stand-in extent of each table with hot rows.
pub(crate) fn add_stand_ins(hot: &Hot, next: &mut Catalog) {
    for (id, rows) in hot.tables() {
        if let Some(t) = next.table_by_id_mut(id) {
            t.extents.push(Arc::new(rows.stand_in()));
        }
    }
}

/// Table `id` of `next` as the very table of `current` when the change left it as it was:
/// adding and removing its stand-in copied it, and the versions share what did not change.
fn share_if_unchanged(current: &Catalog, next: &mut Catalog, id: &str) {
    let Some((db, before)) = current.table_by_id(id) else {
        return;
    };
    let (Some(old_db), Some(new_db)) = (
        current.databases.get(&db.name),
        next.databases.get_mut(&db.name),
    ) else {
        return;
    };
    let (Some(old), Some(new)) = (
        old_db.tables.get(&before.name),
        new_db.tables.get(&before.name),
    ) else {
        return;
    };
    if Arc::ptr_eq(old, new) || old != new {
        return;
    }
    // The database was copied for this table alone: share it whole if nothing else in
    // it changed.
    let alone = new_db.tables.len() == old_db.tables.len()
        && new_db.tables.iter().all(|(name, t)| {
            *name == before.name || old_db.tables.get(name).is_some_and(|o| Arc::ptr_eq(o, t))
        })
        && crate::log::same_database_fields(old_db, new_db);
    if alone {
        *new_db = Arc::clone(old_db);
    } else {
        let old = Arc::clone(old);
        Arc::make_mut(new_db)
            .tables
            .insert(before.name.clone(), old);
    }
}

/// After a commit's change ran: what it did to the stand-in extents. Removed: the hot rows
/// are discarded (the table's `sealed_seq` covers them). Changed (a column renamed,
/// dropped or retyped, tags set), or the hot rows no longer fit the table's columns: the
/// rows are written as an extent, changed the same way, in the stand-in's place.
pub(crate) async fn settle(
    storage: &Storage,
    current: &Catalog,
    hot: &Hot,
    next: &mut Catalog,
) -> Result<()> {
    for (id, rows) in hot.tables() {
        let Some(t) = next.table_by_id_mut(id) else {
            continue;
        };
        let last = rows.last_seq();
        let Some(at) = t.extents.iter().position(|e| e.id == HOT_EXTENT_ID) else {
            t.sealed_seq = t.sealed_seq.max(last);
            continue;
        };
        let stand_in = Arc::unwrap_or_clone(t.extents.remove(at));
        let fit = rows.chunks.iter().all(|c| hot::fits(t, &c.batch.schema()));
        if fit && stand_in == rows.stand_in() {
            share_if_unchanged(current, next, id);
            continue;
        }
        let Some((db, before)) = current.table_by_id(id) else {
            continue;
        };
        let batches = rows.batches(&before.stored_schema())?;
        let mut extent = storage.write_extent_of(&db.id, before, &batches).await?;
        extent.columns_as = stand_in.columns_as;
        extent.tags = stand_in.tags;
        let stats = std::mem::take(&mut extent.column_stats);
        extent.column_stats = stats
            .into_iter()
            .filter_map(|mut s| {
                let logical = t
                    .columns
                    .iter()
                    .find(|c| extent.file_column(&c.name) == Some(s.name.as_str()))?;
                s.name.clone_from(&logical.name);
                Some(s)
            })
            .collect();
        let Some(t) = next.table_by_id_mut(id) else {
            continue;
        };
        t.extents.insert(at.min(t.extents.len()), Arc::new(extent));
        t.sealed_seq = t.sealed_seq.max(last);
    }
    Ok(())
}

impl Storage {
    /// Appends rows to table `table` of `database` through the row store: durable (in
    /// the write-ahead log) and visible to queries when this returns, sealed into an
    /// extent later. The batches must have the table's columns in order (a prefix of
    /// them); several ingests waiting at once share one fsync.
    ///
    /// `Ok(None)` when this storage has no row store (in memory, an object store, or
    /// disabled), for a volatile database, when it is full, or when the rows are too
    /// large for it: the caller
    /// writes an extent instead ([`Storage::write_extent`]). An error leaves nothing.
    pub async fn append_rows(
        &self,
        database: &str,
        table: &str,
        batches: &[RecordBatch],
    ) -> Result<Option<RowsAppended>> {
        let Some(row_store) = self.inner.rows.get() else {
            return Ok(None);
        };
        // A volatile database's rows are never logged: they go to an extent in memory.
        let catalog = self.catalog();
        let db = catalog.databases.get(database);
        if db.is_some_and(|d| !d.persistent) {
            return Ok(None);
        }
        let stamp_time = db
            .and_then(|d| d.tables.get(table))
            .is_none_or(|t| crate::extent::ingestion_time_on(t));
        drop(catalog);
        let Some(first) = batches.first() else {
            return Err(Error::invalid(format!(
                "no data to ingest into table '{table}'"
            )));
        };
        let bytes: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
        if bytes > MAX_ENTRY_BYTES
            || self.snapshot().hot.bytes() + bytes > self.inner.options.hot_bytes_limit
        {
            return Ok(None);
        }
        let batch = arrow::compute::concat_batches(&first.schema(), batches)?;
        // The rows' ingestion time, logged with them.
        let now = stamp_time.then(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX));
        let batch = crate::extent::stamped(&batch, now)?;
        let rows = batch.num_rows() as u64;
        if rows == 0 {
            return Err(Error::invalid(format!(
                "no rows to ingest into table '{table}'"
            )));
        }
        let (reply, answer) = oneshot::channel();
        let request = Request {
            database: database.to_string(),
            table: table.to_string(),
            batch,
            reply,
        };
        let sent = row_store
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(request);
        if sent.is_err() {
            return Err(Error::Task("the row store's writer has stopped".into()));
        }
        let seq = answer
            .await
            .map_err(|_| Error::Task("the row store's writer has stopped".into()))??;
        Ok(Some(RowsAppended { seq, rows }))
    }

    /// One group commit (on the writer thread): check, log with one fsync, publish; returns
    /// the answers.
    fn write_group(&self, group: Vec<Request>) -> Vec<Answer> {
        let encoded: Vec<Result<Vec<u8>>> =
            group.iter().map(|r| wal::encode_rows(&r.batch)).collect();
        let mut progress = self.inner.commit_lock.blocking_lock();
        let snapshot = self.snapshot();
        let catalog = &snapshot.catalog;
        let mut frames = Vec::new();
        let mut written: Vec<(String, u64)> = Vec::new();
        let mut answers: Vec<(Request, Result<u64>)> = Vec::with_capacity(group.len());
        for (request, rows) in group.into_iter().zip(encoded) {
            let checked = (|| -> Result<(String, String)> {
                let db = catalog.require_database(&request.database)?;
                let t = db
                    .tables
                    .get(&request.table)
                    .ok_or_else(|| Error::not_found(EntityKind::Table, request.table.clone()))?;
                if !hot::fits(t, &request.batch.schema()) {
                    return Err(Error::invalid(format!(
                        "The schema of table '{}' changed during the ingestion; retry",
                        t.name
                    )));
                }
                Ok((db.id.clone(), t.id.clone()))
            })();
            let framed = checked.and_then(|(database_id, table_id)| {
                let seq = progress.next_seq;
                let header = EntryHeader {
                    seq,
                    database_id,
                    table_id: table_id.clone(),
                };
                wal::frame(&header, &rows?, &mut frames)?;
                progress.next_seq += 1;
                written.push((table_id, seq));
                Ok(seq)
            });
            answers.push((request, framed));
        }
        let logged = if written.is_empty() {
            Ok(())
        } else {
            match self.inner.rows.get() {
                Some(rs) => {
                    let appended = rs
                        .files
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .append(&frames, &written);
                    if appended.is_ok() {
                        rs.syncs.fetch_add(1, Ordering::Relaxed);
                        rs.entries
                            .fetch_add(written.len() as u64, Ordering::Relaxed);
                    }
                    appended
                }
                None => Err(Error::Task("no row store".into())),
            }
        };
        match logged {
            Ok(()) => {
                let mut by_table: HashMap<&str, Vec<(u64, RecordBatch)>> = HashMap::new();
                let mut tables = written.iter();
                for (request, answer) in &answers {
                    if let Ok(seq) = answer
                        && let Some((table_id, _)) = tables.next()
                    {
                        by_table
                            .entry(table_id.as_str())
                            .or_default()
                            .push((*seq, request.batch.clone()));
                    }
                }
                let mut hot = Hot::clone(&snapshot.hot);
                for (table_id, entries) in by_table {
                    hot.append(table_id, entries);
                }
                self.set_state(Arc::clone(&snapshot.catalog), Arc::new(hot));
                drop(progress);
                answers.into_iter().map(|(r, a)| (r.reply, a)).collect()
            }
            Err(e) => {
                drop(progress);
                let message = e.to_string();
                answers
                    .into_iter()
                    .map(|(request, answer)| {
                        let answer = answer.and_then(|_| {
                            Err(Error::Io(std::io::Error::other(format!(
                                "the row-store log write failed: {message}"
                            ))))
                        });
                        (request.reply, answer)
                    })
                    .collect()
            }
        }
    }

    /// Seals the tables whose hot rows are due by the seal policy (age, rows, bytes).
    pub(crate) async fn seal_due(&self) -> Result<usize> {
        let hot = self.snapshot().hot;
        let o = &self.inner.options;
        let pressed = hot.bytes() >= o.hot_bytes_limit / 2;
        let mut sealed = 0;
        for (id, rows) in hot.tables() {
            let due = pressed
                || rows.since.elapsed() >= o.seal_after
                || rows.rows() >= o.seal_rows
                || rows.bytes() >= o.seal_bytes;
            if due && self.seal_table(id, rows).await? {
                sealed += 1;
            }
        }
        Ok(sealed)
    }

    /// Seals every table's hot rows now (tests, benchmarks, a clean shutdown). Returns
    /// the number of tables sealed.
    pub async fn seal_all(&self) -> Result<usize> {
        let hot = self.snapshot().hot;
        let mut sealed = 0;
        for (id, rows) in hot.tables() {
            if self.seal_table(id, rows).await? {
                sealed += 1;
            }
        }
        Ok(sealed)
    }

    /// Fault injection for tests: the row store's next `fsyncs` log fsyncs fail (the
    /// bytes written are taken back), with `undo_fails` taking them back fails too (a
    /// marker then voids them), and with `void_fails` so does writing that marker (the log
    /// then refuses every later write until a restart). No effect without a row store.
    #[doc(hidden)]
    pub fn inject_row_store_faults(&self, fsyncs: u32, undo_fails: bool, void_fails: bool) {
        if let Some(rs) = self.inner.rows.get() {
            let mut files = rs
                .files
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            files.faults = WalFaults {
                fail_syncs: fsyncs,
                fail_undo: undo_fails,
                fail_void: void_fails,
            };
        }
    }

    /// Entries written to the row store's log, and the fsyncs that made them durable,
    /// since the storage was opened (`(0, 0)` without a row store).
    pub fn row_store_writes(&self) -> (u64, u64) {
        self.inner.rows.get().map_or((0, 0), |rs| {
            (
                rs.entries.load(Ordering::Relaxed),
                rs.syncs.load(Ordering::Relaxed),
            )
        })
    }

    /// The number of row-store log segment files (0 without a row store).
    pub fn row_store_segments(&self) -> usize {
        self.inner.rows.get().map_or(0, |rs| {
            rs.files
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .segments()
        })
    }

    /// Writes `rows` (the hot rows of table `table_id` in a snapshot) as an extent and
    /// commits it, raising the table's `sealed_seq`. False (and the file deleted) when a
    /// commit in between sealed or discarded them already, or dropped the table.
    async fn seal_table(&self, table_id: &str, rows: &HotTable) -> Result<bool> {
        let catalog = self.catalog();
        let Some((db, t)) = catalog.table_by_id(table_id) else {
            return Ok(false);
        };
        if t.sealed_seq >= rows.last_seq() {
            return Ok(false);
        }
        let batches = rows.batches(&t.stored_schema())?;
        let extent = self.write_extent_of(&db.id, t, &batches).await?;
        let location = object_store::path::Path::from(extent.path.as_str());
        let seq = rows.last_seq();
        let id = table_id.to_string();
        let committed = self
            .commit(move |c| {
                let Some(t) = c.table_by_id_mut(&id) else {
                    return Ok(false);
                };
                if t.sealed_seq >= seq {
                    return Ok(false);
                }
                t.extents.push(Arc::new(extent));
                t.sealed_seq = seq;
                Ok(true)
            })
            .await;
        if !matches!(committed, Ok(true)) {
            let _ = self.store_of(location.as_ref()).delete(&location).await;
        }
        let committed = committed?;
        if let Some(rs) = self.inner.rows.get() {
            let catalog = self.catalog();
            let files = Arc::clone(&rs.files);
            blocking(move || {
                files
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove_sealed(&catalog)
                    .map(|_| ())
            })
            .await?;
        }
        Ok(committed)
    }
}
