//! `calypso bench ingest-small`: one-row streaming ingestions, as IoT dataflows and
//! Functions output bindings send them, against an in-process server on 127.0.0.1
//! (port 0) with a temporary data directory.
//!
//! * In sequence: `--count` one-row ingests into one table; the ack latency (p50, p99)
//!   of the first and the last 1,000 (does the cost grow with the table's history?), and
//!   the bytes the process wrote per ingest (`wchar` of `/proc/self/io`, so requests and
//!   replies on the loopback socket are in it too) at the start and at the end.
//! * Merge: the time of a full-table aggregate over those rows as they are (row store and
//!   sealed extents), after sealing and merging (`Storage::merge_all`), and over the same
//!   rows ingested as one batch (one extent): merged should be within 2x of one batch.
//! * At once: `--writers` clients ingesting one row each, again and again, for
//!   `--seconds`: acknowledged ingests per second, 429s, ack p50/p99.
//!
//! Every row acknowledged must then be counted by a query; the benchmark fails otherwise.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::bench_server::{BenchServer, count, post};

/// Options of the benchmark.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Options {
    /// One-row ingests in sequence.
    #[arg(long, default_value_t = 100_000)]
    pub count: usize,
    /// Concurrent writers of the throughput phase (0: skip it).
    #[arg(long, default_value_t = 100)]
    pub writers: usize,
    /// Seconds of the throughput phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

/// The window of ingests whose latency is reported at the start and at the end.
const WINDOW: usize = 1000;

/// Runs the benchmark and prints its results to `out`.
pub async fn run(opts: Options, out: &mut impl Write) -> Result<(), String> {
    let server = BenchServer::start("bench-small").await?;
    let client = reqwest::Client::new();
    let result = bench(&client, &server, opts, out).await;
    server.stop().await;
    result
}

/// One one-row ingest: its HTTP status.
async fn ingest_row(
    client: &reqwest::Client,
    base: &str,
    table: &str,
    n: u64,
) -> Result<u16, String> {
    let body = format!("2026-01-01T00:00:00Z,{n},dev-{}\n", n % 100);
    let resp = client
        .post(format!(
            "{base}/v1/rest/ingest/NetDefaultDB/{table}?streamFormat=csv"
        ))
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let _ = resp.bytes().await;
    Ok(status)
}

/// Bytes this process has passed to `write()` so far (0 where `/proc` is missing).
pub(crate) fn bytes_written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("wchar:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

fn summary(latencies: &[Duration]) -> String {
    let mut v = latencies.to_vec();
    v.sort();
    format!(
        "p50 {:.2} ms, p99 {:.2} ms",
        percentile(&v, 0.5),
        percentile(&v, 0.99)
    )
}

async fn create(client: &reqwest::Client, base: &str, table: &str) -> Result<(), String> {
    let mgmt = format!("{base}/v1/rest/mgmt");
    for csl in [
        format!(".create table {table} (Timestamp:datetime, Value:long, Device:string)"),
        format!(".alter table {table} policy streamingingestion enable"),
    ] {
        post(client, &mgmt, json!({"db": "NetDefaultDB", "csl": csl})).await?;
    }
    Ok(())
}

/// The median time of a full-table aggregate over `table`, in ms.
async fn aggregate_ms(client: &reqwest::Client, base: &str, table: &str) -> Result<f64, String> {
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        post(
            client,
            &format!("{base}/v2/rest/query"),
            json!({"db": "NetDefaultDB", "csl": format!("{table} | summarize sum(Value), dcount(Device), max(Timestamp)")}),
        )
        .await?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2].as_secs_f64() * 1e3)
}

/// The number of extents of `table`.
fn extents(server: &BenchServer, table: &str) -> usize {
    server
        .storage
        .catalog()
        .table("NetDefaultDB", table)
        .map_or(0, |t| t.extents.len())
}

/// The merge phase (see the module's documentation).
async fn merge_phase(
    client: &reqwest::Client,
    server: &BenchServer,
    n: usize,
    out: &mut dyn Write,
) -> Result<(), String> {
    let base = server.base.as_str();
    let as_ingested = aggregate_ms(client, base, "Small").await?;
    let before = extents(server, "Small");
    let storage = &server.storage;
    storage.seal_all().await.map_err(|e| e.to_string())?;
    let sealed = extents(server, "Small");
    let t = Instant::now();
    let mut merges = 0;
    loop {
        let m = storage.merge_all().await.map_err(|e| e.to_string())?;
        if m == 0 {
            break;
        }
        merges += m;
    }
    let merge_took = t.elapsed();
    let merged = aggregate_ms(client, base, "Small").await?;

    create(client, base, "OneBatch").await?;
    for start in (0..n).step_by(20_000) {
        let body: String = (start..(start + 20_000).min(n))
            .map(|i| format!("2026-01-01T00:00:00Z,{i},dev-{}\n", i % 100))
            .collect();
        let resp = client
            .post(format!(
                "{base}/v1/rest/ingest/NetDefaultDB/OneBatch?streamFormat=csv"
            ))
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("one-batch ingest: HTTP {}", resp.status()));
        }
    }
    storage.seal_all().await.map_err(|e| e.to_string())?;
    let one = aggregate_ms(client, base, "OneBatch").await?;
    writeln!(
        out,
        "merge: aggregate over {n} rows as ingested ({before} extents + row store) {as_ingested:.1} ms; \
         sealed into {sealed} extents, {merges} merges in {:.1} s -> {} extents: {merged:.1} ms; \
         one batch ({} extent): {one:.1} ms; merged / one batch = {:.2}",
        merge_took.as_secs_f64(),
        extents(server, "Small"),
        extents(server, "OneBatch"),
        merged / one.max(1e-9)
    )
    .map_err(|e| e.to_string())
}

