//! `calypso bench admission`: a burst of concurrent management commands and queries, far
//! beyond the default concurrency limits, against an in-process server on 127.0.0.1
//! (port 0) with a temporary data directory and the default limits. Every request should
//! wait in the admission queue and succeed; the benchmark reports successes, failures
//! (429s counted apart) and the latency spread per kind, and fails if any request failed.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

/// Options of the benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `.create-merge table` commands to send at once.
    pub commands: usize,
    /// Small queries to send at once (with the commands).
    pub queries: usize,
}

/// What one request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Command,
    Query,
}

/// The outcome of one request: its kind, its HTTP status (0 when the request itself
/// failed), its latency, and its error text when it failed.
type Outcome = (Kind, u16, Duration, Option<String>);

/// Latency statistics of a sorted, non-empty sample: min, median, p99, max.
fn spread(sorted: &[Duration]) -> Option<[Duration; 4]> {
    let last = sorted.len().checked_sub(1)?;
    let at = |q: f64| sorted[((last as f64) * q).round() as usize];
    Some([sorted[0], at(0.5), at(0.99), sorted[last]])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The text of the `i`-th request of `kind`.
fn csl(kind: Kind, i: usize) -> String {
    match kind {
        // 100 table names: each is created, then merged again with the same schema.
        Kind::Command => format!(".create-merge table T{} (a:long, b:string)", i % 100),
        Kind::Query if i.is_multiple_of(2) => "print 1".to_string(),
        Kind::Query => "range x from 1 to 100 step 1 | count".to_string(),
    }
}

async fn send(client: reqwest::Client, base: String, kind: Kind, i: usize) -> Outcome {
    let path = match kind {
        Kind::Command => "/v1/rest/mgmt",
        Kind::Query => "/v2/rest/query",
    };
    let body = json!({"db": "NetDefaultDB", "csl": csl(kind, i)});
    let start = Instant::now();
    let resp = client
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await;
    let (status, error) = match resp {
        Ok(r) => {
            let status = r.status();
            match r.text().await {
                Ok(_) if status.is_success() => (status.as_u16(), None),
                Ok(text) => (status.as_u16(), Some(text)),
                Err(e) => (status.as_u16(), Some(e.to_string())),
            }
        }
        Err(e) => (0, Some(e.to_string())),
    };
    (kind, status, start.elapsed(), error)
}

/// Runs the benchmark and prints its results to `out`; an error when any request failed.
pub async fn run(opts: Options, out: &mut impl Write) -> Result<(), String> {
    let limits = calypso_server::Limits::default();
    let server = crate::bench_server::BenchServer::start("bench-admission").await?;
    let base = server.base.clone();
    let w = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(|e| e.to_string());
    w(
        out,
        format!(
            "limits: {} commands and {} queries at once; queues of {} and {}, timeout {} s",
            limits.max_concurrent_commands,
            limits.max_concurrent_queries,
            limits.max_queued_commands,
            limits.max_queued_queries,
            limits.queue_timeout.as_secs()
        ),
    )?;
    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    // Interleave the kinds so both arrive during the same burst.
    let n = opts.commands.max(opts.queries);
    let started = Instant::now();
    for i in 0..n {
        for (kind, count) in [(Kind::Command, opts.commands), (Kind::Query, opts.queries)] {
            if i < count {
                tasks.spawn(send(client.clone(), base.clone(), kind, i));
            }
        }
    }
    let mut outcomes = Vec::with_capacity(opts.commands + opts.queries);
    while let Some(r) = tasks.join_next().await {
        outcomes.push(r.map_err(|e| e.to_string())?);
    }
    let wall = started.elapsed();
    server.stop().await;

    let mut failed = 0;
    for (kind, name, sent) in [
        (Kind::Command, "commands", opts.commands),
        (Kind::Query, "queries", opts.queries),
    ] {
        let mine: Vec<&Outcome> = outcomes.iter().filter(|o| o.0 == kind).collect();
        let ok = mine.iter().filter(|o| o.3.is_none()).count();
        let throttled = mine.iter().filter(|o| o.1 == 429).count();
        let mut latencies: Vec<Duration> = mine.iter().map(|o| o.2).collect();
        latencies.sort();
        let stats = match spread(&latencies) {
            Some([min, median, p99, max]) => format!(
                "latency ms: min {:.1}, median {:.1}, p99 {:.1}, max {:.1}",
                ms(min),
                ms(median),
                ms(p99),
                ms(max)
            ),
            None => "no latencies".to_string(),
        };
        w(
            out,
            format!(
                "{name}: {sent} sent, {ok} succeeded, {} failed ({throttled} with 429); {stats}",
                sent - ok
            ),
        )?;
        failed += sent - ok;
        if let Some((_, status, _, Some(error))) = mine.iter().find(|o| o.3.is_some()) {
            w(out, format!("  first failure: {status}: {error}"))?;
        }
    }
    w(
        out,
        format!(
            "all {} requests answered in {:.0} ms",
            outcomes.len(),
            ms(wall)
        ),
    )?;
    if failed > 0 {
        return Err(format!("{failed} requests failed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_a_sample() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let [min, median, p99, max] = spread(&v).unwrap_or_default();
        assert_eq!(min, Duration::from_millis(1));
        assert_eq!(median, Duration::from_millis(51));
        assert_eq!(p99, Duration::from_millis(99));
        assert_eq!(max, Duration::from_millis(100));
        assert!(spread(&[]).is_none());
    }

    #[test]
    fn commands_repeat_table_names() {
        assert_eq!(csl(Kind::Command, 3), csl(Kind::Command, 103));
        assert_ne!(csl(Kind::Command, 3), csl(Kind::Command, 4));
        assert_eq!(csl(Kind::Query, 0), "print 1");
    }
}
