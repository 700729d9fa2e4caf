//! A request made of the fuzzer's bytes — method, a path among the real routes, headers
//! (`Content-Type`, `Content-Encoding`, `Origin`, `Host`, ...), a Kusto request body or raw
//! bytes — sent through `calypso_server::router` with `tower::ServiceExt::oneshot`, on a
//! new engine with the fixture's tables (so that commands of one input do not change what
//! the next one sees).

use std::io::Write as _;
use std::time::Duration;

use arbitrary::Unstructured;
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request};
use calypso_server::{AppState, OriginPolicy};
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

use crate::fixture;

/// How long one request may take before it is dropped (not a finding).
const REQUEST_TIME_LIMIT: Duration = Duration::from_secs(10);

const PATHS: &[&str] = &[
    "/v2/rest/query",
    "/v1/rest/mgmt",
    "/v1/rest/query",
    "/v1/rest/ingest/NetDefaultDB/T",
    "/v1/rest/auth/metadata",
    "/v1/rest/ingest/NetDefaultDB/U",
    "/v1/rest/ingest/Nope/T",
    "/v1/rest/ingest/NetDefaultDB/Missing",
    "/",
    "/v2/rest/query/",
    "/v1/rest/ingest/NetDefaultDB",
    "/v1/rest/ingest/%20/%E2%82%AC",
];

const COMMANDS: &[&str] = &[
    ".show tables",
    ".show version",
    ".show database schema as json",
    ".show table T",
    ".show queries",
    ".show commands-and-queries",
    ".create table N (a:long, b:string)",
    ".drop table U",
    ".ingest inline into table T <| true,1,2,1.5,1.5,x,2020-01-01,1h,,[]",
    ".set-or-append U <| print l = 1, s = \"a\", v = dynamic([1])",
    ".alter table T policy retention '{\"SoftDeletePeriod\": \"1.00:00:00\"}'",
    ".show table T ingestion mappings",
    ".cancel query \"x\"",
    ".show tables | where TableName == \"T\"",
    ".create function F() { T | take 1 }",
    ".show operations",
];

const STREAM_FORMATS: &[&str] = &[
    "csv",
    "json",
    "multijson",
    "singlejson",
    "tsv",
    "TXT",
    "psv",
    "parquet",
    "",
];

const OPTION_NAMES: &[&str] = &[
    "servertimeout",
    "notruncation",
    "truncationmaxrecords",
    "truncationmaxsize",
    "results_v2_fragment_primary_tables",
    "results_v2_newlines_between_frames",
    "results_progressive_enabled",
    "results_error_reporting_placement",
    "deferpartialqueryfailures",
    "query_now",
    "max_memory_consumption_per_query_per_node",
    "norequesttimeout",
    "request_readonly",
];

fn pick<'a>(u: &mut Unstructured<'_>, items: &[&'a str]) -> &'a str {
    u.choose(items).copied().unwrap_or("")
}

fn small_str<'a>(u: &mut Unstructured<'a>) -> &'a str {
    u.arbitrary::<&str>().unwrap_or("")
}

/// A value of a request option: booleans, numbers, timespans, text.
fn option_value(u: &mut Unstructured<'_>) -> Value {
    match u.choose_index(8).unwrap_or(0) {
        0 => Value::Bool(true),
        1 => Value::Bool(false),
        2 => json!(u.arbitrary::<u32>().unwrap_or(0)),
        3 => json!(u.arbitrary::<i64>().unwrap_or(0)),
        4 => json!(pick(
            u,
            &[
                "00:00:00.001",
                "00:04:00",
                "1s",
                "0",
                "-1",
                "end_of_table",
                "EndOfTable",
                "2021-01-01T00:00:00Z",
                "true",
                "10675199.02:48:05.4775807",
            ]
        )),
        5 => json!(1.5e300),
        6 => Value::Null,
        _ => json!(small_str(u)),
    }
}

/// `properties`: Options and Parameters, as an object or as a JSON string.
fn properties(u: &mut Unstructured<'_>) -> Option<Value> {
    if !u.ratio(2u8, 3u8).unwrap_or(false) {
        return None;
    }
    let mut options = Map::new();
    for _ in 0..u.choose_index(4).unwrap_or(0) {
        let name = pick(u, OPTION_NAMES).to_string();
        options.insert(name, option_value(u));
    }
    let mut parameters = Map::new();
    for _ in 0..u.choose_index(3).unwrap_or(0) {
        let name = pick(u, &["p", "x", "n"]).to_string();
        let v = pick(
            u,
            &[
                "1",
                "\"s\"",
                "datetime(2020-01-01)",
                "dynamic([1])",
                "(",
                "",
            ],
        );
        parameters.insert(name, json!(v));
    }
    let props = json!({"Options": options, "Parameters": parameters});
    Some(match u.choose_index(3).unwrap_or(0) {
        0 => props,
        1 => json!(props.to_string()),
        _ => json!(small_str(u)),
    })
}

