//! [`Storage`]: the catalog versions and the extent files in one object store.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, PutMode, PutPayload};

use crate::catalog::{Catalog, ExtentMeta, FORMAT_VERSION, new_id, now_rfc3339};
use crate::error::{Error, Result};
use crate::extent;
use crate::hot::Hot;
use crate::manifest::{self, delete_if_exists};
use crate::provider::{ExtentTable, ScanCounters};
use crate::rowstore::RowStore;

/// The folder of the catalog (its log and checkpoints).
pub const CATALOG_DIR: &str = "catalog";
/// The folder of extent files.
pub const DATA_DIR: &str = "data";

/// Tuning of a [`Storage`].
#[derive(Debug, Clone)]
pub struct StorageOptions {
    /// A checkpoint (the whole catalog) is written after this many log records, or once
    /// the records since the last one are larger than it.
    pub checkpoint_every: u64,
    /// How many checkpoints stay (at least 1), with the log records after the oldest.
    pub checkpoints_to_keep: usize,
    /// Whether small streaming ingests go to the row store (a write-ahead log, local
    /// disk only) rather than each to an extent of its own.
    pub row_store: bool,
    /// A table's hot rows are sealed into an extent once the oldest is this old...
    pub seal_after: Duration,
    /// ... or once it has this many hot rows, or this many bytes of them in memory.
    pub seal_rows: u64,
    /// See `seal_rows`.
    pub seal_bytes: usize,
    /// The row store takes no more ingests while it holds this many bytes in memory
    /// (they are written as extents of their own until sealing catches up).
    pub hot_bytes_limit: usize,
    /// A log segment is closed once larger than this.
    pub wal_segment_bytes: u64,
    /// How often the background merger runs over a local-disk storage's tables (ADX's
    /// merge loop period).
    pub merge_every: Duration,
    /// How long extent files that a merge replaced stay, for queries still reading the
    /// catalog version before it.
    pub gc_grace: Duration,
    /// Whether scans hand `string` columns to DataFusion as `Utf8View` (views into the
    /// Parquet pages and dictionaries, no string copied) rather than `Utf8`. Results are
    /// the same; `calypso bench scan` measures both.
    pub string_views: bool,
}

impl Default for StorageOptions {
    fn default() -> StorageOptions {
        StorageOptions {
            checkpoint_every: 1000,
            checkpoints_to_keep: 2,
            row_store: true,
            seal_after: Duration::from_secs(10),
            seal_rows: 1_000_000,
            seal_bytes: 64 << 20,
            hot_bytes_limit: 256 << 20,
            wal_segment_bytes: 16 << 20,
            merge_every: Duration::from_secs(3600),
            gc_grace: Duration::from_secs(600),
            string_views: true,
        }
    }
}

/// What a query reads: one catalog version and the row store's rows at that version.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The catalog.
    pub catalog: Arc<Catalog>,
    /// The hot rows (not yet in extents).
    pub hot: Arc<Hot>,
}

/// Log bytes since the last checkpoint below which no checkpoint is written for size.
pub(crate) const MIN_CHECKPOINT_BYTES: u64 = 1 << 20;

