//! `calypso bench load`: `--clients` concurrent clients for `--duration`, each sending its
//! next request as soon as the last one was answered, by a fixed mix: 60% queries of four
//! shapes over a table of `--rows` rows, 25% streaming ingestions of 100 CSV rows into a
//! second table, 15% `.show` commands. By default the server is a `calypso serve` child
//! process of this same binary (127.0.0.1 port 0, temporary data directory), so that the
//! resident memory read from `/proc/<pid>/status` is the server's alone; `--url` targets a
//! running server instead (its memory with `--pid`). Reports throughput, latency
//! p50/p99/max per kind and query shape, errors by HTTP status and Kusto code, 429s, the
//! server's RSS and CPU, and checks that every acknowledged ingested row is queryable.
//! Fails on any error other than 429 (and on 429s with `--fail-on-429`) or missing rows.

mod report;
mod server;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use report::{Report, figures};
use server::{ServerChild, cpu_seconds, memory_kib, sample_rss};

/// Options of the benchmark.
#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// Concurrent clients; each sends its next request when the last one was answered.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// How long the clients send requests: `300`, `90s`, `5m`, `1h30m`, `500ms`.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub duration: Duration,
    /// Rows of the queried table, filled before the load starts.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// An already running server (http://host:port) instead of a child `calypso serve`.
    #[arg(long)]
    pub url: Option<String>,
    /// The process id of the `--url` server, to sample its memory and CPU.
    #[arg(long, requires = "url")]
    pub pid: Option<u32>,
    /// The database the tables are created in.
    #[arg(long, default_value = calypso_engine::DEFAULT_DATABASE)]
    pub database: String,
    /// An extra argument for the child `calypso serve` (repeat), e.g.
    /// `--server-arg=--max-concurrent-queries=40`.
    #[arg(
        long = "server-arg",
        allow_hyphen_values = true,
        conflicts_with = "url"
    )]
    pub server_args: Vec<String>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Fail on 429 (throttled) answers too.
    #[arg(long)]
    pub fail_on_429: bool,
    /// Keep the child server's data directory and log (else removed after a clean run).
    #[arg(long, conflicts_with = "url")]
    pub keep: bool,
}

/// A duration: seconds (`300`, `2.5`) or numbers with units (`500ms`, `90s`, `5m`, `1h30m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let positive = |secs: f64| {
        (secs.is_finite() && secs > 0.0 && secs < 1e9)
            .then(|| Duration::from_secs_f64(secs))
            .ok_or_else(|| format!("'{text}': the duration must be positive"))
    };
    if let Ok(secs) = s.parse::<f64>() {
        return positive(secs);
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("'{text}': expected a number, then a unit (ms, s, m, h)"))?;
        rest = rest[digits..].trim_start();
        let letters = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let scale = match rest[..letters].to_ascii_lowercase().as_str() {
            "ms" => 1e-3,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hour" | "hours" => 3600.0,
            "" => return Err(format!("'{text}': a unit (ms, s, m, h) is missing")),
            unit => return Err(format!("'{text}': unknown unit '{unit}' (ms, s, m, h)")),
        };
        total += number * scale;
        rest = rest[letters..].trim_start();
    }
    positive(total)
}

/// What a request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Query,
    Ingest,
    Show,
}

const KINDS: [Kind; 3] = [Kind::Query, Kind::Ingest, Kind::Show];

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Query => "query",
            Kind::Ingest => "ingest",
            Kind::Show => "show",
        }
    }

    /// The kind of a random draw: 60% queries, 25% ingestions, 15% `.show` commands.
    fn of(draw: u64) -> Kind {
        match draw % 100 {
            0..60 => Kind::Query,
            60..85 => Kind::Ingest,
            _ => Kind::Show,
        }
    }
}

/// Query shapes over the big table `{T}`, by name; `{x}` is a random number below 100.
const QUERIES: [(&str, &str); 4] = [
    (
        "summarize-by-key",
        "{T} | summarize n = count(), avg_latency = avg(Latency), bytes = sum(Bytes) by Key",
    ),
    (
        "where-count",
        "{T} | where Level == 'Error' and Latency > {x} | count",
    ),
    ("top-10", "{T} | top 10 by Latency desc"),
    ("take-100", "{T} | take 100"),
];

