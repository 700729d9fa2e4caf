//! Queued ingestion: the data-management service the ingest SDKs talk to.
//!
//! `.get ingestion resources` hands out one container (`tempstorage`) and three queues
//! (`readyforaggregation-secured`, `successfulingestions`, `failedingestions`), path-style
//! URLs under the account [`ACCOUNT`] with SAS tokens signed by the server's secret
//! ([`sas`]). The server crate serves the Azure Blob and Queue calls the SDKs make on them
//! and hands each to the methods here: blobs ([`blobs`]) and queue messages ([`queues`])
//! are objects of the storage under `dm/`, written durably before the call is answered. The
//! worker ([`worker`]) ingests each message of the ingestion queue from its blob with the
//! message's properties, on behalf of the caller named by its authorization context, posts
//! the status the message asks for, and deletes the message and the blob.
//!
//! Reference: `shared/reference/queued-ingestion.md` (what the SDKs send, measured).

mod batching;
pub mod blobs;
pub(crate) mod failures;
pub mod queues;
pub mod sas;
mod worker;

use std::collections::HashMap;

use bytes::Bytes;
use calypso_storage::Storage;

use crate::{EngineError, Result};
pub use blobs::BlobInfo;
pub use queues::QueueMessage;
pub use sas::{Permission, Sas};
pub(crate) use worker::percent_decode;

/// The storage account segment of every URL handed out (path-style, as Azurite).
pub const ACCOUNT: &str = "calypso";
/// The container blobs are uploaded to.
pub const TEMP_CONTAINER: &str = "tempstorage";
/// The container `.show export containers` hands out.
pub const EXPORT_CONTAINER: &str = "exportcontainer";
/// The queue of ingestion requests.
pub const INGESTION_QUEUE: &str = "readyforaggregation-secured";
/// The queue of success reports.
pub const SUCCESS_QUEUE: &str = "successfulingestions";
/// The queue of failure reports.
pub const FAILURE_QUEUE: &str = "failedingestions";
/// The status table (required by the SDKs' validity check; not served).
pub const STATUS_TABLE: &str = "ingestionsstatus";

/// How long handed-out SAS tokens and authorization contexts stay good.
pub(crate) const TOKEN_LIFETIME: chrono::Duration = chrono::Duration::hours(12);

/// The containers of the blob surface.
pub fn is_container(name: &str) -> bool {
    matches!(name, TEMP_CONTAINER | EXPORT_CONTAINER)
}

/// The queues of the queue surface.
pub fn is_queue(name: &str) -> bool {
    matches!(name, INGESTION_QUEUE | SUCCESS_QUEUE | FAILURE_QUEUE)
}

/// The limits of the data-management surface.
#[derive(Debug, Clone)]
pub struct DmLimits {
    /// The largest blob (committed or assembled from blocks).
    pub max_blob_bytes: u64,
    /// The most blobs a container holds at once.
    pub max_blobs: usize,
    /// The most blocks staged for one blob.
    pub max_blocks: usize,
    /// The largest message text (Azure Queue: 64 KiB).
    pub max_message_bytes: usize,
    /// The most messages a queue holds at once.
    pub max_messages: usize,
}

impl Default for DmLimits {
    fn default() -> DmLimits {
        DmLimits {
            max_blob_bytes: 4 << 30,
            max_blobs: 10_000,
            max_blocks: 50_000,
            max_message_bytes: 64 << 10,
            max_messages: 100_000,
        }
    }
}

/// The data-management service's state: the signing secret, the queues' messages in
/// memory (their durable copies are objects), and the worker's lock.
#[derive(Debug)]
pub(crate) struct Dm {
    signer: tokio::sync::OnceCell<sas::Signer>,
    pub(crate) limits: DmLimits,
    queues: tokio::sync::Mutex<HashMap<String, queues::QueueState>>,
    /// One worker pass at a time.
    pub(crate) worker: tokio::sync::Mutex<()>,
    /// Raised by every ingestion message put: the server's worker loop waits on it.
    pub(crate) arrived: tokio::sync::Notify,
    /// The directories `.ingest into` may read local files below (none by default).
    pub(crate) ingest_dirs: std::sync::RwLock<Vec<std::path::PathBuf>>,
    /// Whether `externaldata` may read http(s) URLs (off by default).
    pub(crate) external_http: std::sync::atomic::AtomicBool,
}

