//! The `calypso` binary.
//!
//! * `calypso query [--format table|csv|json] '<kql>'` runs a query in-process.
//! * `calypso explain --tokens|--ast|--plan '<kql>'` shows a pipeline stage.
//! * `calypso bench plan` times parsing and planning of a 20-line query.
//! * `calypso bench ingest` measures streaming ingestion over HTTP (MiB/s, ack to queryable).
//! * `calypso bench ingest-small` times one-row ingests, in sequence and from many writers.
//! * `calypso bench admission` sends a burst of commands and queries beyond the limits.
//! * `calypso bench load` runs concurrent clients mixing queries, ingestions and `.show`
//!   commands against a server for a set time.

mod bench_admission;
mod bench_commit;
mod bench_ingest;
mod bench_ingest_small;
mod bench_load;
mod bench_queued;
mod bench_scan;
mod bench_server;
mod coverage;
mod serve_config;

use serve_config::ServeArgs;

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use calypso_engine::{DEFAULT_DATABASE, Engine, RequestOptions, ResultTable, display};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "calypso",
    version,
    about = "Calypso: a Kusto-compatible analytics database"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the Kusto REST API (no authentication on loopback).
    Serve(ServeArgs),
    /// Run a KQL query in-process and print the primary result.
    Query {
        /// Data directory (tables persisted by the server; queries over `datatable`/`let` need none).
        #[arg(long, env = "CALYPSO_DATA_DIR")]
        data_dir: Option<std::path::PathBuf>,
        /// Database to run in.
        #[arg(long, default_value = DEFAULT_DATABASE)]
        database: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// The query text.
        query: String,
    },
    /// Show one stage of the pipeline for a query.
    Explain {
        /// Print the lexer's tokens.
        #[arg(long, group = "stage")]
        tokens: bool,
        /// Print the AST (and the canonical KQL it prints back to).
        #[arg(long, group = "stage")]
        ast: bool,
        /// Print the DataFusion logical plan.
        #[arg(long, group = "stage")]
        plan: bool,
        /// The query text.
        query: String,
    },
    /// Counts the operators, functions and aggregates implemented against the official
    /// catalog (shared/reference/kql-catalog).
    Coverage {
        /// The catalog directory.
        #[arg(long, default_value = "../shared/reference/kql-catalog")]
        catalog: std::path::PathBuf,
        /// List what is missing.
        #[arg(long)]
        missing: bool,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        which: Bench,
    },
}

#[derive(Subcommand, Debug)]
enum Bench {
    /// Parse and plan a 20-line query repeatedly; prints the mean time per iteration.
    Plan {
        /// Iterations.
        #[arg(long, default_value_t = 2000)]
        iterations: u32,
    },
    /// Streaming ingestion over HTTP into an in-process server (temporary data dir):
    /// CSV throughput and the time from the ack to the rows being queryable.
    Ingest {
        /// Size of each CSV body in MiB.
        #[arg(long, default_value_t = 20)]
        mib: usize,
        /// Bodies to ingest.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Small (100-row) ingestions for the ack-to-queryable latency.
        #[arg(long, default_value_t = 50)]
        small: usize,
    },
    /// One-row streaming ingests into an in-process server (temporary data dir): ack
    /// p50/p99 of the first and last 1,000 of `--count` in sequence, bytes written per
    /// ingest, then acknowledged ingests per second from `--writers` clients at once.
    IngestSmall(bench_ingest_small::Options),
    /// Queued ingestion over HTTP into an in-process server (temporary data dir), as the
    /// ingest SDKs do it: CSV and JSON throughput from upload to queryable, and the time
    /// from Put Message to queryable with a `--batching-secs` batching policy.
    Queued(bench_queued::Options),
    /// Catalog commits that each add one extent, timed on a catalog of one empty table and
    /// on one of `--tables` x `--extents` extents (temporary data dir): p50/p99 and bytes
    /// written per commit on both (about the same when a commit costs its change).
    Commit(bench_commit::Options),
    /// The bytes a one-day filter reads of `--days` days of rows ingested out of order and
    /// merged (temporary data dir), against a full scan: about 1/days.
    Scan(bench_scan::Options),
    /// A burst of concurrent `.create-merge table` commands and small queries beyond the
    /// default limits, against an in-process server: successes, 429s, latency per kind.
    /// Fails if any request failed.
    Admission {
        /// Commands sent at once.
        #[arg(long, default_value_t = 300)]
        commands: usize,
        /// Queries sent at once (with the commands).
        #[arg(long, default_value_t = 200)]
        queries: usize,
    },
    /// A load test: concurrent clients mixing queries over a big table (60%), 100-row
    /// streaming ingestions (25%) and `.show` commands (15%) for a set time, against a
    /// child `calypso serve` (or `--url`): throughput, p50/p99 per kind, errors by code,
    /// 429s, the server's peak RSS. Fails on errors other than 429 or on missing rows.
    Load(bench_load::Options),
}

