//! The parser corpus: our verdicts against Microsoft's parser, and the print round trip.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{CorpusQuery, allowlist, load};

fn our_verdict(q: &CorpusQuery) -> bool {
    kql_syntax::parse(&q.text).is_ok()
}

#[test]
fn corpus_is_large_enough() {
    assert!(load("valid").len() >= 300, "need >= 300 valid queries");
    assert!(load("invalid").len() >= 50, "need >= 50 invalid queries");
}

#[test]
fn allowlist_entries_have_reasons_and_exist() {
    let all: Vec<String> = load("valid")
        .into_iter()
        .chain(load("invalid"))
        .map(|q| q.id)
        .collect();
    for (id, reason) in allowlist() {
        assert!(!reason.is_empty(), "allowlist entry {id} has no reason");
        assert!(
            all.contains(&id),
            "allowlist entry {id} names no corpus query"
        );
    }
}

/// Our verdict equals the directory's (which the oracle test below ties to Microsoft's parser).
#[test]
fn parser_agrees_with_corpus_verdicts() {
    let allowed: Vec<String> = allowlist().into_iter().map(|(id, _)| id).collect();
    let mut wrong = Vec::new();
    for (kind, expect_ok) in [("valid", true), ("invalid", false)] {
        for q in load(kind) {
            let ok = our_verdict(&q);
            if ok != expect_ok && !allowed.contains(&q.id) {
                let detail = kql_syntax::parse(&q.text)
                    .diagnostics
                    .first()
                    .map(|d| d.render(&q.text))
                    .unwrap_or_else(|| "parsed without error".into());
                wrong.push(format!(
                    "{}: {}\n    {}",
                    q.id,
                    detail,
                    q.text.replace('\n', "\n    ")
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Allowlisted queries really disagree (otherwise the entry is stale).
#[test]
fn allowlist_is_not_stale() {
    let all: Vec<CorpusQuery> = load("valid").into_iter().chain(load("invalid")).collect();
    for (id, _) in allowlist() {
        if let Some(q) = all.iter().find(|q| q.id == id) {
            let expect_ok = id.starts_with("valid/");
            assert_ne!(
                our_verdict(q),
                expect_ok,
                "allowlisted {id} now agrees; remove it"
            );
        }
    }
}

/// parse(print(ast)) == ast for every valid query.
#[test]
fn print_round_trips() {
    let mut wrong = Vec::new();
    for q in load("valid") {
        let first = kql_syntax::parse(&q.text);
        if !first.is_ok() {
            continue;
        }
        let printed = first.query.to_string();
        let second = kql_syntax::parse(&printed);
        if !second.is_ok() {
            wrong.push(format!(
                "{}: printed text does not parse: {}\n  printed: {printed}",
                q.id,
                second.diagnostics[0].render(&printed)
            ));
        } else if second.query != first.query {
            wrong.push(format!(
                "{}: AST changed after printing\n  printed: {printed}",
                q.id
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} round-trip failures:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Microsoft's parser (tools/kql-oracle) gives every corpus query the verdict of its directory.
#[test]
fn oracle_agrees_with_corpus_verdicts() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let oracle = root.join("tools/kql-oracle");
    assert!(
        oracle
            .join("node_modules/@kusto/language-service-next")
            .exists(),
        "the KQL oracle is not installed: run `npm ci --prefix tools/kql-oracle` (the test command does)"
    );
    let queries: Vec<CorpusQuery> = load("valid").into_iter().chain(load("invalid")).collect();
    let mut input = String::new();
    for (i, q) in queries.iter().enumerate() {
        let line = serde_json::json!({"id": i, "query": q.text, "mode": "syntax"});
        input.push_str(&line.to_string());
        input.push('\n');
    }
    let mut child = Command::new("node")
        .arg(oracle.join("oracle.js"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node must be installed to run the oracle");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to oracle");
    let out = child.wait_with_output().expect("oracle output");
    assert!(
        out.status.success() || !out.stdout.is_empty(),
        "oracle failed"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut seen = 0;
    let mut wrong = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("oracle JSON");
        let i = v["id"].as_u64().expect("id") as usize;
        let ok = v["ok"].as_bool().expect("ok");
        let q = &queries[i];
        let expect_ok = q.id.starts_with("valid/");
        if ok != expect_ok {
            wrong.push(q.id.clone());
        }
        seen += 1;
    }
    assert_eq!(seen, queries.len(), "oracle answered every query");
    assert!(
        wrong.is_empty(),
        "oracle disagrees with the corpus on: {wrong:?}"
    );
}
