//! Query results through the real server: truncation applied inside the plan
//! (`concepts/query-limits.md`), results streamed to the wire in bounded memory, queries
//! that stop when their client leaves or `.cancel query` asks, per-operator memory limits,
//! and request bodies read only after admission, within their (decompressed) size limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{Value, json};
use support::{TestServer, primary_rows};

async fn v2(s: &TestServer, csl: &str, options: Value) -> (u16, Value) {
    let resp = s
        .client()
        .post(format!("{}/v2/rest/query", s.url))
        .json(&json!({"db": "NetDefaultDB", "csl": csl, "properties": {"Options": options}}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// The data rows of the primary result (without an in-data error row).
fn data_rows(frames: &Value) -> usize {
    primary_rows(frames).iter().filter(|r| r.is_array()).count()
}

fn completion(frames: &Value) -> &Value {
    frames
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["FrameType"] == "DataSetCompletion")
        .expect("DataSetCompletion")
}

/// The codes and messages of the partial failures in DataSetCompletion.
fn partial_failures(frames: &Value) -> Vec<(String, String)> {
    completion(frames)["OneApiErrors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["error"]["code"].as_str().unwrap_or_default().to_string(),
                        e["error"]["@message"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A hundred billion rows: only a plan that stops after the limit answers at all.
const HUGE: &str = "range x from 1 to 100000000000 step 1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncation_is_applied_inside_the_plan() {
    let s = TestServer::start();
    let quick = json!({"servertimeout": "00:01:00"});
    // Kusto's default: 500,000 records, then a partial failure.
    let (status, v) = v2(&s, HUGE, quick.clone()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(data_rows(&v), 500_000);
    assert_eq!(completion(&v)["HasErrors"], true);
    let errors = partial_failures(&v);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "LimitsExceeded");
    assert!(errors[0].1.contains("500000 records"), "{errors:?}");

    // `set truncationmaxrecords`, and the request property: the lower value wins.
    let (_, v) = v2(
        &s,
        &format!("set truncationmaxrecords = 10; {HUGE}"),
        quick.clone(),
    )
    .await;
    assert_eq!(data_rows(&v), 10);
    let mut props = quick.clone();
    props["truncationmaxrecords"] = json!(5);
    let (_, v) = v2(&s, &format!("set truncationmaxrecords = 10; {HUGE}"), props).await;
    assert_eq!(data_rows(&v), 5);
    assert!(partial_failures(&v)[0].1.contains("5 records"));

    // The size limit: 1,000 bytes of longs is 125 rows.
    let (_, v) = v2(
        &s,
        &format!("set truncationmaxsize = 1000; {HUGE}"),
        quick.clone(),
    )
    .await;
    assert_eq!(data_rows(&v), 125);
    let errors = partial_failures(&v);
    assert!(errors[0].1.contains("data size limit 1000"), "{errors:?}");

    // `query_take_max_records` cuts without an error.
    let (_, v) = v2(
        &s,
        &format!("set query_take_max_records = 7; {HUGE}"),
        quick.clone(),
    )
    .await;
    assert_eq!(data_rows(&v), 7);
    assert_eq!(completion(&v)["HasErrors"], false);

    // `notruncation` lifts the limits, unless a limit is also set (query-limits.md).
    let (_, v) = v2(
        &s,
        "set notruncation; range x from 1 to 600000 step 1",
        quick.clone(),
    )
    .await;
    assert_eq!(data_rows(&v), 600_000);
    assert_eq!(completion(&v)["HasErrors"], false);
    let mut props = quick.clone();
    props["notruncation"] = json!(true);
    props["truncationmaxrecords"] = json!(3);
    let (_, v) = v2(&s, HUGE, props).await;
    assert_eq!(data_rows(&v), 3);

    // v1: the cut table ends with an exception row, the reply has "Exceptions".
    let resp = s
        .client()
        .post(format!("{}/v1/rest/query", s.url))
        .json(&json!({"db": "NetDefaultDB", "csl": HUGE,
            "properties": {"Options": {"truncationmaxrecords": 4}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    let rows = v["Tables"][0]["Rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{v}");
    assert!(rows[4]["Exceptions"].is_array(), "{v}");
    assert_eq!(v["Exceptions"].as_array().unwrap().len(), 1, "{v}");
}

/// Peak resident memory of a process (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A 450 MB result goes to the client while it is produced: the server's peak memory
/// stays far below the result's size (holding it whole, as a batch and as JSON text,
/// takes about twice as much).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_result_streams_in_bounded_memory() {
    let _one_at_a_time = CPU_MEASURED.lock().await;
    let s = TestServer::start();
    let rows = 4_000_000u64;
    let csl = format!(
        "set notruncation; range x from 1 to {rows} step 1 | extend s = strcat(strrep('v', 100), x)"
    );
    let mut resp = s
        .client()
        .post(format!("{}/v2/rest/query", s.url))
        .json(&json!({"db": "NetDefaultDB", "csl": csl}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut bytes = 0u64;
    let mut tail: Vec<u8> = Vec::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        bytes += chunk.len() as u64;
        tail.extend_from_slice(&chunk);
        if tail.len() > 8192 {
            tail.drain(..tail.len() - 4096);
        }
    }
    let tail = String::from_utf8_lossy(&tail);
    assert!(bytes > rows * 105, "only {bytes} bytes");
    assert!(
        tail.contains(r#""FrameType":"DataSetCompletion","HasErrors":false"#),
        "{tail}"
    );
    let last_row = format!("\"{}{rows}\"]", "v".repeat(100));
    assert!(tail.contains(&last_row), "{tail}");
    let peak = peak_rss(s.pid());
    assert!(
        peak < 400 << 20,
        "the server's peak memory was {} MB for a {} MB result",
        peak >> 20,
        bytes >> 20
    );
}

/// A `range` whose bounds are known only when the query runs (`toscalar(...)`) streams
/// too: 30 million rows (240 MB of longs, refused above 16 million if they were built as one
/// list) pass through in a few batches' worth of memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_with_computed_bounds_streams() {
    let _one_at_a_time = CPU_MEASURED.lock().await;
    let s = TestServer::start();
    let rows = s
        .query_rows(
            "range x from toscalar(print 1) to toscalar(print 30000000) step 1 | summarize count(), sum(x)",
        )
        .await;
    assert_eq!(rows[0][0], 30_000_000);
    assert_eq!(rows[0][1], 450_000_015_000_000_i64);
    let peak = peak_rss(s.pid());
    assert!(
        peak < 200 << 20,
        "the server's peak memory was {} MB",
        peak >> 20
    );
}

/// The tests that measure the server's CPU time run one at a time (the others of this file
/// would otherwise compete for the machine's two cores).
static CPU_MEASURED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The long query of the cancellation tests: about a minute of a core.
const LONG: &str = "range x from 1 to 20000000000 step 1 | summarize sum(x), dcount(x % 1000)";

/// CPU seconds the server uses over the next 3 seconds.
async fn cpu_over_3s(s: &TestServer) -> f64 {
    let before = s.cpu_seconds();
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.cpu_seconds() - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_whose_client_left_stops() {
    let _one_at_a_time = CPU_MEASURED.lock().await;
    let s = TestServer::start();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/v2/rest/query", s.url))
        .header("x-ms-client-request-id", "test;gone")
        .json(&json!({"db": "NetDefaultDB", "csl": LONG}))
        .send()
        .await;
    assert!(r.is_err(), "the query should still run after 1 s");
    drop(client);
    // A watcher task raises the query's stop flag as soon as the connection closes and
    // every leaf of the plan fails its next batch (measured: the CPU stops rising within
    // 10 ms); a loaded machine gets 300 ms.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let used = cpu_over_3s(&s).await;
    // Running, the query keeps both cores busy: ~6 CPU seconds in 3 s.
    assert!(
        used < 0.3,
        "the server used {used:.2} CPU seconds after the client left"
    );
    let v = s
        .mgmt(".show queries | where ClientActivityId == 'test;gone' | project State")
        .await;
    assert_eq!(v["Tables"][0]["Rows"][0][0], "Cancelled", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_query_stops_the_work() {
    let _one_at_a_time = CPU_MEASURED.lock().await;
    let s = TestServer::start();
    let client = s.client();
    let url = format!("{}/v2/rest/query", s.url);
    let running = tokio::spawn(async move {
        let resp = client
            .post(url)
            .header("x-ms-client-request-id", "test;cancel-me")
            .json(&json!({"db": "NetDefaultDB", "csl": LONG}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap())
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    s.mgmt(r#".cancel query "test;cancel-me" with (reason = "enough")"#)
        .await;
    let (status, v) = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the cancelled query answers")
        .unwrap();
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "QueryCancelled", "{v}");
    let used = cpu_over_3s(&s).await;
    assert!(
        used < 0.3,
        "the server used {used:.2} CPU seconds after .cancel query"
    );
}

/// `maxmemoryconsumptionperiterator` bounds one operator (query-limits.md: E_RUNAWAY_QUERY);
/// more than 30 GB is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_operator_over_its_memory_budget_is_a_runaway_query() {
    let s = TestServer::start();
    // The key is not in the order of x, so the aggregation holds every group.
    let q = "range x from 1 to 3000000 step 1 | summarize c = count() by k = x * 7919 % 3000017 | count";
    let (status, v) = v2(
        &s,
        &format!("set maxmemoryconsumptionperiterator = 1048576; {q}"),
        json!({}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "E_RUNAWAY_QUERY", "{v}");
    assert!(
        v["error"]["@message"]
            .as_str()
            .unwrap()
            .contains("exceeded the memory budget"),
        "{v}"
    );
    let (status, v) = v2(
        &s,
        q,
        json!({"maxmemoryconsumptionperiterator": 40_000_000_000u64}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = v2(&s, q, json!({"maxmemoryconsumptionperiterator": 1 << 30})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(primary_rows(&v)[0][0], 3_000_000);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_bodies_obey_the_limit_and_bad_ones_get_kusto_errors() {
    let s = TestServer::start();
    // 200 MB of blanks in a JSON string, compressed to a few hundred KB: the server stops
    // decompressing at the 64 MiB limit.
    let mut json_text = b"{\"db\":\"NetDefaultDB\",\"csl\":\"print 1".to_vec();
    json_text.resize(200 << 20, b' ');
    json_text.extend_from_slice(b"\"}");
    let bomb = gzip(&json_text);
    drop(json_text);
    assert!(bomb.len() < 1 << 20);
    let post = |body: Vec<u8>| {
        s.client()
            .post(format!("{}/v1/rest/mgmt", s.url))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(body)
            .send()
    };
    let resp = post(bomb).await.unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "PayloadTooLarge", "{v}");
    assert!(peak_rss(s.pid()) < 300 << 20);

    // A truncated gzip stream is a Kusto 400, not plain text.
    let mut cut = gzip(br#"{"db":"NetDefaultDB","csl":".show version"}"#);
    cut.truncate(cut.len() / 2);
    let resp = post(cut).await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "General_BadRequest", "{v}");

    // A good compressed body works.
    let resp = post(gzip(br#"{"db":"NetDefaultDB","csl":".show version"}"#))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

/// A request refused by admission control is answered at once: its body is not read
/// (the client here announces 50 MB and sends 10 bytes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_comes_before_the_body() {
    let s = TestServer::start_with(&[
        "--max-concurrent-queries",
        "0",
        "--max-concurrent-ingestions",
        "0",
    ]);
    let addr = s.url.trim_start_matches("http://").to_string();
    for path in [
        "/v2/rest/query",
        "/v1/rest/ingest/NetDefaultDB/T?streamFormat=csv",
    ] {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(b"{\"csl\":\"p").unwrap();
        let mut buf = vec![0u8; 4096];
        let n = c.read(&mut buf).expect("an answer before the body is sent");
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 429"), "{path}: {text}");
    }
}

/// Slow clients are cut off: one that sends no headers, one that stops in its body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let s = TestServer::start_with(&["--client-read-timeout-secs", "1"]);
    let addr = s.url.trim_start_matches("http://").to_string();
    // Half a request line, then nothing: the connection is closed.
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"POST /v2/rest/qu").unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    assert!(started.elapsed() < Duration::from_secs(8), "still open");
    // Headers, then a body that stops: 408 with a Kusto error.
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /v1/rest/mgmt HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"csl\""
    );
    c.write_all(head.as_bytes()).unwrap();
    let (status, text) = support::read_response(&mut c);
    assert_eq!(status, 408, "{text}");
    assert!(text.contains("\"RequestTimeout\""), "{text}");
}

/// A streamed reply compressed for a client that accepts gzip (as the SDKs do) is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_reply_can_be_gzipped() {
    let s = TestServer::start();
    for path in ["/v2/rest/query", "/v1/rest/query"] {
        let resp = s
            .client()
            .post(format!("{}{path}", s.url))
            .header("accept-encoding", "gzip")
            .json(&json!({"db": "NetDefaultDB", "csl": "range x from 1 to 100000 step 1"}))
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
        let rows = if path.starts_with("/v2") {
            data_rows(&v)
        } else {
            v["Tables"][0]["Rows"].as_array().unwrap().len()
        };
        assert_eq!(rows, 100_000, "{path}");
    }
}
