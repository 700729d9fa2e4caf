//! Reading the catalog back: the newest checkpoint, then the log records after it.
//!
//! * A checkpoint that does not check out (not written whole) is moved aside to
//!   `catalog/torn/` and the one before it used: the log still holds the records after
//!   the older one ([`cleanup`] keeps them).
//! * Records follow each other without gaps. The last one may be torn (a crash while it
//!   was written, so never acknowledged): it is moved aside and the catalog is the one
//!   before it. A damaged or missing record with records after it is corruption: opening
//!   fails with [`Error::Corrupt`] and nothing is touched.
//! * Data directories of earlier versions hold whole catalogs, `catalog/v{N}.json`: the
//!   newest readable one is the base (a damaged newest one is moved aside), and
//!   `Storage` writes it as the first checkpoint.

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutPayload};

use crate::catalog::{Catalog, FORMAT_VERSION};
use crate::error::{Error, Result};
use crate::log::{
    CHECKPOINT_DIR, LOG_DIR, TORN_DIR, apply, checkpoint_path, decode_record, frame, unframe,
    version_of,
};
use crate::store::{CATALOG_DIR, blocking, parse_catalog};

/// The catalog as the store holds it.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// The catalog (version 0 and no files: a new store).
    pub catalog: Catalog,
    /// The version of the checkpoint it started from, `None` without one (a new store or
    /// one of an earlier layout).
    pub checkpoint: Option<u64>,
    /// Records after that checkpoint, and their bytes.
    pub records_since: u64,
    pub bytes_since: u64,
    /// When the newest catalog file was written.
    pub newest_write: Option<chrono::DateTime<chrono::Utc>>,
}

/// Numbered files under `dir` (records or checkpoints), by increasing version.
pub(crate) async fn list_numbered(
    store: &dyn ObjectStore,
    dir: &str,
) -> Result<Vec<(u64, ObjectMeta)>> {
    let prefix = ObjectPath::from(dir);
    let files: Vec<ObjectMeta> = store.list(Some(&prefix)).try_collect().await?;
    let mut out: Vec<(u64, ObjectMeta)> = files
        .into_iter()
        .filter_map(|m| Some((version_of(&m.location)?, m)))
        .collect();
    out.sort_by_key(|(n, _)| *n);
    Ok(out)
}

/// The whole-catalog files of earlier versions, `catalog/v{N}.json`, by increasing version.
pub(crate) async fn list_legacy(store: &dyn ObjectStore) -> Result<Vec<(u64, ObjectMeta)>> {
    let prefix = ObjectPath::from(CATALOG_DIR);
    let listing = store.list_with_delimiter(Some(&prefix)).await?;
    let mut out: Vec<(u64, ObjectMeta)> = listing
        .objects
        .into_iter()
        .filter_map(|m| {
            let n = m
                .location
                .filename()?
                .strip_prefix('v')?
                .strip_suffix(".json")?
                .parse()
                .ok()?;
            Some((n, m))
        })
        .collect();
    out.sort_by_key(|(n, _)| *n);
    Ok(out)
}

/// Loads the catalog: the newest good checkpoint (or whole-catalog file of an earlier
/// layout) and the records after it.
pub(crate) async fn load(store: &dyn ObjectStore) -> Result<Loaded> {
    let checkpoints = list_numbered(store, CHECKPOINT_DIR).await?;
    let mut newest_write = checkpoints.iter().map(|(_, m)| m.last_modified).max();
    let mut base: Option<Catalog> = None;
    let mut checkpoint = None;
    for (v, meta) in checkpoints.iter().rev() {
        match read_checkpoint(store, &meta.location).await? {
            Some(mut c) => {
                c.version = *v;
                base = Some(c);
                checkpoint = Some(*v);
                break;
            }
            None => move_aside(store, &meta.location).await?,
        }
    }
    if base.is_none() {
        base = load_legacy(store).await?;
    }
    let mut catalog = base.unwrap_or_else(|| {
        let mut c = Catalog::initial();
        c.version = 0;
        c
    });

    let records = list_numbered(store, LOG_DIR).await?;
    let tail: Vec<&(u64, ObjectMeta)> = records
        .iter()
        .filter(|(v, _)| *v > catalog.version)
        .collect();
    let (mut records_since, mut bytes_since) = (0, 0);
    for (i, (v, meta)) in tail.iter().enumerate() {
        let expected = catalog.version + 1;
        if *v != expected {
            return Err(Error::Corrupt(format!(
                "catalog log record {expected} is missing (the next one is {}); the data directory needs repair",
                meta.location
            )));
        }
        let bytes = store.get(&meta.location).await?.bytes().await?;
        match decode_record(&bytes)? {
            Some(record) if record.version == *v => {
                apply(&mut catalog, record.changes)?;
                catalog.version = *v;
                records_since += 1;
                bytes_since += bytes.len() as u64;
                newest_write = newest_write.max(Some(meta.last_modified));
            }
            Some(record) => {
                return Err(Error::Corrupt(format!(
                    "catalog log record {} says it is version {}",
                    meta.location, record.version
                )));
            }
            // A crash while the last commit was being written: it was never acknowledged.
            None if i + 1 == tail.len() => move_aside(store, &meta.location).await?,
            None => {
                return Err(Error::Corrupt(format!(
                    "catalog log record {} is damaged (its checksum does not match) and later records exist; restore it, or move it and the records after it aside, to open the data directory",
                    meta.location
                )));
            }
        }
    }
    catalog.normalize();
    Ok(Loaded {
        catalog,
        checkpoint,
        records_since,
        bytes_since,
        newest_write,
    })
}

