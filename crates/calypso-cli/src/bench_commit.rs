//! `calypso bench commit`: what one catalog commit costs as the catalog grows. A storage
//! in a temporary data directory gets `--tables` tables of `--extents` extents each
//! (metadata only: each extent has statistics for 8 columns, as a sealed extent of a
//! telemetry table has), then `--commits` commits in sequence that each add one extent to
//! one table, round robin. The same commits run first against a catalog of one empty
//! table. Reported: the commit latency (p50, p99) and the bytes the process wrote per commit
//! (`wchar` of `/proc/self/io`: log records and any checkpoint) on both; a commit whose
//! cost follows its change has about the same figures on both. Then `--commits` more from
//! `--writers` concurrent committers (writer `w` on table `w mod tables`): commits per
//! second in sequence and concurrently (concurrent commits share log records and fsyncs).
//!
//! The benchmark fails if the reopened catalog does not hold every extent committed.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use calypso_storage::catalog::{Column, ColumnStats, DEFAULT_DATABASE, ExtentMeta, Table};
use calypso_storage::{Storage, StorageOptions};
use kql_types::KqlType;
use serde_json::json;

use crate::bench_ingest_small::bytes_written;

/// Options of the benchmark.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Options {
    /// Tables of the big catalog.
    #[arg(long, default_value_t = 100)]
    pub tables: usize,
    /// Extents per table of the big catalog.
    #[arg(long, default_value_t = 1000)]
    pub extents: usize,
    /// Commits timed on each catalog.
    #[arg(long, default_value_t = 500)]
    pub commits: usize,
    /// Concurrent committers (each on its own table, round robin) of the second round of
    /// `--commits` commits on each catalog.
    #[arg(long, default_value_t = 50)]
    pub writers: usize,
}

/// What one catalog measured.
struct Figures {
    p50: f64,
    p99: f64,
    bytes_per_commit: f64,
    setup_ms: f64,
    /// Commits per second, one after the other.
    sequential: f64,
    /// Commits per second from `--writers` concurrent committers.
    concurrent: f64,
}

/// The columns of every table.
const COLUMNS: [(&str, KqlType); 8] = [
    ("Timestamp", KqlType::DateTime),
    ("Device", KqlType::String),
    ("Sensor", KqlType::String),
    ("Value", KqlType::Real),
    ("Count", KqlType::Long),
    ("Status", KqlType::String),
    ("Site", KqlType::String),
    ("Flags", KqlType::Int),
];

/// Extent `n` of table `t`, with statistics for every column.
fn extent(t: usize, n: usize) -> ExtentMeta {
    let id = calypso_storage::catalog::new_id();
    ExtentMeta {
        path: format!("data/bench/t{t}/{id}.parquet"),
        id,
        rows: 10_000,
        size_bytes: 400_000,
        original_size: 1_600_000,
        created_on: "2026-12-01T00:00:00.0000000Z".into(),
        column_stats: COLUMNS
            .iter()
            .map(|(name, _)| ColumnStats {
                name: (*name).into(),
                min: Some(json!(format!("min-{t}-{n}"))),
                max: Some(json!(format!("max-{t}-{n}"))),
                null_count: 0,
            })
            .collect(),
        tags: vec![format!("drop-by:batch-{n}")],
        ..ExtentMeta::default()
    }
}