/// The storage of a Calypso node: a catalog kept as a log, and immutable Parquet extents.
///
/// A cheap, clonable handle. Layout (relative to the root of the object store):
///
/// * `catalog/log/<version>.rec`: what the commit of that version changed (see
///   `log.rs`), created with a conditional put so that two writers can never both write
///   version `N`;
/// * `catalog/checkpoint/<version>.json`: the whole catalog at a version, written every
///   [`StorageOptions::checkpoint_every`] records;
/// * `data/<database id>/<table id>/<extent id>.parquet`: the extents.
#[derive(Clone)]
pub struct Storage {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn ObjectStore>,
    /// The directory of a local-disk storage (for fsync), `None` in memory.
    root: Option<PathBuf>,
    /// The URL under which scans find `store` in DataFusion's object store registry.
    url: ObjectStoreUrl,
    /// The in-memory store of volatile databases' extents, and its URL.
    pub(crate) volatile_store: Arc<dyn ObjectStore>,
    volatile_url: ObjectStoreUrl,
    /// The catalog and the row store, published together.
    current: RwLock<Snapshot>,
    /// Held by a commit from the copy of the catalog to its new version in memory, and
    /// by the row store's writer from checking a group of entries to publishing them.
    pub(crate) commit_lock: Arc<tokio::sync::Mutex<Progress>>,
    /// The queue of the committer task (started by the first commit, see `commit.rs`).
    pub(crate) commits: OnceLock<crate::commit::Queue>,
    pub(crate) options: StorageOptions,
    /// The row store of a local-disk storage (set once it is open).
    pub(crate) rows: OnceLock<RowStore>,
    /// Whether commits go to the store (false: an in-memory storage's catalog only).
    pub(crate) durable: bool,
    /// Extents scanned and pruned by every scan of this storage.
    counters: Arc<ScanCounters>,
    /// Where the messages named by `ExtentMeta::sources` wait (see
    /// [`Storage::keep_sources_while`]); `None`: merges keep every id.
    pub(crate) live_sources: RwLock<Option<crate::merge::LiveSources>>,
    /// The exclusive lock on `<data dir>/LOCK` of a local-disk storage, held while any
    /// handle lives (the OS releases it when the process ends, even killed).
    _lock: Option<std::fs::File>,
}

/// The log since the last checkpoint, and the row store's next sequence number.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub(crate) records: u64,
    pub(crate) bytes: u64,
    pub(crate) checkpoint_bytes: u64,
    pub(crate) next_seq: u64,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage")
            .field("store", &self.inner.store.to_string())
            .field("root", &self.inner.root)
            .field("version", &self.catalog().version)
            .finish()
    }
}

impl Storage {
    /// Local disk under `data_dir` (created if missing), with default options.
    pub async fn open_local(data_dir: &Path) -> Result<Storage> {
        Storage::open_local_with(data_dir, StorageOptions::default()).await
    }

    /// Local disk under `data_dir` (created if missing).
    ///
    /// Takes an exclusive lock on `data_dir/LOCK` first: a second process (or a second
    /// storage in this one) opening the same directory gets [`Error::Locked`] and touches
    /// nothing, so that its startup cleanup can never delete another's live files.
    /// Loads the catalog: the newest checkpoint and the log records after it (a last
    /// record not written whole, from a crash during its commit, is moved aside to
    /// `catalog/torn/`; damage anywhere before it is [`Error::Corrupt`]). A data directory
    /// of the earlier layout (`catalog/v{N}.json`) gets its first checkpoint. Then deletes
    /// extent files that the catalog does not reference and that are older than the newest
    /// catalog write (the leftovers of ingestions that failed before their commit, and of
    /// dropped data).
    pub async fn open_local_with(data_dir: &Path, options: StorageOptions) -> Result<Storage> {
        let dir = data_dir.to_path_buf();
        let (root, lock) = blocking(move || {
            std::fs::create_dir_all(&dir)?;
            let root = dir.canonicalize()?;
            let lock = lock_dir(&root)?;
            std::fs::create_dir_all(root.join(CATALOG_DIR))?;
            std::fs::create_dir_all(root.join(DATA_DIR))?;
            sync_dir(&root)?;
            Ok((root, lock))
        })
        .await?;
        let store = LocalFileSystem::new_with_prefix(&root)?;
        let row_store = options.row_store;
        let mut storage = Storage::open(Arc::new(store), Some(root.clone()), options).await?;
        match Arc::get_mut(&mut storage.inner) {
            Some(inner) => inner._lock = Some(lock),
            None => return Err(Error::Task("the new storage is already shared".into())),
        }
        if row_store {
            crate::rowstore::open(&storage, &root).await?;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(crate::merge::merger(Arc::downgrade(&storage.inner)));
        }
        Ok(storage)
    }

