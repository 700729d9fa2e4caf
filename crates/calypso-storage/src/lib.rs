//! Calypso's storage layer: a durable, versioned catalog and immutable Parquet extents.
//!
//! * [`Catalog`] — databases, tables (columns + extents), stored functions; committed
//!   with [`Storage::commit`] as one small checksummed log record of what changed
//!   (`catalog/log/`), with periodic checkpoints of the whole catalog
//!   (`catalog/checkpoint/`).
//! * Extents — immutable zstd Parquet files (`data/<db id>/<table id>/<id>.parquet`)
//!   written by [`Storage::write_extent`] and made visible by a commit that adds their
//!   [`ExtentMeta`] to a table.
//! * The row store — small streaming ingests ([`Storage::append_rows`]) go to a
//!   write-ahead log with group commit (`wal/`) and are read from memory until a
//!   background task seals them into an extent (see `rowstore.rs`).
//! * Merge — [`Storage::merge_all`] (and a background task every hour) merges small
//!   extents as the tables' merge policies allow (`merge.rs`).
//! * Retention — [`Storage::apply_retention`] (in the same background task) removes the
//!   extents older than their retention policy's `SoftDeletePeriod` (`retention.rs`).
//! * Extent commands — [`Storage::drop_extents`], [`Storage::retag_extents`],
//!   [`Storage::move_extents`]: one commit each (`extent_ops.rs`).
//! * [`ExtentTable`] — a DataFusion `TableProvider` over a table's extents (skipping
//!   extents with their catalog statistics) and its hot rows, in one [`Snapshot`].

pub mod catalog;
mod commit;
mod counting;
pub mod error;
mod extent;
mod extent_ops;
mod gc;
mod hot;
mod log;
mod manifest;
mod merge;
mod objects;
pub mod provider;
mod rebase;
mod retention;
mod rowstore;
mod stats;
mod store;
mod volatile;
mod wal;

pub use catalog::{
    Catalog, Column, ColumnStats, DEFAULT_DATABASE, Database, ExtentMeta, FORMAT_VERSION, Function,
    IngestionMapping, JOURNAL_LIMIT, JournalEntry, RoleAssignment, Table,
};
pub use error::{EntityKind, Error, Result};
pub use extent::{KQL_SCHEMA_KEY, ROW_GROUP_ROWS, ZSTD_LEVEL};
pub use extent_ops::{ExtentRef, Replaced, is_sealed};
pub use hot::{Hot, HotTable};
pub use merge::{LiveSources, MergePolicy};
pub use objects::{OBJECTS_DIR, ObjectInfo};
pub use provider::{ExtentTable, ScanCounters};
pub use rowstore::RowsAppended;
pub use stats::MAX_STRING_STAT_BYTES;
pub use store::{CATALOG_DIR, DATA_DIR, Snapshot, Storage, StorageOptions};
