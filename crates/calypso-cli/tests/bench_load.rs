//! `calypso bench load`: a short run of the real binary against its own child server, and
//! one against a running server through `--url` with `--json`; a small `calypso bench
//! scan`. No timing assertions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use support::TestServer;

fn calypso(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_calypso"))
        .args(args)
        .output()
        .expect("run calypso");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_short_load_against_a_child_server_reports_every_kind_and_the_peak_rss() {
    let (ok, out, err) = calypso(&[
        "bench",
        "load",
        "--clients",
        "4",
        "--duration",
        "3s",
        "--rows",
        "10000",
    ]);
    assert!(ok, "stdout:\n{out}\nstderr:\n{err}");
    for kind in ["query", "ingest", "show"] {
        // `kind  (all)  requests  ok  errors  429 ...`
        let line = out
            .lines()
            .find(|l| l.starts_with(kind) && l.contains("(all)"))
            .unwrap_or_else(|| panic!("no line for {kind}:\n{out}"));
        let fields: Vec<&str> = line.split_whitespace().collect();
        let requests: u64 = fields[2].parse().unwrap();
        let succeeded: u64 = fields[3].parse().unwrap();
        assert!(requests > 0 && succeeded == requests, "{line}\n{out}");
    }
    assert!(out.contains("errors: none"), "{out}");
    let peak = out
        .lines()
        .find_map(|l| l.strip_prefix("server peak RSS: "))
        .and_then(|v| v.split_once(" MiB"))
        .map(|(v, _)| v.parse::<f64>().unwrap())
        .unwrap_or_else(|| panic!("no peak RSS:\n{out}"));
    assert!(peak > 0.0, "{out}");
    assert!(out.contains("queryable"), "{out}");
    assert!(out.contains(": ok"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_against_a_running_server_prints_json() {
    let server = TestServer::start();
    let (url, pid) = (server.url.clone(), server.pid().to_string());
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        calypso(&[
            "bench",
            "load",
            "--url",
            &url,
            "--pid",
            &pid,
            "--clients",
            "2",
            "--duration",
            "2s",
            "--rows",
            "1000",
            "--json",
        ])
    })
    .await
    .unwrap();
    assert!(ok, "stdout:\n{out}\nstderr:\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json report");
    assert_eq!(v["child_server"], false);
    assert!(v["total"]["requests"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["total"]["errors"], 0, "{v}");
    assert!(v["server"]["peak_rss_kib"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["ingest_check"]["ok"], true, "{v}");
    // The benchmark's tables are dropped from a server it did not start.
    let tables = server.mgmt(".show tables").await;
    assert!(!tables.to_string().contains("LoadBig_"), "{tables}");
}

#[test]
fn a_bad_duration_is_refused() {
    let (ok, _, err) = calypso(&["bench", "load", "--duration", "5 parsecs"]);
    assert!(!ok);
    assert!(err.contains("unknown unit"), "{err}");
}

/// `calypso bench scan`, small: the benchmark checks its own answers (the counts of the
/// time filter, and the string queries agreeing between `Utf8` and `Utf8View` scans).
#[test]
fn a_small_scan_benchmark_checks_its_answers() {
    let (ok, out, err) = calypso(&[
        "bench",
        "scan",
        "--days",
        "16",
        "--rows-per-day",
        "200",
        "--batches",
        "2",
    ]);
    assert!(ok, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("one day:"), "{out}");
    let views = out
        .lines()
        .find(|l| l.starts_with("strings as Utf8View:"))
        .unwrap_or_else(|| panic!("{out}"));
    // 3 levels; 20 services x 3 levels; `svc-1`, `svc-10`..`svc-19` start with `svc-1`.
    assert!(
        views.contains("(3)") && views.contains("(60)") && views.contains("(11)"),
        "{views}"
    );
}
