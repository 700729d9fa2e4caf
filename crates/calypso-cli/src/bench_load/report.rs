//! The figures and the report of `calypso bench load`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use super::{INGEST_ROWS, Kind, Sample};

/// Latency and outcome figures of a set of samples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Figures {
    pub(crate) requests: usize,
    pub(crate) ok: usize,
    pub(crate) throttled: usize,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
}

/// Nearest-rank percentiles over every request (failures included: what clients saw).
pub(crate) fn figures<'a>(samples: impl Iterator<Item = &'a Sample>) -> Figures {
    let mut latencies = Vec::new();
    let mut f = Figures::default();
    for s in samples {
        f.requests += 1;
        f.ok += usize::from(s.error.is_none());
        f.throttled += usize::from(s.status == 429);
        latencies.push(s.latency);
    }
    latencies.sort();
    let rank = |q: f64| {
        let i = ((q * latencies.len() as f64).ceil() as usize).saturating_sub(1);
        latencies.get(i).copied().unwrap_or_default()
    };
    f.p50 = rank(0.50);
    f.p99 = rank(0.99);
    f.max = latencies.last().copied().unwrap_or_default();
    f
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Everything the report says.
pub(crate) struct Report {
    pub(crate) clients: usize,
    pub(crate) duration: Duration,
    pub(crate) rows: u64,
    pub(crate) base: String,
    pub(crate) big: String,
    pub(crate) ingest: String,
    /// Whether the server is this run's child process, and its pid when known.
    pub(crate) child: bool,
    pub(crate) pid: Option<u32>,
    pub(crate) setup_secs: f64,
    /// From the load's start until the last client got its last answer.
    pub(crate) wall: f64,
    pub(crate) total: Figures,
    pub(crate) per_kind: Vec<(Kind, Figures)>,
    pub(crate) per_shape: Vec<(Kind, &'static str, Figures)>,
    /// Failures by kind, HTTP status (0: no answer) and Kusto code: count, first message.
    pub(crate) errors: BTreeMap<(Kind, u16, String), (usize, String)>,
    pub(crate) rss_before_setup: Option<u64>,
    pub(crate) rss_start: Option<u64>,
    pub(crate) rss_end: Option<u64>,
    /// `VmHWM` at the end: the server's peak RSS over its life (setup included).
    pub(crate) hwm: Option<u64>,
    pub(crate) rss_samples: Vec<(f64, u64)>,
    pub(crate) server_cpu: Option<f64>,
    pub(crate) self_cpu: Option<f64>,
    pub(crate) acknowledged: u64,
    pub(crate) queryable: Result<u64, String>,
}

impl Report {
    fn expected_rows(&self) -> u64 {
        self.acknowledged * INGEST_ROWS
    }

    fn rows_ok(&self) -> bool {
        self.queryable
            .as_ref()
            .is_ok_and(|&n| n == self.expected_rows())
    }

    fn rss_max(&self) -> Option<u64> {
        self.rss_samples.iter().map(|s| s.1).max()
    }

    /// The peak RSS: `VmHWM`, or a sample above it (the kernel's counters lag a little).
    fn peak(&self) -> Option<u64> {
        self.hwm.max(self.rss_max())
    }

    fn build() -> &'static str {
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    }

    pub(crate) fn json(&self) -> Value {
        let wall = self.wall;
        let fig = |f: &Figures| {
            json!({
                "requests": f.requests, "ok": f.ok, "errors": f.requests - f.ok,
                "throttled": f.throttled, "per_second": f.requests as f64 / wall,
                "p50_ms": ms(f.p50), "p99_ms": ms(f.p99), "max_ms": ms(f.max),
            })
        };
        let mut kinds = serde_json::Map::new();
        for (k, f) in &self.per_kind {
            let mut v = fig(f);
            let shapes: serde_json::Map<String, Value> = self
                .per_shape
                .iter()
                .filter(|s| s.0 == *k)
                .map(|(_, shape, f)| (shape.to_string(), fig(f)))
                .collect();
            v["shapes"] = Value::Object(shapes);
            kinds.insert(k.name().to_string(), v);
        }
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|((k, status, code), (n, message))| {
                json!({"kind": k.name(), "status": status, "code": code, "count": n,
                       "first_message": message})
            })
            .collect();
        json!({
            "clients": self.clients, "duration_secs": self.duration.as_secs_f64(),
            "wall_secs": wall, "rows": self.rows, "url": self.base, "build": Report::build(),
            "child_server": self.child, "setup_secs": self.setup_secs,
            "total": fig(&self.total), "kinds": kinds, "errors": errors,
            "throttled": self.total.throttled,
            "server": {
                "pid": self.pid, "rss_before_setup_kib": self.rss_before_setup,
                "rss_start_kib": self.rss_start, "rss_end_kib": self.rss_end,
                "rss_max_sampled_kib": self.rss_max(), "vm_hwm_kib": self.hwm,
                "peak_rss_kib": self.peak(),
                "cpu_secs": self.server_cpu, "rss_samples": self.rss_samples,
            },
            "load_generator_cpu_secs": self.self_cpu,
            "ingest_check": {
                "acknowledged_ingestions": self.acknowledged,
                "expected_rows": self.expected_rows(),
                "queryable_rows": self.queryable.as_ref().ok(), "ok": self.rows_ok(),
            },
        })
    }

    pub(crate) fn text(&self) -> String {
        let wall = self.wall;
        let mut r = String::new();
        let server = match (self.child, self.pid) {
            (true, Some(p)) => format!("child server pid {p}"),
            (false, Some(p)) => format!("server pid {p}"),
            _ => "server pid unknown".to_string(),
        };
        let _ = writeln!(
            r,
            "calypso bench load ({} build): {} clients for {:.1} s (all answered after {wall:.1} s) against {} ({server})",
            Report::build(),
            self.clients,
            self.duration.as_secs_f64(),
            self.base
        );
        let _ = writeln!(
            r,
            "setup: {} filled with {} rows in {:.1} s; ingestions into {}\n",
            self.big, self.rows, self.setup_secs, self.ingest
        );
        let _ = writeln!(
            r,
            "{:<7} {:<18} {:>9} {:>9} {:>7} {:>7} {:>8} {:>9} {:>9} {:>9}",
            "kind",
            "shape",
            "requests",
            "ok",
            "errors",
            "429",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms"
        );
        let row = |r: &mut String, kind: &str, shape: &str, f: &Figures| {
            let _ = writeln!(
                r,
                "{kind:<7} {shape:<18} {:>9} {:>9} {:>7} {:>7} {:>8.1} {:>9.1} {:>9.1} {:>9.1}",
                f.requests,
                f.ok,
                f.requests - f.ok,
                f.throttled,
                f.requests as f64 / wall,
                ms(f.p50),
                ms(f.p99),
                ms(f.max)
            );
        };
        for (k, f) in &self.per_kind {
            row(&mut r, k.name(), "(all)", f);
            for (_, shape, f) in self.per_shape.iter().filter(|s| s.0 == *k) {
                row(&mut r, "", shape, f);
            }
        }
        row(&mut r, "total", "", &self.total);
        if self.errors.is_empty() {
            let _ = writeln!(r, "\nerrors: none");
        } else {
            let _ = writeln!(
                r,
                "\nerrors by kind, HTTP status (0: no answer) and Kusto code:"
            );
            for ((k, status, code), (n, message)) in &self.errors {
                let _ = writeln!(
                    r,
                    "  {:<7} {status:>3} {code:<28} {n:>7}  first: {message}",
                    k.name()
                );
            }
        }
        let _ = writeln!(r, "429 (throttled): {}", self.total.throttled);
        let kib = |v: Option<u64>| v.map_or("n/a".to_string(), |v| format!("{:.1} MiB", mib(v)));
        let _ = writeln!(
            r,
            "server peak RSS: {} (VmHWM {}, sampled max {}); before setup {}, at load start {}, at end {}",
            kib(self.peak()),
            kib(self.hwm),
            kib(self.rss_max()),
            kib(self.rss_before_setup),
            kib(self.rss_start),
            kib(self.rss_end)
        );
        let n = self.rss_samples.len();
        if n > 0 {
            // Ten points over the run, the last sample included.
            let points: Vec<String> = (1..=10)
                .map(|i| self.rss_samples[(n * i / 10).saturating_sub(1)])
                .map(|(t, v)| format!("{t:.0}s:{:.0}", mib(v)))
                .collect();
            let _ = writeln!(r, "server RSS over the run (MiB): {}", points.join(" "));
        }
        if let Some(c) = self.server_cpu {
            let _ = writeln!(
                r,
                "server CPU during the load: {c:.1} s ({:.2} cores)",
                c / wall
            );
        }
        if let Some(c) = self.self_cpu {
            let _ = writeln!(r, "load generator CPU: {c:.1} s ({:.2} cores)", c / wall);
        }
        let _ = match &self.queryable {
            Ok(n) => writeln!(
                r,
                "ingested rows: {n} queryable, {} expected ({} acknowledged ingestions x {INGEST_ROWS}): {}",
                self.expected_rows(),
                self.acknowledged,
                if self.rows_ok() { "ok" } else { "MISMATCH" }
            ),
            Err(e) => writeln!(r, "ingested rows: counting failed: {e}"),
        };
        r
    }

    /// Why the run failed, if it did.
    pub(crate) fn verdict(&self, fail_on_429: bool) -> Result<(), String> {
        let failed = self.total.requests - self.total.ok - self.total.throttled;
        if failed > 0 {
            return Err(format!("{failed} requests failed (other than 429)"));
        }
        if fail_on_429 && self.total.throttled > 0 {
            return Err(format!(
                "{} requests were throttled (429)",
                self.total.throttled
            ));
        }
        match &self.queryable {
            Ok(_) if self.rows_ok() => Ok(()),
            Ok(n) => Err(format!(
                "{n} ingested rows are queryable, {} were acknowledged",
                self.expected_rows()
            )),
            Err(e) => Err(e.clone()),
        }
    }
}
