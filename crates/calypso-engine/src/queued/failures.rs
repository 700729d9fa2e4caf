//! `.show ingestion failures [with (OperationId = guid)]` (`management/ingestion-failures.md`):
//! the queued ingestions that failed, kept 14 days. Each is the object
//! `dm/failures/<nanos>-<operation id>.json`, written when the worker reports the failure;
//! a caller sees those of the databases whose metadata it may read.

use bytes::Bytes;
use kql_functions::KqlType;
use serde::{Deserialize, Serialize};

use crate::security::access::{Action, Need, allowed};
use crate::table::{Cell, guid, table};
use crate::{Caller, Engine, Result, ResultTable};

/// How long failures are kept (the docs' retention).
const RETENTION: chrono::Duration = chrono::Duration::days(14);

/// One failure as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FailureRecord {
    pub(crate) operation_id: String,
    pub(crate) database: String,
    pub(crate) table: String,
    /// Nanoseconds since the epoch.
    pub(crate) failed_on: i64,
    pub(crate) source: String,
    pub(crate) details: String,
    pub(crate) error_code: String,
    pub(crate) root_activity_id: String,
    pub(crate) principal: String,
    pub(crate) properties: String,
    /// Whether an update policy's query failed (not the ingestion into its source).
    #[serde(default)]
    pub(crate) from_update_policy: bool,
}

/// The result columns (the official schema of `ShowIngestionFailures`).
const COLUMNS: &[(&str, KqlType)] = &[
    ("OperationId", KqlType::Guid),
    ("Database", KqlType::String),
    ("Table", KqlType::String),
    ("FailedOn", KqlType::DateTime),
    ("IngestionSourcePath", KqlType::String),
    ("Details", KqlType::String),
    ("FailureKind", KqlType::String),
    ("RootActivityId", KqlType::Guid),
    ("OperationKind", KqlType::String),
    ("OriginatesFromUpdatePolicy", KqlType::Bool),
    ("ErrorCode", KqlType::String),
    ("Principal", KqlType::String),
    ("ShouldRetry", KqlType::Bool),
    ("User", KqlType::String),
    ("IngestionProperties", KqlType::String),
];

impl Engine {
    /// Records a failure of the worker (durably; best effort: a failure to record it does
    /// not change the ingestion's outcome).
    pub(crate) async fn record_failure(&self, record: &FailureRecord) {
        let path = format!(
            "dm/failures/{:020}-{}.json",
            record.failed_on, record.operation_id
        );
        if let Ok(json) = serde_json::to_vec(record) {
            let _ = self.storage.put_object(&path, Bytes::from(json)).await;
        }
    }

    /// `.show ingestion failures`: the failures of the last 14 days the caller may see,
    /// oldest first (those older are deleted).
    pub(crate) async fn ingestion_failures(
        &self,
        caller: &Caller,
        operation_id: Option<&str>,
    ) -> Result<ResultTable> {
        let cutoff = (chrono::Utc::now() - RETENTION)
            .timestamp_nanos_opt()
            .unwrap_or(i64::MIN);
        let mut records = Vec::new();
        for object in self.storage.list_objects("dm/failures").await? {
            let Some(bytes) = self.storage.get_object(&object.path).await? else {
                continue;
            };
            let Ok(record) = serde_json::from_slice::<FailureRecord>(&bytes) else {
                continue;
            };
            if record.failed_on < cutoff {
                self.storage.delete_object(&object.path).await?;
                continue;
            }
            records.push(record);
        }
        records.sort_by_key(|r| r.failed_on);
        let cat = self.storage.catalog();
        let wanted = operation_id.map(str::to_lowercase);
        let rows = records
            .into_iter()
            .filter(|r| {
                wanted
                    .as_ref()
                    .is_none_or(|w| *w == r.operation_id.to_lowercase())
            })
            .filter(|r| {
                allowed(
                    caller,
                    &cat,
                    &Action::new(
                        "IngestionFailuresShowCommand",
                        Need::DatabaseMetadata {
                            database: r.database.clone(),
                        },
                    ),
                )
            })
            .map(|r| {
                vec![
                    guid(&r.operation_id),
                    r.database.into(),
                    r.table.into(),
                    Cell::DateTime(r.failed_on),
                    r.source.into(),
                    r.details.into(),
                    "Permanent".into(),
                    guid(&r.root_activity_id),
                    "DataIngestPull".into(),
                    Cell::Bool(r.from_update_policy),
                    r.error_code.into(),
                    r.principal.into(),
                    Cell::Bool(false),
                    String::new().into(),
                    r.properties.into(),
                ]
            })
            .collect();
        table(COLUMNS, rows)
    }
}
