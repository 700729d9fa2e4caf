//! Engine errors, each with a Kusto error code and an HTTP status.

use kql_planner::{PlanError, PlanErrorKind};

/// An error of the engine facade.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The text does not parse (rendered diagnostics, `Syntax error: ...`).
    #[error("{0}")]
    Syntax(String),
    /// Planning failed (semantic, not implemented, internal).
    #[error("{message}")]
    Plan {
        /// The planner's error.
        error: PlanError,
        /// Rendered with position.
        message: String,
    },
    /// DataFusion failed while running the query.
    #[error("Query execution failed: {0}")]
    Execution(String),
    /// No database of that name.
    #[error("Database '{0}' was not found")]
    UnknownDatabase(String),
    /// A control command this build does not run.
    #[error("not implemented: {0}")]
    NotImplemented(String),
}

impl EngineError {
    /// The Kusto error code (OneApi `error.code`).
    pub fn kusto_code(&self) -> &'static str {
        match self {
            EngineError::Syntax(_) => "BadRequest_SyntaxError",
            EngineError::Plan { error, .. } => error.kusto_code(),
            EngineError::Execution(_) => "InternalServiceError",
            EngineError::UnknownDatabase(_) => "BadRequest_EntityNotFound",
            EngineError::NotImplemented(_) => "BadRequest_NotImplemented",
        }
    }

    /// The HTTP status a server answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            EngineError::Syntax(_) | EngineError::NotImplemented(_) => 400,
            EngineError::Plan { error, .. } => error.http_status(),
            EngineError::Execution(_) => 500,
            EngineError::UnknownDatabase(_) => 404,
        }
    }

    /// True for errors the user caused (as opposed to bugs or resource problems).
    pub fn is_user_error(&self) -> bool {
        match self {
            EngineError::Plan { error, .. } => error.kind != PlanErrorKind::Internal,
            EngineError::Execution(_) => false,
            EngineError::Syntax(_)
            | EngineError::UnknownDatabase(_)
            | EngineError::NotImplemented(_) => true,
        }
    }
}

/// Result of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
