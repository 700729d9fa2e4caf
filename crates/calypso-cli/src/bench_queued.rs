//! `calypso bench queued`: queued ingestion end to end over HTTP against an in-process
//! server (127.0.0.1, port 0, temporary data directory), as the ingest SDKs do it: `.get
//! ingestion resources` and `.get kusto identity token`, Put Blob, Put Message, then the
//! worker ingests. Reports the throughput of CSV, JSON and Parquet (MiB/s and rows/s, from the first
//! upload to every row queryable, with `FlushImmediately`), and the time from Put Message to
//! queryable for a blob that waits for a batch sealed by a `--batching-secs` policy.

use std::io::Write;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::bench_ingest::csv_body;
use crate::bench_server::{BenchServer, count, post};

/// Options of the benchmark.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Options {
    /// Size of each blob in MiB.
    #[arg(long, default_value_t = 16)]
    pub mib: usize,
    /// Blobs per format.
    #[arg(long, default_value_t = 4)]
    pub blobs: usize,
    /// The table's MaximumBatchingTimeSpan, in seconds, for the latency phase (10 to 1800).
    #[arg(long, default_value_t = 10)]
    pub batching_secs: u64,
}

/// Runs the benchmark and prints its results to `out`.
pub async fn run(opts: Options, out: &mut impl Write) -> Result<(), String> {
    let server = BenchServer::start("bench-queued").await?;
    let client = reqwest::Client::new();
    let result = bench(&client, &server.base, opts, out).await;
    server.stop().await;
    result
}

/// The bench table's columns.
fn bench_columns() -> Vec<(String, kql_types::KqlType)> {
    use kql_types::KqlType;
    [
        ("Timestamp", KqlType::DateTime),
        ("Level", KqlType::String),
        ("Service", KqlType::String),
        ("Latency", KqlType::Real),
        ("Bytes", KqlType::Long),
        ("Props", KqlType::Dynamic),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_string(), t))
    .collect()
}

/// The rows of `csv` as a Parquet file (snappy), as a pipeline would write them.
fn parquet_file(csv: &[u8]) -> Vec<u8> {
    let Ok(batches) = calypso_ingest::read(calypso_ingest::Format::Csv, csv, &bench_columns())
    else {
        return Vec::new();
    };
    let Some(first) = batches.first() else {
        return Vec::new();
    };
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut out = Vec::new();
    let Ok(mut writer) =
        parquet::arrow::ArrowWriter::try_new(&mut out, first.schema(), Some(props))
    else {
        return Vec::new();
    };
    for b in &batches {
        if writer.write(b).is_err() {
            return Vec::new();
        }
    }
    if writer.close().is_err() {
        return Vec::new();
    }
    out
}

