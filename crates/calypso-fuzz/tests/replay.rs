//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) and regression inputs
//! (`fuzz/regressions/<target>/`) through the targets, without an instrumented build.
//! `FUZZ_SHOW=1` prints the KQL that each `kql_plan` input generates; a `kql_plan` file
//! named `*.kql` is a query checked as written.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The input files of `target`, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = repo_root().join("fuzz").join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let hidden = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if p.is_file() && !hidden {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = inputs(target);
    let started = Instant::now();
    let mut failures = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let generated = f.extension().is_none_or(|e| e != "kql");
        if target == "kql_plan" && generated && std::env::var_os("FUZZ_SHOW").is_some() {
            eprintln!("--- {}\n{}", f.display(), calypso_fuzz::generate(&data));
        }
        // A `.kql` file of kql_plan is a query to check as it is written (a reproducer
        // that stays readable when the generator changes).
        let kql = target == "kql_plan" && f.extension().is_some_and(|e| e == "kql");
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if kql {
                calypso_fuzz::check_query(&String::from_utf8_lossy(&data));
            } else {
                run(&data);
            }
        }));
        if let Err(e) = outcome {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {msg}", f.display()));
        }
    }
    eprintln!(
        "{target}: {} inputs in {:.1} s",
        files.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {} inputs fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn kql_parse() {
    replay("kql_parse", calypso_fuzz::kql_parse);
}

#[test]
fn kql_plan() {
    replay("kql_plan", calypso_fuzz::kql_plan);
}

#[test]
fn ingest_csv() {
    replay("ingest_csv", calypso_fuzz::ingest_csv);
}

#[test]
fn ingest_json() {
    replay("ingest_json", calypso_fuzz::ingest_json);
}

#[test]
fn http_request() {
    replay("http_request", calypso_fuzz::http_request);
}