/// `.show` commands; `{T}` is the big table.
const SHOWS: [(&str, &str); 3] = [
    ("show-tables", ".show tables"),
    ("show-table-schema", ".show table {T} schema as json"),
    ("show-databases", ".show databases"),
];

/// Rows of each streaming ingestion.
pub(crate) const INGEST_ROWS: u64 = 100;

/// Rows per `.set-or-append` while the big table is filled (each becomes an extent).
const FILL_CHUNK: u64 = 100_000;

/// How long one request may take before the client gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(180);

/// A small deterministic generator (SplitMix64), one per client.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The server and tables the clients use.
struct Target {
    base: String,
    db: String,
    big: String,
    ingest: String,
}

/// One answered (or failed) request.
pub(crate) struct Sample {
    pub(crate) kind: Kind,
    pub(crate) shape: &'static str,
    pub(crate) status: u16,
    /// The Kusto error code and message when the request failed.
    pub(crate) error: Option<(String, String)>,
    pub(crate) latency: Duration,
}

/// The Kusto code and message of a OneApi error body (`{"error": {"code", "message"}}`).
fn error_of(body: &str) -> (String, String) {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let e = &v["error"];
    match e["code"].as_str() {
        Some(code) => {
            let message = e["@message"].as_str().or(e["message"].as_str());
            (code.to_string(), message.unwrap_or("").to_string())
        }
        None => ("(no code)".to_string(), body.chars().take(300).collect()),
    }
}

/// The error of a successful (200) v2 query answer: a missing `DataSetCompletion` frame
/// or one with `HasErrors`, whose `OneApiErrors` name the code.
fn v2_error(body: &str) -> Option<(String, String)> {
    let Ok(Value::Array(frames)) = serde_json::from_str::<Value>(body) else {
        return Some(("BadResponse".into(), "not a v2 frame array".into()));
    };
    let Some(done) = frames
        .iter()
        .find(|f| f["FrameType"] == "DataSetCompletion")
    else {
        return Some(("IncompleteResponse".into(), "no DataSetCompletion".into()));
    };
    if done["HasErrors"] != true {
        return None;
    }
    let first = &done["OneApiErrors"][0];
    Some(error_of(&first.to_string()))
}

fn transport_error(e: &reqwest::Error) -> (String, String) {
    let code = if e.is_timeout() {
        "ClientTimeout"
    } else {
        "Transport"
    };
    (code.to_string(), e.to_string())
}

/// Sends one request; `v2` answers are checked frame by frame.
async fn exchange(req: reqwest::RequestBuilder, v2: bool) -> (u16, Option<(String, String)>) {
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return (0, Some(transport_error(&e))),
    };
    let status = resp.status().as_u16();
    match resp.text().await {
        Err(e) => (status, Some(transport_error(&e))),
        Ok(body) if !(200..300).contains(&status) => (status, Some(error_of(&body))),
        Ok(body) if v2 => (status, v2_error(&body)),
        Ok(_) => (status, None),
    }
}

/// 100 CSV rows for `Ingest (Timestamp, Client, Seq, Level, Value)`.
fn ingest_body(client: usize, seq: u64) -> String {
    const LEVELS: [&str; 3] = ["Info", "Warning", "Error"];
    let mut body = String::with_capacity(INGEST_ROWS as usize * 48);
    for i in 0..INGEST_ROWS {
        let n = seq * INGEST_ROWS + i;
        let _ = writeln!(
            body,
            "2024-02-{:02}T{:02}:{:02}:{:02}Z,{client},{n},{},{}.{}",
            1 + n / 86_400 % 28,
            n / 3600 % 24,
            n / 60 % 60,
            n % 60,
            LEVELS[(n % 3) as usize],
            n % 1000,
            n % 10
        );
    }
    body
}

