//! The queue surface of queued ingestion: Put Message, Get Messages, Peek Messages, Delete
//! Message, with Azure Queue's semantics (a got message is invisible for its visibility
//! timeout and deleted with its pop receipt; messages expire after their time to live,
//! seven days by default).
//!
//! A message is the object `dm/queues/<queue>/<insertion nanos>-<id>.json` (its id, text,
//! insertion, expiry and first visibility), written durably before Put Message is
//! answered; a queue's messages are read from the store the first time the queue is used
//! after a start. Pop receipts and dequeue counts live in memory: after a restart every
//! message not deleted is visible again (at least once, as in Azure).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{StorageError, StorageResult, is_queue};
use crate::Engine;

/// The messages of the ingestion queue, for merges (`ExtentMeta::sources`): an id whose
/// message file is gone cannot come back and need not be kept.
pub(crate) const LIVE_SOURCES: calypso_storage::LiveSources = calypso_storage::LiveSources {
    prefix: "dm/queues/readyforaggregation-secured",
    id_of: message_id_of,
};

/// The message id of a message file name, `<20-digit nanos>-<id>.json`.
pub(crate) fn message_id_of(file: &str) -> Option<String> {
    let stem = file.strip_suffix(".json")?;
    let (nanos, id) = stem.split_once('-')?;
    (nanos.len() == 20 && nanos.bytes().all(|b| b.is_ascii_digit()) && !id.is_empty())
        .then(|| id.to_string())
}

/// Azure Queue's default time to live.
const DEFAULT_TTL: chrono::Duration = chrono::Duration::days(7);
/// Azure Queue's default visibility timeout of Get Messages.
const DEFAULT_VISIBILITY: chrono::Duration = chrono::Duration::seconds(30);
/// The most messages one Get or Peek returns (Azure Queue: 32).
pub const MAX_MESSAGES_PER_GET: usize = 32;

/// A message as a call answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The message id (a GUID).
    pub id: String,
    /// The text (for the SDKs: base64 of JSON).
    pub text: String,
    /// When it was put.
    pub inserted: chrono::DateTime<chrono::Utc>,
    /// When it expires.
    pub expires: chrono::DateTime<chrono::Utc>,
    /// The pop receipt (Put Message and Get Messages; not Peek).
    pub pop_receipt: Option<String>,
    /// When it is visible next.
    pub next_visible: chrono::DateTime<chrono::Utc>,
    /// How many times it was got.
    pub dequeue_count: u32,
}

/// What a message's object holds (times in nanoseconds since the epoch).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    id: String,
    text: String,
    inserted: i64,
    expires: i64,
    visible: i64,
}

/// A message's fields.
#[derive(Debug, Clone)]
struct Stored {
    id: String,
    text: String,
    inserted: chrono::DateTime<chrono::Utc>,
    expires: chrono::DateTime<chrono::Utc>,
    visible: chrono::DateTime<chrono::Utc>,
}

impl Stored {
    fn record(&self) -> Record {
        let ns = |t: chrono::DateTime<chrono::Utc>| t.timestamp_nanos_opt().unwrap_or(i64::MAX);
        Record {
            id: self.id.clone(),
            text: self.text.clone(),
            inserted: ns(self.inserted),
            expires: ns(self.expires),
            visible: ns(self.visible),
        }
    }

    fn of(r: Record) -> Stored {
        let t = chrono::DateTime::from_timestamp_nanos;
        Stored {
            id: r.id,
            text: r.text,
            inserted: t(r.inserted),
            expires: t(r.expires),
            visible: t(r.visible),
        }
    }
}

/// A message in memory.
#[derive(Debug, Clone)]
struct Entry {
    stored: Stored,
    path: String,
    pop_receipt: Option<String>,
    next_visible: chrono::DateTime<chrono::Utc>,
    dequeue_count: u32,
}

impl Entry {
    fn answer(&self, with_receipt: bool) -> QueueMessage {
        QueueMessage {
            id: self.stored.id.clone(),
            text: self.stored.text.clone(),
            inserted: self.stored.inserted,
            expires: self.stored.expires,
            pop_receipt: if with_receipt {
                self.pop_receipt.clone()
            } else {
                None
            },
            next_visible: self.next_visible,
            dequeue_count: self.dequeue_count,
        }
    }
}