/// The rows of `csv` (the 6-column bench rows) as JSON lines.
fn json_lines(csv: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(csv.len() * 2);
    for line in String::from_utf8_lossy(csv).lines() {
        let mut parts = line.splitn(6, ',');
        let mut next = || parts.next().unwrap_or_default().to_string();
        let (ts, level, svc, lat, bytes) = (next(), next(), next(), next(), next());
        let props = next();
        let props = props
            .strip_prefix('"')
            .and_then(|p| p.strip_suffix('"'))
            .unwrap_or(&props)
            .replace("\"\"", "\"");
        let row = json!({
            "Timestamp": ts, "Level": level, "Service": svc,
            "Latency": lat.parse::<f64>().unwrap_or_default(),
            "Bytes": bytes.parse::<i64>().unwrap_or_default(),
            "Props": serde_json::from_str::<Value>(&props).unwrap_or(Value::Null),
        });
        out.extend_from_slice(row.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// What the SDKs get from the management endpoint before they upload.
struct Resources {
    temp: (String, String),
    queue: (String, String),
    context: String,
}

async fn mgmt(client: &reqwest::Client, base: &str, csl: &str) -> Result<Value, String> {
    post(
        client,
        &format!("{base}/v1/rest/mgmt"),
        json!({"db": "NetDefaultDB", "csl": csl}),
    )
    .await
}

async fn resources(client: &reqwest::Client, base: &str) -> Result<Resources, String> {
    let v = mgmt(client, base, ".get ingestion resources").await?;
    let rows = v["Tables"][0]["Rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let find = |kind: &str| -> Result<(String, String), String> {
        rows.iter()
            .find(|r| r[0] == kind)
            .and_then(|r| r[1].as_str())
            .and_then(|u| u.split_once('?'))
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .ok_or_else(|| format!("no {kind} in {v}"))
    };
    let token = mgmt(client, base, ".get kusto identity token").await?;
    Ok(Resources {
        temp: find("TempStorage")?,
        queue: find("SecuredReadyForAggregationQueue")?,
        context: token["Tables"][0]["Rows"][0][0]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    })
}

/// Uploads `body` and queues its ingestion into `table`; returns when Put Message got 201.
async fn enqueue(
    client: &reqwest::Client,
    r: &Resources,
    table: &str,
    format: &str,
    body: Vec<u8>,
    flush: bool,
) -> Result<Instant, String> {
    let name = format!("NetDefaultDB__{table}__{}.{format}", uuid_like());
    let blob = format!("{}/{name}?{}", r.temp.0, r.temp.1);
    let size = body.len();
    let put = client
        .put(&blob)
        .header("x-ms-blob-type", "BlockBlob")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if put.status().as_u16() != 201 {
        return Err(format!("Put Blob: {}", put.status()));
    }
    let message = json!({
        "BlobPath": blob, "DatabaseName": "NetDefaultDB", "TableName": table,
        "RawDataSize": size, "FlushImmediately": flush, "ReportLevel": 1,
        "AdditionalProperties": {"authorizationContext": r.context, "format": format},
    });
    let xml = format!(
        "<QueueMessage><MessageText>{}</MessageText></QueueMessage>",
        STANDARD.encode(message.to_string())
    );
    let sent = client
        .post(format!("{}/messages?{}", r.queue.0, r.queue.1))
        .body(xml)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if sent.status().as_u16() != 201 {
        return Err(format!("Put Message: {}", sent.status()));
    }
    Ok(Instant::now())
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:032x}")
}

/// Polls until `table` has `expected` rows (at most `limit`).
async fn until_rows(
    client: &reqwest::Client,
    base: &str,
    table: &str,
    expected: u64,
    limit: Duration,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let n = count(client, base, table).await?;
        if n == expected {
            return Ok(());
        }
        if n > expected || start.elapsed() > limit {
            return Err(format!("{table}: {n} rows, expected {expected}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn bench(
    client: &reqwest::Client,
    base: &str,
    opts: Options,
    out: &mut impl Write,
) -> Result<(), String> {
    let columns = "(Timestamp:datetime, Level:string, Service:string, Latency:real, Bytes:long, Props:dynamic)";
    let r = resources(client, base).await?;
    let w = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(|e| e.to_string());
    for format in ["csv", "json", "parquet"] {
        let table = format!("Queued_{format}");
        mgmt(client, base, &format!(".create table {table} {columns}")).await?;
        let bodies: Vec<(Vec<u8>, u64)> = (0..opts.blobs.max(1))
            .map(|i| {
                let (csv, rows) = csv_body(opts.mib.max(1) << 20, i as u64);
                match format {
                    "csv" => (csv, rows),
                    "json" => (json_lines(&csv), rows),
                    _ => (parquet_file(&csv), rows),
                }
            })
            .collect();
        let bytes: usize = bodies.iter().map(|b| b.0.len()).sum();
        let rows: u64 = bodies.iter().map(|b| b.1).sum();
        let start = Instant::now();
        for (body, _) in bodies {
            enqueue(client, &r, &table, format, body, true).await?;
        }
        until_rows(client, base, &table, rows, Duration::from_secs(600)).await?;
        let took = start.elapsed().as_secs_f64();
        let mib = bytes as f64 / (1 << 20) as f64;
        w(
            out,
            format!(
                "{format}: {} blobs, {mib:.1} MiB, {rows} rows, uploaded to queryable in {took:.2} s = {:.1} MiB/s, {:.0} rows/s",
                opts.blobs.max(1),
                mib / took,
                rows as f64 / took
            ),
        )?;
    }
    let secs = opts.batching_secs.clamp(10, 1800);
    mgmt(
        client,
        base,
        &format!(".create table Queued_batched {columns}"),
    )
    .await?;
    mgmt(
        client,
        base,
        &format!(
            r#".alter table Queued_batched policy ingestionbatching '{{"MaximumBatchingTimeSpan": "{}"}}'"#,
            format_args!("{:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60)
        ),
    )
    .await?;
    let (body, rows) = csv_body(64 << 10, 99);
    let put = enqueue(client, &r, "Queued_batched", "csv", body, false).await?;
    until_rows(
        client,
        base,
        "Queued_batched",
        rows,
        Duration::from_secs(secs + 60),
    )
    .await?;
    w(
        out,
        format!(
            "batched ({secs} s policy): Put Message to queryable {:.2} s",
            put.elapsed().as_secs_f64()
        ),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_carry_the_csv_rows() {
        let (csv, rows) = csv_body(2000, 1);
        let json = json_lines(&csv);
        let lines: Vec<Value> = String::from_utf8(json)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len() as u64, rows);
        assert!(lines[0]["Props"]["host"].is_string(), "{}", lines[0]);
        assert!(lines[0]["Bytes"].is_i64());
    }

    /// A smoke run (the batching phase waits the policy's least, 10 s).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_short_run_reports_every_phase() {
        let mut out = Vec::new();
        run(
            Options {
                mib: 1,
                blobs: 1,
                batching_secs: 10,
            },
            &mut out,
        )
        .await
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("csv: 1 blobs"), "{text}");
        assert!(text.contains("json: 1 blobs"), "{text}");
        assert!(text.contains("parquet: 1 blobs"), "{text}");
        let batched: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("batched (10 s policy): Put Message to queryable "))
            .and_then(|t| t.trim_end_matches(" s").parse().ok())
            .unwrap();
        // Sealed by the policy's time, not before (the worker looks every second).
        assert!(batched >= 10.0, "{text}");
    }
}
