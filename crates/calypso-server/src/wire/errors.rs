//! OneApi errors: the `{"error":{...}}` bodies of failed requests and the `OneApiErrors`
//! items of partial failures (`wire-protocol.md` §3.2, fixtures `go/v2/partialError.json`,
//! `python/query_partial_results_defer_is_false.json`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// `@context.serviceAlias` of every error.
pub const SERVICE_ALIAS: &str = "CALYPSO";
/// `@context.machineName`.
pub const MACHINE_NAME: &str = "calypso";
/// `@context.processName`.
pub const PROCESS_NAME: &str = "calypso";
/// `@context.activityType`.
pub const ACTIVITY_TYPE: &str = "Calypso.Http.CallContext";

/// The ids and time of one request, echoed in every service table and error.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseContext {
    /// `x-ms-client-request-id` as received (or generated).
    pub client_request_id: String,
    /// `x-ms-activity-id` of the response (a GUID string).
    pub activity_id: String,
    /// When the request completed.
    pub timestamp: DateTime<Utc>,
    /// How long the query ran (`ExecutionTime` of the stats payloads).
    pub execution_time: Duration,
}

impl ResponseContext {
    /// A context stamped now, with no execution time.
    pub fn new(client_request_id: impl Into<String>, activity_id: impl Into<String>) -> Self {
        ResponseContext {
            client_request_id: client_request_id.into(),
            activity_id: activity_id.into(),
            timestamp: Utc::now(),
            execution_time: Duration::ZERO,
        }
    }

    /// Sets the execution time.
    pub fn with_execution_time(mut self, d: Duration) -> Self {
        self.execution_time = d;
        self
    }

    /// The timestamp as Kusto writes datetimes (`yyyy-MM-ddTHH:mm:ss.fffffffZ`).
    pub fn timestamp_text(&self) -> String {
        let ns = self
            .timestamp
            .timestamp_nanos_opt()
            .unwrap_or_else(|| self.timestamp.timestamp_micros().saturating_mul(1000));
        kql_types::format::format_datetime_kusto(ns)
    }

    /// The `@context` object of OneApi errors.
    pub fn to_json(&self) -> Value {
        json!({
            "timestamp": self.timestamp_text(),
            "serviceAlias": SERVICE_ALIAS,
            "machineName": MACHINE_NAME,
            "processName": PROCESS_NAME,
            "processId": std::process::id(),
            "threadId": 1,
            "clientRequestId": self.client_request_id,
            "activityId": self.activity_id,
            "subActivityId": self.activity_id,
            "activityType": ACTIVITY_TYPE,
            "parentActivityId": self.activity_id,
            "activityStack": format!(
                "(Activity stack: CRID={} ARID={} > {}/{})",
                self.client_request_id, self.activity_id, ACTIVITY_TYPE, self.activity_id
            ),
        })
    }
}

/// The `innererror` of a OneApi error (DOCS `response-v2.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct InnerError {
    /// `code` (`SEM0100`, `SYN0002`, ...).
    pub code: String,
    /// `message`.
    pub message: String,
    /// `@type`.
    pub type_name: String,
    /// `@message`.
    pub inner_message: String,
    /// `@permanent`.
    pub permanent: bool,
}

impl InnerError {
    /// The JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "code": self.code,
            "message": self.message,
            "@type": self.type_name,
            "@message": self.inner_message,
            "@permanent": self.permanent,
            "@errorCode": self.code,
            "@errorMessage": self.message,
        })
    }
}

/// A Kusto OneApi error and the HTTP status it is answered with.
#[derive(Debug, Clone, PartialEq)]
pub struct OneApiError {
    /// HTTP status of a request failing with this error.
    pub status: u16,
    /// `code` (`BadRequest_SyntaxError`, `General_BadRequest`, `LimitsExceeded`, ...).
    pub code: String,
    /// `message` (short, generic).
    pub message: String,
    /// `@type` (.NET exception type).
    pub type_name: String,
    /// `@message` (the detailed text).
    pub inner_message: String,
    /// `@permanent`: false means a retry (or queued-ingestion fallback) may succeed.
    pub permanent: bool,
    /// `@context`.
    pub context: ResponseContext,
    /// `@text`: the request text, when known.
    pub text: Option<String>,
    /// `@database`, when known.
    pub database: Option<String>,
    /// `innererror`.
    pub innererror: Option<InnerError>,
}

const BAD_REQUEST_MESSAGE: &str = "Request is invalid and cannot be executed.";

