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
}

impl FunctionError {
    /// The Kusto error code (`error.code` in OneApi errors).
    pub fn kusto_code(&self) -> &'static str {
        match self {
            FunctionError::InvalidArguments(_) => "BadRequest_SemanticError",
            FunctionError::NotImplemented(_) => "BadRequest_NotImplemented",
        }
    }
}

/// Result of the function layer.
pub type Result<T, E = FunctionError> = std::result::Result<T, E>;
