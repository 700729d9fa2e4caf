//! Qualified names (issue 8): `database("D").T`, `cluster("<this>").database("D").T`, and
//! the same in joins, lookups, unions, `in`, stored functions and `let` functions, as the
//! documentation of cross-database queries writes them (`cross-cluster-or-database-queries.md`,
//! `database-function.md`, `cluster-function.md`). A cluster other than this one is refused.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use calypso_engine::{DEFAULT_DATABASE, Engine, EngineError, RequestOptions};

/// `NetDefaultDB.T (k, v)` and `Other.U (k, w)` with functions in `Other`: `Positive` (a
/// view over `U`, which only `Other` has), `Scaled(f)` (tabular) and `Twice(x)` (scalar).
async fn setup() -> Engine {
    let e = Engine::new();
    let o = RequestOptions::default();
    e.execute(DEFAULT_DATABASE, ".create database Other", &o)
        .await
        .unwrap();
    for cmd in [
        ".create table T (k:string, v:long)",
        ".ingest inline into table T <| a,1\nb,2\nc,3",
    ] {
        e.execute(DEFAULT_DATABASE, cmd, &o).await.unwrap();
    }
    for cmd in [
        ".create table U (k:string, w:long)",
        ".ingest inline into table U <| a,10\nb,-20\nd,40",
        ".create function Positive() { U | where w > 0 }",
        ".create function Scaled(f:long) { U | extend w2 = w * f }",
        ".create function Twice(x:long) { x * 2 }",
    ] {
        e.execute("Other", cmd, &o).await.unwrap();
    }
    e
}

async fn run(e: &Engine, q: &str) -> Result<Vec<Vec<String>>, EngineError> {
    let r = e
        .execute(DEFAULT_DATABASE, q, &RequestOptions::default())
        .await?;
    Ok(common::text_rows(&r))
}

async fn rows(e: &Engine, q: &str) -> Vec<Vec<String>> {
    run(e, q).await.unwrap_or_else(|err| panic!("{q}: {err}"))
}

