//! The Kusto-compatible server: the Kusto REST API over axum.
//!
//! * [`http`]: the router and handlers (`/v2/rest/query`, `/v1/rest/query`, `/v1/rest/mgmt`,
//!   `/v1/rest/auth/metadata`, `/v1/rest/ingest/{db}/{table}`), CORS, compression, request ids.
//! * [`wire`]: Kusto's JSON wire format (v1, v2 frames, OneApi errors). Only this crate
//!   knows it.
//! * [`request`]: reading requests: bodies after admission (size after decompression, idle
//!   timeout), the request JSON and its client request properties, server timeouts.
//! * `results`: query replies streamed as they are produced (v2 frames, v1 tables).
//! * [`limits`]: result truncation as rows are written (500,000 records / 64 MB unless
//!   `notruncation`).
//! * `reply`, `state`: reply helpers (ids, JSON, OneApi errors) and the shared state.
//! * [`auth`]: bearer-token authentication (`none` or `jwt` mode) and the auth metadata.
//! * [`origin`]: cross-site safety: the exact web-origin allow list and, without
//!   authentication on loopback, the loopback-only `Host` check (403 before anything runs).
//! * [`admission`]: concurrency limits with a bounded, timed queue in front of them (429
//!   `TooManyRequests` when it is full or the wait times out).
//! * [`serve`]: binding, shutdown on SIGINT/SIGTERM after in-flight requests, the queued
//!   ingestion worker.
//! * [`storage_api`]: the Azure Blob and Queue calls of queued ingestion (SAS-authorized,
//!   XML), on the same port.

pub mod admission;
pub mod auth;
pub mod http;
pub mod limits;
pub mod origin;
mod reply;
pub mod request;
mod results;
pub mod serve;
mod state;
pub mod storage_api;
pub mod wire;

pub use admission::Limits;
pub use auth::{AadMetadata, AuthMode};
pub use http::router;
pub use origin::OriginPolicy;
pub use serve::{ServeOptions, Server, TlsFiles, bind, serve};
pub use state::AppState;
