//! `calypso bench ingest`: streaming-ingestion throughput and ack-to-queryable latency,
//! end to end over HTTP against an in-process server on 127.0.0.1 (port 0) with a
//! temporary data directory: request, CSV parsing, Parquet encoding, fsync, catalog
//! commit, reply.

use std::fmt::Write as _;
use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::bench_server::{BenchServer, count, post};

/// Options of the benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Size of each CSV body in MiB.
    pub mib: usize,
    /// Bodies of that size to ingest.
    pub rounds: usize,
    /// Small ingestions (100 rows each) to time the ack-to-queryable latency.
    pub small: usize,
}

/// A deterministic CSV body of about `bytes` bytes with 6 columns; returns it and its
/// row count.
pub fn csv_body(bytes: usize, seed: u64) -> (Vec<u8>, u64) {
    const LEVELS: [&str; 4] = ["Info", "Warning", "Error", "Debug"];
    let mut out = String::with_capacity(bytes + 256);
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut rows = 0u64;
    while out.len() < bytes {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let r = x >> 33;
        let secs = rows % 86_400;
        let _ = writeln!(
            out,
            "2024-03-{:02}T{:02}:{:02}:{:02}.{:07}Z,{},svc-{},{}.{:03},{},\"{{\"\"host\"\":\"\"h{}\"\",\"\"ok\"\":{}}}\"",
            1 + (rows / 86_400) % 28,
            secs / 3600,
            (secs / 60) % 60,
            secs % 60,
            r % 10_000_000,
            LEVELS[(r % 4) as usize],
            r % 50,
            r % 1000,
            r % 1000,
            r % 100_000_000,
            r % 16,
            r.is_multiple_of(2)
        );
        rows += 1;
    }
    (out.into_bytes(), rows)
}

async fn ingest(client: &reqwest::Client, base: &str, body: Vec<u8>) -> Result<(), String> {
    let resp = client
        .post(format!(
            "{base}/v1/rest/ingest/NetDefaultDB/Bench?streamFormat=csv"
        ))
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!(
            "ingest: {status}: {}",
            resp.text().await.unwrap_or_default()
        ));
    }
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs the benchmark and prints its results to `out`.
pub async fn run(opts: Options, out: &mut impl Write) -> Result<(), String> {
    let server = BenchServer::start("bench").await?;
    let client = reqwest::Client::new();
    let result = bench(&client, &server.base, opts, out).await;
    server.stop().await;
    result
}

async fn bench(
    client: &reqwest::Client,
    base: &str,
    opts: Options,
    out: &mut impl Write,
) -> Result<(), String> {
    let mgmt = format!("{base}/v1/rest/mgmt");
    for csl in [
        ".create table Bench (Timestamp:datetime, Level:string, Service:string, Latency:real, Bytes:long, Props:dynamic)",
        ".alter table Bench policy streamingingestion enable",
    ] {
        post(client, &mgmt, json!({"db": "NetDefaultDB", "csl": csl})).await?;
    }
    let w = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(|e| e.to_string());
    let mut expected = 0u64;
    let mut total_bytes = 0usize;
    let mut total_time = Duration::ZERO;
    for round in 0..opts.rounds.max(1) {
        let (body, rows) = csv_body(opts.mib.max(1) << 20, round as u64);
        let len = body.len();
        let start = Instant::now();
        ingest(client, base, body).await?;
        let took = start.elapsed();
        expected += rows;
        let q = Instant::now();
        let n = count(client, base, "Bench").await?;
        let visible = q.elapsed();
        if n != expected {
            return Err(format!(
                "after the ack {n} rows are visible, expected {expected}"
            ));
        }
        total_bytes += len;
        total_time += took;
        w(
            out,
            format!(
                "csv {:.1} MiB, {rows} rows: ingested in {:.0} ms = {:.1} MiB/s; all rows visible to the next query ({:.1} ms)",
                len as f64 / (1 << 20) as f64,
                ms(took),
                len as f64 / (1 << 20) as f64 / took.as_secs_f64(),
                ms(visible)
            ),
        )?;
    }
    w(
        out,
        format!(
            "throughput: {:.1} MiB/s over {} bodies",
            total_bytes as f64 / (1 << 20) as f64 / total_time.as_secs_f64(),
            opts.rounds.max(1)
        ),
    )?;
    let mut acks = Vec::new();
    let mut visible = Vec::new();
    for i in 0..opts.small {
        let (body, rows) = csv_body(100 * 90, 1000 + i as u64);
        let start = Instant::now();
        ingest(client, base, body).await?;
        acks.push(start.elapsed());
        expected += rows;
        let n = count(client, base, "Bench").await?;
        visible.push(start.elapsed());
        if n != expected {
            return Err(format!(
                "after the ack {n} rows are visible, expected {expected}"
            ));
        }
    }
    if !acks.is_empty() {
        w(
            out,
            format!(
                "small ingestions ({} of ~100 rows): median ack {:.1} ms; ingest + query seeing the rows: median {:.1} ms",
                opts.small,
                ms(median(acks)),
                ms(median(visible))
            ),
        )?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn csv_body_is_deterministic_and_sized() {
        let (a, rows) = super::csv_body(10_000, 1);
        let (b, _) = super::csv_body(10_000, 1);
        assert_eq!(a, b);
        assert!(a.len() >= 10_000 && a.len() < 10_300);
        assert_eq!(a.iter().filter(|&&c| c == b'\n').count() as u64, rows);
    }
}
