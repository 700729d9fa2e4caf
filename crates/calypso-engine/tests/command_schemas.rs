//! Every command of the command corpus (kql-syntax/tests/commands/valid) that Calypso
//! executes returns the column names and types of Microsoft's result schema for its kind
//! (tools/kql-oracle), except the allowlisted kinds (`command_schema_allowlist.txt`, with
//! the reason for each).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use calypso_engine::{Engine, EngineError, RequestOptions};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The valid texts of the command corpus, split like the parser corpus (`// ---`).
fn corpus() -> Vec<(String, String)> {
    let dir = root().join("crates/kql-syntax/tests/commands/valid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("command corpus")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kql"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let mut n = 0;
        for chunk in text.split("\n// ---\n") {
            let chunk = chunk.strip_prefix("// ---\n").unwrap_or(chunk);
            let only_comments = chunk
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with("//"));
            if only_comments {
                continue;
            }
            n += 1;
            out.push((format!("{name}#{n}"), chunk.trim_matches('\n').to_string()));
        }
    }
    out
}

fn allowlist() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/command_schema_allowlist.txt"),
    )
    .unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(' ') {
            Some((k, r)) => (k.to_string(), r.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// The oracle's (kind, columns) for each text, one node process per core (Kusto.Language
/// takes 100-300 ms per command).
/// The oracle's kind and result columns (name, type) of one text.
type Answer = (Option<String>, Option<Vec<(String, String)>>);

fn oracle(texts: &[&str]) -> Vec<Answer> {
    let dir = root().join("tools/kql-oracle");
    assert!(
        dir.join("node_modules/@kusto/language-service-next")
            .exists(),
        "the KQL oracle is not installed: run `npm ci --prefix tools/kql-oracle`"
    );
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let chunk = texts.len().div_ceil(workers).max(1);
    let handles: Vec<_> = texts
        .chunks(chunk)
        .map(|part| {
            let mut input = String::new();
            for (i, t) in part.iter().enumerate() {
                input.push_str(&serde_json::json!({"id": i, "query": t}).to_string());
                input.push('\n');
            }
            let script = dir.join("oracle.js");
            std::thread::spawn(move || {
                let mut child = Command::new("node")
                    .arg(script)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("node");
                let mut stdin = child.stdin.take().unwrap();
                let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
                let out = child.wait_with_output().unwrap();
                writer.join().unwrap().unwrap();
                String::from_utf8_lossy(&out.stdout).to_string()
            })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        for l in h.join().unwrap().lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let cols = v["columns"].as_array().map(|cs| {
                cs.iter()
                    .map(|c| {
                        (
                            c["name"].as_str().unwrap_or_default().to_string(),
                            c["type"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            });
            out.push((v["command"].as_str().map(str::to_string), cols));
        }
    }
    assert_eq!(out.len(), texts.len(), "the oracle answered every text");
    out
}

/// Databases, tables, functions and mappings with the names the corpus uses.
const FIXTURE: &[&str] = &[
    ".create database D",
    ".create database D1",
    ".create database D2",
    ".create database Other",
    ".create table T (a:long, b:string, c:datetime, Timestamp:datetime, Level:string)",
    ".create table U (a:long, b:string)",
    ".create table A (a:long, b:string)",
    ".create table B (a:long, b:string)",
    ".create table C (a:long)",
    ".create table Events (Timestamp:datetime, Level:string, Code:long, Message:string)",
    ".create table Logs (Timestamp:datetime, Level:string, Code:long, Message:string)",
    ".create table MyTable (a:long, b:string, c:datetime)",
    ".ingest inline into table T <| 1,x,2024-01-01,2024-01-01,Info",
    ".create function F() { T | take 1 }",
    ".create function G() { U | take 1 }",
    ".create function MyFunction() { T | take 1 }",
    ".create table T ingestion csv mapping \"m\" '[{\"column\":\"a\",\"Properties\":{\"Ordinal\":\"0\"}}]'",
    ".create table T ingestion json mapping \"jm\" '[{\"column\":\"a\",\"Properties\":{\"Path\":\"$.a\"}}]'",
];

/// The directory of the local file the corpus ingests with `.ingest into` (allowed in the
/// fixture; the corpus's other sources are remote and fail before any fetch: their tables
/// do not exist).
const INGEST_DIR: &str = "/tmp/calypso-command-schemas";

async fn fixture() -> Engine {
    let e = Engine::new();
    std::fs::create_dir_all(INGEST_DIR).unwrap();
    std::fs::write(
        format!("{INGEST_DIR}/t.csv"),
        "2,y,2024-01-02,2024-01-02,Warn\n",
    )
    .unwrap();
    e.allow_ingest_from_dirs(vec![INGEST_DIR.into()]);
    for db in ["db"] {
        e.execute(
            "NetDefaultDB",
            &format!(".create database {db}"),
            &RequestOptions::default(),
        )
        .await
        .unwrap();
    }
    for cmd in FIXTURE {
        let db = if cmd.starts_with(".create database") {
            "NetDefaultDB"
        } else {
            "db"
        };
        e.execute(db, cmd, &RequestOptions::default())
            .await
            .unwrap_or_else(|err| panic!("fixture {cmd}: {err}"));
    }
    for db in ["D", "D1", "D2", "Other"] {
        e.execute(
            db,
            ".create table T (a:long, b:string)",
            &RequestOptions::default(),
        )
        .await
        .unwrap();
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executed_commands_have_the_official_result_schema() {
    let all = corpus();
    let texts: Vec<&str> = all.iter().map(|(_, t)| t.as_str()).collect();
    let answers = oracle(&texts);
    let allow = allowlist();
    let mut executed = 0;
    let mut not_implemented = 0;
    let mut wrong = Vec::new();
    let mut used_allow = std::collections::BTreeSet::new();
    for ((id, text), (kind, cols)) in all.iter().zip(answers) {
        // Commands whose piped operators change the columns are not compared.
        let Some(kind) = kind else { continue };
        let e = fixture().await;
        let r = e.execute("db", text, &RequestOptions::default()).await;
        let result = match r {
            Ok(r) => r,
            Err(EngineError::NotImplemented(_)) => {
                not_implemented += 1;
                continue;
            }
            Err(_) => continue,
        };
        executed += 1;
        let Some(expected) = cols else { continue };
        if text.contains(" | ") && !text.contains("<|") {
            continue;
        }
        // An `async` command answers its OperationId; the binder gives the synchronous
        // result's schema.
        if text.split_whitespace().nth(1) == Some("async") {
            continue;
        }
        let ours: Vec<(String, String)> = result.tables[0]
            .columns
            .iter()
            .map(|(n, t)| (n.clone(), t.name().to_string()))
            .collect();
        // The binder gives `()` for some commands whose schema it does not know.
        if expected.is_empty() {
            continue;
        }
        if ours != expected {
            if allow.contains_key(&kind) {
                used_allow.insert(kind.clone());
                continue;
            }
            wrong.push(format!(
                "{id} {kind}: ours {ours:?}\n    official {expected:?}\n    {text}"
            ));
        }
    }
    for (k, reason) in &allow {
        assert!(!reason.is_empty(), "allowlist entry {k} has no reason");
    }
    eprintln!(
        "command schemas: {executed} executed, {not_implemented} not implemented, {} allowlisted kinds used",
        used_allow.len()
    );
    assert!(executed >= 150, "only {executed} corpus commands executed");
    assert!(
        wrong.is_empty(),
        "{} commands differ from the official schema:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
