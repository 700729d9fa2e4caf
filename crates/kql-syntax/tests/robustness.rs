//! The parser never panics, and deep nesting gives a diagnostic rather than a stack overflow.

use proptest::prelude::*;

fn parse_in_small_stack(text: String) -> kql_syntax::Parsed {
    // Run on a thread with a 2 MiB stack (the default for spawned threads) so a missing depth guard would overflow.
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || kql_syntax::parse(&text))
        .expect("spawn")
        .join()
        .expect("parser thread must not panic")
}

#[test]
fn deep_parentheses_give_a_diagnostic() {
    let text = format!("print {}1{}", "(".repeat(5000), ")".repeat(5000));
    let parsed = parse_in_small_stack(text);
    assert!(!parsed.is_ok());
    assert!(
        parsed.diagnostics[0].message.contains("nested too deeply"),
        "{:?}",
        parsed.diagnostics
    );
}

#[test]
fn deep_unclosed_brackets_give_a_diagnostic() {
    for open in ["(", "[", "dynamic(["] {
        let parsed = parse_in_small_stack(format!("print {}", open.repeat(3000)));
        assert!(!parsed.is_ok(), "{open}");
    }
}

#[test]
fn deep_pipelines_in_subqueries_give_a_diagnostic() {
    let text = format!("{}T{}", "(T | join (".repeat(500), ") on a)".repeat(500));
    let parsed = parse_in_small_stack(text);
    assert!(!parsed.is_ok());
}

#[test]
fn moderate_nesting_is_fine() {
    let text = format!("print {}1{}", "(".repeat(20), ")".repeat(20));
    assert!(kql_syntax::parse(&text).is_ok());
}

const FRAGMENTS: &[&str] = &[
    "T",
    "|",
    "where",
    "project",
    "summarize",
    "by",
    "count()",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    "=",
    "==",
    "'a'",
    "\"b",
    "1",
    "1.5",
    "1d",
    "datetime(2020-01-01)",
    "dynamic(",
    "let",
    "x",
    "and",
    "or",
    "!",
    "has",
    "in",
    "between",
    "..",
    "join",
    "on",
    "$left",
    ".",
    ".create",
    "table",
    "<|",
    "-",
    "+",
    "*",
    "/",
    "render",
    "mv-expand",
    "```",
    "h'",
    "@'",
    "\n",
    " ",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,200}") {
        let _ = kql_syntax::parse(&s);
    }

    #[test]
    fn random_token_soup_never_panics(idx in proptest::collection::vec(0..FRAGMENTS.len(), 0..60)) {
        let text: Vec<&str> = idx.iter().map(|i| FRAGMENTS[*i]).collect();
        let text = text.join(" ");
        let parsed = kql_syntax::parse(&text);
        // Every diagnostic points inside the text.
        for d in &parsed.diagnostics {
            prop_assert!(d.span.end as usize <= text.len());
        }
        // Whatever parsed cleanly also prints and re-parses to the same AST.
        if parsed.is_ok() {
            let printed = parsed.query.to_string();
            let again = kql_syntax::parse(&printed);
            prop_assert!(again.is_ok(), "printed: {printed}");
            prop_assert_eq!(again.query, parsed.query);
        }
    }
}

/// Inputs the fuzzer (`fuzz/regressions/kql_parse/`) found printing to a text that did not
/// parse back to the same AST.
#[test]
fn fuzzer_found_print_round_trips() {
    for text in [
        "3.in",
        "5.in.ingest ",
        "set a=0.asc.p",
        "print 2.5.['x y'], 1.x(2)",
        "T | mv-apply a, b on (extend$c =  +  b)",
        "T | mv-apply a on (extend ['a b'] = 1)",
        "T | mv-apply a on (extend[0])",
        "print ['a*'] >= [' x*' 'd']",
        "T | project-away ['a b']*, c*d, ['x*y z']",
        "union T*, ['a b']*, ['x*1']",
    ] {
        let parsed = kql_syntax::parse(text);
        assert!(parsed.is_ok(), "{text}: {:?}", parsed.diagnostics);
        let printed = parsed.query.to_string();
        let again = kql_syntax::parse(&printed);
        assert!(
            again.is_ok(),
            "{text}\n  printed: {printed}\n  {:?}",
            again.diagnostics
        );
        assert_eq!(again.query, parsed.query, "{text}\n  printed: {printed}");
    }
}