    /// Everything in memory, for tests and the in-process engine: commits change the
    /// catalog in memory only (extents are written to an in-memory object store).
    pub fn in_memory() -> Storage {
        Storage::new(
            Arc::new(InMemory::new()),
            None,
            StorageOptions::default(),
            Catalog::initial(),
            false,
        )
    }

    /// Any object store (its root holds `catalog/` and `data/`); nothing is fsynced by
    /// Calypso, the store is trusted to be durable when a put returns.
    pub async fn open_object_store(
        store: Arc<dyn ObjectStore>,
        options: StorageOptions,
    ) -> Result<Storage> {
        Storage::open(store, None, options).await
    }

    fn new(
        store: Arc<dyn ObjectStore>,
        root: Option<PathBuf>,
        options: StorageOptions,
        catalog: Catalog,
        durable: bool,
    ) -> Storage {
        let counters: Arc<ScanCounters> = Arc::default();
        let store: Arc<dyn ObjectStore> = Arc::new(crate::counting::CountingStore::new(
            store,
            Arc::clone(&counters),
        ));
        let volatile_store: Arc<dyn ObjectStore> = Arc::new(crate::counting::CountingStore::new(
            Arc::new(InMemory::new()),
            Arc::clone(&counters),
        ));
        let id = uuid::Uuid::new_v4().simple();
        // The URLs are well formed: a scheme and a host of hex digits.
        let url = ObjectStoreUrl::parse(format!("calypso://{id}"))
            .unwrap_or_else(|_| ObjectStoreUrl::local_filesystem());
        let volatile_url = ObjectStoreUrl::parse(format!("calypso-volatile://{id}"))
            .unwrap_or_else(|_| ObjectStoreUrl::local_filesystem());
        Storage {
            inner: Arc::new(Inner {
                store,
                root,
                url,
                volatile_store,
                volatile_url,
                current: RwLock::new(Snapshot {
                    catalog: Arc::new(catalog),
                    hot: Arc::default(),
                }),
                commit_lock: Arc::new(tokio::sync::Mutex::new(Progress::default())),
                commits: OnceLock::new(),
                options,
                rows: OnceLock::new(),
                durable,
                counters,
                live_sources: RwLock::new(None),
                _lock: None,
            }),
        }
    }

    async fn open(
        store: Arc<dyn ObjectStore>,
        root: Option<PathBuf>,
        options: StorageOptions,
    ) -> Result<Storage> {
        let loaded = manifest::load(store.as_ref()).await?;
        let checkpoint = loaded.checkpoint;
        let newest_write = loaded.newest_write;
        let storage = Storage::new(Arc::clone(&store), root, options, loaded.catalog, true);
        {
            let mut progress = storage.inner.commit_lock.lock().await;
            progress.records = loaded.records_since;
            progress.bytes = loaded.bytes_since;
            // A new store, or one of the earlier layout: its first checkpoint, so that
            // the catalog it starts from (the default database's id) is durable.
            if checkpoint.is_none() && !storage.checkpoint(&mut progress).await? {
                // Another writer opening the same new store was first: its catalog.
                let loaded = manifest::load(store.as_ref()).await?;
                storage.set_catalog(loaded.catalog);
            }
        }

        // Orphan extents.
        if let Some(newest_write) = newest_write {
            let catalog = storage.catalog();
            let referenced: HashSet<&str> = catalog.extent_paths().collect();
            let data = ObjectPath::from(DATA_DIR);
            let files: Vec<ObjectMeta> = store.list(Some(&data)).try_collect().await?;
            for file in files {
                if !referenced.contains(file.location.as_ref()) && file.last_modified < newest_write
                {
                    delete_if_exists(store.as_ref(), &file.location).await?;
                }
            }
        }
        Ok(storage)
    }

