//! The Kusto REST API over axum: `/v2/rest/query`, `/v1/rest/query`, `/v1/rest/mgmt`,
//! `/v1/rest/auth/metadata`, `/v1/rest/ingest/{db}/{table}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use calypso_engine::{Caller, DEFAULT_DATABASE, Engine, EngineError, QueryResult, RequestOptions};
use serde_json::Value;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::decompression::RequestDecompressionLayer;

use crate::admission::{Admission, Limits, Workload};
use crate::auth::Auth;
use crate::origin::OriginPolicy;
use crate::wire::v1::ColumnOverride;
use crate::wire::{ErrorPlacement, OneApiError, ResponseContext, V2Options, from_engine_error};

/// Streaming ingestion bodies up to this size are accepted.
pub const MAX_INGEST_BODY: usize = 1 << 30;
/// Query and command bodies up to this size are accepted.
pub const MAX_QUERY_BODY: usize = 64 << 20;
/// Kusto's default result limits.
pub const DEFAULT_MAX_RECORDS: u64 = 500_000;
/// Kusto's default result size limit.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Concurrency limits.
    pub admission: Arc<Admission>,
    /// Authentication.
    pub auth: Auth,
    /// Which web origins and hosts may call the server.
    pub origins: Arc<OriginPolicy>,
}

impl AppState {
    /// State for `engine` with the default limits.
    pub fn new(engine: Arc<Engine>) -> AppState {
        AppState::with_limits(engine, Limits::default())
    }

    /// State for `engine` with `limits`.
    pub fn with_limits(engine: Arc<Engine>, limits: Limits) -> AppState {
        AppState {
            engine,
            admission: Arc::new(Admission::new(limits)),
            auth: Auth::none(),
            origins: Arc::new(OriginPolicy::default()),
        }
    }

    /// The same state with `auth`.
    pub fn with_auth(mut self, auth: Auth) -> AppState {
        self.auth = auth;
        self
    }

    /// The same state with `origins`.
    pub fn with_origins(mut self, origins: OriginPolicy) -> AppState {
        self.origins = Arc::new(origins);
        self
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// The router: the origin guard (see `origin.rs`), CORS for the allowed web origins (the ADX
/// web UI and `--cors-origin`s), authentication and request/response compression.
pub fn router(state: AppState) -> Router {
    let origins = Arc::clone(&state.origins);
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, parts| {
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok());
            origin
                .to_str()
                .is_ok_and(|o| origins.origin_allowed(o, host) && origins.host_allowed(host))
        }))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(AllowHeaders::mirror_request())
        .allow_credentials(true)
        .allow_private_network(true)
        .expose_headers([
            HeaderName::from_static("x-ms-client-request-id"),
            HeaderName::from_static("x-ms-activity-id"),
        ])
        .max_age(Duration::from_secs(3600));
    Router::new()
        .route("/v2/rest/query", post(v2_query).get(v2_query_get))
        .route("/v1/rest/query", post(v1_query).get(v1_query_get))
        .route("/v1/rest/mgmt", post(v1_mgmt))
        .route("/v1/rest/auth/metadata", get(auth_metadata))
        .route(
            "/v1/rest/ingest/{db}/{table}",
            post(ingest).layer(DefaultBodyLimit::max(MAX_INGEST_BODY)),
        )
        .layer(DefaultBodyLimit::max(MAX_QUERY_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authenticate,
        ))
        .layer(axum::middleware::map_response(oneapi_payload_too_large))
        .layer(RequestDecompressionLayer::new())
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.origins),
            crate::origin::guard,
        ))
        .layer(cors)
        .with_state(state)
}

/// Bodies over the size limit are refused by axum with a plain-text 413; Kusto clients
/// need OneApi JSON (`PayloadTooLarge`) to report it.
async fn oneapi_payload_too_large(headers: HeaderMap, resp: Response) -> Response {
    if resp.status() != StatusCode::PAYLOAD_TOO_LARGE
        || resp
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
    {
        return resp;
    }
    let ctx = context(&headers);
    let detail = format!(
        "The request body exceeds the limit of {MAX_QUERY_BODY} bytes for queries and commands ({MAX_INGEST_BODY} bytes for streaming ingestion)"
    );
    error_response(&OneApiError::payload_too_large(&detail, &ctx), &ctx)
}

