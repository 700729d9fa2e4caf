//! The queued-ingestion worker: each message of the ingestion queue is ingested from its
//! blob, with the message's properties, on behalf of the caller its authorization context
//! names; the status it asks for goes to the status queues; then the message and the blob
//! are deleted, whatever the outcome (a failure is reported, not retried).
//!
//! The message (decoded `MessageText`, base64 of JSON) is the SDKs' `IngestionBlobInfo`:
//! `BlobPath`, `DatabaseName`, `TableName`, `ReportLevel` (0 failures only, 1 none, 2
//! failures and successes), `Id`, and `AdditionalProperties` (`format`,
//! `ingestionMappingReference`, `ingestionMapping`, `tags`, `ingestIfNotExists`,
//! `creationTime`, `ignoreFirstRecord`, `authorizationContext`, ...; lists and mappings
//! may be JSON-encoded strings or JSON values).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kql_syntax::ast::{PropValue, Property};
use serde_json::{Value, json};

use super::batching::BatchingPolicy;
use super::failures::FailureRecord;
use super::{
    ACCOUNT, FAILURE_QUEUE, INGESTION_QUEUE, SUCCESS_QUEUE, TEMP_CONTAINER, blobs::blob_path,
};
use crate::commands::ingest::{MappingSpec, ParseOptions};
use crate::commands::ingest_props::ExtentProps;
use crate::security::access::{Action, Need, authorize};
use crate::{Caller, Engine, EngineError, Result};
use arrow::record_batch::RecordBatch;

/// What a message asks for, read leniently.
struct Request {
    id: String,
    blob_path: String,
    database: String,
    table: String,
    report_level: i64,
    /// `RawDataSize`: the size before compression, when the client says.
    raw_size: Option<u64>,
    /// `FlushImmediately`.
    flush: bool,
    props: serde_json::Map<String, Value>,
}

