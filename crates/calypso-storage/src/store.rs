//! [`Storage`]: the catalog versions and the extent files in one object store.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutPayload};

use crate::catalog::{Catalog, ExtentMeta, FORMAT_VERSION, new_id, now_rfc3339};
use crate::error::{Error, Result};
use crate::extent;
use crate::provider::{ExtentTable, ScanCounters};

/// The folder of catalog versions.
pub const CATALOG_DIR: &str = "catalog";
/// The folder of extent files.
pub const DATA_DIR: &str = "data";

/// Tuning of a [`Storage`].
#[derive(Debug, Clone)]
pub struct StorageOptions {
    /// How many catalog versions stay on disk (at least 1). Older ones are deleted after
    /// each commit, and extent files that no kept version references are deleted when
    /// the storage is opened.
    pub catalog_versions_to_keep: u64,
}

impl Default for StorageOptions {
    fn default() -> StorageOptions {
        StorageOptions {
            catalog_versions_to_keep: 20,
        }
    }
}

/// The storage of a Calypso node: a versioned catalog and immutable Parquet extents.
///
/// A cheap, clonable handle. Layout (relative to the root of the object store):
///
/// * `catalog/v{N}.json`: the whole catalog at version `N`, created with a conditional
///   put so that two writers can never both write version `N`;
/// * `data/<database id>/<table id>/<extent id>.parquet`: the extents.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ObjectStore>,
    /// The directory of a local-disk storage (for fsync), `None` in memory.
    root: Option<PathBuf>,
    /// The URL under which scans find `store` in DataFusion's object store registry.
    url: ObjectStoreUrl,
    current: RwLock<Arc<Catalog>>,
    commit_lock: tokio::sync::Mutex<()>,
    /// The highest catalog version seen in the store, even unreadable: the next
    /// commit writes a higher one.
    highest_version: AtomicU64,
    options: StorageOptions,
    /// Extents scanned and pruned by every scan of this storage.
    counters: Arc<ScanCounters>,
    /// The exclusive lock on `<data dir>/LOCK` of a local-disk storage, held while any
    /// handle lives (the OS releases it when the process ends, even killed).
    _lock: Option<std::fs::File>,
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
    /// Loads the newest catalog version (a newest file left empty or truncated by a crash
    /// during its commit is deleted and the previous version loaded), deletes catalog versions beyond
    /// [`StorageOptions::catalog_versions_to_keep`], and deletes extent files that no
    /// kept version references and that are older than the newest catalog write (the
    /// leftovers of ingestions that failed before their commit).
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
        let mut storage = Storage::open(Arc::new(store), Some(root), options).await?;
        match Arc::get_mut(&mut storage.inner) {
            Some(inner) => inner._lock = Some(lock),
            None => return Err(Error::Task("the new storage is already shared".into())),
        }
        Ok(storage)
    }

    /// Everything in memory, for tests and the in-process engine.
    pub fn in_memory() -> Storage {
        Storage::new(
            Arc::new(InMemory::new()),
            None,
            StorageOptions::default(),
            Catalog::initial(),
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
    ) -> Storage {
        let url = format!("calypso://{}", uuid::Uuid::new_v4().simple());
        // The URL is well formed: a scheme and a host of hex digits.
        let url = ObjectStoreUrl::parse(url).unwrap_or_else(|_| ObjectStoreUrl::local_filesystem());
        Storage {
            inner: Arc::new(Inner {
                store,
                root,
                url,
                highest_version: AtomicU64::new(catalog.version),
                current: RwLock::new(Arc::new(catalog)),
                commit_lock: tokio::sync::Mutex::new(()),
                options,
                counters: Arc::default(),
                _lock: None,
            }),
        }
    }

    async fn open(
        store: Arc<dyn ObjectStore>,
        root: Option<PathBuf>,
        options: StorageOptions,
    ) -> Result<Storage> {
        let versions = list_versions(store.as_ref()).await?;
        let highest = versions.last().map_or(0, |(n, _)| *n);
        let keep = options.catalog_versions_to_keep.max(1);

        // The newest readable version; only the newest file may be torn.
        let mut loaded: Vec<(u64, ObjectMeta, Catalog)> = Vec::new();
        for (i, (n, meta)) in versions.iter().enumerate().rev() {
            let is_newest = i + 1 == versions.len();
            let newest_loaded = loaded.first().map(|(n, _, _)| *n);
            if newest_loaded.is_some_and(|newest| n + keep <= newest) {
                break;
            }
            match read_catalog(store.as_ref(), &meta.location).await? {
                Some(mut c) => {
                    c.version = *n;
                    loaded.push((*n, meta.clone(), c));
                }
                // A crash during its commit (never acknowledged): forget it.
                None if is_newest => delete_if_exists(store.as_ref(), &meta.location).await?,
                None => {
                    return Err(Error::Corrupt(format!(
                        "catalog version file {} is unreadable",
                        meta.location
                    )));
                }
            }
        }

        let catalog = match loaded.first() {
            Some((_, _, c)) => c.clone(),
            None => Catalog::initial(),
        };
        let storage = Storage::new(Arc::clone(&store), root, options, catalog);
        storage
            .inner
            .highest_version
            .fetch_max(highest, Ordering::SeqCst);

        if let Some((newest, newest_meta, _)) = loaded.first() {
            // Old catalog versions.
            for (n, meta) in &versions {
                if n + keep <= *newest {
                    delete_if_exists(store.as_ref(), &meta.location).await?;
                }
            }
            // Orphan extents.
            let referenced: HashSet<&str> = loaded
                .iter()
                .flat_map(|(_, _, c)| c.extent_paths())
                .collect();
            let data = ObjectPath::from(DATA_DIR);
            let files: Vec<ObjectMeta> = store.list(Some(&data)).try_collect().await?;
            for file in files {
                if !referenced.contains(file.location.as_ref())
                    && file.last_modified < newest_meta.last_modified
                {
                    delete_if_exists(store.as_ref(), &file.location).await?;
                }
            }
        }
        Ok(storage)
    }

    /// The current catalog snapshot.
    pub fn catalog(&self) -> Arc<Catalog> {
        let guard = self
            .inner
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(&guard)
    }

    fn set_catalog(&self, catalog: Catalog) {
        let mut guard = self
            .inner
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = Arc::new(catalog);
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

    /// Applies `f` to a copy of the catalog and commits the result as the next version.
    ///
    /// Commits are serialized. If `f` fails or the catalog cannot be written, nothing
    /// changes. The new version is durable when this returns (fsync of the file and its
    /// directory on local disk). If another writer committed the same version first, the
    /// snapshot is reloaded and [`Error::Conflict`] is returned: the caller may retry.
    pub async fn commit<T>(&self, f: impl FnOnce(&mut Catalog) -> Result<T>) -> Result<T> {
        let _guard = self.inner.commit_lock.lock().await;
        let current = self.catalog();
        let mut next = Catalog::clone(&current);
        let out = f(&mut next)?;
        let version = current
            .version
            .max(self.inner.highest_version.load(Ordering::SeqCst))
            + 1;
        next.version = version;
        next.format_version = FORMAT_VERSION;
        let bytes = serde_json::to_vec_pretty(&next)?;
        let location = version_path(version);
        let put = self
            .inner
            .store
            .put_opts(&location, PutPayload::from(bytes), PutMode::Create.into())
            .await;
        match put {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) => {
                self.reload().await?;
                return Err(Error::Conflict(format!(
                    "catalog version {version} was committed by another writer"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        if let Err(e) = self.sync(&location).await {
            // Not durable: take it back (best effort) so that nothing changed.
            let _ = self.inner.store.delete(&location).await;
            return Err(e);
        }
        self.inner
            .highest_version
            .fetch_max(version, Ordering::SeqCst);
        self.set_catalog(next);

        let keep = self.inner.options.catalog_versions_to_keep.max(1);
        if version > keep {
            // Best effort: a leftover is deleted at the next open.
            let _ =
                delete_if_exists(self.inner.store.as_ref(), &version_path(version - keep)).await;
        }
        Ok(out)
    }

    /// Reloads the newest catalog version from the store (written by another process).
    pub async fn refresh(&self) -> Result<()> {
        let _guard = self.inner.commit_lock.lock().await;
        self.reload().await
    }

    async fn reload(&self) -> Result<()> {
        let versions = list_versions(self.inner.store.as_ref()).await?;
        if let Some((highest, _)) = versions.last() {
            self.inner
                .highest_version
                .fetch_max(*highest, Ordering::SeqCst);
        }
        for (n, meta) in versions.iter().rev() {
            if *n <= self.catalog().version {
                break;
            }
            if let Some(mut c) = read_catalog(self.inner.store.as_ref(), &meta.location).await? {
                c.version = *n;
                self.set_catalog(c);
                break;
            }
        }
        Ok(())
    }

    /// Writes `batches` (in the table's Arrow schema; columns of the table may be
    /// missing) as one immutable zstd Parquet extent under
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
        let schema = extent::validate(t, batches)?;
        let columns = t.columns.clone();
        let owned = batches.to_vec();
        let encoded = blocking(move || extent::encode(&columns, schema, &owned)).await?;

        let id = new_id();
        let path = format!("{DATA_DIR}/{}/{}/{id}.parquet", db.id, t.id);
        let location = ObjectPath::from(path.as_str());
        let size_bytes = encoded.bytes.len() as u64;
        self.inner
            .store
            .put_opts(
                &location,
                PutPayload::from(encoded.bytes),
                PutMode::Create.into(),
            )
            .await?;
        self.sync(&location).await?;
        Ok(ExtentMeta {
            id,
            path,
            rows: encoded.rows,
            size_bytes,
            created_on: now_rfc3339(),
            column_stats: encoded.column_stats,
            tags: Vec::new(),
            columns_as: Default::default(),
        })
    }

    /// A DataFusion table over the table's extents in the current snapshot.
    pub fn table_provider(&self, database: &str, table: &str) -> Result<Arc<dyn TableProvider>> {
        Ok(self.extent_table(&self.catalog(), database, table)?)
    }

    /// A DataFusion table over the table's extents in `catalog` (a snapshot from
    /// [`Storage::catalog`], so that several tables of one query see the same version).
    pub fn extent_table(
        &self,
        catalog: &Arc<Catalog>,
        database: &str,
        table: &str,
    ) -> Result<Arc<ExtentTable>> {
        Ok(Arc::new(ExtentTable::new(
            Arc::clone(&self.inner.store),
            self.inner.url.clone(),
            Arc::clone(catalog),
            database,
            table,
            Arc::clone(&self.inner.counters),
        )?))
    }

    /// Extents scanned and pruned by all scans so far (for statistics and tests).
    pub fn scan_counters(&self) -> &ScanCounters {
        &self.inner.counters
    }

    /// On local disk, fsyncs the file at `location` and every directory from its parent
    /// up to the root (some may have just been created).
    async fn sync(&self, location: &ObjectPath) -> Result<()> {
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

/// `catalog/v{N}.json`.
fn version_path(version: u64) -> ObjectPath {
    ObjectPath::from(format!("{CATALOG_DIR}/v{version}.json").as_str())
}

/// The catalog version files, by increasing version.
async fn list_versions(store: &dyn ObjectStore) -> Result<Vec<(u64, ObjectMeta)>> {
    let prefix = ObjectPath::from(CATALOG_DIR);
    let files: Vec<ObjectMeta> = store.list(Some(&prefix)).try_collect().await?;
    let mut versions: Vec<(u64, ObjectMeta)> = files
        .into_iter()
        .filter_map(|m| {
            let name = m.location.filename()?;
            let n = name
                .strip_prefix('v')?
                .strip_suffix(".json")?
                .parse()
                .ok()?;
            Some((n, m))
        })
        .collect();
    versions.sort_by_key(|(n, _)| *n);
    Ok(versions)
}

/// Reads a catalog file: `None` if it is empty or truncated (a crash during its write).
async fn read_catalog(store: &dyn ObjectStore, location: &ObjectPath) -> Result<Option<Catalog>> {
    let bytes = store.get(location).await?.bytes().await?;
    parse_catalog(&bytes)
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

async fn delete_if_exists(store: &dyn ObjectStore, location: &ObjectPath) -> Result<()> {
    match store.delete(location).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
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
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|e| Error::Task(e.to_string()))?,
        Err(_) => f(),
    }
}
