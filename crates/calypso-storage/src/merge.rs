//! Extent merge: many small extents of a table become fewer large ones, in the background,
//! as ADX's merge policy says.
//!
//! The policy (`.alter table T policy merge`, else the database's, else ADX's defaults):
//! `RowCountUpperBoundForMerge` (16,000,000), `OriginalSizeMBUpperBoundForMerge` (30,000),
//! `MaxExtentsToMerge` (100), `MaxRangeInHours` (24: the creation times of the extents
//! merged together lie at most that far apart), `AllowMerge` (true). Extents with different
//! `drop-by:` tags are never merged together (dropping by tag must stay possible); the
//! merged extent keeps the union of its sources' tags and the latest creation time, and
//! the queued-message ids of its sources whose messages still wait ([`LiveSources`]).
//!
//! A merge reads its sources, writes one extent, then commits: the sources go and the new
//! extent comes in one catalog version, so a query sees each row exactly once whichever
//! version it reads. If a source changed or went in the meantime, the merge is abandoned
//! (and its file deleted). The sources' files are deleted after a grace period, so that
//! queries still reading an older version can finish.

use std::collections::BTreeSet;
use std::sync::{Arc, Weak};

use arrow::array::{ArrayRef, TimestampNanosecondArray, new_null_array};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use kql_types::types::hidden::INGESTION_TIME;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::ChunkReader;
use serde_json::Value;

use crate::catalog::{ExtentMeta, Table};
use crate::error::Result;
use crate::store::{Inner, Storage, blocking};

/// The most file bytes one merge reads (it holds them in memory), whatever the policy.
const MERGE_BYTES_LIMIT: u64 = 512 << 20;

/// The fields of ADX's merge policy that Calypso follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergePolicy {
    /// `RowCountUpperBoundForMerge`.
    pub row_count_upper_bound: u64,
    /// `OriginalSizeMBUpperBoundForMerge` (Calypso compares the files' sizes).
    pub size_mb_upper_bound: u64,
    /// `MaxExtentsToMerge`.
    pub max_extents: usize,
    /// `MaxRangeInHours`.
    pub max_range_hours: u64,
    /// `AllowMerge`.
    pub allow_merge: bool,
}

impl Default for MergePolicy {
    fn default() -> MergePolicy {
        MergePolicy {
            row_count_upper_bound: 16_000_000,
            size_mb_upper_bound: 30_000,
            max_extents: 100,
            max_range_hours: 24,
            allow_merge: true,
        }
    }
}

impl MergePolicy {
    /// The policy in force for a table: its own fields, else its database's, else the
    /// defaults (field by field).
    pub fn of(table: Option<&Value>, database: Option<&Value>) -> MergePolicy {
        let d = MergePolicy::default();
        let field = |name: &str| {
            table
                .and_then(|v| v.get(name))
                .filter(|v| !v.is_null())
                .or_else(|| database.and_then(|v| v.get(name)).filter(|v| !v.is_null()))
        };
        let number =
            |name: &str, default: u64| field(name).and_then(Value::as_u64).unwrap_or(default);
        MergePolicy {
            row_count_upper_bound: number("RowCountUpperBoundForMerge", d.row_count_upper_bound),
            size_mb_upper_bound: number("OriginalSizeMBUpperBoundForMerge", d.size_mb_upper_bound),
            max_extents: usize::try_from(number("MaxExtentsToMerge", d.max_extents as u64))
                .unwrap_or(d.max_extents)
                .max(2),
            max_range_hours: number("MaxRangeInHours", d.max_range_hours).max(1),
            allow_merge: field("AllowMerge")
                .and_then(Value::as_bool)
                .unwrap_or(d.allow_merge),
        }
    }
}

/// The `drop-by:` tags of an extent: extents are merged only with those of the same set.
fn drop_by_tags(e: &ExtentMeta) -> BTreeSet<&str> {
    e.tags
        .iter()
        .filter(|t| t.starts_with("drop-by:"))
        .map(String::as_str)
        .collect()
}

/// Seconds since the epoch of an RFC 3339 time (0 when it does not parse).
fn seconds(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text).map_or(0, |t| t.timestamp())
}

