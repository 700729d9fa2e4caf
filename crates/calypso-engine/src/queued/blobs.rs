//! The blob surface of queued ingestion: Put Blob, Put Block, Put Block List, Get Blob, Get
//! Blob Properties, Delete Blob, on the containers `.get ingestion resources` hands out.
//!
//! A blob is the object `dm/blobs/<container>/<sha256 of its name>`, written durably before
//! the call is answered; a staged block is `dm/blocks/<container>/<sha256 of the blob's
//! name>/<sha256 of the block id>` until Put Block List assembles the blob from the ids it
//! lists (block ids are opaque strings: the Python SDK double-encodes them) and drops them.
//! Sizes and counts are bounded by [`super::DmLimits`].

use bytes::Bytes;

use super::{StorageError, StorageResult, hashed, is_container};
use crate::Engine;

/// What a blob call answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// The size in bytes.
    pub size: u64,
    /// When it was written.
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

impl BlobInfo {
    /// An ETag that changes with every write.
    pub fn etag(&self) -> String {
        format!(
            "\"0x{:X}\"",
            self.last_modified.timestamp_nanos_opt().unwrap_or_default()
        )
    }
}

pub(crate) fn blob_path(container: &str, name: &str) -> String {
    format!("dm/blobs/{container}/{}", hashed(name))
}

fn blocks_dir(container: &str, name: &str) -> String {
    format!("dm/blocks/{container}/{}", hashed(name))
}

fn block_path(container: &str, name: &str, id: &str) -> String {
    format!("{}/{}", blocks_dir(container, name), hashed(id))
}

fn no_container(container: &str) -> StorageError {
    StorageError::new(
        404,
        "ContainerNotFound",
        format!("The specified container '{container}' does not exist."),
    )
}

fn check_name(name: &str) -> StorageResult<()> {
    if name.is_empty() || name.len() > 1024 {
        return Err(StorageError::new(
            400,
            "InvalidResourceName",
            "A blob name must have 1 to 1,024 characters.",
        ));
    }
    Ok(())
}

impl Engine {
    fn blob_target(&self, container: &str, name: &str) -> StorageResult<()> {
        if !is_container(container) {
            return Err(no_container(container));
        }
        check_name(name)
    }

    async fn blob_exists(&self, container: &str, name: &str) -> StorageResult<bool> {
        Ok(self
            .storage
            .head_object(&blob_path(container, name))
            .await?
            .is_some())
    }

    /// Fails when the container holds as many blobs as it may (`ServerBusy`, 503: the SDKs
    /// retry).
    async fn room_for_a_blob(&self, container: &str) -> StorageResult<()> {
        let held = self
            .storage
            .list_objects(&format!("dm/blobs/{container}"))
            .await?
            .len();
        if held >= self.dm.limits.max_blobs {
            return Err(StorageError::new(
                503,
                "ServerBusy",
                format!("The container holds {held} blobs waiting for ingestion; try again later."),
            ));
        }
        Ok(())
    }

