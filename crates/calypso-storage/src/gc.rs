//! Collection of extent files no catalog version references while the storage runs: those
//! of ingestions whose commit failed or was refused (an `ingestIfNotExists` repeat), of
//! merges that lost a race, and any other leftover. A file is collected once it is older
//! than the grace period, so a file written for a commit still under way, or read by a
//! query of an older version, is never taken.

use std::collections::BTreeSet;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStoreExt};

use crate::error::Result;
use crate::store::{DATA_DIR, Storage};
use crate::volatile::VOLATILE_DIR;

impl Storage {
    /// Deletes the files under `data/` (and the volatile store's) that the current catalog
    /// does not reference and
    /// that were last written before `now` minus the grace period; returns how many.
    pub async fn collect_garbage(&self, now: chrono::DateTime<chrono::Utc>) -> Result<usize> {
        let grace = chrono::Duration::from_std(self.inner.options.gc_grace)
            .unwrap_or(chrono::Duration::MAX);
        let Some(before) = now.checked_sub_signed(grace) else {
            return Ok(0);
        };
        let mut files: Vec<ObjectMeta> = Vec::new();
        for (volatile, dir) in [(false, DATA_DIR), (true, VOLATILE_DIR)] {
            let store = if volatile {
                &self.inner.volatile_store
            } else {
                &self.inner.store
            };
            let listed: Vec<ObjectMeta> = store
                .list(Some(&ObjectPath::from(dir)))
                .try_collect()
                .await?;
            files.extend(listed);
        }
        // The catalog read after the listing: a file committed meanwhile is referenced.
        let catalog = self.catalog();
        let referenced: BTreeSet<&str> = catalog.extent_paths().collect();
        let mut deleted = 0;
        for file in files {
            if file.last_modified < before && !referenced.contains(file.location.as_ref()) {
                match self
                    .store_of(file.location.as_ref())
                    .delete(&file.location)
                    .await
                {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => deleted += 1,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(deleted)
    }
}