    /// The current catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        let guard = self
            .inner
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(&guard.catalog)
    }

    /// The current catalog and row store, for a query: each row is in exactly one of them.
    pub fn snapshot(&self) -> Snapshot {
        let guard = self
            .inner
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Snapshot::clone(&guard)
    }

    pub(crate) fn set_catalog(&self, catalog: Catalog) {
        let hot = self.snapshot().hot.pruned(&catalog);
        self.set_state(Arc::new(catalog), Arc::new(hot));
    }

    /// Publishes a new state (callers hold the commit lock).
    pub(crate) fn set_state(&self, catalog: Arc<Catalog>, hot: Arc<Hot>) {
        let mut guard = self
            .inner
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = Snapshot { catalog, hot };
    }

    /// The object store holding the catalog and the extents.
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.inner.store)
    }

    /// The URL under which this storage's scans find the object store.
    pub fn object_store_url(&self) -> &ObjectStoreUrl {
        &self.inner.url
    }

    /// Registers the object store in a DataFusion runtime (scans also do it when needed).
    pub fn register_object_store(&self, runtime: &RuntimeEnv) {
        runtime.register_object_store(self.inner.url.as_ref(), Arc::clone(&self.inner.store));
    }

    /// The directory of a local-disk storage.
    pub fn local_root(&self) -> Option<&Path> {
        self.inner.root.as_deref()
    }

    /// Writes the current catalog as a checkpoint (holding the commit lock), then deletes
    /// what it makes unnecessary. False when the store had that checkpoint already.
    pub(crate) async fn checkpoint(&self, progress: &mut Progress) -> Result<bool> {
        let catalog = self.catalog();
        let durable = crate::volatile::durable_catalog(&catalog);
        let written = manifest::write_checkpoint(self.inner.store.as_ref(), durable).await?;
        self.sync(&written.location).await?;
        progress.records = 0;
        progress.bytes = 0;
        progress.checkpoint_bytes = written.size;
        manifest::cleanup(
            self.inner.store.as_ref(),
            self.inner.options.checkpoints_to_keep,
        )
        .await?;
        Ok(written.created)
    }

    /// Reloads the catalog from the store (written by another process). Waits first for
    /// the commit or checkpoint being written (it takes the commit lock): after it, the
    /// checkpoint the last commit made due is in the store.
    pub async fn refresh(&self) -> Result<()> {
        let _guard = self.inner.commit_lock.lock().await;
        self.reload().await
    }

    pub(crate) async fn reload(&self) -> Result<()> {
        if !self.inner.durable {
            return Ok(());
        }
        let mut loaded = manifest::load(self.inner.store.as_ref()).await?.catalog;
        let live = self.catalog();
        if loaded.version > live.version {
            crate::volatile::keep_volatile(&mut loaded, &live);
            self.set_catalog(loaded);
        }
        Ok(())
    }

    /// Writes `batches` (in the table's Arrow schema; columns of the table may be
    /// missing; with `$IngestionTime`, or it is now for every row) as one immutable zstd
    /// Parquet extent under
    /// `data/<database id>/<table id>/<extent id>.parquet`, durably, and returns its
    /// metadata. The extent is not visible until a commit adds it to the table.
    pub async fn write_extent(
        &self,
        database: &str,
        table: &str,
        batches: &[RecordBatch],
    ) -> Result<ExtentMeta> {
        let catalog = self.catalog();
        let db = catalog.require_database(database)?;
        let t = db.require_table(table)?;
        self.write_extent_of(&db.id, t, batches).await
    }

    /// [`Storage::write_extent`] for table `t` of the database whose id is `database_id`.
    pub(crate) async fn write_extent_of(
        &self,
        database_id: &str,
        t: &crate::catalog::Table,
        batches: &[RecordBatch],
    ) -> Result<ExtentMeta> {
        // Rows without an ingestion time were ingested now.
        let now = extent::ingestion_time_on(t)
            .then(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX));
        let owned = batches
            .iter()
            .map(|b| extent::stamped(b, now))
            .collect::<Result<Vec<_>>>()?;
        let schema = extent::validate(t, &owned)?;
        let columns = t.columns.clone();
        let key = extent::sort_key(t, &schema);
        let encoded = blocking(move || {
            let rows = match &key {
                Some(k) => extent::sorted(&owned, k)?,
                None => owned,
            };
            extent::encode(&columns, schema, &rows)
        })
        .await?;

        let id = new_id();
        let volatile = self.is_volatile_id(database_id);
        let dir = if volatile {
            crate::volatile::VOLATILE_DIR
        } else {
            DATA_DIR
        };
        let path = format!("{dir}/{database_id}/{}/{id}.parquet", t.id);
        let location = ObjectPath::from(path.as_str());
        let size_bytes = encoded.bytes.len() as u64;
        self.store_of(&path)
            .put_opts(
                &location,
                PutPayload::from(encoded.bytes),
                PutMode::Create.into(),
            )
            .await?;
        if !volatile {
            self.sync(&location).await?;
        }
        Ok(ExtentMeta {
            id,
            path,
            rows: encoded.rows,
            size_bytes,
            original_size: encoded.original_size,
            created_on: now_rfc3339(),
            min_created_on: String::new(),
            column_stats: encoded.column_stats,
            tags: Vec::new(),
            columns_as: Default::default(),
            sources: Vec::new(),
        })
    }

    /// A DataFusion table over the table's extents and hot rows in the current snapshot.
    pub fn table_provider(&self, database: &str, table: &str) -> Result<Arc<dyn TableProvider>> {
        Ok(self.extent_table(&self.snapshot(), database, table)?)
    }

    /// A DataFusion table over the table's extents and hot rows in `snapshot` (from
    /// [`Storage::snapshot`], so that several tables of one query see the same version).
    pub fn extent_table(
        &self,
        snapshot: &Snapshot,
        database: &str,
        table: &str,
    ) -> Result<Arc<ExtentTable>> {
        let persistent = snapshot.catalog.require_database(database)?.persistent;
        let (store, url) = if persistent {
            (&self.inner.store, &self.inner.url)
        } else {
            (&self.inner.volatile_store, &self.inner.volatile_url)
        };
        Ok(Arc::new(ExtentTable::new(
            Arc::clone(store),
            url.clone(),
            snapshot,
            database,
            table,
            Arc::clone(&self.inner.counters),
            self.inner.options.string_views,
        )?))
    }

    /// Extents scanned and pruned by all scans so far (for statistics and tests).
    pub fn scan_counters(&self) -> &ScanCounters {
        &self.inner.counters
    }

    /// On local disk, fsyncs the file at `location` and every directory from its parent
    /// up to the root (some may have just been created).
    pub(crate) async fn sync(&self, location: &ObjectPath) -> Result<()> {
        let Some(root) = self.inner.root.clone() else {
            return Ok(());
        };
        let parts: Vec<String> = location.parts().map(|p| p.as_ref().to_string()).collect();
        blocking(move || {
            let mut path = root.clone();
            path.extend(&parts);
            std::fs::File::open(&path)?.sync_all()?;
            let mut dir = path.parent();
            while let Some(d) = dir {
                sync_dir(d)?;
                if d == root {
                    break;
                }
                dir = d.parent();
            }
            Ok(())
        })
        .await
    }
}

/// Parses a catalog file: `None` if it is empty or truncated.
pub(crate) fn parse_catalog(bytes: &[u8]) -> Result<Option<Catalog>> {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) if e.is_eof() || e.is_syntax() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let found = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if found > u64::from(FORMAT_VERSION) {
        return Err(Error::UnsupportedFormat {
            found: u32::try_from(found).unwrap_or(u32::MAX),
            supported: FORMAT_VERSION,
        });
    }
    let mut catalog: Catalog = serde_json::from_value(value)
        .map_err(|e| Error::Corrupt(format!("catalog file does not fit the model: {e}")))?;
    catalog.normalize();
    Ok(Some(catalog))
}

/// Takes the exclusive lock on `root/LOCK` (without waiting).
fn lock_dir(root: &Path) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join("LOCK"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked(root.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Fsyncs a directory (so that the entries created in it are durable).
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Runs blocking work on tokio's blocking threads (inline outside a tokio runtime).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|e| Error::Task(e.to_string()))?,
        Err(_) => f(),
    }
}