/// A queue's messages, oldest first; `None` until read from the store.
#[derive(Debug, Default)]
pub(crate) struct QueueState {
    messages: Option<Vec<Entry>>,
}

fn no_queue(queue: &str) -> StorageError {
    StorageError::new(
        404,
        "QueueNotFound",
        format!("The specified queue '{queue}' does not exist."),
    )
}

fn seconds(what: &str, s: Option<i64>, max: i64) -> StorageResult<Option<chrono::Duration>> {
    match s {
        None => Ok(None),
        Some(v) if (0..=max).contains(&v) || (what == "messagettl" && v == -1) => {
            Ok(Some(if v == -1 {
                chrono::Duration::days(365 * 100)
            } else {
                chrono::Duration::seconds(v)
            }))
        }
        Some(v) => Err(StorageError::new(
            400,
            "OutOfRangeQueryParameterValue",
            format!("The value {v} of '{what}' is out of range."),
        )),
    }
}

impl Engine {
    /// The messages of `queue`, read from the store on first use.
    async fn messages<'a>(
        &self,
        queues: &'a mut std::collections::HashMap<String, QueueState>,
        queue: &str,
    ) -> StorageResult<&'a mut Vec<Entry>> {
        if !is_queue(queue) {
            return Err(no_queue(queue));
        }
        let state = queues.entry(queue.to_string()).or_default();
        if state.messages.is_none() {
            let mut loaded = Vec::new();
            for object in self
                .storage
                .list_objects(&format!("dm/queues/{queue}"))
                .await?
            {
                let Some(bytes) = self.storage.get_object(&object.path).await? else {
                    continue;
                };
                // A message object that does not parse was never answered with 201: the
                // put that wrote it failed (it is durable only once whole).
                let Ok(record) = serde_json::from_slice::<Record>(&bytes) else {
                    continue;
                };
                let stored = Stored::of(record);
                loaded.push(Entry {
                    next_visible: stored.visible,
                    stored,
                    path: object.path,
                    pop_receipt: None,
                    dequeue_count: 0,
                });
            }
            loaded.sort_by(|a, b| a.path.cmp(&b.path));
            state.messages = Some(loaded);
        }
        Ok(state.messages.get_or_insert_with(Vec::new))
    }

    /// Put Message: `text` at the end of `queue`, durably; visible after
    /// `visibility_timeout` seconds (default 0), expiring after `ttl` seconds (default
    /// seven days, -1: never).
    pub async fn put_message(
        &self,
        queue: &str,
        text: String,
        visibility_timeout: Option<i64>,
        ttl: Option<i64>,
    ) -> StorageResult<QueueMessage> {
        if text.len() > self.dm.limits.max_message_bytes {
            return Err(StorageError::new(
                400,
                "MessageTooLarge",
                format!(
                    "The message is {} bytes, more than {}.",
                    text.len(),
                    self.dm.limits.max_message_bytes
                ),
            ));
        }
        let ttl = seconds("messagettl", ttl, i64::from(i32::MAX))?.unwrap_or(DEFAULT_TTL);
        let delay =
            seconds("visibilitytimeout", visibility_timeout, 7 * 24 * 3600)?.unwrap_or_default();
        let now = chrono::Utc::now();
        let stored = Stored {
            id: uuid::Uuid::new_v4().to_string(),
            text,
            inserted: now,
            expires: now + ttl,
            visible: now + delay,
        };
        let mut queues = self.dm.queues.lock().await;
        let messages = self.messages(&mut queues, queue).await?;
        messages.retain(|m| m.stored.expires > now);
        if messages.len() >= self.dm.limits.max_messages {
            return Err(StorageError::new(
                503,
                "ServerBusy",
                format!(
                    "Queue '{queue}' holds {} messages; try again later.",
                    messages.len()
                ),
            ));
        }
        let nanos = now.timestamp_nanos_opt().unwrap_or_default();
        let path = format!("dm/queues/{queue}/{nanos:020}-{}.json", stored.id);
        debug_assert_eq!(
            message_id_of(path.rsplit('/').next().unwrap_or_default()).as_deref(),
            Some(stored.id.as_str())
        );
        let json = serde_json::to_vec(&stored.record())
            .map_err(|e| StorageError::new(500, "InternalError", e.to_string()))?;
        self.storage.put_object(&path, Bytes::from(json)).await?;
        let entry = Entry {
            next_visible: stored.visible,
            stored,
            path,
            pop_receipt: Some(uuid::Uuid::new_v4().simple().to_string()),
            dequeue_count: 0,
        };
        let answer = entry.answer(true);
        messages.push(entry);
        drop(queues);
        if queue == super::INGESTION_QUEUE {
            self.dm.arrived.notify_one();
        }
        Ok(answer)
    }

    /// Get Messages: up to `n` visible messages (1..=32), each invisible for
    /// `visibility_timeout` seconds (default 30) and given a new pop receipt.
    pub async fn get_messages(
        &self,
        queue: &str,
        n: usize,
        visibility_timeout: Option<i64>,
    ) -> StorageResult<Vec<QueueMessage>> {
        let n = count(n)?;
        let hidden = seconds("visibilitytimeout", visibility_timeout, 7 * 24 * 3600)?
            .unwrap_or(DEFAULT_VISIBILITY);
        let now = chrono::Utc::now();
        let mut queues = self.dm.queues.lock().await;
        let messages = self.messages(&mut queues, queue).await?;
        let mut out = Vec::new();
        for m in messages.iter_mut() {
            if out.len() == n {
                break;
            }
            if m.stored.expires <= now || m.next_visible > now {
                continue;
            }
            m.pop_receipt = Some(uuid::Uuid::new_v4().simple().to_string());
            m.next_visible = now + hidden;
            m.dequeue_count += 1;
            out.push(m.answer(true));
        }
        Ok(out)
    }

    /// Peek Messages: up to `n` visible messages (1..=32), left as they are.
    pub async fn peek_messages(&self, queue: &str, n: usize) -> StorageResult<Vec<QueueMessage>> {
        let n = count(n)?;
        let now = chrono::Utc::now();
        let mut queues = self.dm.queues.lock().await;
        let messages = self.messages(&mut queues, queue).await?;
        Ok(messages
            .iter()
            .filter(|m| m.stored.expires > now && m.next_visible <= now)
            .take(n)
            .map(|m| m.answer(false))
            .collect())
    }

    /// Delete Message: message `id`, if `pop_receipt` is its current one (404
    /// `MessageNotFound` otherwise, as Azure answers).
    pub async fn delete_message(
        &self,
        queue: &str,
        id: &str,
        pop_receipt: &str,
    ) -> StorageResult<()> {
        let mut queues = self.dm.queues.lock().await;
        let messages = self.messages(&mut queues, queue).await?;
        let Some(i) = messages
            .iter()
            .position(|m| m.stored.id == id && m.pop_receipt.as_deref() == Some(pop_receipt))
        else {
            return Err(StorageError::new(
                404,
                "MessageNotFound",
                "The specified message does not exist.",
            ));
        };
        self.storage.delete_object(&messages[i].path).await?;
        messages.remove(i);
        Ok(())
    }

    /// The worker's view: every message of `queue` that has not expired, oldest first,
    /// with its text (visibility does not apply: the worker is the queue's only consumer).
    pub(crate) async fn pending_messages(
        &self,
        queue: &str,
    ) -> StorageResult<Vec<(String, String, chrono::DateTime<chrono::Utc>)>> {
        let now = chrono::Utc::now();
        let mut queues = self.dm.queues.lock().await;
        let messages = self.messages(&mut queues, queue).await?;
        Ok(messages
            .iter()
            .filter(|m| m.stored.expires > now && m.stored.visible <= now)
            .map(|m| {
                (
                    m.stored.id.clone(),
                    m.stored.text.clone(),
                    m.stored.inserted,
                )
            })
            .collect())
    }

    /// Removes message `id` of `queue` (the worker is done with it).
    pub(crate) async fn remove_message(&self, queue: &str, id: &str) -> StorageResult<()> {
        let mut queues = self.dm.queues.lock().await;
        let messages = self.messages(&mut queues, queue).await?;
        if let Some(i) = messages.iter().position(|m| m.stored.id == id) {
            self.storage.delete_object(&messages[i].path).await?;
            messages.remove(i);
        }
        Ok(())
    }
}

fn count(n: usize) -> StorageResult<usize> {
    if (1..=MAX_MESSAGES_PER_GET).contains(&n) {
        Ok(n)
    } else {
        Err(StorageError::new(
            400,
            "OutOfRangeQueryParameterValue",
            format!("numofmessages must be 1 to {MAX_MESSAGES_PER_GET}, not {n}."),
        ))
    }
}