impl OneApiError {
    /// A bare error; see the helpers for the common kinds.
    pub fn new(
        status: u16,
        code: impl Into<String>,
        message: impl Into<String>,
        type_name: impl Into<String>,
        inner_message: impl Into<String>,
        permanent: bool,
        context: &ResponseContext,
    ) -> Self {
        OneApiError {
            status,
            code: code.into(),
            message: message.into(),
            type_name: type_name.into(),
            inner_message: inner_message.into(),
            permanent,
            context: context.clone(),
            text: None,
            database: None,
            innererror: None,
        }
    }

    /// Adds `@text` and `@database`.
    pub fn with_request(mut self, text: impl Into<String>, database: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self.database = Some(database.into());
        self
    }

    /// A syntax error (400). `detail` is the parser's text, with or without the
    /// `Syntax error: ` prefix; `@message` always contains `Syntax error:`.
    pub fn syntax_error(detail: &str, context: &ResponseContext) -> Self {
        let detail = strip_prefix_ci(detail.trim(), "Syntax error:").trim();
        let text = format!("Syntax error: {detail}");
        let mut e = OneApiError::new(
            400,
            "BadRequest_SyntaxError",
            BAD_REQUEST_MESSAGE,
            "Kusto.Data.Exceptions.SyntaxException",
            text.clone(),
            true,
            context,
        );
        e.innererror = Some(InnerError {
            code: "SYN0002".into(),
            message: detail.to_string(),
            type_name: "Kusto.Data.Exceptions.SyntaxException".into(),
            inner_message: text,
            permanent: true,
        });
        e
    }

    /// A semantic error (400, `General_BadRequest`): `@message` is `Request is invalid and
    /// cannot be processed: Semantic error: <detail>` (the `Semantic error:` prefix of
    /// `detail` is optional).
    pub fn semantic_error(detail: &str, context: &ResponseContext) -> Self {
        let detail = strip_prefix_ci(detail.trim(), "Semantic error:").trim();
        let inner = format!("Semantic error: {detail}");
        let mut e = OneApiError::new(
            400,
            "General_BadRequest",
            BAD_REQUEST_MESSAGE,
            "Kusto.Data.Exceptions.KustoBadRequestException",
            format!("Request is invalid and cannot be processed: {inner}"),
            true,
            context,
        );
        e.innererror = Some(InnerError {
            code: "SemanticError".into(),
            message: detail.to_string(),
            type_name: "Kusto.Data.Exceptions.SemanticException".into(),
            inner_message: inner,
            permanent: true,
        });
        e
    }

    /// Any other invalid request (400, `General_BadRequest`), e.g. a control command sent
    /// to `/v2/rest/query` or an unreadable body.
    pub fn bad_request(detail: &str, context: &ResponseContext) -> Self {
        OneApiError::new(
            400,
            "General_BadRequest",
            BAD_REQUEST_MESSAGE,
            "Kusto.Data.Exceptions.KustoBadRequestException",
            format!("Request is invalid and cannot be processed: {detail}"),
            true,
            context,
        )
    }

    /// A feature Calypso does not implement (400, `BadRequest_NotImplemented`).
    pub fn not_implemented(detail: &str, context: &ResponseContext) -> Self {
        OneApiError::new(
            400,
            "BadRequest_NotImplemented",
            BAD_REQUEST_MESSAGE,
            "Kusto.Data.Exceptions.KustoBadRequestException",
            detail,
            true,
            context,
        )
    }

    /// An entity (database, table, function, mapping...) that does not exist (404).
    /// `message` is the full text, e.g. `Database 'x' was not found`.
    pub fn entity_not_found(message: &str, context: &ResponseContext) -> Self {
        OneApiError::new(
            404,
            "BadRequest_EntityNotFound",
            message,
            "Kusto.Data.Exceptions.EntityNotFoundException",
            message,
            true,
            context,
        )
    }

    /// An internal error (500). The cause is not shown (log it with the activity id).
    pub fn internal(context: &ResponseContext) -> Self {
        let detail = format!(
            "An unexpected error occurred in the service (see the server log for activity id {})",
            context.activity_id
        );
        OneApiError::new(
            500,
            "Internal_UnexpectedError",
            "An unexpected error occurred.",
            "Kusto.Data.Exceptions.KustoServiceException",
            detail,
            false,
            context,
        )
    }

    /// Too many requests (429); clients retry or fall back to queued ingestion.
    /// `type_name` is `QueryThrottledException` for queries and
    /// `ControlCommandThrottledException` for management commands, as ADX documents.
    pub fn throttled(type_name: &str, detail: &str, context: &ResponseContext) -> Self {
        OneApiError::new(
            429,
            "TooManyRequests",
            "Request has been denied because of throttling.",
            format!("Kusto.DataNode.Exceptions.{type_name}"),
            detail,
            false,
            context,
        )
    }

