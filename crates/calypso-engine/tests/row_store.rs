//! Streaming ingestion through the row store, as the commands see it: rows are queryable
//! at once (before any extent exists), `.clear table data`, `.set-or-replace`,
//! `.rename column` and `.drop column` apply to them, and a restart keeps them once.
//! Also `.show table T extents` after a merge: real sizes and the sources' time range.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use calypso_engine::{DEFAULT_DATABASE, Engine, MappingSpec, StorageOptions};

use common::rows;

async fn one(e: &Engine, q: &str) -> String {
    let r = rows(e, q).await;
    assert_eq!(r.len(), 1, "{q}: {r:?}");
    r[0][0].clone()
}

async fn stream(e: &Engine, csv: &str) {
    let summary = e
        .ingest_stream(
            DEFAULT_DATABASE,
            "T",
            "csv",
            MappingSpec::Identity,
            csv.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(summary.extent_id, None, "into the row store, no extent yet");
}

async fn open(dir: &std::path::Path) -> Engine {
    let options = StorageOptions {
        seal_after: std::time::Duration::from_secs(3600),
        ..StorageOptions::default()
    };
    Engine::open_with(dir, options).await.unwrap()
}

async fn setup(e: &Engine) {
    for cmd in [
        ".create table T (a:long, b:string)",
        ".alter table T policy streamingingestion enable",
    ] {
        rows(e, cmd).await;
    }
}

#[tokio::test]
async fn streamed_rows_are_queryable_at_once_and_commands_apply_to_them() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path()).await;
        setup(&e).await;
        stream(&e, "1,x\n2,y\n").await;
        stream(&e, "3,z\n").await;
        assert_eq!(one(&e, "T | summarize sum(a)").await, "6");
        assert_eq!(one(&e, ".show table T extents | count").await, "0");

        rows(&e, ".rename column T.a to c").await;
        assert_eq!(one(&e, "T | summarize sum(c)").await, "6");
        rows(&e, ".alter-merge table T (a:long)").await;
        stream(&e, "5,w,7\n").await;
        assert_eq!(
            one(&e, "T | summarize sum(a)").await,
            "7",
            "a new `a` sees no old data"
        );
        assert_eq!(one(&e, "T | summarize sum(c)").await, "11");

        rows(&e, ".drop column T.b").await;
        assert_eq!(one(&e, "T | count").await, "4");
    }
    let e = open(dir.path()).await;
    assert_eq!(one(&e, "T | summarize sum(c)").await, "11");
    assert_eq!(one(&e, "T | summarize sum(a)").await, "7");
    assert_eq!(one(&e, "T | count").await, "4");
}

#[tokio::test]
async fn clear_and_replace_remove_streamed_rows() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path()).await;
        setup(&e).await;
        stream(&e, "1,x\n").await;
        rows(&e, ".clear table T data").await;
        assert_eq!(one(&e, "T | count").await, "0");
        stream(&e, "2,y\n").await;
        rows(&e, ".set-or-replace T <| print a = 10, b = 'r'").await;
        assert_eq!(one(&e, "T | summarize sum(a)").await, "10");
        stream(&e, "3,z\n").await;
    }
    let e = open(dir.path()).await;
    assert_eq!(one(&e, "T | summarize sum(a)").await, "13");
}

#[tokio::test]
async fn merged_extents_show_real_sizes_and_their_time_range() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path()).await;
    rows(&e, ".create table T (a:long, b:string)").await;
    for i in 0..3 {
        rows(&e, &format!(".ingest inline into table T <| {i},row{i}")).await;
    }
    assert_eq!(e.storage().merge_all().await.unwrap(), 1);
    let shown = rows(
        &e,
        ".show table T extents | project RowCount, OriginalSize > 0, ExtentSize > 0, MinCreatedOn <= MaxCreatedOn",
    )
    .await;
    assert_eq!(shown, vec![vec!["3", "true", "true", "true"]]);
    assert_eq!(one(&e, "T | summarize sum(a)").await, "3");
}
