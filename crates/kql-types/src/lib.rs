//! KQL's scalar types and the text forms of KQL values, shared by every crate that
//! reads, stores or writes values (storage, ingestion, the server) without needing the
//! function library (`kql-functions`), which builds on this crate.
//!
//! * [`types`]: the ten Kusto scalar types, their Arrow representation, the hidden
//!   columns of a table's rows.
//! * [`parse`] and [`format`]: Kusto's text forms of datetimes, timespans, guids,
//!   numbers and decimals, and `tostring()` of any value ([`format::kql_to_string`]).
//! * [`json`] and [`lenient`]: the JSON of `dynamic` values, read as leniently as
//!   Kusto reads it.

pub mod format;
pub mod json;
pub mod lenient;
pub mod parse;
pub mod types;

pub use types::KqlType;
