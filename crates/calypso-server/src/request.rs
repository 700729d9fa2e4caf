//! Reading requests: bodies (after admission, with size and idle limits), the JSON of a
//! query or command, and its client request properties
//! (`api/rest/request-properties.md`).

use std::collections::HashMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use calypso_engine::{RequestOptions, Truncation};
use futures::StreamExt;
use serde_json::Value;

use crate::wire::{OneApiError, ResponseContext};

/// Streaming ingestion bodies up to this size are accepted (after decompression).
pub const MAX_INGEST_BODY: usize = 1 << 30;
/// Query and command bodies up to this size are accepted (after decompression).
pub const MAX_QUERY_BODY: usize = 64 << 20;
/// Kusto's default server timeout of queries.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(4 * 60);
/// Kusto's default server timeout of management commands.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// The longest server timeout (`servertimeout`, `norequesttimeout`): one hour.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Reads a request body of at most `limit` bytes (counted after `Content-Encoding`
/// decompression, so a compressed bomb stops at the limit). Called after admission, so a
/// refused request never has its body read. Errors are the replies: 413 over the limit,
/// 408 for a client that sends nothing for `idle`, 400 for a body that cannot be decoded
/// (a truncated gzip stream).
pub(crate) async fn read_body(
    body: Body,
    limit: usize,
    idle: Duration,
    ctx: &ResponseContext,
) -> Result<Bytes, OneApiError> {
    let what = if limit == MAX_INGEST_BODY {
        "streaming ingestion"
    } else {
        "queries and commands"
    };
    let mut stream = body.into_data_stream();
    // One chunk is kept as it is; more are copied together.
    let mut single: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    let mut total = 0usize;
    loop {
        let chunk = match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => {
                return Err(OneApiError::request_timeout(
                    &format!(
                        "The client sent no request body data for {} seconds",
                        idle.as_secs_f64()
                    ),
                    ctx,
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(OneApiError::bad_request(
                    &format!("The request body could not be read: {e}"),
                    ctx,
                ));
            }
            Ok(Some(Ok(c))) => c,
        };
        total = total.saturating_add(chunk.len());
        if total > limit {
            let detail = format!(
                "The request body exceeds the limit of {limit} bytes for {what} (counted after decompression)"
            );
            return Err(OneApiError::payload_too_large(&detail, ctx));
        }
        match single.take() {
            None if joined.is_empty() => single = Some(chunk),
            Some(first) => {
                joined.extend_from_slice(&first);
                joined.extend_from_slice(&chunk);
            }
            None => joined.extend_from_slice(&chunk),
        }
    }
    Ok(single.unwrap_or_else(|| Bytes::from(joined)))
}

/// A query or command request body.
#[derive(Debug, Default)]
pub(crate) struct KustoRequest {
    pub(crate) db: Option<String>,
    pub(crate) csl: String,
    pub(crate) options: serde_json::Map<String, Value>,
    pub(crate) parameters: HashMap<String, String>,
}

/// Parses `{"db": ..., "csl": ..., "properties": ...}`.
pub(crate) fn parse_request(body: &[u8]) -> Result<KustoRequest, String> {
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

fn opt<'a>(o: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// A boolean request property (`true`, `"true"`, `1`).
pub(crate) fn opt_bool(o: &serde_json::Map<String, Value>, name: &str) -> Option<bool> {
    opt(o, name).and_then(|v| match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => Some(n.as_i64() != Some(0)),
        _ => None,
    })
}

/// A non-negative integer request property (`100`, `"100"`).
pub(crate) fn opt_u64(o: &serde_json::Map<String, Value>, name: &str) -> Option<u64> {
    opt(o, name).and_then(|v| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A string request property.
pub(crate) fn opt_str<'a>(o: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    opt(o, name).and_then(Value::as_str)
}

impl KustoRequest {
    /// The server timeout: `servertimeout` (a timespan, `00:04:00` or `4m`, or
    /// milliseconds) or the default for queries (4 minutes) or commands (10 minutes);
    /// `norequesttimeout` and values above it: the maximum, one hour
    /// (`concepts/query-limits.md`, "Limit execution timeout").
    pub(crate) fn timeout(&self, command: bool) -> Duration {
        if opt_bool(&self.options, "norequesttimeout").unwrap_or(false) {
            return MAX_TIMEOUT;
        }
        let given = opt(&self.options, "servertimeout").and_then(|v| {
            let ns = match v {
                Value::Number(n) => n
                    .as_u64()
                    .map(|ms| i64::try_from(ms.saturating_mul(1_000_000)).unwrap_or(i64::MAX)),
                Value::String(s) => kql_types::parse::parse_timespan(s)
                    .or_else(|| kql_types::parse::parse_timespan_literal(s)),
                _ => None,
            }?;
            u64::try_from(ns)
                .ok()
                .filter(|ns| *ns > 0)
                .map(Duration::from_nanos)
        });
        let default = if command {
            COMMAND_TIMEOUT
        } else {
            QUERY_TIMEOUT
        };
        given.unwrap_or(default).min(MAX_TIMEOUT)
    }

    /// The engine's options of this request: parameters, `query_now`, the memory limits
    /// and (for queries) the truncation properties.
    pub(crate) fn engine_options(&self, query: bool) -> RequestOptions {
        let o = &self.options;
        RequestOptions {
            parameters: self.parameters.clone(),
            query_now: opt_str(o, "query_now").and_then(kql_types::parse::parse_datetime),
            max_memory_per_query: opt_u64(o, "max_memory_consumption_per_query_per_node"),
            max_memory_per_iterator: opt_u64(o, "maxmemoryconsumptionperiterator"),
            truncation: query.then(|| Truncation {
                notruncation: opt_bool(o, "notruncation").unwrap_or(false),
                max_records: opt_u64(o, "truncationmaxrecords"),
                max_bytes: opt_u64(o, "truncationmaxsize"),
                take_max_records: opt_u64(o, "query_take_max_records"),
            }),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(options: Value) -> KustoRequest {
        KustoRequest {
            options: options.as_object().cloned().unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn timeouts_follow_the_docs() {
        let none = req(serde_json::json!({}));
        assert_eq!(none.timeout(false), Duration::from_secs(240));
        assert_eq!(none.timeout(true), Duration::from_secs(600));
        assert_eq!(
            req(serde_json::json!({"servertimeout": "00:00:05"})).timeout(false),
            Duration::from_secs(5)
        );
        assert_eq!(
            req(serde_json::json!({"servertimeout": 1500})).timeout(false),
            Duration::from_millis(1500)
        );
        assert_eq!(
            req(serde_json::json!({"servertimeout": "3.00:00:00"})).timeout(false),
            MAX_TIMEOUT
        );
        assert_eq!(
            req(serde_json::json!({"norequesttimeout": true})).timeout(false),
            MAX_TIMEOUT
        );
    }

    #[test]
    fn truncation_properties_reach_the_engine() {
        let r = req(serde_json::json!({"truncationmaxrecords": "10", "NoTruncation": true}));
        let t = r.engine_options(true).truncation.unwrap_or_default();
        assert_eq!(t.max_records, Some(10));
        assert!(t.notruncation);
        assert_eq!(r.engine_options(false).truncation, None);
    }
}
