//! The Kusto REST API over axum: `/v2/rest/query`, `/v1/rest/query`, `/v1/rest/mgmt`,
//! `/v1/rest/auth/metadata`, `/v1/rest/ingest/{db}/{table}`.
//!
//! Every handler takes its admission permit before it reads the request body
//! (`request::read_body`), so refused requests cost no memory; query replies stream
//! (`results.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use calypso_engine::{Caller, DEFAULT_DATABASE, EngineError, QueryResult};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::decompression::RequestDecompressionLayer;

use crate::admission::Workload;
use crate::reply::{context, engine_error, error_response, json_response, log_failure};
use crate::request::{
    KustoRequest, MAX_INGEST_BODY, MAX_QUERY_BODY, opt_bool, opt_str, parse_request, read_body,
};
use crate::results::{Format, QueryJob};
pub use crate::state::AppState;
use crate::wire::v1::ColumnOverride;
use crate::wire::{ErrorPlacement, OneApiError, ResponseContext, V2Options, from_engine_error};

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
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
        ])
        .allow_headers(AllowHeaders::mirror_request())
        .allow_credentials(true)
        .allow_private_network(true)
        .expose_headers([
            HeaderName::from_static("x-ms-client-request-id"),
            HeaderName::from_static("x-ms-activity-id"),
        ])
        .max_age(Duration::from_secs(3600));
    // The storage calls of queued ingestion carry SAS tokens, not bearer tokens, and their
    // bodies are the blobs as uploaded: outside authentication and (de)compression.
    let storage = Router::new()
        .route(
            "/{account}/{*rest}",
            axum::routing::any(crate::storage_api::handle),
        )
        .layer(axum::extract::DefaultBodyLimit::disable());
    Router::new()
        .route("/v2/rest/query", post(v2_query).get(v2_query_get))
        .route("/v1/rest/query", post(v1_query).get(v1_query_get))
        .route("/v1/rest/mgmt", post(v1_mgmt))
        .route("/v1/rest/auth/metadata", get(auth_metadata))
        .route("/v1/rest/ingest/{db}/{table}", post(ingest))
        .layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            crate::auth::authenticate,
        ))
        .layer(RequestDecompressionLayer::new())
        .layer(tower_http::compression::CompressionLayer::new())
        .merge(storage)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.origins),
            crate::origin::guard,
        ))
        .layer(cors)
        .with_state(state)
}

/// Runs a command (or, on the management endpoint, a query) to its end with the request's
/// server timeout.
async fn run_command(
    state: &AppState,
    caller: &Caller,
    db: &str,
    req: &KustoRequest,
    ctx: &ResponseContext,
    headers: &HeaderMap,
) -> Result<QueryResult, EngineError> {
    let mut options = req.engine_options(false);
    client_ids(&mut options, ctx, headers);
    options.public_url = Some(state.public_url_for(headers));
    let timeout = req.timeout(true);
    let fut = state.engine.execute_as(caller, db, &req.csl, &options);
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(EngineError::Timeout(format!(
            "The command exceeded the server timeout of {timeout:?}"
        ))),
    }
}

/// The client's ids and names (`.show queries` lists them; `.cancel query` names queries
/// by the ClientRequestId).
fn client_ids(
    options: &mut calypso_engine::RequestOptions,
    ctx: &ResponseContext,
    headers: &HeaderMap,
) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    options.client_request_id = Some(ctx.client_request_id.clone());
    options.application = header("x-ms-app");
    options.user = header("x-ms-user");
}

/// The v2 reply shape a request asks for.
fn v2_options(req: &KustoRequest) -> V2Options {
    V2Options {
        fragment_primary_tables: opt_bool(&req.options, "results_v2_fragment_primary_tables")
            .unwrap_or(false),
        newlines_between_frames: opt_bool(&req.options, "results_v2_newlines_between_frames")
            .unwrap_or(false),
        progressive: opt_bool(&req.options, "results_progressive_enabled").unwrap_or(false),
        error_reporting_placement: opt_str(&req.options, "results_error_reporting_placement")
            .and_then(ErrorPlacement::parse)
            .unwrap_or_default(),
        defer_partial_query_failures: opt_bool(&req.options, "deferpartialqueryfailures")
            .unwrap_or(false),
    }
}

/// The body of a request whose permit is held, or the reply refusing it.
enum Input {
    Body(Body),
    Read(Bytes),
}

impl Input {
    async fn read(
        self,
        state: &AppState,
        limit: usize,
        ctx: &ResponseContext,
    ) -> Result<Bytes, Response> {
        match self {
            Input::Read(b) => Ok(b),
            Input::Body(body) => read_body(body, limit, state.client_read_timeout, ctx)
                .await
                .map_err(|e| error_response(&e, ctx)),
        }
    }
}

