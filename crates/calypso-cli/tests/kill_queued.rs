//! SIGKILL with queued ingestion in flight: writers upload CSV blobs and put their
//! ingestion messages (Azure Blob and Queue calls, as the SDKs make them) while the worker
//! ingests batched messages (an IngestionBatching policy of 5 items) and flush-immediately
//! ones, and merges run every second. After the last restart, once the worker has drained
//! the queue, every message whose Put Message got a 201 has all its rows exactly once, a
//! message sent but not acknowledged is there whole once or not at all, no row is there
//! twice or in part, nothing was reported failed, and the data directory opens again.
//! After each restart (before the queue is drained) nothing is duplicated or partial.
//!
//! `CALYPSO_QUEUED_KILL_TRIALS` sets the number of kill trials (default 10; more:
//! `CALYPSO_QUEUED_KILL_TRIALS=100 cargo test --workspace -q --test kill_queued -- --nocapture`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use support::TestServer;

const WRITERS: u64 = 6;
const DB: &str = "NetDefaultDB";
/// The most messages left in the queue when a trial starts.
const BACKLOG: usize = 300;

/// Merge often, so that kills land in the middle of merges of queued extents too.
const ARGS: &[&str] = &["--merge-every-secs", "1"];

/// What a writer needs from `.get ingestion resources` and `.get kusto identity token`:
/// the container's and the ingestion queue's URL and SAS, and the authorization context.
#[derive(Clone)]
struct Resources {
    container: (String, String),
    queue: (String, String),
    context: String,
}

async fn resources(server: &TestServer) -> Resources {
    let rows = server.mgmt_rows(".get ingestion resources").await;
    let url = |kind: &str| {
        let url = rows
            .iter()
            .find(|r| r[0] == kind)
            .and_then(|r| r[1].as_str())
            .unwrap_or_else(|| panic!("no {kind} in {rows:?}"));
        let (base, sas) = url.split_once('?').expect("a SAS");
        (base.to_string(), sas.to_string())
    };
    let token = server.mgmt_rows(".get kusto identity token").await;
    Resources {
        container: url("TempStorage"),
        queue: url("SecuredReadyForAggregationQueue"),
        context: token[0][0].as_str().expect("a context").to_string(),
    }
}

/// The rows of message `m`: 1 to 40 of them, varied without a random source.
fn rows_of(m: u64) -> u64 {
    1 + (m * 7919) % 40
}

/// Message `m`'s CSV: `rows_of(m)` lines of `m,i`.
fn csv(m: u64) -> String {
    (0..rows_of(m)).map(|i| format!("{m},{i}\n")).collect()
}

/// A GUID-shaped source id made of `m`.
fn guid(m: u64) -> String {
    format!("00000000-0000-4000-8000-{m:012x}")
}

/// Every third message asks to flush immediately; the others wait for a batch.
fn flushes(m: u64) -> bool {
    m.is_multiple_of(3)
}

/// The ingestion message of `m` as the Python SDK writes it
/// (`shared/reference/queued-ingestion.md` §5.2), as a Put Message body.
fn message(res: &Resources, blob_url: &str, m: u64, raw_size: usize) -> String {
    let info = json!({
        "BlobPath": blob_url,
        "RawDataSize": raw_size,
        "DatabaseName": DB,
        "TableName": "Q",
        "RetainBlobOnSuccess": true,
        "FlushImmediately": flushes(m),
        "IgnoreSizeLimit": false,
        "ReportLevel": 1,
        "ReportMethod": 0,
        "SourceMessageCreationTime": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        "Id": guid(m),
        "ApplicationForTracing": "kill_queued",
        "ClientVersionForTracing": "Kusto.Python.Client:{6.0.4}",
        "AdditionalProperties": {"authorizationContext": res.context, "format": "csv"},
    });
    let text = STANDARD.encode(info.to_string());
    format!(
        "<?xml version='1.0' encoding='utf-8'?>\n<QueueMessage><MessageText>{text}</MessageText></QueueMessage>"
    )
}

