//! Small objects beside the catalog and the extents, under `dm/`: what the data-management
//! service keeps (uploaded blobs, their staged blocks, queue messages). They are not part
//! of the catalog and no commit references them; the garbage collector, which looks under
//! `data/` only, never touches them. Paths outside `dm/` are refused, so that nothing here
//! can reach the catalog or an extent.

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutMode, PutPayload};

use crate::error::{Error, Result};
use crate::store::Storage;

/// The folder of the objects.
pub const OBJECTS_DIR: &str = "dm";

/// An object listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its path (under `dm/`).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was written.
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

fn location(path: &str) -> Result<ObjectPath> {
    let ok = path
        .strip_prefix(OBJECTS_DIR)
        .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
        && !path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..");
    if !ok {
        return Err(Error::invalid(format!(
            "'{path}' is not the path of a data-management object"
        )));
    }
    ObjectPath::parse(path).map_err(|e| Error::invalid(format!("'{path}': {e}")))
}

impl Storage {
    /// Writes the object at `path` (replacing one that is there) and makes it durable
    /// (fsync of the file and its directories on local disk) before returning.
    pub async fn put_object(&self, path: &str, bytes: Bytes) -> Result<()> {
        let at = location(path)?;
        self.inner.store.put(&at, PutPayload::from(bytes)).await?;
        self.sync(&at).await
    }

    /// Writes the object at `path` only if there is none yet, durably; false when one is
    /// there (it is left as it is).
    pub async fn put_object_if_new(&self, path: &str, bytes: Bytes) -> Result<bool> {
        let at = location(path)?;
        match self
            .inner
            .store
            .put_opts(&at, PutPayload::from(bytes), PutMode::Create.into())
            .await
        {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.sync(&at).await?;
        Ok(true)
    }

    /// The object at `path`, `None` when there is none.
    pub async fn get_object(&self, path: &str) -> Result<Option<Bytes>> {
        let at = location(path)?;
        match self.inner.store.get(&at).await {
            Ok(got) => Ok(Some(got.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The size and write time of the object at `path`, `None` when there is none.
    pub async fn head_object(&self, path: &str) -> Result<Option<ObjectInfo>> {
        let at = location(path)?;
        match self.inner.store.head(&at).await {
            Ok(meta) => Ok(Some(ObjectInfo {
                path: path.to_string(),
                size: meta.size,
                last_modified: meta.last_modified,
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the object at `path`; one that is not there is not an error.
    pub async fn delete_object(&self, path: &str) -> Result<()> {
        let at = location(path)?;
        match self.inner.store.delete(&at).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the objects `sources`, one after the other, as the object `dest` (through a
    /// multipart upload, holding a few parts in memory at a time), durably; returns its
    /// size. A source that is missing fails it, and nothing is written.
    pub async fn concat_objects(&self, dest: &str, sources: &[String]) -> Result<u64> {
        let at = location(dest)?;
        let mut parts = Vec::with_capacity(sources.len());
        for s in sources {
            parts.push(location(s)?);
        }
        let upload = self.inner.store.put_multipart(&at).await?;
        let mut writer = object_store::WriteMultipart::new(upload);
        let mut total = 0u64;
        for part in &parts {
            let bytes = match self.inner.store.get(part).await {
                Ok(got) => got.bytes().await,
                Err(e) => Err(e),
            };
            let bytes = match bytes {
                Ok(b) => b,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e.into());
                }
            };
            total += bytes.len() as u64;
            if let Err(e) = writer.wait_for_capacity(4).await {
                let _ = writer.abort().await;
                return Err(e.into());
            }
            writer.write(&bytes);
        }
        writer.finish().await?;
        self.sync(&at).await?;
        Ok(total)
    }

    /// The objects under the folder `prefix` (`dm/...`), in no particular order.
    pub async fn list_objects(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let at = location(prefix)?;
        let listed: Vec<object_store::ObjectMeta> =
            self.inner.store.list(Some(&at)).try_collect().await?;
        Ok(listed
            .into_iter()
            .map(|m| ObjectInfo {
                path: m.location.to_string(),
                size: m.size,
                last_modified: m.last_modified,
            })
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn objects_live_under_dm_only() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_local(dir.path()).await.unwrap();
        for bad in [
            "catalog/log/1.rec",
            "data/x",
            "dm",
            "dm/",
            "dm/../catalog/x",
            "dm//x",
        ] {
            assert!(
                storage.put_object(bad, Bytes::from("x")).await.is_err(),
                "{bad}"
            );
        }
        storage
            .put_object("dm/q/a", Bytes::from_static(b"one"))
            .await
            .unwrap();
        assert!(
            !storage
                .put_object_if_new("dm/q/a", Bytes::from_static(b"two"))
                .await
                .unwrap()
        );
        assert!(
            storage
                .put_object_if_new("dm/q/b", Bytes::from_static(b"three"))
                .await
                .unwrap()
        );
        assert_eq!(
            storage.get_object("dm/q/a").await.unwrap().unwrap(),
            Bytes::from_static(b"one")
        );
        assert_eq!(
            storage.head_object("dm/q/b").await.unwrap().unwrap().size,
            5
        );
        let mut listed: Vec<String> = storage
            .list_objects("dm/q")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.path)
            .collect();
        listed.sort();
        assert_eq!(listed, vec!["dm/q/a", "dm/q/b"]);
        storage.delete_object("dm/q/a").await.unwrap();
        storage.delete_object("dm/q/a").await.unwrap();
        assert!(storage.get_object("dm/q/a").await.unwrap().is_none());
        drop(storage);
        // Durable: there after a restart.
        let storage = Storage::open_local(dir.path()).await.unwrap();
        assert!(storage.get_object("dm/q/b").await.unwrap().is_some());
    }
}
