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
    /// The query failed while running because of what it asked for (an invalid regex, an
    /// arithmetic overflow, a value or a result over a limit): 400 with Kusto's code.
    #[error("{message}")]
    QueryFailed {
        /// The Kusto code (`General_BadRequest`, `E_RUNAWAY_QUERY`,
        /// `E_LOW_MEMORY_CONDITION`).
        code: &'static str,
        /// What was wrong.
        message: String,
    },
    /// No database of that name.
    #[error("Database '{0}' was not found")]
    UnknownDatabase(String),
    /// A control command this build does not run.
    #[error("{0}")]
    NotSupported(String),
    /// A command Calypso knows by its official kind but does not implement yet.
    #[error("{0}")]
    NotImplemented(String),
    /// The query was cancelled (`.cancel query`).
    #[error("{0}")]
    Cancelled(String),
    /// A request that cannot be carried out as written.
    #[error("{0}")]
    BadRequest(String),
    /// An entity (table, function) that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// An entity that already exists, or a concurrent change.
    #[error("{0}")]
    Conflict(String),
    /// Data that cannot be ingested (format errors, disabled streaming ingestion).
    #[error("{}", .0.message)]
    Ingest(calypso_ingest::IngestError),
    /// The query ran longer than its server timeout.
    #[error("{0}")]
    Timeout(String),
    /// The storage layer failed.
    #[error("{0}")]
    Storage(#[from] calypso_storage::Error),
    /// The caller lacks the role the operation needs: `Principal 'aaduser=...' is not
    /// authorized to read database 'D'.` (403, `Forbidden`).
    #[error("{0}")]
    Forbidden(String),
}

impl EngineError {
    /// The Kusto error code (OneApi `error.code`).
    pub fn kusto_code(&self) -> &'static str {
        match self {
            EngineError::Syntax(_) => "BadRequest_SyntaxError",
            EngineError::Plan { error, .. } => error.kusto_code(),
            EngineError::Execution(_) => "InternalServiceError",
            EngineError::QueryFailed { code, .. } => code,
            EngineError::UnknownDatabase(_) | EngineError::NotFound(_) => {
                "BadRequest_EntityNotFound"
            }
            EngineError::NotSupported(_) => "BadRequest_NotSupported",
            EngineError::NotImplemented(_) => "BadRequest_NotImplemented",
            EngineError::Cancelled(_) => "QueryCancelled",
            EngineError::BadRequest(_) => "General_BadRequest",
            EngineError::Conflict(_) => "BadRequest_EntityAlreadyExists",
            EngineError::Ingest(e) => e.code,
            EngineError::Storage(e) => e.kusto_code(),
            EngineError::Timeout(_) => "Request_ExecutionTimeout",
            EngineError::Forbidden(_) => "Forbidden",
        }
    }

    /// The HTTP status a server answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            EngineError::Syntax(_)
            | EngineError::NotSupported(_)
            | EngineError::NotImplemented(_)
            | EngineError::Cancelled(_)
            | EngineError::BadRequest(_)
            | EngineError::Ingest(_)
            | EngineError::QueryFailed { .. } => match self {
                EngineError::Ingest(e) if e.code == calypso_ingest::codes::PAYLOAD_TOO_LARGE => 413,
                _ => 400,
            },
            EngineError::Plan { error, .. } => error.http_status(),
            EngineError::Execution(_) => 500,
            EngineError::UnknownDatabase(_) | EngineError::NotFound(_) => 404,
            EngineError::Conflict(_) => 409,
            EngineError::Storage(e) => e.http_status(),
            EngineError::Timeout(_) => 504,
            EngineError::Forbidden(_) => 403,
        }
    }

    /// True for errors the user caused (as opposed to bugs or resource problems).
    pub fn is_user_error(&self) -> bool {
        match self {
            EngineError::Plan { error, .. } => error.kind != PlanErrorKind::Internal,
            EngineError::Execution(_) => false,
            EngineError::Storage(e) => e.is_user_error(),
            EngineError::Syntax(_)
            | EngineError::UnknownDatabase(_)
            | EngineError::NotSupported(_)
            | EngineError::NotImplemented(_)
            | EngineError::Cancelled(_)
            | EngineError::BadRequest(_)
            | EngineError::NotFound(_)
            | EngineError::Conflict(_)
            | EngineError::Timeout(_)
            | EngineError::Ingest(_)
            | EngineError::QueryFailed { .. }
            | EngineError::Forbidden(_) => true,
        }
    }
}

impl EngineError {
    /// A DataFusion error of a running query: a user's mistake or a limit gets its Kusto
    /// code (400); anything else is an internal error (500).
    pub fn from_datafusion(e: &datafusion::error::DataFusionError) -> EngineError {
        use datafusion::arrow::error::ArrowError;
        use datafusion::error::DataFusionError as D;
        let failed =
            |code: &'static str, message: String| EngineError::QueryFailed { code, message };
        match e.find_root() {
            D::External(inner) => match inner.downcast_ref::<kql_functions::FunctionError>() {
                Some(f) => failed(f.kusto_code(), f.to_string()),
                None => EngineError::Execution(e.strip_backtrace()),
            },
            D::ArrowError(a, _) => match a.as_ref() {
                ArrowError::ArithmeticOverflow(m) => {
                    failed("General_BadRequest", format!("Arithmetic overflow: {m}"))
                }
                ArrowError::DivideByZero => {
                    failed("General_BadRequest", "Division by zero".to_string())
                }
                ArrowError::ComputeError(m) if m.contains("overflow") => {
                    failed("General_BadRequest", format!("Arithmetic overflow: {m}"))
                }
                // A value that does not convert to the type an argument needs (a real past
                // the range of long, text that is not a number).
                ArrowError::CastError(m) | ArrowError::ParseError(m) => failed(
                    "General_BadRequest",
                    format!("A value could not be converted: {m}"),
                ),
                _ => EngineError::Execution(e.strip_backtrace()),
            },
            // DataFusion's aggregates report overflow as text (`Arithmetic Overflow in
            // AvgAccumulator`): the user's data, not a bug.
            D::Execution(m) if m.contains("Arithmetic Overflow") || m.contains("overflow") => {
                failed("General_BadRequest", format!("Arithmetic overflow: {m}"))
            }
            D::ResourcesExhausted(m) if m.contains("(E_RUNAWAY_QUERY)") => {
                failed("E_RUNAWAY_QUERY", m.clone())
            }
            D::ResourcesExhausted(m) => failed(
                "E_LOW_MEMORY_CONDITION",
                format!(
                    "The query needs more memory than its limit allows (E_LOW_MEMORY_CONDITION): {m}"
                ),
            ),
            D::Execution(m) if m.contains("too large to materialize") => failed(
                "E_RUNAWAY_QUERY",
                format!("The query asks for more rows than fit in memory (E_RUNAWAY_QUERY): {m}"),
            ),
            _ => EngineError::Execution(e.strip_backtrace()),
        }
    }
}

/// Result of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