fn table(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn database_names_another_database() {
    let e = setup().await;
    for q in [
        r#"database("Other").U | count"#,
        "database('Other').U | count",
        r#"database(@"Other").U | count"#,
        r#"database("Oth" 'er').U | count"#,
        r#"database("Other").['U'] | count"#,
        r#"database("Other")["U"] | count"#,
        r#"database("Other").table("U") | count"#,
        r#"cluster("localhost").database("Other").U | count"#,
        r#"cluster('127.0.0.1:8080').database('Other').U | count"#,
        r#"cluster("http://127.0.0.1:8080").database("Other").U | count"#,
        r#"let db = "Other"; database(db).U | count"#,
        "let f = (db:string) { database(db).U | count }; f('Other')",
        r#"let X = database("Other").U; X | count"#,
        r#"let X = materialize(database("Other").U); X | count"#,
        r#"(database("Other").U) | count"#,
    ] {
        assert_eq!(rows(&e, q).await, table("3"), "{q}");
    }
    assert_eq!(
        rows(&e, r#"database("NetDefaultDB").T | count"#).await,
        table("3")
    );
    assert_eq!(
        rows(
            &e,
            r#"database("Other").U | where w > 0 | order by k asc | project k"#
        )
        .await,
        table("a\nd")
    );
}

#[tokio::test]
async fn qualified_tables_in_joins_unions_and_subqueries() {
    let e = setup().await;
    let cases = [
        (
            r#"T | join kind=inner (database("Other").U) on k | project k, v, w | order by k asc"#,
            "a 1 10\nb 2 -20",
        ),
        (
            r#"T | join kind=inner database("Other").U on k | count"#,
            "2",
        ),
        (
            r#"T | join kind=leftouter (cluster("localhost").database("Other").U | where w > 0) on k | project k, w | order by k asc"#,
            "a 10\nb\nc",
        ),
        (
            r#"T | lookup (database("Other").U) on k | project k, w | order by k asc"#,
            "a 10\nb -20\nc",
        ),
        (r#"union T, database("Other").U | count"#, "6"),
        (r#"union T, database('Other')["U"] | count"#, "6"),
        (r#"T | union database("Other").U | count"#, "6"),
        (
            r#"union withsource=S T, database("Other").U | summarize n = count() by S | order by S asc"#,
            "T 3\nU 3",
        ),
        (
            r#"T | where k in (database("Other").U | project k) | project k | order by k asc"#,
            "a\nb",
        ),
        (r#"print n = toscalar(database("Other").U | count)"#, "3"),
        // pykusto's fully qualified form: cluster("<netloc of the client's URL>")
        (
            r#"T | join kind=inner (cluster("127.0.0.1:8080").database("Other").table("U") | where w > 0) on k | project k, w"#,
            "a 10",
        ),
        (
            r#"union cluster("localhost:8080").database("NetDefaultDB").table("T"), cluster("localhost:8080").database("Other").table("U") | count"#,
            "6",
        ),
    ];
    for (q, expect) in cases {
        let expect: Vec<Vec<String>> = table(expect)
            .into_iter()
            .map(|mut r| {
                let width = table(expect).iter().map(Vec::len).max().unwrap_or(0);
                r.resize(width, String::new());
                r
            })
            .collect();
        assert_eq!(rows(&e, q).await, expect, "{q}");
    }
}

#[tokio::test]
async fn functions_of_another_database_resolve_names_there() {
    let e = setup().await;
    // `U` exists only in Other: the bodies of Other's functions resolve there.
    assert_eq!(
        rows(&e, r#"database("Other").Positive() | count"#).await,
        table("2")
    );
    assert_eq!(
        rows(&e, r#"database("Other").Positive | count"#).await,
        table("2")
    );
    assert_eq!(
        rows(
            &e,
            r#"database("Other").Scaled(10) | summarize s = sum(w2)"#
        )
        .await,
        table("300")
    );
    // a scalar function of another database (the docs' `database("OtherDb").MyCalc(...)`)
    assert_eq!(
        rows(
            &e,
            r#"T | extend t = database("Other").Twice(v) | project t"#
        )
        .await,
        table("2\n4\n6")
    );
    assert_eq!(
        rows(&e, r#"print database("Other").Twice(21)"#).await,
        table("42")
    );
    // the caller's names are not the function's: its argument is planned where it is called
    assert_eq!(
        rows(
            &e,
            r#"let f = 5; database("Other").Scaled(f) | summarize s = sum(w2)"#
        )
        .await,
        table("150")
    );
    // a stored function of this database reading another one
    e.execute(
        DEFAULT_DATABASE,
        r#".create function CrossCount() { database("Other").U | join kind=inner T on k | count }"#,
        &RequestOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(rows(&e, "CrossCount").await, table("2"));
    assert_eq!(rows(&e, "CrossCount()").await, table("2"));
    // a table of the request's database is not found in another one
    let err = run(&e, r#"database("Other").T | count"#).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("Failed to resolve table or column expression named 'T'"),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_databases_and_other_clusters_are_refused() {
    let e = setup().await;
    let err = run(&e, r#"database("Nope").U | count"#).await.unwrap_err();
    assert_eq!(err.kusto_code(), "BadRequest_SemanticError", "{err}");
    assert!(
        err.to_string()
            .contains("The name 'Nope' does not refer to any known database"),
        "{err}"
    );
    // database names are case-sensitive, as entity names are
    assert!(run(&e, r#"database("other").U | count"#).await.is_err());
    for q in [
        r#"cluster("help").database("Samples").StormEvents | count"#,
        r#"cluster('https://help.kusto.windows.net').database('Samples').StormEvents"#,
        r#"T | join (cluster("help").database("Other").U) on k"#,
    ] {
        let err = run(&e, q).await.unwrap_err();
        assert_eq!(err.kusto_code(), "BadRequest_NotSupported", "{q}: {err}");
        assert_eq!(err.http_status(), 400);
        assert!(err.is_user_error());
        assert!(
            err.to_string()
                .starts_with("Cross-cluster queries are not supported"),
            "{q}: {err}"
        );
    }
    // once the engine knows its addresses, only those (and local aliases on its port) match
    e.set_cluster_names(["http://127.0.0.1:8080", "https://calypso.contoso.com:8443"]);
    for ok in [
        "127.0.0.1:8080",
        "http://127.0.0.1:8080/",
        "localhost",
        "http://localhost:8080",
        "calypso.contoso.com",
        "https://calypso.contoso.com:8443",
        "calypso",
    ] {
        let q = format!(r#"cluster("{ok}").database("Other").U | count"#);
        assert_eq!(rows(&e, &q).await, table("3"), "{q}");
    }
    for other in [
        "127.0.0.1:9090",
        "http://localhost:9090",
        "calypso.fabrikam.com",
    ] {
        let q = format!(r#"cluster("{other}").database("Other").U | count"#);
        let err = run(&e, &q).await.unwrap_err();
        assert_eq!(err.kusto_code(), "BadRequest_NotSupported", "{q}: {err}");
    }
}
