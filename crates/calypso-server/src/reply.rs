//! Building replies: the request's ids (`x-ms-client-request-id`, `x-ms-activity-id`),
//! JSON bodies and OneApi errors. The HTTP status of an error is decided here, once, from
//! the error's Kusto code (`OneApiError::status`, set by `wire::from_engine_error`).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use calypso_engine::EngineError;

use crate::wire::{OneApiError, ResponseContext, from_engine_error};

/// The request ids of one call.
pub(crate) fn context(headers: &HeaderMap) -> ResponseContext {
    let client_request_id = headers
        .get("x-ms-client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| format!("calypso;{}", uuid::Uuid::new_v4()));
    ResponseContext::new(client_request_id, uuid::Uuid::new_v4().to_string())
}

/// `resp` with the request's ids as headers.
pub(crate) fn with_ids(mut resp: Response, ctx: &ResponseContext) -> Response {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ctx.client_request_id) {
        h.insert("x-ms-client-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&ctx.activity_id) {
        h.insert("x-ms-activity-id", v);
    }
    resp
}

/// A JSON reply (`body` may be a stream).
pub(crate) fn json_response(status: StatusCode, body: Body, ctx: &ResponseContext) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    with_ids(resp, ctx)
}

/// The reply to a OneApi error, with its status.
pub(crate) fn error_response(e: &OneApiError, ctx: &ResponseContext) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, Body::from(e.to_json().to_string()), ctx)
}

/// The OneApi reply to a failed query or command, with `@text` and `@database`.
pub(crate) fn engine_error(
    e: &EngineError,
    ctx: &ResponseContext,
    csl: &str,
    db: &str,
) -> Response {
    log_failure(e, ctx);
    error_response(&from_engine_error(e, ctx).with_request(csl, db), ctx)
}

/// Logs errors that are not the user's.
pub(crate) fn log_failure(e: &EngineError, ctx: &ResponseContext) {
    if !e.is_user_error() {
        tracing::error!(activity_id = %ctx.activity_id, error = %e, "request failed");
    }
}
