//! `.create database D volatile` (create-database.md: "the database is ... in-memory
//! only"): tables, ingestion (inline and streaming), merges and extent commands work, no
//! file of it is written to the data directory, and after a restart it is gone while the
//! persistent databases keep everything.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use calypso_engine::{DEFAULT_DATABASE, Engine, MappingSpec, RequestOptions, StorageOptions};

async fn run(e: &Engine, db: &str, q: &str) -> Vec<Vec<String>> {
    match e.execute(db, q, &RequestOptions::default()).await {
        Ok(r) => common::text_rows(&r),
        Err(err) => panic!("{q}: {err}"),
    }
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.to_string_lossy().to_string());
            }
        }
    }
    out
}

#[tokio::test]
async fn a_volatile_database_lives_in_memory_and_is_gone_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let volatile_id;
    {
        let e = Engine::open_with(dir.path(), StorageOptions::default())
            .await
            .unwrap();
        run(&e, DEFAULT_DATABASE, ".create database V volatile").await;
        run(&e, DEFAULT_DATABASE, ".create table P (a:long)").await;
        run(&e, DEFAULT_DATABASE, ".ingest inline into table P <| 1\n2").await;
        for cmd in [
            ".create table T (a:long, b:string)",
            ".ingest inline into table T <| 1,x\n2,y",
            ".ingest inline into table T with (tags='[\"drop-by:z\"]') <| 3,z",
            ".alter table T policy streamingingestion enable",
        ] {
            run(&e, "V", cmd).await;
        }
        e.ingest_stream("V", "T", "csv", MappingSpec::Identity, b"4,w\n")
            .await
            .unwrap();
        assert_eq!(run(&e, "V", "T | summarize sum(a)").await, [["10"]]);
        assert_eq!(
            run(&e, "V", ".show table T extents | count").await,
            [["3"]],
            "the streamed rows went to an extent, not the row store's log"
        );
        e.storage().merge_all().await.unwrap();
        run(
            &e,
            "V",
            ".drop extents <| .show table T extents where tags has 'drop-by:z'",
        )
        .await;
        assert_eq!(run(&e, "V", "T | summarize sum(a)").await, [["7"]]);
        let cat = e.storage().catalog();
        let v = &cat.databases["V"];
        assert!(!v.persistent);
        volatile_id = v.id.clone();
        let on_disk = files_under(dir.path());
        assert!(
            !on_disk.iter().any(|f| f.contains(&volatile_id)),
            "no file of the volatile database on disk: {on_disk:?}"
        );
        let catalog_files: String = on_disk
            .iter()
            .filter(|f| f.contains("catalog"))
            .map(|f| std::fs::read_to_string(f).unwrap_or_default())
            .collect();
        assert!(
            !catalog_files.contains(&volatile_id),
            "nor in the catalog's log"
        );
    }
    let e = Engine::open_with(dir.path(), StorageOptions::default())
        .await
        .unwrap();
    assert_eq!(
        run(
            &e,
            DEFAULT_DATABASE,
            ".show databases | where DatabaseName == 'V' | count"
        )
        .await,
        [["0"]]
    );
    assert_eq!(
        run(&e, DEFAULT_DATABASE, "P | summarize sum(a)").await,
        [["3"]]
    );
}
