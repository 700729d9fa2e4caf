//! Corpus reading shared by the parser tests.

use std::path::{Path, PathBuf};

/// One corpus query.
#[derive(Debug, Clone)]
pub struct CorpusQuery {
    /// `valid/where.kql#3` (1-based index within the file).
    pub id: String,
    /// Query text.
    pub text: String,
}

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Splits a corpus file into queries (`// ---` separators, comment-only chunks skipped).
pub fn split_queries(content: &str) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in content.split("\n// ---\n") {
        let chunk = chunk.strip_prefix("// ---\n").unwrap_or(chunk);
        let lines: Vec<&str> = chunk.lines().collect();
        let only_comments = lines
            .iter()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with("//"));
        if only_comments {
            continue;
        }
        out.push(chunk.trim_matches('\n').to_string());
    }
    out
}

/// All queries of `valid/` or `invalid/`.
pub fn load(kind: &str) -> Vec<CorpusQuery> {
    load_from(&corpus_dir(), kind)
}

/// All texts of `<base>/<kind>/*.kql`, with ids `<kind>/<file>#<n>`.
#[allow(dead_code)] // each test binary uses its own part of this module
pub fn load_from(base: &Path, kind: &str) -> Vec<CorpusQuery> {
    let dir = base.join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kql"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let content = std::fs::read_to_string(&f).expect("read corpus file");
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        for (i, q) in split_queries(&content).into_iter().enumerate() {
            out.push(CorpusQuery {
                id: format!("{kind}/{name}#{}", i + 1),
                text: q,
            });
        }
    }
    out
}

/// The allowlist: `id reason` per line; `#` comments.
pub fn allowlist() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(corpus_dir().join("oracle_allowlist.txt")).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(' ') {
            Some((id, reason)) => (id.to_string(), reason.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// Microsoft's parser's answers (tools/kql-oracle) for `texts`, in order. Kusto.Language
/// takes 100-300 ms per command in JavaScript, so the texts are split over one process per
/// core.
#[allow(dead_code)]
pub fn run_oracle(texts: &[&str], mode: &str) -> Vec<serde_json::Value> {
    let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/kql-oracle");
    assert!(
        oracle
            .join("node_modules/@kusto/language-service-next")
            .exists(),
        "the KQL oracle is not installed: run `npm ci --prefix tools/kql-oracle` (the test command does)"
    );
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let chunk = texts.len().div_ceil(workers).max(1);
    let script = oracle.join("oracle.js");
    let handles: Vec<_> = texts
        .chunks(chunk)
        .map(|part| {
            let mut input = String::new();
            for (i, t) in part.iter().enumerate() {
                input.push_str(&serde_json::json!({"id": i, "query": t, "mode": mode}).to_string());
                input.push('\n');
            }
            let script = script.clone();
            std::thread::spawn(move || oracle_process(&script, input))
        })
        .collect();
    let answers: Vec<serde_json::Value> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("oracle thread"))
        .collect();
    assert_eq!(answers.len(), texts.len(), "the oracle answered every text");
    answers
}

fn oracle_process(script: &Path, input: String) -> Vec<serde_json::Value> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("node")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node must be installed to run the oracle");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("oracle output");
    writer.join().expect("writer").expect("write to oracle");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("oracle JSON"))
        .collect()
}