/// The request ids of one call.
pub(crate) fn context(headers: &HeaderMap) -> ResponseContext {
    let client_request_id = headers
        .get("x-ms-client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| format!("calypso;{}", uuid::Uuid::new_v4()));
    ResponseContext::new(client_request_id, uuid::Uuid::new_v4().to_string())
}

fn with_ids(mut resp: Response, ctx: &ResponseContext) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ctx.client_request_id) {
        h.insert("x-ms-client-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&ctx.activity_id) {
        h.insert("x-ms-activity-id", v);
    }
    resp
}

fn json_response(status: StatusCode, body: Vec<u8>, ctx: &ResponseContext) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    with_ids(resp, ctx)
}

pub(crate) fn error_response(e: &OneApiError, ctx: &ResponseContext) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, e.to_json().to_string().into_bytes(), ctx)
}

/// The OneApi reply to a failed query or command, with `@text` and `@database`.
fn engine_error(e: &EngineError, ctx: &ResponseContext, csl: &str, db: &str) -> Response {
    log_failure(e, ctx);
    error_response(&from_engine_error(e, ctx).with_request(csl, db), ctx)
}

fn log_failure(e: &EngineError, ctx: &ResponseContext) {
    if !e.is_user_error() {
        tracing::error!(activity_id = %ctx.activity_id, error = %e, "request failed");
    }
}

/// A query or command request body.
#[derive(Debug, Default)]
struct KustoRequest {
    db: Option<String>,
    csl: String,
    options: serde_json::Map<String, Value>,
    parameters: HashMap<String, String>,
}

fn parse_request(body: &[u8]) -> Result<KustoRequest, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("The request body is not valid JSON: {e}"))?;
    let csl = v
        .get("csl")
        .and_then(Value::as_str)
        .ok_or("The request body has no 'csl' property")?
        .to_string();
    let db = v
        .get("db")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    // `properties` is a JSON string (Python SDK) or an object (other clients).
    let props = match v.get("properties") {
        Some(Value::String(s)) if !s.trim().is_empty() => serde_json::from_str::<Value>(s)
            .map_err(|e| format!("'properties' is not valid JSON: {e}"))?,
        Some(Value::Object(o)) => Value::Object(o.clone()),
        _ => Value::Null,
    };
    let options = props
        .get("Options")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let parameters = props
        .get("Parameters")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(KustoRequest {
        db,
        csl,
        options,
        parameters,
    })
}

fn opt_bool(o: &serde_json::Map<String, Value>, name: &str) -> Option<bool> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => Some(n.as_i64() != Some(0)),
            _ => None,
        })
}

fn opt_u64(o: &serde_json::Map<String, Value>, name: &str) -> Option<u64> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        })
}

fn opt_str<'a>(o: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

/// `servertimeout`: a timespan (`00:04:00`, `4m`) or milliseconds.
fn server_timeout(o: &serde_json::Map<String, Value>) -> Option<Duration> {
    let v = o
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("servertimeout"))
        .map(|(_, v)| v)?;
    let ns = match v {
        Value::Number(n) => n.as_u64().map(|ms| ms as i64 * 1_000_000),
        Value::String(s) => kql_functions::convert::parse_timespan(s)
            .or_else(|| kql_functions::convert::parse_timespan_literal(s)),
        _ => None,
    }?;
    (ns > 0).then(|| Duration::from_nanos(ns as u64))
}

fn request_options(req: &KustoRequest, set_options: &HashMap<String, String>) -> RequestOptions {
    let mut o = RequestOptions {
        parameters: req.parameters.clone(),
        ..Default::default()
    };
    if let Some(now) = opt_str(&req.options, "query_now") {
        o.query_now = kql_functions::convert::parse_datetime(now);
    }
    o.max_memory_per_query = opt_u64(&req.options, "max_memory_consumption_per_query_per_node");
    let _ = set_options;
    o
}

async fn read_body(body: Bytes) -> Bytes {
    body
}

/// Result limits after `set` statements and request options.
struct ResultLimits {
    max_records: Option<u64>,
    max_bytes: Option<u64>,
}