/// The groups of extents of `t` to merge (positions in `t.extents`, each group at least
/// two), by the policy: same `drop-by:` tags, oldest first, each group within the row,
/// size, count and time-range bounds. Extents that are large enough already stay alone.
pub(crate) fn plan(t: &Table, policy: &MergePolicy) -> Vec<Vec<usize>> {
    if !policy.allow_merge {
        return Vec::new();
    }
    let size_bound = (policy.size_mb_upper_bound << 20).min(MERGE_BYTES_LIMIT);
    let range = i64::try_from(policy.max_range_hours.saturating_mul(3600)).unwrap_or(i64::MAX);
    let mut by_tags: Vec<(BTreeSet<&str>, Vec<usize>)> = Vec::new();
    for (i, e) in t.extents.iter().enumerate() {
        if e.rows >= policy.row_count_upper_bound || e.size_bytes >= size_bound {
            continue;
        }
        let tags = drop_by_tags(e);
        match by_tags.iter_mut().find(|(k, _)| *k == tags) {
            Some((_, list)) => list.push(i),
            None => by_tags.push((tags, vec![i])),
        }
    }
    let mut groups = Vec::new();
    for (_, mut list) in by_tags {
        list.sort_by_key(|i| seconds(&t.extents[*i].created_on));
        let mut group: Vec<usize> = Vec::new();
        let (mut rows, mut bytes, mut first) = (0u64, 0u64, 0i64);
        for i in list {
            let e = &t.extents[i];
            let at = seconds(&e.created_on);
            let fits = !group.is_empty()
                && group.len() < policy.max_extents
                && rows + e.rows <= policy.row_count_upper_bound
                && bytes + e.size_bytes <= size_bound
                && at - first <= range;
            if !fits {
                if group.len() >= 2 {
                    groups.push(std::mem::take(&mut group));
                }
                group.clear();
                rows = 0;
                bytes = 0;
                first = at;
            }
            group.push(i);
            rows += e.rows;
            bytes += e.size_bytes;
        }
        if group.len() >= 2 {
            groups.push(group);
        }
    }
    groups
}

/// The rows of one extent file as batches of `t`'s columns and `$IngestionTime` (by the
/// names the file stores them under; columns it lacks are null, an ingestion time it
/// lacks is the extent's creation time).
pub(crate) fn read_extent<R: ChunkReader + 'static>(
    t: &Table,
    e: &ExtentMeta,
    bytes: R,
) -> Result<Vec<RecordBatch>> {
    let schema = t.stored_schema();
    // Rows of files written before ingestion times were kept: the extent's creation time.
    let created = chrono::DateTime::parse_from_rfc3339(&e.created_on)
        .ok()
        .and_then(|d| d.timestamp_nanos_opt());
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch?;
        let rows = batch.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let stored = e
                .file_column(field.name())
                .and_then(|name| batch.schema().index_of(name).ok())
                .map(|i| Arc::clone(batch.column(i)));
            columns.push(match stored {
                Some(a) if a.data_type() == field.data_type() => a,
                Some(a) => arrow::compute::cast(&a, field.data_type())?,
                None if field.name() == INGESTION_TIME => {
                    Arc::new(TimestampNanosecondArray::from(vec![created; rows]))
                }
                None => new_null_array(field.data_type(), rows),
            });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        out.push(RecordBatch::try_new_with_options(
            Arc::clone(&schema),
            columns,
            &options,
        )?);
    }
    Ok(out)
}

/// Where the queued-ingestion messages whose ids `ExtentMeta::sources` keep are waiting:
/// the objects below `prefix`, each naming its message id (`id_of` of the object's file
/// name, `None` for an object that is no message).
#[derive(Clone, Copy, Debug)]
pub struct LiveSources {
    /// The directory of the waiting messages (`dm/queues/<queue>`).
    pub prefix: &'static str,
    /// The message id of a file name of that directory.
    pub id_of: fn(&str) -> Option<String>,
}

impl Storage {
    /// Lets merges drop the message ids (`ExtentMeta::sources`) whose messages are gone:
    /// an id only guards against a message that comes back after a crash between its
    /// commit and its deletion, and a deleted message cannot come back. Without this, a
    /// merged extent keeps every id of its sources, and the catalog grows with the number
    /// of messages ever ingested.
    pub fn keep_sources_while(&self, live: LiveSources) {
        *self
            .inner
            .live_sources
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(live);
    }