/// Uploads blobs and puts their messages from `WRITERS` writers until a request fails
/// (the server is gone) or `stop` is raised. Records every message sent (id → rows) and
/// those whose Put Message got a 201.
async fn write_until_killed(
    res: Resources,
    trial: u64,
    stop: Arc<AtomicBool>,
    sent: Arc<Mutex<HashMap<u64, u64>>>,
    acked: Arc<Mutex<Vec<u64>>>,
) {
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (res, stop) = (res.clone(), Arc::clone(&stop));
        let (sent, acked) = (Arc::clone(&sent), Arc::clone(&acked));
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for seq in 0u64.. {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let m = trial * 1_000_000 + w * 10_000 + seq;
                let body = csv(m);
                let (base, sas) = &res.container;
                let blob_url = format!("{base}/{DB}__Q__{}__m{m}.csv?{sas}", guid(m));
                let put = client
                    .put(&blob_url)
                    .header("x-ms-blob-type", "BlockBlob")
                    .header("If-None-Match", "*")
                    .body(body.clone())
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                match put {
                    Ok(r) if r.status().as_u16() == 201 => {}
                    Ok(r) => panic!("Put Blob {m}: status {}", r.status()),
                    Err(_) => return,
                }
                let xml = message(&res, &blob_url, m, body.len());
                sent.lock().unwrap().insert(m, rows_of(m));
                let (base, sas) = &res.queue;
                let put = client
                    .post(format!("{base}/messages?timeout=600&{sas}"))
                    .header("Content-Type", "application/xml")
                    .body(xml)
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                match put {
                    Ok(r) if r.status().as_u16() == 201 => acked.lock().unwrap().push(m),
                    Ok(r) => panic!("Put Message {m}: status {}", r.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// The messages of the ingestion queue still in the data directory (the handed-out SAS of
/// the ingestion queue only adds, so Peek Messages is refused; the worker removes a
/// message's object once its rows are committed).
fn queued_messages(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join("dm/queues/readyforaggregation-secured"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

/// Waits until at most `most` messages are left in the queue, and for none until the row
/// count is stable too (a batch of fewer than 5 messages waits up to its 10 s batching
/// time); returns the row count. A safety net: fails when nothing moves for 120 s.
async fn drain(server: &TestServer, most: usize) -> u64 {
    let mut moved = Instant::now();
    let mut last = None;
    loop {
        let left = queued_messages(&server.data_dir);
        let rows = server.query_rows("Q | count").await[0][0].as_u64().unwrap();
        if left <= most && (most > 0 || last.is_some_and(|(_, r)| r == rows)) {
            return rows;
        }
        if last != Some((left, rows)) {
            moved = Instant::now();
        }
        assert!(
            moved.elapsed() < Duration::from_secs(120),
            "the worker is stuck: {left} messages left, {rows} rows\n{}",
            server.log_text()
        );
        last = Some((left, rows));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_queued_ingests_survive_sigkill() {
    let trials: u64 = std::env::var("CALYPSO_QUEUED_KILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut server = TestServer::start_with(ARGS);
    server.mgmt(".create table Q (m:long, i:long)").await;
    // ADX's least batching time is 10 s; 5 items seal a batch sooner.
    server
        .mgmt(r#".alter table Q policy ingestionbatching '{"MaximumBatchingTimeSpan":"00:00:10","MaximumNumberOfItems":5}'"#)
        .await;
    let sent = Arc::new(Mutex::new(HashMap::new()));
    let acked = Arc::new(Mutex::new(Vec::new()));
    for trial in 0..trials {
        // Keep the worker's backlog bounded (the writers are faster than the worker), so
        // that many trials stay within the container's and the queue's limits.
        drain(&server, BACKLOG).await;
        let stop = Arc::new(AtomicBool::new(false));
        let writers = tokio::spawn(write_until_killed(
            resources(&server).await,
            trial,
            Arc::clone(&stop),
            Arc::clone(&sent),
            Arc::clone(&acked),
        ));
        // Kill at a different moment each time (0.2 to 1.2 s into the trial), while the
        // worker ingests this trial's messages and the earlier trials' left in the queue.
        tokio::time::sleep(Duration::from_millis(200 + (trial * 373) % 1000)).await;
        server = tokio::task::spawn_blocking(move || server.kill_and_restart(ARGS))
            .await
            .unwrap();
        // Should the new server have the old one's port, the writers stop anyway.
        stop.store(true, Ordering::SeqCst);
        writers.await.unwrap();
        let sent_now = sent.lock().unwrap().clone();
        let found = check(&server, trial, &sent_now, None).await;
        eprintln!(
            "trial {trial}: {} messages acknowledged so far, {found} ingested, {} queued",
            acked.lock().unwrap().len(),
            queued_messages(&server.data_dir)
        );
    }
    let rows = drain(&server, 0).await;
    let (sent, acked) = (sent.lock().unwrap().clone(), acked.lock().unwrap().clone());
    let found = check(&server, trials, &sent, Some(&acked)).await;
    let failures = server.mgmt_rows(".show ingestion failures").await;
    assert!(failures.is_empty(), "ingestion failures: {failures:?}");
    // The data directory opens after a clean stop too, with the same rows.
    let server = server.restart();
    assert_eq!(check(&server, trials, &sent, Some(&acked)).await, found);
    eprintln!(
        "{trials} trials: {} messages acknowledged ({} sent), {found} ingested, {rows} rows, none lost, duplicated or partial",
        acked.len(),
        sent.len()
    );
    assert!(!acked.is_empty(), "some messages were acknowledged");
}

/// Checks that every message there is whole and once (and, after the queue is drained,
/// that every acknowledged one is there). Returns how many messages are there.
async fn check(
    server: &TestServer,
    trial: u64,
    sent: &HashMap<u64, u64>,
    acked: Option<&[u64]>,
) -> usize {
    let twice = server
        .query_rows("Q | summarize c = count() by m, i | where c > 1 | take 5")
        .await;
    assert!(
        twice.is_empty(),
        "trial {trial}: rows there twice: {twice:?}"
    );
    let rows = server
        .query_rows("Q | summarize n = count(), lo = min(i), hi = max(i) by m")
        .await;
    let mut found = HashMap::new();
    for r in &rows {
        let (m, n, lo, hi) = (
            r[0].as_u64().unwrap(),
            r[1].as_u64().unwrap(),
            r[2].as_u64().unwrap(),
            r[3].as_u64().unwrap(),
        );
        let want = sent.get(&m).copied();
        assert_eq!(
            Some(n),
            want,
            "trial {trial}: message {m} is partial or unknown"
        );
        // n distinct rows (none twice) from 0 to n - 1: exactly the message's rows.
        assert_eq!((lo, hi), (0, n - 1), "trial {trial}: message {m}'s rows");
        found.insert(m, n);
    }
    for m in acked.unwrap_or_default() {
        assert!(
            found.contains_key(m),
            "trial {trial}: acknowledged message {m} ({} rows, flush immediately: {}) is lost",
            sent[m],
            flushes(*m)
        );
    }
    found.len()
}