async fn query_common(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    input: Input,
    v2: bool,
) -> Response {
    let ctx = context(&headers);
    let started = Instant::now();
    let permit = match state.admission.admit(Workload::Query, &ctx).await {
        Ok(p) => p,
        Err(e) => return error_response(&e, &ctx),
    };
    let body = match input.read(&state, MAX_QUERY_BODY, &ctx).await {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    let req = match parse_request(&body) {
        Ok(r) => r,
        Err(msg) => return error_response(&OneApiError::bad_request(&msg, &ctx), &ctx),
    };
    drop(body);
    if calypso_engine::is_command(&req.csl) {
        let msg = "Control commands (starting with a dot '.') are not supported on the query endpoint: use /v1/rest/mgmt";
        return error_response(&OneApiError::bad_request(msg, &ctx), &ctx);
    }
    let database = req
        .db
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE.to_string());
    let mut options = req.engine_options(true);
    client_ids(&mut options, &ctx, &headers);
    tracing::info!(activity_id = %ctx.activity_id, client_request_id = %ctx.client_request_id, db = %database, "query");
    crate::results::respond(QueryJob {
        engine: Arc::clone(&state.engine),
        caller,
        database,
        timeout: req.timeout(false),
        format: if v2 {
            Format::V2(v2_options(&req))
        } else {
            Format::V1
        },
        csl: req.csl,
        options,
        ctx,
        started,
        permit,
    })
    .await
}

async fn v2_query(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    query_common(state, caller, headers, Input::Body(body), true).await
}

async fn v1_query(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    query_common(state, caller, headers, Input::Body(body), false).await
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
    query_common(state, caller, headers, Input::Read(get_body(&q)), true).await
}

async fn v1_query_get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    query_common(state, caller, headers, Input::Read(get_body(&q)), false).await
}

async fn v1_mgmt(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ctx = context(&headers);
    let _permit = match state.admission.admit(Workload::Command, &ctx).await {
        Ok(p) => p,
        Err(e) => return error_response(&e, &ctx),
    };
    let body = match Input::Body(body).read(&state, MAX_QUERY_BODY, &ctx).await {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    let req = match parse_request(&body) {
        Ok(r) => r,
        Err(msg) => return error_response(&OneApiError::bad_request(&msg, &ctx), &ctx),
    };
    drop(body);
    let db = req
        .db
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE.to_string());
    tracing::info!(activity_id = %ctx.activity_id, client_request_id = %ctx.client_request_id, db = %db, "command");
    let result = match run_command(&state, &caller, &db, &req, &ctx, &headers).await {
        Ok(r) => r,
        Err(e) => return engine_error(&e, &ctx, &req.csl, &db),
    };
    let Some(table) = result.tables.first() else {
        return error_response(&OneApiError::internal(&ctx), &ctx);
    };
    let overrides = mgmt_overrides(result.command, table.columns.len());
    let body = crate::wire::v1_mgmt(table, overrides.as_deref());
    json_response(StatusCode::OK, Body::from(body.to_string()), &ctx)
}

async fn auth_metadata(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let ctx = context(&headers);
    json_response(
        StatusCode::OK,
        Body::from(state.auth.metadata_body().to_vec()),
        &ctx,
    )
}

async fn ingest(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((db, table)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
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
    let body = match Input::Body(body).read(&state, MAX_INGEST_BODY, &ctx).await {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    tracing::info!(activity_id = %ctx.activity_id, db = %db, table = %table, format = %format, bytes = body.len(), "ingest");
    let started = Instant::now();
    // `sourceKind=uri`: the body is `{"sourceUri": "<blob>"}` and the data is there.
    let from_uri = param("sourceKind").is_some_and(|k| k.eq_ignore_ascii_case("uri"));
    let outcome = if from_uri {
        let uri = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.as_object()?
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("sourceUri"))
                    .and_then(|(_, v)| v.as_str().map(str::to_string))
            });
        let Some(uri) = uri else {
            let e = OneApiError::streaming_ingest(
                400,
                "BadRequest_MissingParameter",
                "With sourceKind=uri the body must be a JSON object with a 'sourceUri' string",
                true,
                &ctx,
            );
            return error_response(&e, &ctx);
        };
        state
            .engine
            .ingest_stream_from_uri_as(&caller, &db, &table, &format, mapping, &uri)
            .await
    } else {
        state
            .engine
            .ingest_stream_as(&caller, &db, &table, &format, mapping, &body)
            .await
    };
    match outcome {
        Ok(summary) => {
            tracing::info!(
                rows = summary.rows,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "ingested"
            );
            let body = crate::wire::v1_ingest_result(summary.extent_id.as_deref(), summary.rows);
            json_response(StatusCode::OK, Body::from(body.to_string()), &ctx)
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
