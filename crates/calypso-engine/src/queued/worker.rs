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

use super::{
    ACCOUNT, FAILURE_QUEUE, INGESTION_QUEUE, SUCCESS_QUEUE, TEMP_CONTAINER, blobs::blob_path,
};
use crate::commands::ingest::MappingSpec;
use crate::commands::ingest_props::ExtentProps;
use crate::security::access::{Action, Need, authorize};
use crate::{Caller, Engine, EngineError, Result};

/// What a message asks for, read leniently.
struct Request {
    id: String,
    blob_path: String,
    database: String,
    table: String,
    report_level: i64,
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
fn percent_decode(segment: &str) -> String {
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

/// The body without its first record (`ignoreFirstRecord`): up to the first line break.
fn without_first_record(body: &[u8]) -> &[u8] {
    match body.iter().position(|b| *b == b'\n') {
        Some(i) => &body[i + 1..],
        None => &[],
    }
}

impl Engine {
    /// Ingests every pending message of the ingestion queue (one pass at a time); returns
    /// how many it handled.
    pub async fn run_queued_ingestion(&self) -> Result<usize> {
        let _one = self.dm.worker.lock().await;
        let pending = self
            .pending_messages(INGESTION_QUEUE)
            .await
            .map_err(|e| EngineError::Execution(e.message))?;
        for (message_id, text) in &pending {
            self.ingest_message(message_id, text).await;
            self.remove_message(INGESTION_QUEUE, message_id)
                .await
                .map_err(|e| EngineError::Execution(e.message))?;
        }
        Ok(pending.len())
    }

    /// Waits until an ingestion message arrives (the server's worker loop).
    pub async fn queued_ingestion_arrived(&self) {
        self.dm.arrived.notified().await;
    }

    /// Ingests one message, reports as it asks and deletes its blob.
    async fn ingest_message(&self, message_id: &str, text: &str) {
        let request = match Request::parse(text) {
            Ok(r) => r,
            // Nothing to report to: the message names no table.
            Err(_) => return,
        };
        let (outcome, blob) = match blob_of(&request.blob_path) {
            Ok((container, name)) => (
                self.ingest_request(&request, message_id, &container, &name)
                    .await,
                Some((container, name)),
            ),
            Err(e) => (Err(e), None),
        };
        let (report, queue) = match &outcome {
            Ok(()) => (request.report_level == 2, SUCCESS_QUEUE),
            Err(_) => (matches!(request.report_level, 0 | 2), FAILURE_QUEUE),
        };
        if report {
            let status = status_message(&request, outcome.as_ref().err());
            let text = STANDARD.encode(status.to_string());
            let _ = self.put_message(queue, text, None, None).await;
        }
        if let Some((container, name)) = blob {
            let _ = self
                .storage
                .delete_object(&blob_path(&container, &name))
                .await;
        }
    }

    async fn ingest_request(
        &self,
        r: &Request,
        message_id: &str,
        container: &str,
        name: &str,
    ) -> Result<()> {
        let caller = self
            .caller_of(r.text("authorizationContext").as_deref())
            .await?;
        authorize(
            &caller,
            &self.storage.catalog(),
            &Action::new(
                "QueuedIngest",
                Need::Ingest {
                    database: r.database.clone(),
                    table: r.table.clone(),
                },
            ),
        )?;
        let data = self
            .storage
            .get_object(&blob_path(container, name))
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
        let mapping = match (&reference, &inline) {
            (Some(m), _) => MappingSpec::Reference(m),
            (None, Some(m)) => MappingSpec::Inline(m),
            (None, None) => MappingSpec::Identity,
        };
        let mut props = r.extent_props()?;
        // A message ingested before a crash that came before its deletion is not ingested
        // again: its id is on the extent.
        props.source_id = Some(message_id.to_string());
        let data = if r.flag("ignoreFirstRecord") && !format.is_json() {
            let body = calypso_ingest::decompress(&data).map_err(EngineError::Ingest)?;
            without_first_record(&body).to_vec()
        } else {
            data.to_vec()
        };
        self.ingest_bytes(&r.database, &r.table, format, mapping, &data, &props)
            .await?;
        Ok(())
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
fn status_message(r: &Request, error: Option<&EngineError>) -> Value {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut v = json!({
        "OperationId": uuid::Uuid::new_v4().to_string(),
        "Database": r.database,
        "Table": r.table,
        "IngestionSourceId": r.id,
        "IngestionSourcePath": r.blob_path,
        "RootActivityId": uuid::Uuid::new_v4().to_string(),
    });
    match error {
        None => v["SucceededOn"] = json!(now),
        Some(e) => {
            v["FailedOn"] = json!(now);
            v["Details"] = json!(e.to_string());
            v["ErrorCode"] = json!(e.kusto_code());
            v["FailureStatus"] = json!("Permanent");
            v["OriginatesFromUpdatePolicy"] = json!(false);
            v["ShouldRetry"] = json!(false);
        }
    }
    v
}