/// The 20-line query of `calypso bench plan`.
pub const BENCH_QUERY: &str = r#"let Events = datatable(Timestamp:datetime, Level:string, Service:string, Latency:real, Bytes:long)
[
    datetime(2024-01-01T10:00:00Z), "Error", "api", 12.5, 1024,
    datetime(2024-01-01T10:05:00Z), "Info", "web", 3.25, 2048,
    datetime(2024-01-01T11:00:00Z), "Warning", "api", 40.0, 512
];
let Threshold = 10.0;
Events
| where Timestamp between (datetime(2024-01-01) .. 1d)
| where Level in ("Error", "Warning") or Latency > Threshold
| extend Hour = bin(Timestamp, 1h), IsSlow = Latency > Threshold
| extend Kind = case(Level == "Error", "E", Level == "Warning", "W", "I")
| where Service has "api" and not(isempty(Service))
| summarize Count = count(), P95 = percentile(Latency, 95), TotalBytes = sum(Bytes),
            Slow = countif(IsSlow), Services = dcount(Service) by Hour, Kind
| join kind=leftouter (Events | summarize Max = max(Latency) by Kind = substring(Level, 0, 1)) on Kind
| project Hour, Kind, Count, P95, TotalBytes, Slow, Services, Max
| extend Ratio = todouble(Slow) / Count
| order by Hour asc, Count desc
| take 100"#;

