//! SIGKILL in the middle of streaming ingestion, with DDL, row-store seals (every second),
//! merges and retention (every second) running: after every restart each acknowledged
//! batch is there exactly once, no batch is there in part, and the data directory opens.
//!
//! `CALYPSO_KILL_TRIALS` sets the number of kill trials (default 50; more:
//! `CALYPSO_KILL_TRIALS=200 cargo test --workspace -q --test kill -- --nocapture`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::TestServer;

const WRITERS: u64 = 8;

/// Seal and merge often, so that kills land in the middle of them too.
const ARGS: &[&str] = &["--seal-after-secs", "1", "--merge-every-secs", "1"];

/// Metadata changes until the server is gone: a docstring, a table created and dropped.
async fn ddl_until_killed(url: String) {
    let client = reqwest::Client::new();
    for k in 0u64.. {
        let csl = match k % 3 {
            0 => format!(".alter table K docstring 'change {k}'"),
            1 => ".create-merge table Other (a:long)".to_string(),
            _ => ".drop table Other ifexists".to_string(),
        };
        let sent = client
            .post(format!("{url}/v1/rest/mgmt"))
            .json(&serde_json::json!({"db": "NetDefaultDB", "csl": csl}))
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => panic!("{csl}: status {}", r.status()),
            Err(_) => return,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One batch: `rows` lines of `batch,row`.
fn body(batch: u64, rows: u64) -> String {
    (0..rows).map(|i| format!("{batch},{i}\n")).collect()
}

/// Streams batches from `WRITERS` writers until a request fails (the server is gone).
/// Records every batch sent (id → rows) and those acknowledged.
async fn write_until_killed(
    url: String,
    trial: u64,
    sent: Arc<Mutex<HashMap<u64, u64>>>,
    acked: Arc<Mutex<Vec<u64>>>,
) {
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (url, sent, acked) = (url.clone(), Arc::clone(&sent), Arc::clone(&acked));
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for k in 0u64.. {
                let batch = trial * 1_000_000 + w * 10_000 + k;
                // 1..=500 rows, varied without a random source.
                let rows = 1 + (batch * 7919) % 500;
                sent.lock().unwrap().insert(batch, rows);
                let resp = client
                    .post(format!(
                        "{url}/v1/rest/ingest/NetDefaultDB/K?streamFormat=csv"
                    ))
                    .body(body(batch, rows))
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().push(batch),
                    Ok(r) => panic!("batch {batch}: status {}", r.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_streaming_ingests_survive_sigkill() {
    let trials: u64 = std::env::var("CALYPSO_KILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let mut server = TestServer::start_with(ARGS);
    server.mgmt(".create table K (b:long, i:long)").await;
    server
        .mgmt(".alter table K policy streamingingestion enable")
        .await;
    server
        .mgmt(r#".alter table K policy retention '{"SoftDeletePeriod": "365.00:00:00", "Recoverability": "Enabled"}'"#)
        .await;
    let sent = Arc::new(Mutex::new(HashMap::new()));
    let acked = Arc::new(Mutex::new(Vec::new()));
    for trial in 0..trials {
        let writers = tokio::spawn(write_until_killed(
            server.url.clone(),
            trial,
            Arc::clone(&sent),
            Arc::clone(&acked),
        ));
        let ddl = tokio::spawn(ddl_until_killed(server.url.clone()));
        // Kill at a different moment each time (0.15 to 1.15 s into the trial; seals and
        // merges run every second, and the earlier trials' data is still there).
        tokio::time::sleep(Duration::from_millis(150 + (trial * 373) % 1000)).await;
        server = tokio::task::spawn_blocking(move || server.kill_and_restart(ARGS))
            .await
            .unwrap();
        writers.await.unwrap();
        ddl.await.unwrap();

        // This trial's batches now (cheap: the other extents are pruned by `b`); every
        // trial's at the end.
        let (sent_now, acked_now) = (sent.lock().unwrap().clone(), acked.lock().unwrap().clone());
        let present = check(&server, trial, trial * 1_000_000, &sent_now, &acked_now).await;
        eprintln!(
            "trial {trial}: {} batches acknowledged so far, {present} of this trial present",
            acked_now.len()
        );
    }
    let (sent, acked) = (sent.lock().unwrap().clone(), acked.lock().unwrap().clone());
    let present = check(&server, trials, 0, &sent, &acked).await;
    eprintln!(
        "{trials} trials: {} batches acknowledged, {present} present, none lost, duplicated or partial",
        acked.len()
    );
    assert!(!acked.is_empty(), "some batches were acknowledged");
}

/// Checks the batches with ids from `from`: every acknowledged one is there with all its
/// rows once, every one there is whole. Returns how many are there.
async fn check(
    server: &TestServer,
    trial: u64,
    from: u64,
    sent: &HashMap<u64, u64>,
    acked: &[u64],
) -> usize {
    let rows = server
        .query_rows(&format!(
            "K | where b >= {from} | summarize n = count(), d = dcount(i) by b"
        ))
        .await;
    let found: HashMap<u64, (u64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r[0].as_u64().unwrap(),
                (r[1].as_u64().unwrap(), r[2].as_u64().unwrap()),
            )
        })
        .collect();
    for b in acked.iter().filter(|b| **b >= from) {
        let want = sent[b];
        assert_eq!(
            found.get(b).map(|f| f.0),
            Some(want),
            "trial {trial}: acknowledged batch {b} of {want} rows"
        );
    }
    for (b, (n, d)) in &found {
        assert_eq!(
            Some(n),
            sent.get(b),
            "trial {trial}: batch {b} is partial or unknown"
        );
        assert_eq!(n, d, "trial {trial}: batch {b} has duplicated rows");
    }
    found.len()
}