    fn too_large(&self, size: u64) -> StorageResult<()> {
        if size > self.dm.limits.max_blob_bytes {
            return Err(StorageError::new(
                413,
                "RequestBodyTooLarge",
                format!(
                    "The blob is {size} bytes, more than the {} this server takes.",
                    self.dm.limits.max_blob_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Put Blob: `body` becomes blob `name` of `container`, durably. With `if_none_match`
    /// (`If-None-Match: *`) an existing blob is an error (409 `BlobAlreadyExists`).
    pub async fn put_blob(
        &self,
        container: &str,
        name: &str,
        body: Bytes,
        if_none_match: bool,
    ) -> StorageResult<BlobInfo> {
        self.blob_target(container, name)?;
        self.too_large(body.len() as u64)?;
        if if_none_match && self.blob_exists(container, name).await? {
            return Err(already_exists());
        }
        self.room_for_a_blob(container).await?;
        let path = blob_path(container, name);
        self.storage.put_object(&path, body).await?;
        self.blob_properties(container, name).await
    }

    /// Put Block: stages block `id` of blob `name` (durably); Put Block List commits it.
    pub async fn put_block(
        &self,
        container: &str,
        name: &str,
        id: &str,
        body: Bytes,
    ) -> StorageResult<()> {
        self.blob_target(container, name)?;
        if id.is_empty() || id.len() > 1024 {
            return Err(StorageError::new(
                400,
                "InvalidQueryParameterValue",
                "The block id is empty or too long.",
            ));
        }
        self.too_large(body.len() as u64)?;
        let staged = self
            .storage
            .list_objects(&blocks_dir(container, name))
            .await?
            .len();
        if staged >= self.dm.limits.max_blocks {
            return Err(StorageError::new(
                409,
                "BlockCountExceedsLimit",
                format!("Blob '{name}' has {staged} uncommitted blocks."),
            ));
        }
        self.storage
            .put_object(&block_path(container, name, id), body)
            .await?;
        Ok(())
    }

    /// Put Block List: blob `name` becomes its staged blocks `ids`, in that order (an id
    /// may repeat); an id that was not staged is an error (400 `InvalidBlockList`) and the
    /// blob is left as it was. The staged blocks are dropped after the commit.
    pub async fn put_block_list(
        &self,
        container: &str,
        name: &str,
        ids: &[String],
        if_none_match: bool,
    ) -> StorageResult<BlobInfo> {
        self.blob_target(container, name)?;
        if if_none_match && self.blob_exists(container, name).await? {
            return Err(already_exists());
        }
        let mut parts = Vec::with_capacity(ids.len());
        let mut size = 0u64;
        for id in ids {
            let path = block_path(container, name, id);
            let Some(block) = self.storage.head_object(&path).await? else {
                return Err(StorageError::new(
                    400,
                    "InvalidBlockList",
                    format!("The block list names block '{id}', which was not uploaded."),
                ));
            };
            size += block.size;
            parts.push(path);
        }
        self.too_large(size)?;
        self.room_for_a_blob(container).await?;
        self.storage
            .concat_objects(&blob_path(container, name), &parts)
            .await?;
        self.drop_blocks(container, name).await?;
        self.blob_properties(container, name).await
    }

    /// Get Blob: the blob's bytes.
    pub async fn get_blob(&self, container: &str, name: &str) -> StorageResult<(BlobInfo, Bytes)> {
        let info = self.blob_properties(container, name).await?;
        let bytes = self
            .storage
            .get_object(&blob_path(container, name))
            .await?
            .ok_or_else(|| not_found(name))?;
        Ok((info, bytes))
    }

    /// Get Blob Properties.
    pub async fn blob_properties(&self, container: &str, name: &str) -> StorageResult<BlobInfo> {
        self.blob_target(container, name)?;
        let info = self
            .storage
            .head_object(&blob_path(container, name))
            .await?
            .ok_or_else(|| not_found(name))?;
        Ok(BlobInfo {
            size: info.size,
            last_modified: info.last_modified,
        })
    }

    /// Delete Blob (and its staged blocks).
    pub async fn delete_blob(&self, container: &str, name: &str) -> StorageResult<()> {
        self.blob_properties(container, name).await?;
        self.storage
            .delete_object(&blob_path(container, name))
            .await?;
        self.drop_blocks(container, name).await
    }

    /// Deletes the staged blocks of blob `name`.
    async fn drop_blocks(&self, container: &str, name: &str) -> StorageResult<()> {
        for block in self
            .storage
            .list_objects(&blocks_dir(container, name))
            .await?
        {
            self.storage.delete_object(&block.path).await?;
        }
        Ok(())
    }
}

fn already_exists() -> StorageError {
    StorageError::new(
        409,
        "BlobAlreadyExists",
        "The specified blob already exists.",
    )
}

fn not_found(name: &str) -> StorageError {
    StorageError::new(
        404,
        "BlobNotFound",
        format!("The specified blob '{name}' does not exist."),
    )
}