fn limits(req: &KustoRequest, result: &QueryResult) -> ResultLimits {
    let set = |name: &str| result.options.get(name).map(String::as_str);
    let notruncation = opt_bool(&req.options, "notruncation").unwrap_or(false)
        || set("notruncation").is_some_and(|v| v != "false");
    if notruncation {
        return ResultLimits {
            max_records: None,
            max_bytes: None,
        };
    }
    let records = set("truncationmaxrecords")
        .and_then(|v| v.parse().ok())
        .or_else(|| opt_u64(&req.options, "truncationmaxrecords"))
        .unwrap_or(DEFAULT_MAX_RECORDS);
    let bytes = set("truncationmaxsize")
        .and_then(|v| v.parse().ok())
        .or_else(|| opt_u64(&req.options, "truncationmaxsize"))
        .unwrap_or(DEFAULT_MAX_BYTES);
    ResultLimits {
        max_records: Some(records),
        max_bytes: Some(bytes),
    }
}

/// Runs the engine with the request's server timeout.
async fn run(
    state: &AppState,
    caller: &Caller,
    db: &str,
    req: &KustoRequest,
    ctx: &ResponseContext,
    headers: &HeaderMap,
) -> Result<QueryResult, EngineError> {
    let mut options = request_options(req, &HashMap::new());
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    options.client_request_id = Some(ctx.client_request_id.clone());
    options.application = header("x-ms-app");
    options.user = header("x-ms-user");
    let timeout = server_timeout(&req.options).unwrap_or(Duration::from_secs(4 * 60));
    let no_timeout = opt_bool(&req.options, "norequesttimeout").unwrap_or(false);
    let fut = state.engine.execute_as(caller, db, &req.csl, &options);
    if no_timeout {
        return fut.await;
    }
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(EngineError::Timeout(format!(
            "The query exceeded the server timeout of {timeout:?}"
        ))),
    }
}

async fn query_common(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
    v2: bool,
) -> Response {
    let ctx = context(&headers);
    let started = Instant::now();
    let req = match parse_request(&read_body(body).await) {
        Ok(r) => r,
        Err(msg) => return error_response(&OneApiError::bad_request(&msg, &ctx), &ctx),
    };
    if calypso_engine::is_command(&req.csl) {
        let msg = "Control commands (starting with a dot '.') are not supported on the query endpoint: use /v1/rest/mgmt";
        return error_response(&OneApiError::bad_request(msg, &ctx), &ctx);
    }
    let _permit = match state.admission.admit(Workload::Query, &ctx).await {
        Ok(p) => p,
        Err(e) => return error_response(&e, &ctx),
    };
    let db = req
        .db
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE.to_string());
    let span = tracing::info_span!("query", activity_id = %ctx.activity_id, client_request_id = %ctx.client_request_id, db = %db);
    let _enter = span.enter();
    let result = match run(&state, &caller, &db, &req, &ctx, &headers).await {
        Ok(r) => r,
        Err(e) => return engine_error(&e, &ctx, &req.csl, &db),
    };
    let ctx = ctx.with_execution_time(started.elapsed());
    let lim = limits(&req, &result);
    let (result, partial) = crate::limits::truncate(result, lim.max_records, lim.max_bytes, &ctx);
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        tables = result.tables.len(),
        "query done"
    );
    if v2 {
        let opts = V2Options {
            fragment_primary_tables: opt_bool(&req.options, "results_v2_fragment_primary_tables")
                .unwrap_or(false),
            newlines_between_frames: opt_bool(&req.options, "results_v2_newlines_between_frames")
                .unwrap_or(false),
            progressive: opt_bool(&req.options, "results_progressive_enabled").unwrap_or(false),
            error_reporting_placement: match opt_str(
                &req.options,
                "results_error_reporting_placement",
            ) {
                Some(p)
                    if p.eq_ignore_ascii_case("end_of_table")
                        || p.eq_ignore_ascii_case("EndOfTable") =>
                {
                    ErrorPlacement::EndOfTable
                }
                _ => ErrorPlacement::InData,
            },
            defer_partial_query_failures: opt_bool(&req.options, "deferpartialqueryfailures")
                .unwrap_or(false),
        };
        let body = crate::wire::v2_frames(&result, &opts, &ctx, &partial);
        json_response(StatusCode::OK, body, &ctx)
    } else {
        let body = crate::wire::v1_query_with_errors(&result, &ctx, &partial);
        json_response(StatusCode::OK, body.to_string().into_bytes(), &ctx)
    }
}