/// The KQL text of a query or command request.
fn csl(u: &mut Unstructured<'_>, mgmt: bool) -> String {
    match u.choose_index(4).unwrap_or(0) {
        0 if mgmt => pick(u, COMMANDS).to_string(),
        0 | 1 => {
            let f = fixture::shared();
            let text = crate::generator::query(u, &f.catalog, &|t| f.schema(t));
            if mgmt {
                format!(".set-or-append N <| {text}")
            } else {
                text
            }
        }
        2 => pick(
            u,
            &[
                "T | take 2",
                "declare query_parameters(p: long = 1); T | where l == p",
                "print x = 1; print y = 2",
                "T | render timechart",
                "range x from 1 to 600000 step 1",
                "print strrep('x', 1000000)",
                "T | summarize count() by s | order by s",
            ],
        )
        .to_string(),
        _ => small_str(u).to_string(),
    }
}

/// The body of a query or command request.
fn kusto_body(u: &mut Unstructured<'_>, mgmt: bool) -> Vec<u8> {
    let mut body = Map::new();
    if u.ratio(3u8, 4u8).unwrap_or(false) {
        let db = pick(u, &["NetDefaultDB", "", "Nope", "netdefaultdb"]);
        body.insert("db".into(), json!(db));
    }
    if u.ratio(7u8, 8u8).unwrap_or(true) {
        body.insert("csl".into(), json!(csl(u, mgmt)));
    }
    if let Some(p) = properties(u) {
        body.insert("properties".into(), p);
    }
    Value::Object(body).to_string().into_bytes()
}