    /// The message ids that may still come back (their messages wait); `None`: unknown
    /// (nothing configured, or the listing failed), keep every id.
    async fn live_source_ids(&self) -> Option<BTreeSet<String>> {
        let live = (*self
            .inner
            .live_sources
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner))?;
        let objects = self.list_objects(live.prefix).await.ok()?;
        Some(
            objects
                .iter()
                .filter_map(|o| o.path.rsplit('/').next().and_then(live.id_of))
                .collect(),
        )
    }

    /// Merges the extents of every table as their merge policies allow. Returns the
    /// number of merges committed.
    pub async fn merge_all(&self) -> Result<usize> {
        let catalog = self.catalog();
        let mut merged = 0;
        for d in catalog.databases.values() {
            for t in d.tables.values() {
                merged += self.merge_table(&d.name, &t.name).await?;
            }
        }
        Ok(merged)
    }

    /// Merges the extents of one table as its merge policy allows; returns the number of
    /// merges committed.
    pub async fn merge_table(&self, database: &str, table: &str) -> Result<usize> {
        let catalog = self.catalog();
        let db = catalog.require_database(database)?;
        let t = db.require_table(table)?;
        let policy = MergePolicy::of(t.policies.get("merge"), db.policies.get("merge"));
        let mut merged = 0;
        for group in plan(t, &policy) {
            let sources: Vec<Arc<ExtentMeta>> =
                group.iter().map(|i| Arc::clone(&t.extents[*i])).collect();
            if self.merge_group(&db.id, t, sources).await? {
                merged += 1;
            }
        }
        Ok(merged)
    }

    /// Merges `sources` (extents of `t`) into one extent. False when a commit in between
    /// changed or removed one of them.
    async fn merge_group(
        &self,
        database_id: &str,
        t: &Table,
        sources: Vec<Arc<ExtentMeta>>,
    ) -> Result<bool> {
        let mut batches = Vec::new();
        for e in &sources {
            let location = ObjectPath::from(e.path.as_str());
            let bytes = self.store_of(&e.path).get(&location).await?.bytes().await?;
            let (table, extent) = (t.clone(), Arc::clone(e));
            batches.extend(blocking(move || read_extent(&table, &extent, bytes)).await?);
        }
        let mut extent = self.write_extent_of(database_id, t, &batches).await?;
        drop(batches);
        let mut tags: Vec<String> = sources
            .iter()
            .flat_map(|e| e.tags.iter().cloned())
            .collect();
        tags.sort();
        tags.dedup();
        extent.tags = tags;
        // The ids were committed before the catalog the merge planned from, so their
        // messages had been put before this listing: one not listed was deleted for good.
        let live = if sources.iter().any(|e| !e.sources.is_empty()) {
            self.live_source_ids().await
        } else {
            None
        };
        extent.sources = sources
            .iter()
            .flat_map(|e| e.sources.iter().cloned())
            .filter(|id| live.as_ref().is_none_or(|l| l.contains(id)))
            .collect();
        extent.created_on = sources
            .iter()
            .map(|e| e.created_on.clone())
            .max()
            .unwrap_or_else(|| extent.created_on.clone());
        extent.min_created_on = sources
            .iter()
            .map(|e| {
                if e.min_created_on.is_empty() {
                    e.created_on.clone()
                } else {
                    e.min_created_on.clone()
                }
            })
            .min()
            .unwrap_or_default();
        let location = ObjectPath::from(extent.path.as_str());
        let id = t.id.clone();
        let gone: Vec<Arc<ExtentMeta>> = sources.clone();
        let committed = self
            .commit(move |c| {
                let Some(t) = c.table_by_id_mut(&id) else {
                    return Ok(false);
                };
                let all_there = sources.iter().all(|s| t.extents.iter().any(|e| e == s));
                if !all_there {
                    return Ok(false);
                }
                let ids: BTreeSet<&str> = sources.iter().map(|s| s.id.as_str()).collect();
                t.extents.retain(|e| !ids.contains(e.id.as_str()));
                t.extents.push(Arc::new(extent));
                Ok(true)
            })
            .await;
        if !matches!(committed, Ok(true)) {
            let _ = self.store_of(location.as_ref()).delete(&location).await;
        }
        if committed.as_ref().is_ok_and(|c| *c) {
            self.delete_later(gone.iter().map(|e| e.path.clone()).collect());
        }
        committed
    }

    /// Deletes extent files after the grace period, if the catalog then no longer
    /// references them (queries on older versions may read them until then).
    pub(crate) fn delete_later(&self, paths: Vec<String>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let grace = self.inner.options.gc_grace;
        runtime.spawn(async move {
            tokio::time::sleep(grace).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let storage = Storage { inner };
            let catalog = storage.catalog();
            let referenced: BTreeSet<&str> = catalog.extent_paths().collect();
            for path in &paths {
                if !referenced.contains(path.as_str()) {
                    let _ = storage
                        .store_of(path)
                        .delete(&ObjectPath::from(path.as_str()))
                        .await;
                }
            }
        });
    }
}

/// The maintenance task: every `merge_every`, removes what the retention policies expire,
/// merges what the merge policies allow, and collects unreferenced files.
pub(crate) async fn merger(weak: Weak<Inner>) {
    let every = match weak.upgrade() {
        Some(inner) => inner.options.merge_every,
        None => return,
    };
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = weak.upgrade() else {
            return;
        };
        // What fails is tried again next time.
        let storage = Storage { inner };
        let _ = storage.apply_retention(chrono::Utc::now()).await;
        let _ = storage.merge_all().await;
        let _ = storage.collect_garbage(chrono::Utc::now()).await;
    }
}