    /// A caller without the role an operation needs (403), as ADX answers it: `message`
    /// "Caller is not authorized to perform this action", `@message` naming the principal
    /// and the action.
    pub fn forbidden(detail: &str, context: &ResponseContext) -> Self {
        OneApiError::new(
            403,
            "Forbidden",
            "Caller is not authorized to perform this action",
            "Kusto.DataNode.Exceptions.UnauthorizedDatabaseAccessException",
            detail,
            true,
            context,
        )
    }

    /// A request without valid credentials (401).
    pub fn unauthorized(detail: &str, context: &ResponseContext) -> Self {
        OneApiError::new(
            401,
            "Unauthorized",
            "The request is not authenticated",
            "Kusto.Data.Exceptions.KustoRequestDeniedException",
            detail,
            true,
            context,
        )
    }

    /// A client too slow to send its request (408).
    pub fn request_timeout(detail: &str, context: &ResponseContext) -> Self {
        OneApiError::new(
            408,
            "RequestTimeout",
            "Request timed out.",
            "Kusto.Data.Exceptions.KustoRequestTimeoutException",
            detail,
            false,
            context,
        )
    }

    /// A request body above the size limit (413).
    pub fn payload_too_large(detail: &str, context: &ResponseContext) -> Self {
        OneApiError::new(
            413,
            "PayloadTooLarge",
            "Request payload exceeded limits.",
            "Kusto.Data.Exceptions.KustoRequestPayloadTooLargeException",
            detail,
            true,
            context,
        )
    }

    /// A streaming-ingest failure with a given code (e.g.
    /// `StreamingIngestionFunctionalityDisabled`, `BadRequest_InvalidMapping`) and
    /// permanence: data and schema problems must be permanent, or managed-streaming
    /// clients fall back to queued ingestion.
    pub fn streaming_ingest(
        status: u16,
        code: &str,
        detail: &str,
        permanent: bool,
        context: &ResponseContext,
    ) -> Self {
        OneApiError::new(
            status,
            code,
            detail,
            "Kusto.DataNode.Exceptions.StreamingIngestionException",
            detail,
            permanent,
            context,
        )
    }

    /// The partial failure of a result set cut at `limit` bytes of values
    /// (`truncationmaxsize`; the text of `concepts/query-limits.md`).
    pub fn result_size_too_large(limit: u64, context: &ResponseContext) -> Self {
        Self::limits_exceeded(
            format!(
                "Query execution has exceeded the allowed limits (80DA0003): Query result set \
                 has exceeded the internal data size limit {limit} (E_QUERY_RESULT_SET_TOO_LARGE). \
                 See https://aka.ms/kustoquerylimits for more information and possible solutions."
            ),
            context,
        )
    }

    /// The partial failure of a result set cut at `limit` records
    /// (`E_QUERY_RESULT_SET_TOO_LARGE`), as in `go/v2/partialError.json`.
    pub fn result_set_too_large(limit: u64, context: &ResponseContext) -> Self {
        Self::limits_exceeded(
            format!(
                "Query execution has exceeded the allowed limits (80DA0003): The results of this \
                 query exceed the set limit of {limit} records, so not all records were returned \
                 (E_QUERY_RESULT_SET_TOO_LARGE, 0x80DA0003). See \
                 https://aka.ms/kustoquerylimits for more information and possible solutions.."
            ),
            context,
        )
    }

    /// `LimitsExceeded`, the partial failure of a cut result (not permanent, as captured).
    fn limits_exceeded(detail: String, context: &ResponseContext) -> Self {
        OneApiError::new(
            200,
            "LimitsExceeded",
            BAD_REQUEST_MESSAGE,
            "Kusto.Data.Exceptions.KustoServicePartialQueryFailureLimitsExceededException",
            detail,
            false,
            context,
        )
    }

    /// The errors of table `index` among a reply's `(table index, error)` partial failures.
    pub fn of_table(partial: &[(usize, OneApiError)], index: usize) -> Vec<&OneApiError> {
        partial
            .iter()
            .filter(|(i, _)| *i == index)
            .map(|(_, e)| e)
            .collect()
    }

    /// True for the `E_QUERY_RESULT_SET_TOO_LARGE` partial failure.
    pub fn is_limits_exceeded(&self) -> bool {
        self.code == "LimitsExceeded"
    }

