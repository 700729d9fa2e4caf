//! The `calypso` binary: query output formats, explain stages, errors.

use std::process::Command;

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
fn query_prints_csv() {
    let (ok, out, err) = calypso(&[
        "query",
        "--format",
        "csv",
        "datatable(k:string, v:long)['a', 1, 'b', 2, 'a', 3] | summarize s = sum(v) by k | order by k asc",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out, "k,s\na,4\nb,2\n");
}

#[test]
fn query_prints_json_with_kusto_value_formats() {
    let (ok, out, err) = calypso(&[
        "query",
        "--format",
        "json",
        "print d = datetime(2024-01-02 03:04:05), t = 90m, x = real(nan)",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v[0]["d"], "2024-01-02T03:04:05.0000000Z");
    assert_eq!(v[0]["t"], "01:30:00");
    assert_eq!(v[0]["x"], "NaN");
}

#[test]
fn query_prints_a_table_with_types() {
    let (ok, out, err) = calypso(&["query", "print n = 1, s = 'x'"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("n:long | s:string"), "{out}");
    assert!(out.contains("(1 rows)"), "{out}");
}

#[test]
fn syntax_errors_have_a_position() {
    let (ok, _, err) = calypso(&["query", "print 1 +"]);
    assert!(!ok);
    assert!(err.contains("Syntax error"), "{err}");
    assert!(err.contains("[line:position=1:10]"), "{err}");
}

#[test]
fn semantic_errors_name_the_column() {
    let (ok, _, err) = calypso(&["query", "print a = 1 | where b > 1"]);
    assert!(!ok);
    assert!(
        err.contains("Failed to resolve scalar expression named 'b'"),
        "{err}"
    );
}

#[test]
fn unimplemented_operators_say_so() {
    let (ok, _, err) = calypso(&["query", "print a = 'x' | reduce by a"]);
    assert!(!ok);
    assert!(err.contains("not implemented: reduce"), "{err}");
}

#[test]
fn explain_shows_each_stage() {
    let (ok, out, err) = calypso(&["explain", "--tokens", "T | take 5"]);
    assert!(ok, "{err}");
    assert!(out.contains("Ident(\"take\")"), "{out}");
    let (ok, out, err) = calypso(&["explain", "--ast", "T|take 5"]);
    assert!(ok, "{err}");
    assert!(out.contains("-- canonical KQL --\nT\n| take 5"), "{out}");
    let (ok, out, err) = calypso(&[
        "explain",
        "--plan",
        "range x from 1 to 3 step 1 | where x > 1",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("Filter:"), "{out}");
}
