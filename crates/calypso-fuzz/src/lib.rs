//! Fuzz targets of Calypso, as plain functions over the fuzzer's bytes.
//!
//! Each target checks a property and panics on a finding: the cargo-fuzz project in
//! `fuzz/` calls them from libFuzzer, and `tests/replay.rs` runs the saved corpora and
//! regression inputs through them as ordinary tests (see `fuzz/README.md`).
//!
//! * [`kql_parse`]: the lexer and parser (queries and commands) never panic, spans stay
//!   inside the text, and a query that parses prints to a text that parses to the same AST.
//! * [`kql_plan`]: a query from the grammar-based [`generator`] over the fixture's tables is
//!   planned and run: any user error is fine, a panic or an internal error is a finding.
//! * [`ingest_csv`], [`ingest_json`]: the ingestion parsers, with a schema of every column
//!   type: an error is fine unless it is an internal one; batches keep their promises.
//! * [`http_request`]: a request built from the bytes goes through the server's router: no
//!   panic, and no 5xx answer except the documented 504 of a server timeout.

mod fixture;
pub mod generator;
mod http;
mod ingest;

use std::time::Duration;

use arbitrary::Unstructured;
use calypso_engine::{DEFAULT_DATABASE, EngineError, QueryResult};
use kql_functions::KqlType;
use kql_syntax::ast::StatementKind;
use kql_syntax::token::TokenKind;

pub use http::http_request;
pub use ingest::{ingest_csv, ingest_json};

/// How long one generated query may run before it is dropped (not a finding).
const QUERY_TIME_LIMIT: Duration = Duration::from_secs(2);

/// The text of a fuzz input: UTF-8, invalid sequences replaced.
fn text_of(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// The lexer and parser on any text.
pub fn kql_parse(data: &[u8]) {
    let text = text_of(data);
    let len = text.len() as u32;

    let (tokens, diags) = kql_syntax::lexer::tokenize(&text);
    assert!(
        matches!(tokens.last().map(|t| &t.kind), Some(TokenKind::Eof)),
        "the last token is not Eof: {text:?}"
    );
    let mut previous_end = 0;
    for t in &tokens {
        let s = t.span;
        assert!(
            s.start <= s.end && s.end <= len,
            "token span {s:?} outside the text of {len} bytes: {text:?}"
        );
        assert!(
            text.is_char_boundary(s.start as usize) && text.is_char_boundary(s.end as usize),
            "token span {s:?} is not on character boundaries: {text:?}"
        );
        assert!(
            s.start >= previous_end,
            "token spans overlap at {s:?}: {text:?}"
        );
        previous_end = s.end;
    }
    for d in &diags {
        assert!(d.span.end <= len, "lexer diagnostic {d:?} outside {text:?}");
    }

    let parsed = kql_syntax::parse(&text);
    for d in &parsed.diagnostics {
        assert!(
            d.span.start <= d.span.end && d.span.end <= len,
            "diagnostic {d:?} outside the text of {len} bytes: {text:?}"
        );
        let _ = d.render(&text);
    }
    if kql_syntax::lexer::is_command_text(&text) {
        let _ = kql_syntax::command::command_kind(&text);
    }
    let has_command = parsed
        .query
        .statements
        .iter()
        .any(|s| matches!(s.kind, StatementKind::Command(_)));
    // `parse(print(ast)) == ast` (printer.rs) for queries; a command prints the text it
    // was written with.
    if parsed.is_ok() && !has_command {
        let printed = parsed.query.to_string();
        let again = kql_syntax::parse(&printed);
        assert!(
            again.is_ok(),
            "the printed query does not parse: {:?}\n  input:   {text:?}\n  printed: {printed:?}",
            again.diagnostics
        );
        assert!(
            again.query == parsed.query,
            "the printed query parses to another AST\n  input:   {text:?}\n  printed: {printed:?}"
        );
    }
}

/// The KQL text [`kql_plan`] runs for these bytes.
pub fn generate(data: &[u8]) -> String {
    let f = fixture::shared();
    let mut u = Unstructured::new(data);
    generator::query(&mut u, &f.catalog, &|t| f.schema(t))
}

/// A generated query, planned and run.
pub fn kql_plan(data: &[u8]) {
    let text = generate(data);
    check_query(&text);
}

/// Plans and runs `text` on the shared fixture: user errors are fine, internal errors and
/// broken results are findings.
pub fn check_query(text: &str) {
    let f = fixture::shared();
    let options = fixture::options();
    if let Err(e) = f.engine.plan(DEFAULT_DATABASE, text, &options) {
        assert_user_error(&e, "planning", text);
        // A query that does not plan does not run either.
        return;
    }
    // A panic of a known finding is let go when it can be caught (in the replay; under
    // libFuzzer every panic aborts).
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        f.runtime.block_on(async {
            tokio::time::timeout(
                QUERY_TIME_LIMIT,
                f.engine.execute(DEFAULT_DATABASE, text, &options),
            )
            .await
        })
    }));
    let run = match run {
        Ok(r) => r,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            if is_known(&message) {
                return;
            }
            std::panic::resume_unwind(panic);
        }
    };
    match run {
        Err(_elapsed) => {}
        Ok(Err(e)) => assert_user_error(&e, "execution", text),
        Ok(Ok(result)) => check_result(&result, text),
    }
}

