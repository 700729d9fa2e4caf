//! The real server through HTTP: wire snapshots of v1/v2 responses and OneApi errors,
//! CORS preflight, gzip both ways, chunked bodies, 413, 429, bursts that wait for a slot,
//! and a graceful shutdown that finishes an in-flight streaming ingestion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};
use support::{TestServer, normalize, raw_exchange, read_response};

fn snapshot_value(mut v: Value) -> Value {
    normalize(&mut v);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_and_v1_responses_through_the_router() {
    let s = TestServer::start();
    let q = "print b = true, i = int(7), l = 9000000000, r = real(nan), d = datetime(2024-05-06 07:08:09.1234567), t = 26h, s = 'text', g = guid(6f3c1d0e-8a55-4f2b-9a31-2b8c1a7d9e10), dyn = dynamic({\"a\": [1, 2]}), dec = decimal(1.50) | render table";
    let (status, v2) = s.post("/v2/rest/query", "NetDefaultDB", q).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("v2_print_all_types", snapshot_value(v2));

    let (status, v1) = s.post("/v1/rest/query", "NetDefaultDB", q).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("v1_print_all_types", snapshot_value(v1));

    let (status, mgmt) = s
        .post(
            "/v1/rest/mgmt",
            "NetDefaultDB",
            ".create table Snap (a:long, b:string, c:dynamic)",
        )
        .await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("v1_mgmt_create_table", snapshot_value(mgmt));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_oneapi_json_with_kusto_statuses() {
    let s = TestServer::start();
    let cases = [
        (
            "/v2/rest/query",
            "NetDefaultDB",
            "print x = ",
            400,
            "syntax",
        ),
        (
            "/v2/rest/query",
            "NetDefaultDB",
            "NoSuchTable | take 1",
            400,
            "semantic",
        ),
        (
            "/v2/rest/query",
            "NoSuchDb",
            "print 1",
            404,
            "unknown_database",
        ),
        (
            "/v2/rest/query",
            "NetDefaultDB",
            ".show tables",
            400,
            "command_on_query_endpoint",
        ),
        (
            "/v1/rest/mgmt",
            "NetDefaultDB",
            ".drop table Nope",
            404,
            "drop_missing_table",
        ),
        (
            "/v1/rest/mgmt",
            "NetDefaultDB",
            ".show cluster blockedprincipals",
            400,
            "unsupported_command",
        ),
    ];
    for (path, db, csl, status, name) in cases {
        let (got, v) = s.post(path, db, csl).await;
        assert_eq!(got, status, "{csl}: {v}");
        assert!(v["error"]["@permanent"].is_boolean(), "{v}");
        insta::assert_json_snapshot!(format!("error_{name}"), snapshot_value(v));
    }
    // A body that is not JSON.
    let resp = s
        .client()
        .post(format!("{}/v2/rest/query", s.url))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "General_BadRequest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_gets_413_as_oneapi_json() {
    let s = TestServer::start();
    // 64 MiB is the limit for queries and commands.
    let csl = " ".repeat(64 << 20);
    let body = serde_json::to_vec(&json!({"db": "NetDefaultDB", "csl": csl})).unwrap();
    let resp = s
        .client()
        .post(format!("{}/v1/rest/mgmt", s.url))
        .header("content-type", "application/json")
        .header("x-ms-client-request-id", "test;413")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    assert_eq!(
        resp.headers()["x-ms-client-request-id"].to_str().unwrap(),
        "test;413"
    );
    let v: Value = resp.json().await.unwrap();
    insta::assert_json_snapshot!("error_payload_too_large", snapshot_value(v));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_capacity_get_429() {
    let s = TestServer::start_with(&[
        "--max-concurrent-queries",
        "0",
        "--max-concurrent-ingestions",
        "0",
        // A limit of 0 refuses at once, whatever room the queue has.
        "--max-queued-ingestions",
        "10",
    ]);
    let (status, v) = s.post("/v2/rest/query", "NetDefaultDB", "print 1").await;
    assert_eq!(status, 429, "{v}");
    insta::assert_json_snapshot!("error_query_throttled", snapshot_value(v));
    // Commands have their own capacity.
    s.mgmt(".create table T (a:long)").await;
    s.mgmt(".alter table T policy streamingingestion enable")
        .await;
    let resp = s
        .client()
        .post(format!(
            "{}/v1/rest/ingest/NetDefaultDB/T?streamFormat=csv",
            s.url
        ))
        .body("1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "TooManyRequests");
    assert_eq!(v["error"]["@permanent"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_beyond_capacity_wait_for_a_slot() {
    let s = TestServer::start_with(&[
        "--max-concurrent-commands",
        "2",
        "--max-concurrent-queries",
        "1",
        "--max-queued-commands",
        "100",
        "--queue-timeout-secs",
        "600",
    ]);
    let client = s.client();
    let mut tasks = tokio::task::JoinSet::new();
    // 30 commands at once on 2 slots; 10 tables, each created and merged 3 times.
    for i in 0..30 {
        let (client, url) = (client.clone(), s.url.clone());
        let csl = format!(".create-merge table Burst{} (a:long, b:string)", i % 10);
        tasks.spawn(async move {
            let resp = client
                .post(format!("{url}/v1/rest/mgmt"))
                .json(&json!({"db": "NetDefaultDB", "csl": csl}))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        });
    }
    // And 20 queries at once on 1 slot.
    for i in 0..20 {
        let (client, url) = (client.clone(), s.url.clone());
        let csl = format!("range x from 1 to {i} step 1 | count");
        tasks.spawn(async move {
            let resp = client
                .post(format!("{url}/v2/rest/query"))
                .json(&json!({"db": "NetDefaultDB", "csl": csl}))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        });
    }
    let mut answered = 0;
    while let Some(r) = tasks.join_next().await {
        let (status, body) = r.unwrap();
        assert_eq!(status, 200, "{body}");
        answered += 1;
    }
    assert_eq!(answered, 50);
    let (status, v) = s
        .post("/v1/rest/mgmt", "NetDefaultDB", ".show tables")
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["Tables"][0]["Rows"].as_array().unwrap().len(), 10, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_for_the_adx_web_ui() {
    let s = TestServer::start();
    let resp = s
        .client()
        .request(reqwest::Method::OPTIONS, format!("{}/v2/rest/query", s.url))
        .header("origin", "https://dataexplorer.azure.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-ms-app,x-ms-client-request-id",
        )
        .header("access-control-request-private-network", "true")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let h = resp.headers();
    let get = |n: &str| h.get(n).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        get("access-control-allow-origin").as_deref(),
        Some("https://dataexplorer.azure.com")
    );
    assert_eq!(
        get("access-control-allow-headers").as_deref(),
        Some("authorization,content-type,x-ms-app,x-ms-client-request-id")
    );
    assert_eq!(
        get("access-control-allow-private-network").as_deref(),
        Some("true")
    );
    assert!(
        get("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );

    // Other origins get no CORS headers.
    let resp = s
        .client()
        .request(reqwest::Method::OPTIONS, format!("{}/v2/rest/query", s.url))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    // The actual request carries the origin and exposes the id headers.
    let resp = s
        .client()
        .post(format!("{}/v1/rest/mgmt", s.url))
        .header("origin", "https://dataexplorer.azure.com")
        .json(&json!({"db": "NetDefaultDB", "csl": ".show version"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let expose = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(expose.contains("x-ms-activity-id"), "{expose}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_request_and_response_bodies() {
    let s = TestServer::start();
    let body = serde_json::to_vec(
        &json!({"db": "NetDefaultDB", "csl": "range x from 1 to 1000 step 1 | summarize sum(x)"}),
    )
    .unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&body).unwrap();
    let gz = enc.finish().unwrap();
    let resp = s
        .client()
        .post(format!("{}/v2/rest/query", s.url))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("accept-encoding", "gzip")
        .body(gz)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let bytes = resp.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(support::primary_rows(&v), vec![json!([500500])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_streaming_ingestion() {
    let s = TestServer::start();
    s.mgmt(".create table C (a:long, b:string)").await;
    s.mgmt(".alter table C policy streamingingestion enable")
        .await;
    let chunks = ["1,one\n2,t", "wo\n3,three\n"];
    let mut body = Vec::new();
    for c in chunks {
        body.extend_from_slice(format!("{:x}\r\n{c}\r\n", c.len()).as_bytes());
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /v1/rest/ingest/NetDefaultDB/C?streamFormat=Csv HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        s.addr
    );
    let (status, text) = raw_exchange(&s.addr, &head, &body);
    assert_eq!(status, 200, "{text}");
    let rows = s.query_rows("C | order by a asc | project b").await;
    assert_eq!(rows, vec![json!(["one"]), json!(["two"]), json!(["three"])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_an_in_flight_ingestion() {
    let mut s = TestServer::start();
    s.mgmt(".create table Big (n:long, s:string)").await;
    s.mgmt(".alter table Big policy streamingingestion enable")
        .await;
    let rows = 100_000;
    let body: String = (0..rows).map(|i| format!("{i},row-{i}\n")).collect();
    let body = body.into_bytes();
    let half = body.len() / 2;

    let mut conn = TcpStream::connect(&s.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "POST /v1/rest/ingest/NetDefaultDB/Big?streamFormat=csv HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        s.addr,
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&body[..half]).unwrap();
    conn.flush().unwrap();
    // The request is being read when the signal arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    conn.write_all(&body[half..]).unwrap();
    let (status, text) = read_response(&mut conn);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("100000"), "{text}");
    let exit = s.wait();
    assert!(exit.success(), "{exit:?}\n{}", s.log_text());
    assert!(
        s.log_text().contains("shutdown signal received"),
        "{}",
        s.log_text()
    );

    // Everything acknowledged is there after a restart.
    let s2 = TestServer::start_in(&s.data_dir, &[]);
    let count = s2.query_rows("Big | count").await;
    assert_eq!(count, vec![json!([rows])]);
}

/// A request still in flight when the shutdown deadline (`--shutdown-timeout-secs`) passes
/// is cut off: the server exits then, cleanly, with the data acknowledged before intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_requests_still_running_at_the_deadline() {
    let mut s = TestServer::start_with(&[
        "--shutdown-timeout-secs",
        "1",
        "--client-read-timeout-secs",
        "600",
    ]);
    s.mgmt(".create table Kept (n:long)").await;
    s.mgmt(".ingest inline into table Kept <| 1\n2").await;
    s.mgmt(".alter table Kept policy streamingingestion enable")
        .await;
    // An ingestion whose client sends half its body and then nothing.
    let mut conn = TcpStream::connect(&s.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let head = format!(
        "POST /v1/rest/ingest/NetDefaultDB/Kept?streamFormat=csv HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n3\n4\n",
        s.addr
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.terminate();
    // The stalled client would hold a 30 s deadline (or the 600 s read timeout) open;
    // with a 1 s deadline the server is gone well before either.
    let started = std::time::Instant::now();
    let exit = s.wait();
    assert!(exit.success(), "{exit:?}\n{}", s.log_text());
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "the server took {:?} to stop\n{}",
        started.elapsed(),
        s.log_text()
    );
    // The connection was closed without an answer to the cut-off request.
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest);
    assert!(
        !String::from_utf8_lossy(&rest).contains("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
    let s2 = TestServer::start_in(&s.data_dir, &[]);
    assert_eq!(s2.query_rows("Kept | count").await, vec![json!([2])]);
}