async fn v2_query(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    query_common(state, caller, headers, body, true).await
}

async fn v1_query(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    query_common(state, caller, headers, body, false).await
}

fn get_body(q: &HashMap<String, String>) -> Bytes {
    let body = serde_json::json!({"db": q.get("db"), "csl": q.get("csl").cloned().unwrap_or_default(), "properties": q.get("properties")});
    Bytes::from(body.to_string())
}

async fn v2_query_get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    query_common(state, caller, headers, get_body(&q), true).await
}

async fn v1_query_get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    query_common(state, caller, headers, get_body(&q), false).await
}

async fn v1_mgmt(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = context(&headers);
    let req = match parse_request(&body) {
        Ok(r) => r,
        Err(msg) => return error_response(&OneApiError::bad_request(&msg, &ctx), &ctx),
    };
    let db = req
        .db
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE.to_string());
    let _permit = match state.admission.admit(Workload::Command, &ctx).await {
        Ok(p) => p,
        Err(e) => return error_response(&e, &ctx),
    };
    let span = tracing::info_span!("mgmt", activity_id = %ctx.activity_id, client_request_id = %ctx.client_request_id, db = %db);
    let _enter = span.enter();
    let result = match run(&state, &caller, &db, &req, &ctx, &headers).await {
        Ok(r) => r,
        Err(e) => return engine_error(&e, &ctx, &req.csl, &db),
    };
    let Some(table) = result.tables.first() else {
        return error_response(&OneApiError::internal(&ctx), &ctx);
    };
    let overrides = mgmt_overrides(result.command, table.columns.len());
    let body = crate::wire::v1_mgmt(table, overrides.as_deref());
    json_response(StatusCode::OK, body.to_string().into_bytes(), &ctx)
}

async fn auth_metadata(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let ctx = context(&headers);
    json_response(StatusCode::OK, state.auth.metadata_body().to_vec(), &ctx)
}

async fn ingest(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((db, table)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = context(&headers);
    let param = |name: &str| {
        q.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let Some(format) = param("streamFormat") else {
        let e = OneApiError::streaming_ingest(
            400,
            "BadRequest_MissingParameter",
            "The 'streamFormat' query parameter is required",
            true,
            &ctx,
        );
        return error_response(&e, &ctx);
    };
    let mapping_name = param("mappingName").filter(|m| !m.is_empty());
    let mapping = match mapping_name.as_deref() {
        Some(name) => calypso_engine::MappingSpec::Reference(name),
        None => calypso_engine::MappingSpec::Identity,
    };
    let _permit = match state.admission.admit(Workload::Ingestion, &ctx).await {
        Ok(p) => p,
        Err(e) => return error_response(&e, &ctx),
    };
    let span = tracing::info_span!("ingest", activity_id = %ctx.activity_id, db = %db, table = %table, format = %format, bytes = body.len());
    let _enter = span.enter();
    let started = Instant::now();
    match state
        .engine
        .ingest_stream_as(&caller, &db, &table, &format, mapping, &body)
        .await
    {
        Ok(summary) => {
            tracing::info!(
                rows = summary.rows,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "ingested"
            );
            let body = crate::wire::v1_ingest_result(summary.extent_id.as_deref(), summary.rows);
            json_response(StatusCode::OK, body.to_string().into_bytes(), &ctx)
        }
        Err(e) => {
            log_failure(&e, &ctx);
            error_response(&from_engine_error(&e, &ctx), &ctx)
        }
    }
}

/// Per-command v1 schema quirks: `.show version` has no `ColumnType`; booleans of command
/// results are `Boolean` rather than the query results' `SByte`.
fn mgmt_overrides(command: Option<&str>, columns: usize) -> Option<Vec<ColumnOverride<'static>>> {
    // `.show version` answers with DataType only, as ADX does.
    (command == Some("ShowVersion")).then(|| vec![ColumnOverride::DATA_TYPE_ONLY; columns])
}