/// Internal errors found before and not fixed yet, by a part of their message: each has a
/// reproducer in `fuzz/findings/`. While they are open they are not findings again, so that
/// fuzzing goes past them; `CALYPSO_FUZZ_STRICT=1` reports them too. Remove an entry with
/// its fix (and move the reproducer to `fuzz/regressions/`).
const KNOWN_INTERNAL_ERRORS: &[&str] = &[];

/// Whether an internal error is one of [`KNOWN_INTERNAL_ERRORS`].
pub(crate) fn is_known(message: &str) -> bool {
    std::env::var_os("CALYPSO_FUZZ_STRICT").is_none()
        && KNOWN_INTERNAL_ERRORS.iter().any(|k| message.contains(k))
}

fn assert_user_error(e: &EngineError, stage: &str, text: &str) {
    assert!(
        e.is_user_error() || is_known(&e.to_string()),
        "internal error in {stage} ({}, HTTP {}): {e}\n--- query ---\n{text}\n---",
        e.kusto_code(),
        e.http_status()
    );
}

/// What `ResultTable` promises: canonical Arrow types and no null strings.
fn check_result(result: &QueryResult, text: &str) {
    for table in &result.tables {
        for batch in &table.batches {
            assert_eq!(
                batch.num_columns(),
                table.columns.len(),
                "a batch of {} has the wrong number of columns\n{text}",
                table.name
            );
            for (i, (name, t)) in table.columns.iter().enumerate() {
                let a = batch.column(i);
                assert_eq!(
                    a.data_type(),
                    &t.to_arrow(),
                    "column {name} ({}) has Arrow type {}\n{text}",
                    t.name(),
                    a.data_type()
                );
                if *t == KqlType::String {
                    assert_eq!(a.null_count(), 0, "string column {name} has nulls\n{text}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// Pseudo-random bytes (xorshift), for tests that need inputs.
    pub(crate) fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// The generator writes queries that parse.
    #[test]
    fn generated_queries_parse() {
        for seed in 0..150 {
            let q = super::generate(&bytes(seed, 400));
            let parsed = kql_syntax::parse(&q);
            assert!(parsed.is_ok(), "{q}\n{:?}", parsed.diagnostics);
        }
    }

    /// How many generated queries parse and plan (`-- --ignored --nocapture` to see).
    #[test]
    #[ignore]
    fn generator_stats() {
        let f = super::fixture::shared();
        eprintln!(
            "catalog: {} scalars, {} aggregates",
            f.catalog.scalars.len(),
            f.catalog.aggregates.len()
        );
        let n: u64 = std::env::var("FUZZ_SEEDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300);
        let first: u64 = std::env::var("FUZZ_FIRST_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let (mut parsed, mut planned, mut findings) = (0, 0, 0);
        for seed in first..first + n {
            let q = super::generate(&bytes(seed, 600));
            if kql_syntax::parse(&q).is_ok() {
                parsed += 1;
            } else {
                eprintln!(
                    "--- does not parse:\n{q}\n{:?}",
                    kql_syntax::parse(&q).diagnostics
                );
            }
            match f.engine.plan(
                calypso_engine::DEFAULT_DATABASE,
                &q,
                &super::fixture::options(),
            ) {
                Ok(_) => planned += 1,
                Err(e) if seed < first + 40 => eprintln!("--- does not plan: {e}\n{q}"),
                Err(_) => {}
            }
            if seed < first + 10 {
                eprintln!("--- sample {seed}:\n{q}");
            }
            if std::panic::catch_unwind(|| super::check_query(&q)).is_err() {
                findings += 1;
            }
        }
        eprintln!("{parsed}/{n} parse, {planned}/{n} plan, {findings} findings");
    }

    /// Random inputs through a target, counting findings (`FUZZ_TARGET`, `FUZZ_SEEDS`).
    #[test]
    #[ignore]
    fn target_stats() {
        let target = std::env::var("FUZZ_TARGET").unwrap_or_default();
        let run: fn(&[u8]) = match target.as_str() {
            "kql_parse" => super::kql_parse,
            "ingest_csv" => super::ingest_csv,
            "ingest_json" => super::ingest_json,
            "kql_plan" => super::kql_plan,
            _ => super::http_request,
        };
        let n: u64 = std::env::var("FUZZ_SEEDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300);
        let mut findings = 0;
        for seed in 0..n {
            let data = bytes(seed, 300 + (seed as usize % 7) * 100);
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                findings += 1;
            }
        }
        eprintln!("{findings} findings in {n} inputs");
    }

    /// Checks the query in `$FUZZ_QUERY` (for triage), printing what planning says.
    #[test]
    #[ignore]
    fn check_env_query() {
        if let Ok(q) = std::env::var("FUZZ_QUERY") {
            let f = super::fixture::shared();
            let plan = f.engine.plan(
                calypso_engine::DEFAULT_DATABASE,
                &q,
                &super::fixture::options(),
            );
            match plan {
                Ok(p) => eprintln!("plans: {:?}", p.results.last().map(|r| &r.columns)),
                Err(e) => eprintln!("does not plan: {e}"),
            }
            super::check_query(&q);
        }
    }
}