impl Request {
    fn parse(text: &str) -> Result<Request> {
        let bad = |why: String| EngineError::BadRequest(format!("The ingestion message {why}"));
        let json = STANDARD
            .decode(text.trim().as_bytes())
            .map_err(|e| bad(format!("is not base64: {e}")))?;
        let v: Value =
            serde_json::from_slice(&json).map_err(|e| bad(format!("is not JSON: {e}")))?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(Request {
            id: s("Id").unwrap_or_default(),
            blob_path: s("BlobPath").ok_or_else(|| bad("has no BlobPath".into()))?,
            database: s("DatabaseName").ok_or_else(|| bad("has no DatabaseName".into()))?,
            table: s("TableName").ok_or_else(|| bad("has no TableName".into()))?,
            report_level: v.get("ReportLevel").and_then(Value::as_i64).unwrap_or(1),
            raw_size: v.get("RawDataSize").and_then(Value::as_u64),
            flush: v.get("FlushImmediately").and_then(Value::as_bool) == Some(true),
            props: v
                .get("AdditionalProperties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// A property as text: a string as it is, another JSON value as its JSON.
    fn text(&self, name: &str) -> Option<String> {
        let (_, v) = self
            .props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))?;
        match v {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    fn flag(&self, name: &str) -> bool {
        self.text(name)
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("true"))
    }

    /// Whether the message is ingested alone, at once: it asks to flush immediately, has
    /// `ingestIfNotExists` or an `ingest-by:` tag, or does not say its size.
    fn alone(&self) -> bool {
        let props = self.extent_props().unwrap_or_default();
        self.flush
            || self.raw_size.is_none()
            || !props.ingest_if_not_exists.is_empty()
            || props.tags.iter().any(|t| t.starts_with("ingest-by:"))
    }

    /// What messages batched together share: the table and every property that shapes
    /// the ingestion (format, mapping, tags, creation time, first record, caller).
    fn batch_key(&self) -> String {
        let mut tags = self.extent_props().map(|p| p.tags).unwrap_or_default();
        tags.sort();
        let parts = [
            self.database.clone(),
            self.table.clone(),
            self.text("format")
                .unwrap_or_else(|| "csv".into())
                .to_lowercase(),
            self.text("ingestionMappingReference").unwrap_or_default(),
            self.text("ingestionMapping").unwrap_or_default(),
            tags.join("\n"),
            self.text("creationTime").unwrap_or_default(),
            self.flag("ignoreFirstRecord").to_string(),
            self.text("authorizationContext").unwrap_or_default(),
        ];
        parts.join("\u{1f}")
    }

    /// The extent properties (`tags`, `ingestIfNotExists`, `creationTime`).
    fn extent_props(&self) -> Result<ExtentProps> {
        let with: Vec<Property> = ["tags", "ingestIfNotExists", "creationTime"]
            .iter()
            .filter_map(|name| {
                self.text(name).map(|t| Property {
                    name: (*name).to_string(),
                    value: PropValue::Str(t),
                })
            })
            .collect();
        ExtentProps::from_with(&with)
    }
}

/// The container and name of a blob URL this server handed out
/// (`http://host/<account>/<container>/<name>?sas`).
fn blob_of(url: &str) -> Result<(String, String)> {
    let parsed = url::Url::parse(url)
        .map_err(|e| EngineError::BadRequest(format!("BlobPath '{url}' is not a URL: {e}")))?;
    let percent_decoded: Vec<String> = parsed
        .path_segments()
        .map(|s| s.map(percent_decode).collect())
        .unwrap_or_default();
    match percent_decoded.as_slice() {
        [account, container, name @ ..] if account == ACCOUNT && !name.is_empty() => {
            Ok((container.clone(), name.join("/")))
        }
        [container, name @ ..] if container == TEMP_CONTAINER && !name.is_empty() => {
            Ok((container.clone(), name.join("/")))
        }
        _ => Err(EngineError::NotImplemented(format!(
            "Ingestion from blob '{}' is not supported: Calypso ingests the blobs of the containers it hands out (.get ingestion resources)",
            parsed.path()
        ))),
    }
}

/// `%XX` sequences of a URL path segment decoded (a `+` stays a `+`).
pub(crate) fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A message waiting in the ingestion queue.
struct Waiting {
    id: String,
    inserted: chrono::DateTime<chrono::Utc>,
    request: Request,
}

/// Why a message was not ingested: the Kusto error code and the details reported.
struct Failure {
    code: &'static str,
    details: String,
}

impl From<&EngineError> for Failure {
    fn from(e: &EngineError) -> Failure {
        Failure {
            code: e.kusto_code(),
            details: e.to_string(),
        }
    }
}

impl Engine {
    /// Ingests what is due of the ingestion queue (one pass at a time): each message that
    /// is to be ingested alone, and each batch the IngestionBatching policy seals
    /// ([`super::batching`]); returns how many messages it handled (ingested, reported
    /// failed or dropped). Others wait for a later pass.
    pub async fn run_queued_ingestion(&self) -> Result<usize> {
        let _one = self.dm.worker.lock().await;
        let pending = self
            .pending_messages(INGESTION_QUEUE)
            .await
            .map_err(|e| EngineError::Execution(e.message))?;
        let now = chrono::Utc::now();
        let mut handled = 0;
        // Batches by table and properties, in the order their first message came.
        let mut batches: Vec<(String, Vec<Waiting>)> = Vec::new();
        for (id, text, inserted) in pending {
            let Ok(request) = Request::parse(&text) else {
                // Nothing to report to: the message names no table.
                self.finish(&id, None).await?;
                handled += 1;
                continue;
            };
            let waiting = Waiting {
                id,
                inserted,
                request,
            };
            if waiting.request.alone() {
                self.ingest_batch(vec![waiting]).await?;
                handled += 1;
                continue;
            }
            let key = waiting.request.batch_key();
            match batches.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(waiting),
                None => batches.push((key, vec![waiting])),
            }
        }
        for (_, mut members) in batches {
            let policy = {
                let cat = self.storage.catalog();
                let r = &members[0].request;
                let db = cat.database(&r.database);
                let table = cat.table(&r.database, &r.table);
                BatchingPolicy::of(
                    table.and_then(|t| t.policies.get("ingestionbatching")),
                    db.and_then(|d| d.policies.get("ingestionbatching")),
                )
            };
            loop {
                let waiting: Vec<_> = members
                    .iter()
                    .map(|m| (m.inserted, m.request.raw_size.unwrap_or(0)))
                    .collect();
                let n = policy.sealed(&waiting, now);
                if n == 0 {
                    break;
                }
                let rest = members.split_off(n);
                handled += n;
                self.ingest_batch(members).await?;
                members = rest;
            }
        }
        Ok(handled)
    }

    /// Records a queued ingestion for `.show operations` (`DataIngestPull`, from the
    /// message's arrival to now).
    fn record_queued_operation(
        &self,
        operation_id: &str,
        r: &Request,
        failure: Option<String>,
        inserted: chrono::DateTime<chrono::Utc>,
        principal: &str,
    ) {
        use crate::commands::operations::{Record, RecordKind, State};
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        self.activity.record_finished(Record {
            id: operation_id.to_string(),
            kind: RecordKind::Background,
            command_type: "DataIngestPull".into(),
            client_activity_id: format!("DM.IngestionExecutor;{operation_id}"),
            text: r
                .blob_path
                .split('?')
                .next()
                .unwrap_or_default()
                .to_string(),
            database: r.database.clone(),
            started: inserted.timestamp_nanos_opt().unwrap_or(now),
            updated: now,
            state: failure.map_or(State::Completed, State::Failed),
            principal: principal.to_string(),
            user: String::new(),
            application: String::new(),
            cancel: None,
            details: None,
        });
    }

    /// Waits until an ingestion message arrives (the server's worker loop).
    pub async fn queued_ingestion_arrived(&self) {
        self.dm.arrived.notified().await;
    }

    /// Ingests `batch` (messages of one table with the same properties) as one extent:
    /// each message's rows are read and parsed on their own (one that fails is reported
    /// and left out), then all are committed together; then every message is reported as
    /// it asks and deleted with its blob.
    async fn ingest_batch(&self, batch: Vec<Waiting>) -> Result<()> {
        let mut outcomes: Vec<(Waiting, Option<Failure>)> = Vec::new();
        let mut rows: Vec<RecordBatch> = Vec::new();
        let mut columns: Option<Vec<(String, kql_functions::KqlType)>> = None;
        let mut ids: Vec<String> = Vec::new();
        for m in batch {
            match self.prepare(&m).await {
                Ok(Some((cols, batches))) => {
                    columns.get_or_insert(cols);
                    rows.extend(batches);
                    ids.push(m.id.clone());
                    outcomes.push((m, None));
                }
                // Ingested before a crash that came before its deletion.
                Ok(None) => outcomes.push((m, None)),
                Err(e) => {
                    let failure = Failure::from(&e);
                    outcomes.push((m, Some(failure)));
                }
            }
        }
        if let (Some(columns), Some((first, _))) = (columns, outcomes.first()) {
            let r = &first.request;
            let committed = match r.extent_props() {
                Ok(mut props) => {
                    props.source_ids = ids.clone();
                    self.append_batches(&r.database, &r.table, &columns, rows, false, &props)
                        .await
                        .map(|_| ())
                }
                Err(e) => Err(e),
            };
            if let Err(e) = committed {
                for (m, failure) in outcomes.iter_mut() {
                    if failure.is_none() && ids.contains(&m.id) {
                        *failure = Some(Failure::from(&e));
                    }
                }
            }
        }
        for (m, failure) in outcomes {
            self.finish(&m.id, Some((&m.request, failure.as_ref(), m.inserted)))
                .await?;
        }
        Ok(())
    }

    /// Reports a message as it asks (`None`: it named nothing to report to), deletes its
    /// blob and removes it from the queue.
    async fn finish(
        &self,
        id: &str,
        done: Option<(&Request, Option<&Failure>, chrono::DateTime<chrono::Utc>)>,
    ) -> Result<()> {
        if let Some((r, failure, inserted)) = done {
            let operation_id = uuid::Uuid::new_v4().to_string();
            let root_activity_id = uuid::Uuid::new_v4().to_string();
            let (report, queue) = match failure {
                None => (r.report_level == 2, SUCCESS_QUEUE),
                Some(_) => (matches!(r.report_level, 0 | 2), FAILURE_QUEUE),
            };
            let principal = match self
                .caller_of(r.text("authorizationContext").as_deref())
                .await
            {
                Ok(Caller::Principal(identity)) => identity.fqn(),
                Ok(Caller::Unauthenticated) | Err(_) => String::new(),
            };
            self.record_queued_operation(
                &operation_id,
                r,
                failure.map(|f| f.details.clone()),
                inserted,
                &principal,
            );
            if let Some(f) = failure {
                let properties = Value::Object(
                    r.props
                        .iter()
                        .filter(|(k, _)| !k.eq_ignore_ascii_case("authorizationContext"))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                );
                self.record_failure(&FailureRecord {
                    operation_id: operation_id.clone(),
                    database: r.database.clone(),
                    table: r.table.clone(),
                    failed_on: chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
                    source: r.blob_path.clone(),
                    details: f.details.clone(),
                    error_code: f.code.to_string(),
                    root_activity_id: root_activity_id.clone(),
                    principal,
                    properties: properties.to_string(),
                    from_update_policy: false,
                })
                .await;
            }
            if report {
                let status = status_message(r, failure, &operation_id, &root_activity_id);
                let text = STANDARD.encode(status.to_string());
                let _ = self.put_message(queue, text, None, None).await;
            }
            if let Ok((container, name)) = blob_of(&r.blob_path) {
                let _ = self
                    .storage
                    .delete_object(&blob_path(&container, &name))
                    .await;
            }
        }
        self.remove_message(INGESTION_QUEUE, id)
            .await
            .map_err(|e| EngineError::Execution(e.message))
    }

    /// A message's rows in its table's columns, on behalf of its caller; `None` when an
    /// extent of the table holds them already.
    async fn prepare(
        &self,
        m: &Waiting,
    ) -> Result<Option<(Vec<(String, kql_functions::KqlType)>, Vec<RecordBatch>)>> {
        let r = &m.request;
        let (container, name) = blob_of(&r.blob_path)?;
        let caller = self
            .caller_of(r.text("authorizationContext").as_deref())
            .await?;
        let cat = self.storage.catalog();
        authorize(
            &caller,
            &cat,
            &Action::new(
                "QueuedIngest",
                Need::Ingest {
                    database: r.database.clone(),
                    table: r.table.clone(),
                },
            ),
        )?;
        if cat
            .table(&r.database, &r.table)
            .is_some_and(|t| t.extents.iter().any(|e| e.sources.contains(&m.id)))
        {
            return Ok(None);
        }
        let data = self
            .storage
            .get_object(&blob_path(&container, &name))
            .await?
            .ok_or_else(|| {
                EngineError::NotFound(format!("The blob '{name}' of '{container}' does not exist"))
            })?;
        let format_name = r.text("format").unwrap_or_else(|| "csv".into());
        let format = calypso_ingest::Format::parse(&format_name).ok_or_else(|| {
            EngineError::BadRequest(format!("Unsupported ingestion format '{format_name}'"))
        })?;
        let reference = r.text("ingestionMappingReference");
        let inline = r.text("ingestionMapping");
        let mapping = MappingSpec::of(reference.as_deref(), inline.as_deref());
        let options = ParseOptions {
            ignore_first_record: r.flag("ignoreFirstRecord"),
            zip_pattern: r.text("zipPattern"),
            location: r
                .blob_path
                .split('?')
                .next()
                .unwrap_or_default()
                .to_string(),
            skip_field_count_validation: ParseOptions::skips_validation(
                r.text("validationPolicy").as_deref(),
            )?,
        };
        let parsed = self
            .parse_with(&r.database, &r.table, format, mapping, &data, &options)
            .await?;
        Ok(Some(parsed))
    }

    /// The caller an authorization context (`.get kusto identity token`) names.
    async fn caller_of(&self, context: Option<&str>) -> Result<Caller> {
        let signer = self.dm.signer(&self.storage).await?;
        let payload = context.and_then(|c| signer.open_token(c)).ok_or_else(|| {
            EngineError::Forbidden(
                "The ingestion message's authorizationContext is not one this server issued (.get kusto identity token)"
                    .into(),
            )
        })?;
        let exp = payload.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if exp < chrono::Utc::now().timestamp() {
            return Err(EngineError::Forbidden(
                "The ingestion message's authorizationContext has expired".into(),
            ));
        }
        if payload.get("anonymous").and_then(Value::as_bool) == Some(true) {
            return Ok(Caller::Unauthenticated);
        }
        let claims = payload.get("claims").cloned().unwrap_or(Value::Null);
        let issuer = payload.get("issuer").and_then(Value::as_str).unwrap_or("");
        let tenant = payload.get("tenant").and_then(Value::as_str);
        let identity = calypso_auth::Identity::from_claims(claims, issuer, tenant)
            .map_err(|e| EngineError::Forbidden(e.to_string()))?;
        Ok(Caller::Principal(Box::new(identity)))
    }
}

/// The status message of a request (the fields `KustoIngestStatusQueues` reads).
fn status_message(
    r: &Request,
    error: Option<&Failure>,
    operation_id: &str,
    root_activity_id: &str,
) -> Value {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut v = json!({
        "OperationId": operation_id,
        "Database": r.database,
        "Table": r.table,
        "IngestionSourceId": r.id,
        "IngestionSourcePath": r.blob_path,
        "RootActivityId": root_activity_id,
    });
    match error {
        None => v["SucceededOn"] = json!(now),
        Some(e) => {
            v["FailedOn"] = json!(now);
            v["Details"] = json!(e.details);
            v["ErrorCode"] = json!(e.code);
            v["FailureStatus"] = json!("Permanent");
            v["OriginatesFromUpdatePolicy"] = json!(false);
            v["ShouldRetry"] = json!(false);
        }
    }
    v
}
