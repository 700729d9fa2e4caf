//! Who runs a request, and what they may do: ADX's role-based access control.
//!
//! STUB (interface only): the authorization checks, role storage and commands are being
//! written; today every caller may do everything.

use crate::{Engine, IngestSummary, MappingSpec, QueryResult, RequestOptions, Result};

/// The caller of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No authentication (the server's `none` mode): every permission, as on the emulator.
    Unauthenticated,
    /// A principal authenticated by a bearer token.
    Principal(Box<calypso_auth::Identity>),
}

impl Engine {
    /// [`Engine::execute`] on behalf of `caller`: refused with
    /// [`crate::EngineError::Forbidden`] unless the caller's roles allow it.
    pub async fn execute_as(
        &self,
        caller: &Caller,
        database: &str,
        text: &str,
        options: &RequestOptions,
    ) -> Result<QueryResult> {
        let _ = caller;
        self.execute(database, text, options).await
    }

    /// [`Engine::ingest_stream`] on behalf of `caller` (needs Ingestor on the table or
    /// database, or Admin).
    pub async fn ingest_stream_as(
        &self,
        caller: &Caller,
        database: &str,
        table: &str,
        format: &str,
        mapping: MappingSpec<'_>,
        body: &[u8],
    ) -> Result<IngestSummary> {
        let _ = caller;
        self.ingest_stream(database, table, format, mapping, body)
            .await
    }

    /// Makes `principal` (e.g. `aaduser=alice@contoso.com;<tenant>`) an AllDatabasesAdmin
    /// unless it is one already: the first cluster admin given at start.
    pub async fn ensure_cluster_admin(&self, principal: &str) -> Result<()> {
        let _ = principal;
        Ok(())
    }
}
