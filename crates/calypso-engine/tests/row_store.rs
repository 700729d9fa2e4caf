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
        assert_eq!(
            one(&e, ".show table T details | project TotalRowCount").await,
            "3",
            "the row store's rows count"
        );

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

/// `ingestion_time()` of each row: stamped when the row store took it, the same after the
/// rows are sealed into an extent, after a restart (replayed from the log) and after a
/// merge, which keeps each row's own time.
#[tokio::test]
async fn each_row_keeps_its_ingestion_time_through_seal_restart_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let times = "T | summarize t = make_list(tostring(ingestion_time())) by a | order by a asc | project a, tostring(t)";
    let before;
    {
        let e = open(dir.path()).await;
        setup(&e).await;
        stream(&e, "1,x\n2,y\n").await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        stream(&e, "3,z\n").await;
        before = rows(&e, times).await;
        assert_eq!(before.len(), 3);
        assert_ne!(before[0][1], before[2][1], "two ingestions, two times");
        assert_eq!(before[0][1], before[1][1], "one ingestion, one time");
        assert_eq!(
            one(&e, "T | summarize countif(isnull(ingestion_time()))").await,
            "0"
        );
        // Rows of the row store are in no extent yet.
        assert_eq!(
            one(&e, "T | summarize make_set(tostring(extent_id()))").await,
            r#"["00000000-0000-0000-0000-000000000000"]"#
        );
    }
    let e = open(dir.path()).await;
    assert_eq!(rows(&e, times).await, before, "replayed from the log");
    e.storage().seal_all().await.unwrap();
    assert_eq!(one(&e, ".show table T extents | count").await, "1");
    assert_eq!(rows(&e, times).await, before, "sealed");
    assert_eq!(one(&e, "T | summarize dcount(extent_id())").await, "1");

    // A second extent, then a merge of the two: every row keeps its own time.
    rows(&e, ".ingest inline into table T <| 4,w").await;
    assert_eq!(e.storage().merge_all().await.unwrap(), 1);
    assert_eq!(one(&e, ".show table T extents | count").await, "1");
    let after = rows(&e, times).await;
    assert_eq!(after[..3], before[..]);
    assert_eq!(one(&e, "T | summarize dcount(ingestion_time())").await, "3");
}