    /// The inner object (without the `{"error": ...}` wrapper).
    pub fn error_object(&self) -> Value {
        let mut m = Map::new();
        m.insert("code".into(), Value::from(self.code.as_str()));
        m.insert("message".into(), Value::from(self.message.as_str()));
        m.insert("@type".into(), Value::from(self.type_name.as_str()));
        m.insert("@message".into(), Value::from(self.inner_message.as_str()));
        m.insert("@context".into(), self.context.to_json());
        m.insert("@permanent".into(), Value::Bool(self.permanent));
        if let Some(t) = &self.text {
            m.insert("@text".into(), Value::from(t.as_str()));
        }
        if let Some(d) = &self.database {
            m.insert("@database".into(), Value::from(d.as_str()));
            m.insert("@ClientRequestLogger".into(), Value::from(""));
        }
        if let Some(inner) = &self.innererror {
            m.insert("innererror".into(), inner.to_json());
        }
        Value::Object(m)
    }

    /// `{"error":{...}}`: the body of a failed request and an item of `OneApiErrors`.
    pub fn to_json(&self) -> Value {
        json!({ "error": self.error_object() })
    }

    /// The text form v1 replies carry in `Exceptions` arrays
    /// (`go/v1/partialError.json`).
    pub fn to_v1_exception_text(&self) -> String {
        format!(
            "{msg}\r\n[0]{ty}: {msg}\r\nTimestamp={ts}\r\nClientRequestId={crid}\r\n\
             ActivityId={aid}\r\nActivityType={at}\r\nServiceAlias={alias}\r\n\
             MachineName={machine}\r\nProcessName={process}\r\nProcessId={pid}\r\n\r\n",
            msg = self.inner_message,
            ty = self.type_name,
            ts = self.context.timestamp_text(),
            crid = self.context.client_request_id,
            aid = self.context.activity_id,
            at = ACTIVITY_TYPE,
            alias = SERVICE_ALIAS,
            machine = MACHINE_NAME,
            process = PROCESS_NAME,
            pid = std::process::id(),
        )
    }
}

impl std::fmt::Display for OneApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.inner_message)
    }
}

impl std::error::Error for OneApiError {}

/// Maps an engine error to its OneApi error. Internal errors are masked: the caller logs
/// `e` itself.
pub fn from_engine_error(
    e: &calypso_engine::EngineError,
    context: &ResponseContext,
) -> OneApiError {
    use calypso_engine::EngineError;
    let status = e.http_status();
    match e {
        EngineError::Syntax(m) => OneApiError::syntax_error(m, context),
        EngineError::UnknownDatabase(_) | EngineError::NotFound(_) => {
            OneApiError::entity_not_found(&e.to_string(), context)
        }
        EngineError::NotSupported(m) | EngineError::NotImplemented(m) => {
            OneApiError::not_implemented(m, context)
        }
        EngineError::Cancelled(m) => OneApiError::new(
            status,
            "QueryCancelled",
            m,
            "Kusto.Data.Exceptions.QueryCancelledException",
            m,
            true,
            context,
        ),
        EngineError::BadRequest(m) => OneApiError::bad_request(m, context),
        // A query that failed as it ran, by its own fault or over a limit: permanent.
        EngineError::QueryFailed { code, message } => OneApiError::new(
            status,
            *code,
            message,
            "Kusto.Data.Exceptions.KustoBadRequestException",
            message,
            true,
            context,
        ),
        EngineError::Conflict(m) => OneApiError::new(
            status,
            "BadRequest_EntityAlreadyExists",
            m,
            "Kusto.Data.Exceptions.EntityAlreadyExistsException",
            m,
            true,
            context,
        ),
        EngineError::Forbidden(m) => OneApiError::forbidden(m, context),
        EngineError::Timeout(m) => OneApiError::new(
            status,
            "Request_ExecutionTimeout",
            m,
            "Kusto.Data.Exceptions.KustoRequestExecutionTimeoutException",
            m,
            false,
            context,
        ),
        EngineError::Ingest(err) => {
            let detail = match err.record {
                Some(r) if !err.message.contains(&r.to_string()) => {
                    format!("{} (record {r})", err.message)
                }
                _ => err.message.clone(),
            };
            OneApiError::streaming_ingest(status, err.code, &detail, err.permanent, context)
        }
        EngineError::Storage(s) if e.is_user_error() => OneApiError::new(
            status,
            s.kusto_code(),
            s.to_string(),
            "Kusto.Data.Exceptions.KustoBadRequestException",
            s.to_string(),
            true,
            context,
        ),
        EngineError::Plan { message, .. } => match e.kusto_code() {
            "BadRequest_SemanticError" => OneApiError::semantic_error(message, context),
            "BadRequest_NotImplemented" => OneApiError::not_implemented(message, context),
            _ => OneApiError::internal(context),
        },
        EngineError::Execution(_) | EngineError::Storage(_) => OneApiError::internal(context),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> &'a str {
    match s.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix) => &s[prefix.len()..],
        _ => s,
    }
}