async fn bench(
    client: &reqwest::Client,
    server: &BenchServer,
    opts: Options,
    out: &mut impl Write,
) -> Result<(), String> {
    let base = server.base.as_str();
    let w = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(|e| e.to_string());
    create(client, base, "Small").await?;
    let n = opts.count.max(1);
    let window = WINDOW.min(n);
    let mut latencies = Vec::with_capacity(n);
    let (mut first_bytes, mut last_bytes) = (0u64, 0u64);
    let started = Instant::now();
    for i in 0..n {
        let before = bytes_written();
        let t = Instant::now();
        let status = ingest_row(client, base, "Small", i as u64).await?;
        latencies.push(t.elapsed());
        let written = bytes_written().saturating_sub(before);
        if status != 200 {
            return Err(format!("ingest {i}: HTTP {status}"));
        }
        if i < window {
            first_bytes += written;
        }
        if i >= n - window {
            last_bytes += written;
        }
    }
    let took = started.elapsed();
    let visible = count(client, base, "Small").await?;
    if visible != n as u64 {
        return Err(format!(
            "{visible} rows visible after {n} acknowledged ingests"
        ));
    }
    w(
        out,
        format!(
            "sequential: {n} one-row ingests in {:.1} s ({:.0}/s); first {window}: {}; last {window}: {}",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64(),
            summary(&latencies[..window]),
            summary(&latencies[n - window..]),
        ),
    )?;
    w(
        out,
        format!(
            "bytes written per ingest: first {window}: {:.0}, last {window}: {:.0}",
            first_bytes as f64 / window as f64,
            last_bytes as f64 / window as f64
        ),
    )?;

    merge_phase(client, server, n, out).await?;

    if opts.writers == 0 {
        return Ok(());
    }
    create(client, base, "Concurrent").await?;
    let acked = Arc::new(AtomicU64::new(0));
    let throttled = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(opts.seconds.max(1));
    let mut tasks = Vec::new();
    for writer in 0..opts.writers {
        let (client, base) = (client.clone(), base.to_string());
        let (acked, throttled) = (Arc::clone(&acked), Arc::clone(&throttled));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                match ingest_row(&client, &base, "Concurrent", writer as u64 * 1_000_000 + i)
                    .await?
                {
                    200 => {
                        latencies.push(t.elapsed());
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    429 => {
                        throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    other => return Err(format!("ingest: HTTP {other}")),
                }
                i += 1;
            }
            Ok::<_, String>(latencies)
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    let took = started.elapsed();
    let acked = acked.load(Ordering::Relaxed);
    let visible = count(client, base, "Concurrent").await?;
    if visible != acked {
        return Err(format!(
            "{visible} rows visible after {acked} acknowledged ingests"
        ));
    }
    w(
        out,
        format!(
            "{} writers for {:.1} s: {acked} acknowledged ({:.0}/s), {} answered 429; ack {}",
            opts.writers,
            took.as_secs_f64(),
            acked as f64 / took.as_secs_f64(),
            throttled.load(Ordering::Relaxed),
            summary(&all)
        ),
    )?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    /// A smoke run: both phases, every acknowledged row counted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_short_run_reports_both_phases() {
        let mut out = Vec::new();
        let opts = super::Options {
            count: 20,
            writers: 4,
            seconds: 1,
        };
        super::run(opts, &mut out).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("sequential: 20 one-row ingests"), "{text}");
        assert!(text.contains("bytes written per ingest"), "{text}");
        assert!(text.contains("merge: aggregate over 20 rows"), "{text}");
        assert!(text.contains("4 writers for"), "{text}");
    }

    #[test]
    fn percentiles_of_sorted_latencies() {
        use std::time::Duration;
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(super::percentile(&v, 0.5), 51.0);
        assert_eq!(super::percentile(&v, 0.99), 99.0);
        assert_eq!(super::percentile(&[], 0.5), 0.0);
    }
}
