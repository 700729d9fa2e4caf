//! Cross-site safety through the real server (issue 9): a request from a web origin not on
//! the allow list is refused with 403 before anything runs, whatever its Content-Type; the
//! allow list matches exactly; without authentication on loopback, the Host must be a
//! loopback name (DNS rebinding). The browser itself is exercised by
//! `tests/e2e/browser/cross_site.test.mjs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use support::{TestServer, raw_exchange};

/// `.show tables` names.
async fn tables(s: &TestServer) -> Vec<String> {
    let v = s.mgmt(".show tables").await;
    v["Tables"][0]["Rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect()
}

/// A POST as a browser's "simple request" sends it: `text/plain`, an `Origin`, no preflight.
async fn simple_post(s: &TestServer, path: &str, origin: &str, body: &str) -> (u16, Value) {
    let resp = s
        .client()
        .post(format!("{}{path}", s.url))
        .header("origin", origin)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_run_nothing() {
    let s = TestServer::start();
    s.mgmt(".create table T (a:long)").await;
    s.mgmt(".alter table T policy streamingingestion enable")
        .await;
    let drop = r#"{"db":"NetDefaultDB","csl":".drop table T"}"#;
    for origin in [
        "http://evil.example",
        "http://localhost.evil.com",
        "http://127.0.0.1.evil.example",
        "https://dataexplorer.azure.com.evil.example",
        "null",
    ] {
        let (status, body) = simple_post(&s, "/v1/rest/mgmt", origin, drop).await;
        assert_eq!(status, 403, "{origin}: {body}");
        assert_eq!(body["error"]["code"], "Forbidden", "{origin}: {body}");
        let (status, _) = simple_post(
            &s,
            "/v2/rest/query",
            origin,
            r#"{"db":"NetDefaultDB","csl":"T | count"}"#,
        )
        .await;
        assert_eq!(status, 403, "{origin}");
        let (status, _) = simple_post(
            &s,
            "/v1/rest/ingest/NetDefaultDB/T?streamFormat=Csv",
            origin,
            "1\n2\n",
        )
        .await;
        assert_eq!(status, 403, "{origin}");
    }
    assert_eq!(tables(&s).await, vec!["T".to_string()]);
    let rows = s.query_rows("T | count").await;
    assert_eq!(rows[0][0], 0, "no row was ingested");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origins_match_exactly() {
    let s = TestServer::start_with(&["--cors-origin", "http://localhost:3000"]);
    let show = r#"{"db":"NetDefaultDB","csl":".show version"}"#;
    for (origin, status) in [
        ("https://dataexplorer.azure.com", 200),
        ("http://localhost:3000", 200),
        ("http://localhost:3001", 403),
        ("http://localhost", 403),
        ("https://localhost:3000", 403),
    ] {
        let (got, body) = simple_post(&s, "/v1/rest/mgmt", origin, show).await;
        assert_eq!(got, status, "{origin}: {body}");
    }
    // A page the server itself served (same origin) may call it.
    let (got, body) = simple_post(&s, "/v1/rest/mgmt", &s.url, show).await;
    assert_eq!(got, 200, "{body}");

    // Preflight for a credentialed request with custom headers from the allowed origin.
    let resp = s
        .client()
        .request(reqwest::Method::OPTIONS, format!("{}/v2/rest/query", s.url))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .header("access-control-request-private-network", "true")
        .send()
        .await
        .unwrap();
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:3000");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-allow-private-network"], "true");
}

#[test]
fn dns_rebinding_hosts_are_refused_on_loopback() {
    let s = TestServer::start();
    let body = r#"{"db":"NetDefaultDB","csl":".show version"}"#;
    for (host, status) in [
        ("evil.example", 403),
        ("evil.example:8080", 403),
        ("localhost.evil.com", 403),
        ("localhost", 200),
        (s.addr.as_str(), 200),
    ] {
        let head = format!(
            "POST /v1/rest/mgmt HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let (got, text) = raw_exchange(&s.addr, &head, body.as_bytes());
        assert_eq!(got, status, "Host: {host}: {text}");
    }
}

#[test]
fn bad_cors_origins_are_refused_at_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_calypso"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--cors-origin",
            "localhost:3000",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--cors-origin localhost:3000 is not an origin"),
        "{err}"
    );
}
