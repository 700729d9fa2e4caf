//! Calypso's storage layer: a durable, versioned catalog and immutable Parquet extents.
//!
//! * [`Catalog`] — databases, tables (columns + extents), stored functions; committed
//!   with [`Storage::commit`] as one small checksummed log record of what changed
//!   (`catalog/log/`), with periodic checkpoints of the whole catalog
//!   (`catalog/checkpoint/`).
//! * Extents — immutable zstd Parquet files (`data/<db id>/<table id>/<id>.parquet`)
//!   written by [`Storage::write_extent`] and made visible by a commit that adds their
//!   [`ExtentMeta`] to a table.
//! * [`ExtentTable`] — a DataFusion `TableProvider` over a table's extents that skips
//!   extents with their catalog statistics.

pub mod catalog;
pub mod error;
mod extent;
mod log;
mod manifest;
pub mod provider;
mod stats;
mod store;

pub use catalog::{
    Catalog, Column, ColumnStats, DEFAULT_DATABASE, Database, ExtentMeta, FORMAT_VERSION, Function,
    IngestionMapping, JOURNAL_LIMIT, JournalEntry, RoleAssignment, Table,
};
pub use error::{EntityKind, Error, Result};
pub use extent::{KQL_SCHEMA_KEY, ROW_GROUP_ROWS, ZSTD_LEVEL};
pub use provider::{ExtentTable, ScanCounters};
pub use stats::MAX_STRING_STAT_BYTES;
pub use store::{CATALOG_DIR, DATA_DIR, Storage, StorageOptions};