fn ingest_body(u: &mut Unstructured<'_>) -> Vec<u8> {
    match u.choose_index(3).unwrap_or(0) {
        0 => b"true,1,2,1.5,1.5,x,2020-01-01,1h,6f3b9a2e-0c1d-4e5f-8a9b-0c1d2e3f4a5b,{}\n".to_vec(),
        1 => b"{\"l\": 1, \"s\": \"x\", \"a\": 5}\n{\"l\": 2}".to_vec(),
        _ => u.bytes(u.len().min(512)).unwrap_or(&[]).to_vec(),
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// Percent-encodes a query-string value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn build(u: &mut Unstructured<'_>) -> Option<(Request<Body>, String)> {
    let method = match u.choose_index(8).unwrap_or(0) {
        0..=3 => Method::POST,
        4 | 5 => Method::GET,
        6 => Method::OPTIONS,
        _ => pick_method(u),
    };
    let path = pick(u, PATHS);
    let ingest = path.starts_with("/v1/rest/ingest/");
    let mgmt = path == "/v1/rest/mgmt";
    let mut body = if ingest {
        ingest_body(u)
    } else {
        match u.choose_index(8).unwrap_or(0) {
            0 => u.bytes(u.len().min(256)).unwrap_or(&[]).to_vec(),
            _ => kusto_body(u, mgmt),
        }
    };
    let mut uri = path.to_string();
    if ingest {
        let format = pick(u, STREAM_FORMATS);
        uri.push_str(&format!("?streamFormat={}", encode(format)));
        if u.ratio(1u8, 4u8).unwrap_or(false) {
            let m = pick(u, &["m", "j", "nope", ""]);
            uri.push_str(&format!("&mappingName={m}"));
        }
    } else if method == Method::GET {
        // A GET query carries the request in the query string.
        let text = String::from_utf8_lossy(&body).into_owned();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let field = |k: &str| match v.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        uri.push_str(&format!(
            "?db={}&csl={}&properties={}",
            encode(&field("db")),
            encode(&field("csl")),
            encode(&field("properties"))
        ));
    }
    let shown = String::from_utf8_lossy(&body).into_owned();
    let mut req = Request::builder().method(method.clone()).uri(&uri);

    if u.ratio(3u8, 4u8).unwrap_or(true) {
        let ct = pick(
            u,
            &[
                "application/json",
                "application/json; charset=utf-8",
                "text/plain",
                "application/x-www-form-urlencoded",
                "text/csv",
            ],
        );
        req = req.header("content-type", ct);
    }
    match u.choose_index(6).unwrap_or(0) {
        0 | 1 => {}
        2 => {
            body = gzip(&body);
            req = req.header("content-encoding", "gzip");
        }
        3 => req = req.header("content-encoding", "gzip"),
        4 => {
            req = req.header(
                "content-encoding",
                pick(u, &["deflate", "br", "identity", "gzip, deflate", "x"]),
            )
        }
        _ => body = gzip(&body),
    }
    if u.ratio(1u8, 2u8).unwrap_or(false) {
        req = req.header(
            "accept-encoding",
            pick(u, &["gzip", "deflate", "gzip, deflate, br", "*"]),
        );
    }
    let origin = pick(
        u,
        &[
            "",
            "",
            "https://dataexplorer.azure.com",
            "http://localhost:8080",
            "https://evil.example",
            "null",
            "http://127.0.0.1:8080/",
        ],
    );
    if !origin.is_empty() {
        req = req.header("origin", origin);
    }
    let host = pick(
        u,
        &[
            "localhost:8080",
            "127.0.0.1:8080",
            "",
            "evil.example",
            "[::1]:8080",
            "LOCALHOST",
        ],
    );
    if !host.is_empty() {
        req = req.header("host", host);
    }
    if method == Method::OPTIONS && u.ratio(1u8, 2u8).unwrap_or(false) {
        req = req
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, x-ms-app");
    }
    for _ in 0..u.choose_index(3).unwrap_or(0) {
        let name = pick(
            u,
            &[
                "x-ms-client-request-id",
                "x-ms-app",
                "x-ms-user",
                "authorization",
                "x-ms-client-version",
            ],
        );
        if let Ok(v) = HeaderValue::from_str(small_str(u)) {
            req = req.header(name, v);
        }
    }
    Some((req.body(Body::from(body)).ok()?, shown))
}

fn pick_method(u: &mut Unstructured<'_>) -> Method {
    match u.choose_index(4).unwrap_or(0) {
        0 => Method::PUT,
        1 => Method::HEAD,
        2 => Method::DELETE,
        _ => Method::PATCH,
    }
}

/// A request through the router: no panic, and no 5xx but a server timeout's 504.
pub fn http_request(data: &[u8]) {
    let f = fixture::shared();
    let mut u = Unstructured::new(data);
    let loopback_only = u.ratio(1u8, 3u8).unwrap_or(false);
    let Some((req, shown)) = build(&mut u) else {
        return;
    };
    let described = format!("{} {} {:?}", req.method(), req.uri(), req.headers());
    let state = AppState::new(f.new_engine())
        .with_origins(OriginPolicy::default().with_loopback_hosts_only(loopback_only));
    let app = calypso_server::router(state);
    let outcome = f.runtime.block_on(async {
        tokio::time::timeout(REQUEST_TIME_LIMIT, async {
            let Ok(resp) = app.oneshot(req).await;
            let status = resp.status();
            let encoding = resp
                .headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await;
            (status, encoding, body)
        })
        .await
    });
    let Ok((status, encoding, body)) = outcome else {
        return;
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => panic!("the response body fails: {e}\n  request: {described}"),
    };
    if status.is_server_error() {
        let body = decode(&encoding, &body);
        let text = String::from_utf8_lossy(&body);
        let timeout = status.as_u16() == 504 && text.contains("Request_ExecutionTimeout");
        assert!(
            timeout || known_failure(&shown),
            "HTTP {status}\n  request: {described}\n  request body: {}\n  response: {text}",
            shown.chars().take(4000).collect::<String>()
        );
    }
}

/// Whether the request's KQL fails with one of the known internal errors when the engine
/// runs it (the 500 reply does not say why it failed).
fn known_failure(request_body: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(request_body) else {
        return false;
    };
    let Some(csl) = v.get("csl").and_then(Value::as_str) else {
        return false;
    };
    let db = v
        .get("db")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .unwrap_or(calypso_engine::DEFAULT_DATABASE);
    let f = fixture::shared();
    let engine = f.new_engine();
    let run = f.runtime.block_on(async {
        tokio::time::timeout(
            REQUEST_TIME_LIMIT,
            engine.execute(db, csl, &calypso_engine::RequestOptions::default()),
        )
        .await
    });
    matches!(run, Ok(Err(e)) if crate::is_known(&e.to_string()))
}

/// A response body without its `Content-Encoding`.
fn decode(encoding: &str, body: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    let ok = match encoding {
        "gzip" => flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .is_ok(),
        "deflate" => flate2::read::ZlibDecoder::new(body)
            .read_to_end(&mut out)
            .is_ok(),
        _ => false,
    };
    if ok { out } else { body.to_vec() }
}