fn table(name: &str) -> Table {
    Table::new(
        name,
        COLUMNS
            .iter()
            .map(|(n, t)| Column {
                name: (*n).into(),
                kql_type: *t,
                ..Column::default()
            })
            .collect(),
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One catalog: `tables` tables of `extents` extents, then `commits` timed commits in
/// sequence, then `commits` more from `writers` concurrent committers.
async fn one(
    dir: &Path,
    tables: usize,
    extents: usize,
    commits: usize,
    writers: usize,
) -> Result<Figures, String> {
    let _ = std::fs::remove_dir_all(dir);
    // The extents are metadata only: no merger may go looking for their files.
    let options = StorageOptions {
        merge_every: Duration::from_secs(365 * 24 * 3600),
        ..StorageOptions::default()
    };
    let storage = Storage::open_local_with(dir, options.clone())
        .await
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = (0..tables.max(1)).map(|i| format!("T{i}")).collect();
    let setup = Instant::now();
    for (t, name) in names.iter().enumerate() {
        let name = name.clone();
        storage
            .commit(move |c| {
                let db = c.require_database_mut(DEFAULT_DATABASE)?;
                let mut new = table(&name);
                new.extents = (0..extents).map(|n| extent(t, n).into()).collect();
                db.tables.insert(name, new.into());
                Ok(())
            })
            .await
            .map_err(|e| e.to_string())?;
    }
    let setup_ms = setup.elapsed().as_secs_f64() * 1000.0;
    let mut times = Vec::with_capacity(commits);
    let bytes_before = bytes_written();
    let sequential = Instant::now();
    for i in 0..commits {
        let t = i % names.len();
        let name = names[t].clone();
        let e = extent(t, extents + i);
        let started = Instant::now();
        add_extent(&storage, name, e).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let written = bytes_written().saturating_sub(bytes_before);
    let sequential = commits as f64 / sequential.elapsed().as_secs_f64().max(1e-9);
    // The same number again from concurrent committers, each on its own table.
    let writers = writers.clamp(1, commits);
    let concurrent = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    for w in 0..writers {
        let storage = storage.clone();
        let (t, n) = (
            w % names.len(),
            commits / writers + usize::from(w < commits % writers),
        );
        let name = names[t].clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..n {
                let e = extent(t, extents + commits + w * commits + i);
                add_extent(&storage, name.clone(), e).await?;
            }
            Ok::<(), String>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    let concurrent = commits as f64 / concurrent.elapsed().as_secs_f64().max(1e-9);
    drop(storage);
    let reopened = reopen(dir, options).await?;
    let catalog = reopened.catalog();
    let db = catalog
        .require_database(DEFAULT_DATABASE)
        .map_err(|e| e.to_string())?;
    let total: usize = db.tables.values().map(|t| t.extents.len()).sum();
    let expected = names.len() * extents + 2 * commits;
    if total != expected {
        return Err(format!(
            "the reopened catalog has {total} extents, not {expected}"
        ));
    }
    times.sort_by(f64::total_cmp);
    Ok(Figures {
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        bytes_per_commit: written as f64 / commits.max(1) as f64,
        setup_ms,
        sequential,
        concurrent,
    })
}

/// One commit: extent `e` added to table `name`.
async fn add_extent(storage: &Storage, name: String, e: ExtentMeta) -> Result<(), String> {
    storage
        .commit(move |c| {
            c.require_table_mut(DEFAULT_DATABASE, &name)?
                .extents
                .push(e.into());
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())
}

/// Opens `dir` again once the storage that had it has let go of its lock (its background
/// tasks stop shortly after the last handle is dropped).
async fn reopen(dir: &Path, options: StorageOptions) -> Result<Storage, String> {
    let mut tries = 0;
    loop {
        match Storage::open_local_with(dir, options.clone()).await {
            Err(calypso_storage::Error::Locked(_)) if tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other.map_err(|e| e.to_string()),
        }
    }
}

/// Runs the benchmark and prints its results to `out`.
pub async fn run(opts: Options, out: &mut impl Write) -> Result<(), String> {
    if opts.commits == 0 {
        return Err("--commits must be positive".into());
    }
    // One directory per catalog: a storage holds its directory's lock until its
    // background tasks have stopped, which may be after `one` returns.
    let base = std::env::temp_dir().join(format!("calypso-bench-commit-{}", std::process::id()));
    let (small_dir, big_dir) = (base.join("small"), base.join("big"));
    let small = one(&small_dir, 1, 0, opts.commits, opts.writers).await;
    let big = match small {
        Ok(_) => {
            one(
                &big_dir,
                opts.tables,
                opts.extents,
                opts.commits,
                opts.writers,
            )
            .await
        }
        Err(ref e) => Err(e.clone()),
    };
    let _ = std::fs::remove_dir_all(&base);
    let (small, big) = (small?, big?);
    for (what, f) in [
        ("1 table, no extents".to_string(), &small),
        (
            format!("{} tables x {} extents", opts.tables, opts.extents),
            &big,
        ),
    ] {
        let _ = writeln!(
            out,
            "{what}: commit p50 {:.2} ms, p99 {:.2} ms, {:.0} B written per commit; {:.0} commits/s in sequence, {:.0} commits/s from {} writers (setup {:.1} s)",
            f.p50,
            f.p99,
            f.bytes_per_commit,
            f.sequential,
            f.concurrent,
            opts.writers.clamp(1, opts.commits),
            f.setup_ms / 1000.0
        );
    }
    let _ = writeln!(
        out,
        "big/small: p50 {:.2}x, p99 {:.2}x, bytes {:.2}x",
        big.p50 / small.p50.max(1e-9),
        big.p99 / small.p99.max(1e-9),
        big.bytes_per_commit / small.bytes_per_commit.max(1e-9)
    );
    Ok(())
}