fn print_table(t: &ResultTable, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
    let rows: Vec<Vec<Option<String>>> = t
        .batches
        .iter()
        .flat_map(|b| {
            (0..b.num_rows()).map(move |i| {
                t.columns
                    .iter()
                    .enumerate()
                    .map(|(c, (_, ty))| display::format_value(b.column(c).as_ref(), i, *ty))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    match format {
        Format::Json => {
            let arr: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let mut m = serde_json::Map::new();
                    for ((name, _), v) in t.columns.iter().zip(r) {
                        m.insert(
                            name.clone(),
                            v.clone()
                                .map_or(serde_json::Value::Null, serde_json::Value::String),
                        );
                    }
                    serde_json::Value::Object(m)
                })
                .collect();
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&arr).unwrap_or_default()
            )
        }
        Format::Csv => {
            let esc = |s: &str| {
                if s.contains([',', '"', '\n']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_string()
                }
            };
            let header: Vec<String> = t.columns.iter().map(|(n, _)| esc(n)).collect();
            writeln!(out, "{}", header.join(","))?;
            for r in &rows {
                let cells: Vec<String> =
                    r.iter().map(|v| esc(v.as_deref().unwrap_or(""))).collect();
                writeln!(out, "{}", cells.join(","))?;
            }
            Ok(())
        }
        Format::Table => {
            let headers: Vec<String> = t
                .columns
                .iter()
                .map(|(n, ty)| format!("{n}:{ty}"))
                .collect();
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| r.iter().map(|v| v.clone().unwrap_or_default()).collect())
                .collect();
            let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
            for r in &cells {
                for (w, c) in widths.iter_mut().zip(r) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let line = |r: &[String]| {
                r.iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect::<Vec<_>>()
                    .join(" | ")
            };
            writeln!(out, "{}", line(&headers))?;
            writeln!(
                out,
                "{}",
                widths
                    .iter()
                    .map(|w| "-".repeat(*w))
                    .collect::<Vec<_>>()
                    .join("-+-")
            )?;
            for r in &cells {
                writeln!(out, "{}", line(r))?;
            }
            writeln!(out, "({} rows)", cells.len())
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()
        .map_err(|e| e.to_string())?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Serve(args) => {
            let options = serve_config::options(args)?;
            rt.block_on(calypso_server::serve(options))
                .map_err(|e| e.to_string())
        }
        Command::Query {
            data_dir,
            database,
            format,
            query,
        } => {
            let engine = match &data_dir {
                Some(dir) => rt.block_on(Engine::open(dir)).map_err(|e| e.to_string())?,
                None => Engine::new(),
            };
            let result = rt
                .block_on(engine.execute(&database, &query, &RequestOptions::default()))
                .map_err(|e| e.to_string())?;
            let Some(primary) = result.tables.first() else {
                return Ok(());
            };
            print_table(primary, format, &mut out).map_err(|e| e.to_string())
        }
        Command::Explain {
            tokens,
            ast,
            plan,
            query,
        } => {
            if tokens {
                let (toks, diags) = kql_syntax::lexer::tokenize(&query);
                for t in toks {
                    writeln!(out, "{:>4}..{:<4} {:?}", t.span.start, t.span.end, t.kind)
                        .map_err(|e| e.to_string())?;
                }
                for d in diags {
                    writeln!(out, "{}", d.render(&query)).map_err(|e| e.to_string())?;
                }
                return Ok(());
            }
            let parsed = kql_syntax::parse(&query);
            if let Some(d) = parsed.diagnostics.first() {
                return Err(d.render(&query));
            }
            if ast || !plan {
                writeln!(
                    out,
                    "{:#?}\n\n-- canonical KQL --\n{}",
                    parsed.query, parsed.query
                )
                .map_err(|e| e.to_string())?;
                return Ok(());
            }
            let engine = Engine::new();
            let planned = engine
                .plan(DEFAULT_DATABASE, &query, &RequestOptions::default())
                .map_err(|e| e.to_string())?;
            for r in planned.results {
                writeln!(out, "{}", r.plan.display_indent_schema()).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        Command::Coverage { catalog, missing } => coverage::report(&catalog, missing, &mut out),
        Command::Bench {
            which: Bench::Ingest { mib, rounds, small },
        } => rt.block_on(bench_ingest::run(
            bench_ingest::Options { mib, rounds, small },
            &mut out,
        )),
        Command::Bench {
            which: Bench::Admission { commands, queries },
        } => rt.block_on(bench_admission::run(
            bench_admission::Options { commands, queries },
            &mut out,
        )),
        Command::Bench {
            which: Bench::Load(options),
        } => rt.block_on(bench_load::run(options, &mut out)),
        Command::Bench {
            which: Bench::IngestSmall(options),
        } => rt.block_on(bench_ingest_small::run(options, &mut out)),
        Command::Bench {
            which: Bench::Queued(options),
        } => rt.block_on(bench_queued::run(options, &mut out)),
        Command::Bench {
            which: Bench::Commit(options),
        } => rt.block_on(bench_commit::run(options, &mut out)),
        Command::Bench {
            which: Bench::Scan(options),
        } => rt.block_on(bench_scan::run(options, &mut out)),
        Command::Bench {
            which: Bench::Plan { iterations },
        } => {
            let engine = Engine::new();
            let opts = RequestOptions::default();
            engine
                .plan(DEFAULT_DATABASE, BENCH_QUERY, &opts)
                .map_err(|e| e.to_string())?;
            let iterations = iterations.max(1);
            let start = Instant::now();
            for _ in 0..iterations {
                let parsed = kql_syntax::parse(BENCH_QUERY);
                std::hint::black_box(&parsed);
            }
            let parse = start.elapsed() / iterations;
            let start = Instant::now();
            for _ in 0..iterations {
                let p = engine
                    .plan(DEFAULT_DATABASE, BENCH_QUERY, &opts)
                    .map_err(|e| e.to_string())?;
                std::hint::black_box(&p);
            }
            let both = start.elapsed() / iterations;
            writeln!(
                out,
                "20-line query, {iterations} iterations: parse {:.1} µs, parse+plan {:.1} µs",
                parse.as_secs_f64() * 1e6,
                both.as_secs_f64() * 1e6
            )
            .map_err(|e| e.to_string())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_)) {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
