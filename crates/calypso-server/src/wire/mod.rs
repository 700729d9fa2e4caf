//! Kusto's JSON wire format: pure functions from engine results and errors to reply
//! bodies. No HTTP types here; the handlers pick status codes and headers.
//!
//! * [`values`]: one value → JSON (`value_json`), v1 .NET type names (`dotnet_type`).
//! * [`v2`]: the frames of `/v2/rest/query` (`v2_frames`).
//! * [`v1`]: `{"Tables":[...]}` of `/v1/rest/query` (`v1_query`) and `/v1/rest/mgmt`
//!   (`v1_mgmt`).
//! * [`errors`]: OneApi errors (`OneApiError`) and the request's ids (`ResponseContext`).
//! * [`service`]: the Visualization property and the resource-consumption statistics.
//!
//! The format is specified in `shared/reference/wire-protocol.md` and the captured replies
//! in `shared/reference/wire-fixtures/` (checked by `tests/wire_fixtures.rs`).

pub mod errors;
pub mod service;
pub mod v1;
pub mod v2;
pub mod values;

pub use errors::{InnerError, OneApiError, ResponseContext, from_engine_error};
pub use v1::{ColumnOverride, V1Writer, v1_ingest_result, v1_mgmt, v1_query, v1_query_with_errors};
pub use v2::{ErrorPlacement, V2Options, V2Writer, v2_frames};
pub use values::{dotnet_type, value_json};
