//! Errors of the function layer.

/// An error raised while building or running a KQL function.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// A function was called with arguments it does not accept.
    #[error("Semantic error: {0}")]
    InvalidArguments(String),
    /// The function runs but a KQL feature it needs does not exist yet.
    #[error("not implemented: {0}")]
    NotImplemented(String),
    /// A value the query computed cannot be used (a pattern that is not a regex): the
    /// query's fault, reported to the user.
    #[error("{0}")]
    Runtime(String),
    /// A value would exceed a limit (a string longer than the per-value limit).
    #[error("{0}")]
    LimitExceeded(String),
}

impl FunctionError {
    /// The Kusto error code (`error.code` in OneApi errors).
    pub fn kusto_code(&self) -> &'static str {
        match self {
            FunctionError::InvalidArguments(_) => "BadRequest_SemanticError",
            FunctionError::NotImplemented(_) => "BadRequest_NotImplemented",
            FunctionError::Runtime(_) => "General_BadRequest",
            FunctionError::LimitExceeded(_) => "E_RUNAWAY_QUERY",
        }
    }

    /// As a DataFusion error raised while a query runs: the engine finds it again
    /// (`DataFusionError::find_root`) and answers with its Kusto code instead of an internal
    /// error.
    pub fn into_datafusion(self) -> datafusion_common::DataFusionError {
        datafusion_common::DataFusionError::External(Box::new(self))
    }
}

/// Result of the function layer.
pub type Result<T, E = FunctionError> = std::result::Result<T, E>;
