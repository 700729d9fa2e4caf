//! `calypso bench scan`: the bytes a time filter reads. `--days` days of log rows are
//! ingested in `--batches` ingestions that each hold rows of every day, in random order
//! (the worst case for skipping whole extents), then merged as the merge policy allows.
//! Extents are written sorted by the table's first `datetime` column with a page index,
//! so a one-day filter should read about 1/`days` of what a full scan reads; the bytes
//! come from the storage's object-store counter (`ScanCounters::bytes_read`).
//!
//! The benchmark fails if a query's answer is not the generated one.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Instant;

use calypso_engine::{DEFAULT_DATABASE, Engine, RequestOptions, StorageOptions};

/// Options of the benchmark.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Options {
    /// Days of data.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Rows per day.
    #[arg(long, default_value_t = 50_000)]
    pub rows_per_day: u32,
    /// Ingestions (each with rows of every day).
    #[arg(long, default_value_t = 30)]
    pub batches: u32,
}

const DAY_SECS: i64 = 86_400;
/// 2026-01-01T00:00:00Z.
const BASE_SECS: i64 = 1_767_225_600;

/// A small deterministic generator (no dependency for a benchmark's data).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The CSV of ingestion `b`: its share of every day's rows, days interleaved.
fn batch_csv(opts: &Options, b: u32, rng: &mut Lcg) -> String {
    let per = opts.rows_per_day / opts.batches;
    let extra = u32::from(b < opts.rows_per_day % opts.batches);
    let mut out = String::new();
    for i in 0..(per + extra) {
        for d in 0..opts.days {
            let secs = BASE_SECS + i64::from(d) * DAY_SECS + (rng.next() % DAY_SECS as u64) as i64;
            let level = ["Info", "Warning", "Error"][(rng.next() % 3) as usize];
            let service = rng.next() % 20;
            out.push_str(&format!(
                "{},{level},svc-{service},{}.{},{}\n",
                rfc3339(secs),
                rng.next() % 500,
                rng.next() % 10,
                u64::from(i) + rng.next() % 4096
            ));
        }
    }
    out
}

async fn one(e: &Engine, q: &str) -> Result<String, String> {
    let r = e
        .execute(DEFAULT_DATABASE, q, &RequestOptions::default())
        .await
        .map_err(|err| format!("{q}: {err}"))?;
    let b = r
        .tables
        .first()
        .and_then(|t| t.batches.first())
        .ok_or_else(|| format!("{q}: no result"))?;
    Ok(kql_functions::convert::kql_to_string(
        b.column(0).as_ref(),
        0,
    ))
}

/// A query's one value, the bytes it read and its time in milliseconds.
async fn measure(e: &Engine, q: &str) -> Result<(String, u64, f64), String> {
    let counters = e.storage().scan_counters();
    let before = counters.bytes_read.load(Ordering::Relaxed);
    let started = Instant::now();
    let answer = one(e, q).await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok((
        answer,
        counters.bytes_read.load(Ordering::Relaxed) - before,
        ms,
    ))
}

