//! Extent commands named by extent id, and their result columns (drop-extents.md,
//! alter-extent.md, move-extents.md, replace-extents.md); the rest is in
//! calypso-slt/test_files/mgmt/extents.slt and extent_functions.slt.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use calypso_engine::{DEFAULT_DATABASE, Engine, RequestOptions};

use common::rows;

async fn ids(e: &Engine, table: &str) -> Vec<String> {
    rows(
        e,
        &format!(".show table {table} extents | order by RowCount asc | project ExtentId"),
    )
    .await
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}

async fn setup() -> Engine {
    let e = Engine::new();
    for cmd in [
        ".create table T (a:long, b:string)",
        ".create table U (a:long, b:string)",
        ".ingest inline into table T <| 1,x",
        ".ingest inline into table T with (tags='[\"drop-by:p\"]') <| 2,y\n3,z",
    ] {
        rows(&e, cmd).await;
    }
    e
}

#[tokio::test]
async fn drop_extent_by_id_answers_what_it_dropped() {
    let e = setup().await;
    let t = ids(&e, "T").await;
    let out = rows(
        &e,
        &format!(
            ".drop extent {} from T | project ExtentId, TableName, isnotnull(CreatedOn)",
            t[0]
        ),
    )
    .await;
    assert_eq!(out, vec![vec![t[0].clone(), "T".into(), "true".into()]]);
    assert_eq!(rows(&e, "T | summarize sum(a)").await, vec![vec!["5"]]);

    // Without the table: found in the database; several at once; all or nothing.
    let t = ids(&e, "T").await;
    let missing = "11111111-2222-3333-4444-555555555555";
    let err = e
        .execute(
            DEFAULT_DATABASE,
            &format!(".drop extents ({}, {missing})", t[0]),
            &RequestOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains(missing), "{err}");
    assert_eq!(rows(&e, "T | count").await, vec![vec!["2"]]);
    rows(&e, &format!(".drop extents ({})", t[0])).await;
    assert_eq!(rows(&e, "T | count").await, vec![vec!["0"]]);
}

#[tokio::test]
async fn retagging_and_moving_give_new_extent_ids() {
    let e = setup().await;
    let t = ids(&e, "T").await;
    let out = rows(
        &e,
        &format!(
            ".alter-merge table T extent tags ('x') <| print ExtentId = '{}'",
            t[1]
        ),
    )
    .await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0][0], t[1], "OriginalExtentId");
    assert_ne!(out[0][1], t[1], "ResultExtentId is a new extent");
    assert_eq!(out[0][2], "drop-by:p x", "ResultExtentTags");
    assert_eq!(ids(&e, "T").await, vec![t[0].clone(), out[0][1].clone()]);

    let retagged = out[0][1].clone();
    let moved = rows(
        &e,
        &format!(
            ".move extents from table T to table U ({retagged}) | project OriginalExtentId, Details"
        ),
    )
    .await;
    assert_eq!(moved, vec![vec![retagged.clone(), String::new()]]);
    assert_eq!(rows(&e, "U | summarize sum(a)").await, vec![vec!["5"]]);
    assert_eq!(rows(&e, "T | summarize sum(a)").await, vec![vec!["1"]]);

    // .replace answers the moved extents and, with an empty ResultExtentId, the dropped.
    let u = ids(&e, "U").await;
    let t = ids(&e, "T").await;
    let out = rows(
        &e,
        &format!(
            ".replace extents in table U <| {{ print ExtentId = '{}' }}, {{ print ExtentId = '{}', TableName = 'T' }}",
            u[0], t[0]
        ),
    )
    .await;
    assert_eq!(out.len(), 2);
    assert_eq!(out[0][0], t[0]);
    assert_ne!(out[0][1], "");
    assert_eq!(out[1], vec![u[0].clone(), String::new(), String::new()]);
    assert_eq!(rows(&e, "U | summarize sum(a)").await, vec![vec!["1"]]);
    assert_eq!(rows(&e, "T | count").await, vec![vec!["0"]]);
}