/// One client: requests by the mix until `deadline`.
async fn client(
    http: reqwest::Client,
    target: Arc<Target>,
    id: usize,
    deadline: Instant,
) -> Vec<Sample> {
    let mut rng = Rng(id as u64 + 1);
    let mut seq = 0;
    let mut samples = Vec::new();
    let t = &*target;
    while Instant::now() < deadline {
        let draw = rng.next();
        let kind = Kind::of(draw);
        let pick = (draw >> 16) as usize;
        let (shape, req, v2) = match kind {
            Kind::Query => {
                let (shape, text) = QUERIES[pick % QUERIES.len()];
                let csl = text
                    .replace("{T}", &t.big)
                    .replace("{x}", &(rng.next() % 100).to_string());
                let req = http
                    .post(format!("{}/v2/rest/query", t.base))
                    .json(&json!({"db": t.db, "csl": csl}));
                (shape, req, true)
            }
            Kind::Ingest => {
                seq += 1;
                let req = http
                    .post(format!(
                        "{}/v1/rest/ingest/{}/{}?streamFormat=Csv",
                        t.base, t.db, t.ingest
                    ))
                    .body(ingest_body(id, seq));
                ("csv-100-rows", req, false)
            }
            Kind::Show => {
                let (shape, text) = SHOWS[pick % SHOWS.len()];
                let csl = text.replace("{T}", &t.big);
                let req = http
                    .post(format!("{}/v1/rest/mgmt", t.base))
                    .json(&json!({"db": t.db, "csl": csl}));
                (shape, req, false)
            }
        };
        let start = Instant::now();
        let (status, error) = exchange(req, v2).await;
        samples.push(Sample {
            kind,
            shape,
            status,
            error,
            latency: start.elapsed(),
        });
    }
    samples
}

/// A management command that must succeed.
async fn command(http: &reqwest::Client, t: &Target, csl: &str) -> Result<Value, String> {
    let resp = http
        .post(format!("{}/v1/rest/mgmt", t.base))
        .json(&json!({"db": t.db, "csl": csl}))
        .send()
        .await
        .map_err(|e| format!("{csl}: {e}"))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| format!("{csl}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{csl}: {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{csl}: {e}"))
}

/// The row count of `table`.
async fn count(http: &reqwest::Client, t: &Target, table: &str) -> Result<u64, String> {
    let csl = format!("{table} | count");
    let resp = http
        .post(format!("{}/v2/rest/query", t.base))
        .json(&json!({"db": t.db, "csl": csl}))
        .send()
        .await
        .map_err(|e| format!("{csl}: {e}"))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| format!("{csl}: {e}"))?;
    let frames: Value = serde_json::from_str(&body).map_err(|e| format!("{csl}: {e}"))?;
    frames
        .as_array()
        .and_then(|f| f.iter().find(|f| f["TableKind"] == "PrimaryResult"))
        .and_then(|f| f["Rows"][0][0].as_u64())
        .ok_or_else(|| format!("{csl}: {status}: {body}"))
}

/// Creates the tables and fills the big one.
async fn setup(http: &reqwest::Client, t: &Target, rows: u64) -> Result<(), String> {
    let (big, ingest) = (&t.big, &t.ingest);
    command(
        http,
        t,
        &format!(
            ".create table {big} (Timestamp:datetime, Key:string, Level:string, Latency:real, Bytes:long)"
        ),
    )
    .await?;
    command(
        http,
        t,
        &format!(
            ".create table {ingest} (Timestamp:datetime, Client:long, Seq:long, Level:string, Value:real)"
        ),
    )
    .await?;
    command(
        http,
        t,
        &format!(".alter table {ingest} policy streamingingestion enable"),
    )
    .await?;
    let mut from = 0;
    while from < rows {
        let to = (from + FILL_CHUNK).min(rows) - 1;
        let csl = format!(
            ".set-or-append {big} <| range i from {from} to {to} step 1 \
             | project Timestamp = datetime(2024-01-01) + i * 1s, Key = strcat('k', i % 100), \
             Level = case(i % 10 == 0, 'Error', i % 4 == 0, 'Warning', 'Info'), \
             Latency = (i * 7919 % 10000) / 100.0, Bytes = i * 31 % 65536"
        );
        command(http, t, &csl).await?;
        from = to + 1;
    }
    let n = count(http, t, big).await?;
    if n != rows {
        return Err(format!(
            "{big} has {n} rows after the fill, expected {rows}"
        ));
    }
    Ok(())
}