/// Runs the benchmark and prints its results to `out`.
pub async fn run(opts: Options, out: &mut impl Write) -> Result<(), String> {
    if opts.days == 0 || opts.batches == 0 || opts.rows_per_day < opts.batches {
        return Err(
            "--days and --batches must be positive, --rows-per-day at least --batches".into(),
        );
    }
    let dir = std::env::temp_dir().join(format!("calypso-bench-scan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let result = bench(&dir, opts, out).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn bench(dir: &std::path::Path, opts: Options, out: &mut impl Write) -> Result<(), String> {
    let e = Engine::open_with(dir, StorageOptions::default())
        .await
        .map_err(|err| err.to_string())?;
    one(
        &e,
        ".create table Logs (Timestamp:datetime, Level:string, Service:string, Latency:real, Bytes:long)",
    )
    .await
    .ok();
    let mut rng = Lcg(42);
    let started = Instant::now();
    for b in 0..opts.batches {
        let csv = batch_csv(&opts, b, &mut rng);
        e.execute(
            DEFAULT_DATABASE,
            &format!(".ingest inline into table Logs <| {csv}"),
            &RequestOptions::default(),
        )
        .await
        .map_err(|err| format!("ingestion {b}: {err}"))?;
    }
    let rows = u64::from(opts.days) * u64::from(opts.rows_per_day);
    let ingest_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut merges = 0;
    loop {
        let n = e
            .storage()
            .merge_all()
            .await
            .map_err(|err| err.to_string())?;
        if n == 0 {
            break;
        }
        merges += n;
    }
    let merge_s = started.elapsed().as_secs_f64();
    let extents = one(&e, ".show table Logs extents | count").await?;
    let _ = writeln!(
        out,
        "{rows} rows ({} days x {}) in {} ingestions: {ingest_s:.1} s; {merges} merges in {merge_s:.1} s, {extents} extents",
        opts.days, opts.rows_per_day, opts.batches
    );

    let full_q = "Logs | summarize count(), sum(Bytes), max(Timestamp)";
    let (full_count, full_bytes, full_ms) = measure(&e, full_q).await?;
    let day_q = "Logs | where Timestamp >= datetime(2026-01-15) and Timestamp < datetime(2026-01-16) | summarize count(), sum(Bytes), max(Timestamp)";
    let (day_count, day_bytes, day_ms) = measure(&e, day_q).await?;
    if full_count != rows.to_string() {
        return Err(format!(
            "the full scan counted {full_count} rows, not {rows}"
        ));
    }
    let day_expected = if opts.days > 14 { opts.rows_per_day } else { 0 };
    if day_count != day_expected.to_string() {
        return Err(format!(
            "the one-day filter counted {day_count} rows, not {day_expected}"
        ));
    }
    let ratio = day_bytes as f64 / full_bytes.max(1) as f64;
    let _ = writeln!(
        out,
        "full scan: {full_bytes} bytes read, {full_ms:.1} ms; one day: {day_bytes} bytes read, {day_ms:.1} ms; ratio {ratio:.4} (1/{:.1}; ideal 1/{})",
        1.0 / ratio.max(f64::MIN_POSITIVE),
        opts.days
    );
    drop(e);
    strings(dir, out).await
}

/// Queries over the low-cardinality `string` columns.
const STRING_QUERIES: [&str; 4] = [
    "Logs | where Level == 'Error' | count",
    "Logs | summarize count() by Level | count",
    "Logs | summarize count() by Service, Level | count",
    "Logs | where Service startswith 'svc-1' | summarize dcount(Service)",
];

/// Runs [`STRING_QUERIES`] with scans reading strings as `Utf8` and as `Utf8View`
/// (`StorageOptions::string_views`), median of 5 runs each, on the same data; the answers
/// must agree.
async fn strings(dir: &std::path::Path, out: &mut impl Write) -> Result<(), String> {
    let mut answers: Vec<Vec<String>> = Vec::new();
    for views in [false, true] {
        let options = StorageOptions {
            string_views: views,
            ..StorageOptions::default()
        };
        let e = Engine::open_with(dir, options)
            .await
            .map_err(|err| err.to_string())?;
        let mut line = format!("strings as {}:", if views { "Utf8View" } else { "Utf8" });
        let mut mine = Vec::new();
        for q in STRING_QUERIES {
            let mut times = Vec::new();
            let mut answer = String::new();
            for _ in 0..5 {
                let (a, _, ms) = measure(&e, q).await?;
                answer = a;
                times.push(ms);
            }
            times.sort_by(f64::total_cmp);
            line.push_str(&format!(" {:.1} ms ({answer})", times[2]));
            mine.push(answer);
        }
        let _ = writeln!(out, "{line}");
        answers.push(mine);
    }
    if answers.first() != answers.last() {
        return Err(format!("the string queries' answers differ: {answers:?}"));
    }
    Ok(())
}
