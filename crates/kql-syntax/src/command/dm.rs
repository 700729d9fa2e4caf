//! The typed AST of the data-management service's commands, which the ingest SDKs send to
//! the ingestion endpoint before queued ingestion: `.get ingestion resources`, `.get
//! kusto identity token` and `.show export containers`. They are not engine commands (Kusto.Language has no kind for
//! them), so [`crate::ast::Command::official_kind`] is `None` for them.

use crate::ast::Property;

/// A data-management command.
#[derive(Debug, Clone, PartialEq)]
pub enum DmCommand {
    /// `.get ingestion resources [with (EnableBlobCors='true', ...)]`: the containers and
    /// queues of queued ingestion.
    GetIngestionResources {
        /// `with (...)` (the browser SDK asks for CORS; accepted and ignored).
        with: Vec<Property>,
    },
    /// `.get kusto identity token`: the authorization context put in ingestion messages.
    GetKustoIdentityToken,
    /// `.show export containers`: containers to export data to and read it back from (the
    /// Spark connector asks for them).
    ShowExportContainers,
}

impl DmCommand {
    /// The name the command goes by in Calypso's operations and errors.
    pub fn name(&self) -> &'static str {
        match self {
            DmCommand::GetIngestionResources { .. } => "GetIngestionResources",
            DmCommand::GetKustoIdentityToken => "GetKustoIdentityToken",
            DmCommand::ShowExportContainers => "ShowExportContainers",
        }
    }
}