/// Drops the benchmark's tables from a server it did not start (`.drop table ifexists`).
async fn drop_tables(http: &reqwest::Client, t: &Target) {
    for table in [&t.big, &t.ingest] {
        if let Err(e) = command(http, t, &format!(".drop table {table} ifexists")).await {
            eprintln!("cleanup: {e}");
        }
    }
}

/// Runs the benchmark and prints its report to `out`; an error when a request failed
/// (other than 429, unless `fail_on_429`) or acknowledged rows are missing.
pub async fn run(opts: Options, out: &mut impl Write) -> Result<(), String> {
    let mut server = match opts.url {
        Some(_) => None,
        None => Some(ServerChild::start(&opts.server_args)?),
    };
    let base = match (&opts.url, &server) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(s)) => s.url.clone(),
        (None, None) => return Err("no server".into()),
    };
    let pid = server.as_ref().map(ServerChild::pid).or(opts.pid);
    let result = bench(&opts, base, pid, server.is_some(), out).await;
    if let Some(s) = server.as_mut() {
        let crashed = s.exited();
        s.stop();
        match (&result, crashed) {
            (Ok(()), None) if !opts.keep => {
                let _ = std::fs::remove_dir_all(&s.dir);
            }
            (_, crashed) => {
                eprintln!("server data and log kept in {}", s.dir.display());
                if let Some(status) = crashed {
                    eprintln!(
                        "the server exited during the run ({status}); its last log lines:\n{}",
                        s.log_tail()
                    );
                    if result.is_ok() {
                        return Err("the server exited during the run".into());
                    }
                }
            }
        }
    }
    result
}
async fn bench(
    opts: &Options,
    base: String,
    pid: Option<u32>,
    child: bool,
    out: &mut impl Write,
) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let target = Arc::new(Target {
        base,
        db: opts.database.clone(),
        big: format!("LoadBig_{stamp}"),
        ingest: format!("LoadIngest_{stamp}"),
    });
    let rows = opts.rows.max(1);
    let clients = opts.clients.max(1);
    let mem = |pid: Option<u32>| pid.and_then(memory_kib);
    let cpu = |pid: Option<u32>| pid.and_then(|p| cpu_seconds(&p.to_string()));
    let rss_before_setup = mem(pid).map(|m| m.0);
    eprintln!("filling {} with {rows} rows on {}", target.big, target.base);
    let started = Instant::now();
    if let Err(e) = setup(&http, &target, rows).await {
        if !child {
            drop_tables(&http, &target).await;
        }
        return Err(e);
    }
    let setup_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "filled in {setup_secs:.1} s; {clients} clients for {:.1} s",
        opts.duration.as_secs_f64()
    );

    let rss_start = mem(pid).map(|m| m.0);
    let (cpu_start, self_cpu_start) = (cpu(pid), cpu_seconds("self"));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = pid.map(|p| sample_rss(p, Arc::clone(&stop)));
    let started = Instant::now();
    let deadline = started + opts.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..clients {
        tasks.spawn(client(http.clone(), Arc::clone(&target), id, deadline));
    }
    let mut samples = Vec::new();
    while let Some(r) = tasks.join_next().await {
        samples.extend(r.map_err(|e| e.to_string())?);
    }
    let wall = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Release);
    let rss_samples = match sampler {
        Some(h) => h.await.map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let end = mem(pid);
    let server_cpu = cpu(pid).zip(cpu_start).map(|(b, a)| b - a);
    let self_cpu = cpu_seconds("self").zip(self_cpu_start).map(|(b, a)| b - a);
    let acknowledged = samples
        .iter()
        .filter(|s| s.kind == Kind::Ingest && s.error.is_none())
        .count() as u64;
    let queryable = count(&http, &target, &target.ingest).await;
    if !child {
        drop_tables(&http, &target).await;
    }

    let mut errors: BTreeMap<(Kind, u16, String), (usize, String)> = BTreeMap::new();
    for s in &samples {
        if let Some((code, message)) = &s.error {
            let e = errors
                .entry((s.kind, s.status, code.clone()))
                .or_insert_with(|| (0, message.chars().take(200).collect()));
            e.0 += 1;
        }
    }
    let mut shapes: Vec<(Kind, &'static str)> = samples.iter().map(|s| (s.kind, s.shape)).collect();
    shapes.sort();
    shapes.dedup();
    let report = Report {
        clients,
        duration: opts.duration,
        rows,
        base: target.base.clone(),
        big: target.big.clone(),
        ingest: target.ingest.clone(),
        child,
        pid,
        setup_secs,
        wall,
        total: figures(samples.iter()),
        per_kind: KINDS
            .iter()
            .map(|&k| (k, figures(samples.iter().filter(|s| s.kind == k))))
            .collect(),
        per_shape: shapes
            .into_iter()
            .map(|(k, shape)| {
                let f = figures(samples.iter().filter(|s| s.kind == k && s.shape == shape));
                (k, shape, f)
            })
            .collect(),
        errors,
        rss_before_setup,
        rss_start,
        rss_end: end.map(|m| m.0),
        hwm: end.map(|m| m.1),
        rss_samples,
        server_cpu,
        self_cpu,
        acknowledged,
        queryable,
    };
    let text = if opts.json {
        serde_json::to_string_pretty(&report.json()).map_err(|e| e.to_string())?
    } else {
        report.text()
    };
    writeln!(out, "{}", text.trim_end()).map_err(|e| e.to_string())?;
    report.verdict(opts.fail_on_429)
}
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |s: &str| parse_duration(s).unwrap();
        assert_eq!(d("300"), Duration::from_secs(300));
        assert_eq!(d("2.5"), Duration::from_millis(2500));
        assert_eq!(d("5m"), Duration::from_secs(300));
        assert_eq!(d("3s"), Duration::from_secs(3));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("1m 30s"), Duration::from_secs(90));
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("2 minutes"), Duration::from_secs(120));
        for bad in ["", "0", "-1", "5x", "m", "5m3", "1e400", "nan"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_mix() {
        let mut rng = Rng(1);
        let mut n = BTreeMap::new();
        for _ in 0..10_000 {
            *n.entry(Kind::of(rng.next())).or_insert(0) += 1;
        }
        assert!((5500..6500).contains(&n[&Kind::Query]), "{n:?}");
        assert!((2000..3000).contains(&n[&Kind::Ingest]), "{n:?}");
        assert!((1000..2000).contains(&n[&Kind::Show]), "{n:?}");
    }

    #[test]
    fn ingest_bodies_have_100_rows_of_5_fields() {
        let body = ingest_body(7, 3);
        assert_eq!(body.lines().count(), 100);
        assert!(body.lines().all(|l| l.split(',').count() == 5));
    }

    #[test]
    fn error_codes() {
        let body = r#"{"error":{"code":"TooManyRequests","message":"Request is throttled","@message":"The query was aborted"}}"#;
        assert_eq!(error_of(body).0, "TooManyRequests");
        assert_eq!(error_of("<html>").0, "(no code)");
        let ok = r#"[{"FrameType":"DataSetHeader"},{"FrameType":"DataSetCompletion","HasErrors":false}]"#;
        assert!(v2_error(ok).is_none());
        let bad = r#"[{"FrameType":"DataSetCompletion","HasErrors":true,"OneApiErrors":[{"error":{"code":"LimitsExceeded","message":"m"}}]}]"#;
        assert_eq!(v2_error(bad).unwrap().0, "LimitsExceeded");
        assert_eq!(v2_error("[]").unwrap().0, "IncompleteResponse");
    }

    #[test]
    fn percentiles() {
        let samples: Vec<Sample> = (1..=100)
            .map(|i| Sample {
                kind: Kind::Query,
                shape: "q",
                status: if i == 100 { 429 } else { 200 },
                error: (i == 100).then(|| ("TooManyRequests".into(), String::new())),
                latency: Duration::from_millis(i),
            })
            .collect();
        let f = figures(samples.iter());
        assert_eq!((f.requests, f.ok, f.throttled), (100, 99, 1));
        assert_eq!(f.p50, Duration::from_millis(50));
        assert_eq!(f.p99, Duration::from_millis(99));
        assert_eq!(f.max, Duration::from_millis(100));
    }
}