impl Dm {
    pub(crate) fn new() -> Dm {
        Dm {
            signer: tokio::sync::OnceCell::new(),
            limits: DmLimits::default(),
            queues: tokio::sync::Mutex::new(HashMap::new()),
            worker: tokio::sync::Mutex::new(()),
            arrived: tokio::sync::Notify::new(),
            ingest_dirs: std::sync::RwLock::new(Vec::new()),
            external_http: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The signer, its secret read from (or first written to) `dm/secret`, so that tokens
    /// stay good across restarts.
    pub(crate) async fn signer(&self, storage: &Storage) -> Result<&sas::Signer> {
        self.signer
            .get_or_try_init(|| async {
                const PATH: &str = "dm/secret";
                let fresh: [u8; 32] = rand::random();
                storage
                    .put_object_if_new(PATH, Bytes::copy_from_slice(&fresh))
                    .await?;
                let secret = storage.get_object(PATH).await?.ok_or_else(|| {
                    EngineError::Execution("the data-management secret is missing".into())
                })?;
                Ok::<_, EngineError>(sas::Signer::new(secret.to_vec()))
            })
            .await
    }
}

/// A storage-surface error: the HTTP status, Azure's error code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError {
    /// The HTTP status.
    pub status: u16,
    /// Azure's code (`BlobNotFound`, `InvalidBlockList`, ...), sent as `x-ms-error-code`.
    pub code: &'static str,
    /// What went wrong.
    pub message: String,
}

impl StorageError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> StorageError {
        StorageError {
            status,
            code,
            message: message.into(),
        }
    }
}

/// The outcome of a storage-surface call.
pub type StorageResult<T> = std::result::Result<T, StorageError>;

impl From<EngineError> for StorageError {
    fn from(e: EngineError) -> StorageError {
        match e {
            EngineError::Forbidden(m) => StorageError::new(403, "AuthenticationFailed", m),
            EngineError::BadRequest(m) => StorageError::new(400, "InvalidInput", m),
            other => StorageError::new(500, "InternalError", other.to_string()),
        }
    }
}

impl From<calypso_storage::Error> for StorageError {
    fn from(e: calypso_storage::Error) -> StorageError {
        StorageError::new(500, "InternalError", e.to_string())
    }
}

/// The hex SHA-256 of `text`: the file name of a blob or block (names may be long and hold
/// any character).
pub(crate) fn hashed(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a storage request acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// A container of the blob surface.
    Container(&'a str),
    /// A queue of the queue surface.
    Queue(&'a str),
}

impl crate::Engine {
    /// Whether a storage request whose query string is `query` may do `need` on `resource`:
    /// its SAS must be one `.get ingestion resources` handed out for that container or
    /// queue, not expired, permitting `need` (403 otherwise). An unknown container or queue
    /// is a 404.
    pub async fn authorize_storage(
        &self,
        resource: Resource<'_>,
        query: &str,
        need: Permission,
    ) -> StorageResult<()> {
        let signed = match resource {
            Resource::Container(c) if is_container(c) => format!("container/{c}"),
            Resource::Queue(q) if is_queue(q) => format!("queue/{q}"),
            Resource::Container(c) => {
                return Err(StorageError::new(
                    404,
                    "ContainerNotFound",
                    format!("The specified container '{c}' does not exist."),
                ));
            }
            Resource::Queue(q) => {
                return Err(StorageError::new(
                    404,
                    "QueueNotFound",
                    format!("The specified queue '{q}' does not exist."),
                ));
            }
        };
        let signer = self.dm.signer(&self.storage).await?;
        signer
            .check(&signed, &Sas::from_query(query), need, chrono::Utc::now())
            .map_err(|e| {
                let code = if e.to_string().contains("permission") {
                    "AuthorizationPermissionMismatch"
                } else {
                    "AuthenticationFailed"
                };
                StorageError::new(403, code, e.to_string())
            })
    }
}