/// The newest readable whole-catalog file of an earlier layout; a damaged newest one is
/// moved aside, a damaged one before it is corruption.
async fn load_legacy(store: &dyn ObjectStore) -> Result<Option<Catalog>> {
    let versions = list_legacy(store).await?;
    for (i, (n, meta)) in versions.iter().enumerate().rev() {
        let bytes = store.get(&meta.location).await?.bytes().await?;
        match parse_catalog(&bytes)? {
            Some(mut c) => {
                c.version = *n;
                return Ok(Some(c));
            }
            None if i + 1 == versions.len() => move_aside(store, &meta.location).await?,
            None => {
                return Err(Error::Corrupt(format!(
                    "catalog version file {} is unreadable",
                    meta.location
                )));
            }
        }
    }
    Ok(None)
}

/// A checkpoint's catalog, `None` when the file is not whole.
async fn read_checkpoint(
    store: &dyn ObjectStore,
    location: &ObjectPath,
) -> Result<Option<Catalog>> {
    let bytes = store.get(location).await?.bytes().await?;
    match unframe("checkpoint", &bytes) {
        Some(payload) => parse_catalog(payload),
        None => Ok(None),
    }
}

/// A checkpoint written by [`write_checkpoint`].
#[derive(Debug)]
pub(crate) struct Written {
    pub location: ObjectPath,
    pub size: u64,
    /// False when the store had a checkpoint of that version already (kept as it is).
    pub created: bool,
}

/// Writes `catalog` as the checkpoint of its version (an existing one is kept).
pub(crate) async fn write_checkpoint(store: &dyn ObjectStore, catalog: Catalog) -> Result<Written> {
    let version = catalog.version;
    // The whole catalog: serialized off the async threads (it may be megabytes).
    let bytes = blocking(move || {
        let mut catalog = catalog;
        // Written in this build's layout, whatever layout the catalog was read from.
        catalog.format_version = FORMAT_VERSION;
        Ok(frame("checkpoint", &serde_json::to_vec(&catalog)?))
    })
    .await?;
    let size = bytes.len() as u64;
    let location = checkpoint_path(version);
    let created = match store
        .put_opts(&location, PutPayload::from(bytes), PutMode::Create.into())
        .await
    {
        Ok(_) => true,
        Err(object_store::Error::AlreadyExists { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    Ok(Written {
        location,
        size,
        created,
    })
}

/// After a checkpoint: keeps the newest `keep` checkpoints and the records after the
/// oldest of them; deletes older checkpoints and records, and whole-catalog files of the
/// earlier layout.
pub(crate) async fn cleanup(store: &dyn ObjectStore, keep: usize) -> Result<()> {
    let checkpoints = list_numbered(store, CHECKPOINT_DIR).await?;
    let keep = keep.max(1);
    if checkpoints.len() > keep {
        for (_, meta) in &checkpoints[..checkpoints.len() - keep] {
            delete_if_exists(store, &meta.location).await?;
        }
    }
    let Some((oldest_kept, _)) = checkpoints.get(checkpoints.len().saturating_sub(keep)) else {
        return Ok(());
    };
    for (v, meta) in list_numbered(store, LOG_DIR).await? {
        if v <= *oldest_kept {
            delete_if_exists(store, &meta.location).await?;
        }
    }
    for (_, meta) in list_legacy(store).await? {
        delete_if_exists(store, &meta.location).await?;
    }
    Ok(())
}

/// Moves a damaged catalog file to `catalog/torn/` (never deleted: someone may want to
/// look at it).
async fn move_aside(store: &dyn ObjectStore, location: &ObjectPath) -> Result<()> {
    let name = location.filename().unwrap_or("file");
    let target =
        ObjectPath::from(format!("{TORN_DIR}/{name}.{}", uuid::Uuid::new_v4().simple()).as_str());
    store.copy(location, &target).await?;
    delete_if_exists(store, location).await
}

pub(crate) async fn delete_if_exists(store: &dyn ObjectStore, location: &ObjectPath) -> Result<()> {
    match store.delete(location).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
