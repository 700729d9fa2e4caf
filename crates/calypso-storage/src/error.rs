//! Storage errors, each with a Kusto error code and an HTTP status.

use std::fmt;

/// The kind of catalog entity an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    /// A database.
    Database,
    /// A table.
    Table,
    /// A column.
    Column,
    /// A stored function.
    Function,
    /// An extent.
    Extent,
    /// An ingestion mapping.
    IngestionMapping,
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntityKind::Database => "Database",
            EntityKind::Table => "Table",
            EntityKind::Column => "Column",
            EntityKind::Function => "Function",
            EntityKind::Extent => "Extent",
            EntityKind::IngestionMapping => "Ingestion mapping",
        })
    }
}

/// An error of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A database, table, function... that does not exist.
    #[error("{kind} '{name}' was not found")]
    EntityNotFound {
        /// What was looked up.
        kind: EntityKind,
        /// Its name.
        name: String,
    },
    /// Creating an entity whose name is taken.
    #[error("{kind} '{name}' already exists")]
    EntityAlreadyExists {
        /// What was created.
        kind: EntityKind,
        /// Its name.
        name: String,
    },
    /// A request that cannot be carried out as given (wrong schema, no rows...).
    #[error("{0}")]
    InvalidArgument(String),
    /// Another writer committed the catalog version this commit wanted to write.
    #[error("concurrent catalog modification: {0}")]
    Conflict(String),
    /// A catalog written by a newer Calypso.
    #[error("catalog format version {found} is newer than the supported version {supported}")]
    UnsupportedFormat {
        /// The version in the file.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// Stored data that cannot be read back.
    #[error("corrupt storage: {0}")]
    Corrupt(String),
    /// A local file system error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// An object store error.
    #[error("object store error: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// A Parquet encoding or decoding error.
    #[error("parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// An Arrow error.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A DataFusion error.
    #[error("datafusion error: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// A JSON (de)serialization error.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
    /// A background task that failed to run.
    #[error("background task failed: {0}")]
    Task(String),
    /// The data directory is in use by another process.
    #[error(
        "the data directory {0} is in use by another Calypso process (it holds the lock on {0}/LOCK)"
    )]
    Locked(String),
}

impl Error {
    /// A not-found error.
    pub fn not_found(kind: EntityKind, name: impl Into<String>) -> Error {
        Error::EntityNotFound {
            kind,
            name: name.into(),
        }
    }

    /// An already-exists error.
    pub fn already_exists(kind: EntityKind, name: impl Into<String>) -> Error {
        Error::EntityAlreadyExists {
            kind,
            name: name.into(),
        }
    }

    /// An invalid-argument error.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::InvalidArgument(message.into())
    }

    /// The Kusto error code (`error.code` in Kusto's error JSON).
    pub fn kusto_code(&self) -> &'static str {
        match self {
            Error::EntityNotFound { .. } => "BadRequest_EntityNotFound",
            Error::EntityAlreadyExists { .. } => "BadRequest_EntityAlreadyExists",
            Error::InvalidArgument(_) => "BadRequest_InvalidArgument",
            Error::Conflict(_) => "BadRequest_ConcurrentModification",
            Error::UnsupportedFormat { .. }
            | Error::Corrupt(_)
            | Error::Io(_)
            | Error::ObjectStore(_)
            | Error::Parquet(_)
            | Error::Arrow(_)
            | Error::DataFusion(_)
            | Error::Json(_)
            | Error::Task(_)
            | Error::Locked(_) => "InternalServiceError",
        }
    }

    /// The HTTP status a server answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::EntityNotFound { .. } => 404,
            Error::EntityAlreadyExists { .. } | Error::Conflict(_) => 409,
            Error::InvalidArgument(_) => 400,
            Error::UnsupportedFormat { .. }
            | Error::Corrupt(_)
            | Error::Io(_)
            | Error::ObjectStore(_)
            | Error::Parquet(_)
            | Error::Arrow(_)
            | Error::DataFusion(_)
            | Error::Json(_)
            | Error::Task(_)
            | Error::Locked(_) => 500,
        }
    }

    /// True for errors the user caused (as opposed to bugs or resource problems).
    pub fn is_user_error(&self) -> bool {
        self.http_status() < 500
    }
}

/// Result of the storage layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;
