//! Result schemas (column names and types) against Microsoft's binder (tools/kql-oracle).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

mod common;

use common::NoTables;

fn queries() -> Vec<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema_corpus.kql"),
    )
    .expect("schema corpus");
    text.split("\n// ---\n")
        .map(|c| {
            c.strip_prefix("// ---\n")
                .unwrap_or(c)
                .trim_matches('\n')
                .to_string()
        })
        .filter(|c| {
            !c.lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with("//"))
        })
        .collect()
}

fn allowlist() -> HashMap<usize, String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema_allowlist.txt"),
    )
    .unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (id, reason) = l.split_once(' ')?;
            Some((
                id.trim_start_matches('q').parse().ok()?,
                reason.trim().to_string(),
            ))
        })
        .collect()
}

fn ours(q: &str) -> Result<Vec<(String, String)>, String> {
    let parsed = kql_syntax::parse(q);
    if let Some(d) = parsed.diagnostics.first() {
        return Err(d.render(q));
    }
    let planned = kql_planner::plan_query(&NoTables, &parsed.query).map_err(|e| e.render(q))?;
    let last = planned.results.last().ok_or("no result")?;
    Ok(last
        .columns
        .iter()
        .map(|(n, t)| (n.clone(), t.name().to_string()))
        .collect())
}

#[test]
fn result_schemas_match_the_oracle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let oracle = root.join("tools/kql-oracle");
    assert!(
        oracle
            .join("node_modules/@kusto/language-service-next")
            .exists(),
        "the KQL oracle is not installed: run `npm ci --prefix tools/kql-oracle` (the test command does)"
    );
    let qs = queries();
    assert!(qs.len() >= 100, "schema corpus has {} queries", qs.len());
    let mut input = String::new();
    for (i, q) in qs.iter().enumerate() {
        input.push_str(&serde_json::json!({"id": i, "query": q, "mode": "semantic"}).to_string());
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
        .expect("write");
    let out = child.wait_with_output().expect("oracle output");
    let mut expected: HashMap<usize, Vec<(String, String)>> = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line).expect("oracle JSON");
        let id = v["id"].as_u64().expect("id") as usize;
        let cols = v["columns"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        (
                            c["name"].as_str().unwrap_or_default().to_string(),
                            c["type"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        expected.insert(id, cols);
    }
    assert_eq!(expected.len(), qs.len(), "the oracle answered every query");
    let allowed = allowlist();
    let mut wrong = Vec::new();
    let mut stale = Vec::new();
    for (i, q) in qs.iter().enumerate() {
        let want = &expected[&i];
        let got = ours(q);
        let same = got.as_ref().is_ok_and(|g| g == want);
        match (same, allowed.contains_key(&(i + 1))) {
            (false, false) => wrong.push(format!(
                "#{}: {}\n    oracle: {:?}\n    ours:   {:?}",
                i + 1,
                q.replace('\n', " "),
                want,
                got
            )),
            (true, true) => stale.push(i + 1),
            _ => {}
        }
    }
    for (id, reason) in &allowed {
        assert!(!reason.is_empty(), "allowlist entry #{id} has no reason");
    }
    assert!(
        stale.is_empty(),
        "allowlisted schema queries now match; remove them: {stale:?}"
    );
    assert!(
        wrong.is_empty(),
        "{} schema differences:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
