//! The command corpus (`tests/commands/{valid,invalid}/*.kql`) against Microsoft's parser:
//! the official command kind of every text (`command` in tools/kql-oracle's answer) equals
//! ours, both from the pattern table alone ([`kql_syntax::command::command_kind`]) and from
//! a full parse (a text that does not parse has no kind).

#[allow(dead_code)]
mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{CorpusQuery, load_from, run_oracle};
use kql_syntax::command::{KindTable, command_kind};

fn corpus() -> Vec<CorpusQuery> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/commands");
    load_from(&base, "valid")
        .into_iter()
        .chain(load_from(&base, "invalid"))
        .collect()
}

/// The kinds Microsoft's language service knows (shared/reference/kql-catalog).
fn official_kinds() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/kql-catalog/management-commands.txt");
    let text = std::fs::read_to_string(&path).expect("shared/ beside the checkout");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split('\t').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn kind_table_is_well_formed() {
    let table = KindTable::global();
    assert!(table.errors.is_empty(), "kinds.txt: {:#?}", table.errors);
    let official = official_kinds();
    let unknown: Vec<&str> = table
        .kinds()
        .into_iter()
        .filter(|k| !official.contains(*k))
        .collect();
    assert!(
        unknown.is_empty(),
        "kinds.txt names unknown kinds: {unknown:?}"
    );
}

#[test]
fn corpus_is_large_enough() {
    let all = corpus();
    let invalid = all.iter().filter(|q| q.id.starts_with("invalid/")).count();
    assert!(
        all.len() >= 400,
        "need >= 400 command texts, have {}",
        all.len()
    );
    assert!(
        invalid >= 50,
        "need >= 50 invalid command texts, have {invalid}"
    );
}

/// For every text: the oracle's kind (null for a syntax error or an unknown command), the
/// pattern table's, and the parser's.
#[test]
fn command_kinds_agree_with_oracle() {
    let all = corpus();
    let texts: Vec<&str> = all.iter().map(|q| q.text.as_str()).collect();
    let answers = run_oracle(&texts, "syntax");
    let mut wrong = Vec::new();
    for (q, a) in all.iter().zip(&answers) {
        let theirs = a["command"].as_str();
        let expect_valid = q.id.starts_with("valid/");
        if expect_valid != theirs.is_some() {
            wrong.push(format!(
                "{}: in {} but the oracle says {:?} ({})",
                q.id,
                if expect_valid { "valid/" } else { "invalid/" },
                theirs,
                a["diagnostics"]
            ));
            continue;
        }
        let table = command_kind(&q.text);
        let parsed = parsed_kind(&q.text);
        if table != theirs || parsed != theirs {
            wrong.push(format!(
                "{}: oracle {:?}, table {:?}, parser {:?}\n    {}",
                q.id,
                theirs,
                table,
                parsed,
                q.text.replace('\n', "\n    ")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} texts disagree:\n{}",
        wrong.len(),
        all.len(),
        wrong.join("\n")
    );
}

/// The kind of the command a text parses to, `None` when it does not parse.
fn parsed_kind(text: &str) -> Option<&'static str> {
    let parsed = kql_syntax::parse(text);
    if !parsed.is_ok() {
        return None;
    }
    match parsed.query.statements.as_slice() {
        [s] => match &s.kind {
            kql_syntax::ast::StatementKind::Command(c) => c.official_kind(),
            _ => None,
        },
        _ => None,
    }
}
