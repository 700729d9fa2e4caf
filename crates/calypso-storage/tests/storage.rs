//! Catalog commits, durability, extents and scans.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use calypso_storage::{
    Column, DEFAULT_DATABASE, EntityKind, Error, Function, Storage, StorageOptions, Table,
};
use common::faulty::{Faults, FaultyStore};
use common::{DB, T, batch, batch_of, create_table, ingest, plan, query, single_i64};
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::prelude::{ident, lit};
use datafusion::scalar::ScalarValue;
use kql_types::KqlType;

fn ts(seconds: i64) -> datafusion::prelude::Expr {
    lit(ScalarValue::TimestampNanosecond(
        Some(seconds * 1_000_000_000),
        None,
    ))
}

/// The versions of the catalog log records in `dir`.
fn log_records(dir: &std::path::Path) -> Vec<u64> {
    let mut versions: Vec<u64> = std::fs::read_dir(dir.join("catalog/log"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter_map(|n| n.strip_suffix(".rec")?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
}

/// The versions of the catalog checkpoints in `dir`.
fn checkpoints(dir: &std::path::Path) -> Vec<u64> {
    let mut versions: Vec<u64> = std::fs::read_dir(dir.join("catalog/checkpoint"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".json")?.parse().ok())
        .collect();
    versions.sort();
    versions
}

fn parquet_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join("data"), &mut out);
    out.sort();
    out
}

#[tokio::test]
async fn starts_with_the_default_database() {
    let storage = Storage::in_memory();
    let catalog = storage.catalog();
    assert_eq!(catalog.version, 0);
    assert!(catalog.database(DEFAULT_DATABASE).is_some());
    // The lead may create it too: idempotent.
    let id = catalog.database(DEFAULT_DATABASE).unwrap().id.clone();
    storage
        .commit(|c| {
            c.ensure_database(DEFAULT_DATABASE, true);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(storage.catalog().database(DEFAULT_DATABASE).unwrap().id, id);
    // Names are case-sensitive.
    assert!(storage.catalog().database("netdefaultdb").is_none());
}

#[tokio::test]
async fn commit_and_reopen_show_everything_back() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    create_table(&storage).await;
    storage
        .commit(|c| {
            let db = c.require_database_mut(DB)?;
            db.functions.insert(
                "f".into(),
                Function {
                    name: "f".into(),
                    parameters: "(x:long)".into(),
                    body: "{ T | where x > x }".into(),
                    folder: Some("dir".into()),
                    docstring: Some("doc".into()),
                    roles: Vec::new(),
                    ..Default::default()
                },
            );
            db.streaming_ingestion_policy = Some(serde_json::json!({"IsEnabled": true}));
            let t = db.require_table_mut(T)?;
            t.docstring = Some("the table".into());
            t.columns[1].docstring = Some("a number".into());
            Ok(())
        })
        .await
        .unwrap();
    ingest(&storage, &[batch(&[(1, 10, "a"), (2, 20, "b")])]).await;
    let before = storage.catalog();
    assert_eq!(before.version, 3);
    drop(storage);

    let reopened = Storage::open_local(dir.path()).await.unwrap();
    assert_eq!(*reopened.catalog(), *before);
    let t = reopened.catalog().table(DB, T).unwrap().clone();
    assert_eq!(t.extents.len(), 1);
    assert_eq!(t.extents[0].rows, 2);
    let stats = t.extents[0].stats("x").unwrap();
    assert_eq!(stats.min, Some(serde_json::json!(10)));
    assert_eq!(stats.max, Some(serde_json::json!(20)));
    let stats = t.extents[0].stats("Timestamp").unwrap();
    assert_eq!(
        stats.min,
        Some(serde_json::json!("1970-01-01T00:00:01.000000000Z"))
    );
    // The data is back too.
    let rows = query(&reopened, |df| df.aggregate(vec![], vec![sum(ident("x"))])).await;
    assert_eq!(single_i64(&rows, 0), Some(30));
    // The log names the type by its Kusto name.
    let text =
        std::fs::read_to_string(dir.path().join("catalog/log/00000000000000000001.rec")).unwrap();
    assert!(text.contains("\"kql_type\":\"datetime\""), "{text}");
    // The next commit continues the sequence.
    reopened
        .commit(|c| {
            c.require_table_mut(DB, T)?.docstring = Some("d".into());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(reopened.catalog().version, 4);
    assert_eq!(log_records(dir.path()), vec![1, 2, 3, 4]);
    // A commit that changes nothing writes nothing.
    reopened.commit(|_| Ok(())).await.unwrap();
    assert_eq!(reopened.catalog().version, 4);
    assert_eq!(log_records(dir.path()), vec![1, 2, 3, 4]);
}

#[tokio::test]
async fn a_failed_commit_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    create_table(&storage).await;
    let before = storage.catalog();
    let err = storage
        .commit(|c| {
            c.require_table_mut(DB, T)?.docstring = Some("changed".into());
            c.require_table_mut(DB, "Missing")?;
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::EntityNotFound {
            kind: EntityKind::Table,
            ..
        }
    ));
    assert_eq!(err.http_status(), 404);
    assert_eq!(err.kusto_code(), "BadRequest_EntityNotFound");
    assert!(Arc::ptr_eq(&before, &storage.catalog()));
    assert_eq!(log_records(dir.path()), vec![1]);
    drop(storage);
    let reopened = Storage::open_local(dir.path()).await.unwrap();
    assert_eq!(reopened.catalog().table(DB, T).unwrap().docstring, None);
}

/// Two writers of one object store (a local data directory has one: it is locked), both
/// with table `T` and a table `U` of their own making.
async fn two_writers() -> (Storage, Storage) {
    let store: Arc<dyn object_store::ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let a = Storage::open_object_store(Arc::clone(&store), StorageOptions::default())
        .await
        .unwrap();
    create_table(&a).await;
    a.commit(|c| {
        let u = Table::new("U", vec![Column::new("x", KqlType::Long)]);
        c.require_database_mut(DB)?
            .tables
            .insert("U".into(), u.into());
        Ok(())
    })
    .await
    .unwrap();
    let b = Storage::open_object_store(store, StorageOptions::default())
        .await
        .unwrap();
    assert_eq!(b.catalog().version, 2);
    (a, b)
}

#[tokio::test]
async fn writers_of_different_tables_do_not_conflict() {
    let (a, b) = two_writers().await;
    // `a` writes version 3 into T; `b`, still on version 2, then writes into U (and
    // creates a database): its commit goes on top of `a`'s as version 4.
    ingest(&a, &[batch(&[(1, 1, "a")])]).await;
    let extent = b
        .write_extent(
            DB,
            "U",
            &[batch_of(b.catalog().table(DB, "U").unwrap(), "x", 7)],
        )
        .await
        .unwrap();
    let id = extent.id.clone();
    b.commit(move |c| {
        c.require_table_mut(DB, "U")?.extents.push(extent.into());
        c.ensure_database("other", true);
        Ok(())
    })
    .await
    .unwrap();
    let catalog = b.catalog();
    assert_eq!(catalog.version, 4);
    assert_eq!(
        catalog.table(DB, T).unwrap().extents.len(),
        1,
        "a's extent is kept"
    );
    assert_eq!(catalog.table(DB, "U").unwrap().extents[0].id, id);
    assert!(catalog.database("other").is_some());
    a.refresh().await.unwrap();
    assert_eq!(a.catalog().version, 4);
    assert_eq!(a.catalog().table(DB, "U").unwrap().extents[0].id, id);
    assert_eq!(a.catalog().table(DB, T).unwrap().extents.len(), 1);
    // What is on the store is the same for a third reader.
    let c = Storage::open_object_store(a.object_store(), StorageOptions::default())
        .await
        .unwrap();
    assert_eq!(*c.catalog(), *b.catalog());
}

/// Two writers committing at once into their own tables: none of their commits fails, and
/// the store holds all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_of_different_tables_all_commit() {
    let (a, b) = two_writers().await;
    let spawn = |s: Storage, table: &'static str| {
        tokio::spawn(async move {
            for i in 0..25 {
                let t = s.catalog().table(DB, table).unwrap().clone();
                let e = s
                    .write_extent(DB, table, &[batch_of(&t, "x", i)])
                    .await
                    .unwrap();
                s.commit(move |c| {
                    c.require_table_mut(DB, table)?.extents.push(e.into());
                    Ok(())
                })
                .await
                .unwrap();
            }
        })
    };
    let (ra, rb) = (spawn(a.clone(), T), spawn(b.clone(), "U"));
    ra.await.unwrap();
    rb.await.unwrap();
    let c = Storage::open_object_store(a.object_store(), StorageOptions::default())
        .await
        .unwrap();
    assert_eq!(c.catalog().version, 2 + 50);
    assert_eq!(c.catalog().table(DB, T).unwrap().extents.len(), 25);
    assert_eq!(c.catalog().table(DB, "U").unwrap().extents.len(), 25);
}

#[tokio::test]
async fn writers_of_one_table_conflict() {
    let (a, b) = two_writers().await;
    ingest(&a, &[batch(&[(1, 1, "a")])]).await;
    // `b` decided on version 2 of T, which `a` changed: it fails and changes nothing.
    let err = b
        .commit(|c| {
            c.require_table_mut(DB, T)?.docstring = Some("b's".into());
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    assert!(
        err.to_string().contains("table 'T' of database 'db'"),
        "{err}"
    );
    assert_eq!(err.http_status(), 409);
    assert_eq!(err.kusto_code(), "BadRequest_ConcurrentModification");
    // The loser reloaded the winner's version and can retry.
    assert_eq!(b.catalog().version, 3);
    assert_eq!(b.catalog().table(DB, T).unwrap().extents.len(), 1);
    assert_eq!(b.catalog().table(DB, T).unwrap().docstring, None);
    b.commit(|c| {
        c.require_table_mut(DB, T)?.docstring = Some("b's".into());
        Ok(())
    })
    .await
    .unwrap();
    a.refresh().await.unwrap();
    assert_eq!(a.catalog().version, 4);
    assert_eq!(
        a.catalog().table(DB, T).unwrap().docstring.as_deref(),
        Some("b's")
    );
    // A change of the database's own fields orders every table in it.
    a.commit(|c| {
        c.require_database_mut(DB)?.pretty_name = Some("a's".into());
        Ok(())
    })
    .await
    .unwrap();
    let err = b
        .commit(|c| {
            c.require_table_mut(DB, "U")?.docstring = Some("b's".into());
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
}

#[tokio::test]
async fn extents_are_queryable_after_their_commit() {
    let storage = Storage::in_memory();
    create_table(&storage).await;
    let first = storage
        .write_extent(DB, T, &[batch(&[(1, 1, "a"), (2, 2, "b")])])
        .await
        .unwrap();
    // Not visible before the commit.
    assert_eq!(storage.catalog().table(DB, T).unwrap().extents.len(), 0);
    let rows = query(&storage, |df| df.aggregate(vec![], vec![count(lit(1))])).await;
    assert_eq!(single_i64(&rows, 0), Some(0));
    storage
        .commit(move |c| {
            c.require_table_mut(DB, T)?.extents.push(first.into());
            Ok(())
        })
        .await
        .unwrap();
    ingest(
        &storage,
        &[batch(&[(3, 3, "c")]), batch(&[(4, 4, "d"), (5, 5, "e")])],
    )
    .await;

    let rows = query(&storage, |df| {
        df.aggregate(vec![], vec![count(lit(1)), sum(ident("x"))])
    })
    .await;
    assert_eq!(single_i64(&rows, 0), Some(5));
    assert_eq!(single_i64(&rows, 1), Some(15));
    let rows = query(&storage, |df| {
        df.filter(ident("s").eq(lit("d")))?.select(vec![ident("x")])
    })
    .await;
    assert_eq!(single_i64(&rows, 0), Some(4));
    let t = storage.catalog().table(DB, T).unwrap().clone();
    assert_eq!(t.total_rows(), 5);
    let e = &t.extents[1];
    assert!(e.path.starts_with(&format!(
        "data/{}/{}/",
        storage.catalog().database(DB).unwrap().id,
        t.id
    )));
    assert!(e.path.ends_with(&format!("{}.parquet", e.id)));
    assert!(e.size_bytes > 0);
}

#[tokio::test]
async fn write_extent_checks_the_data() {
    let storage = Storage::in_memory();
    let err = storage
        .write_extent(DB, T, &[batch(&[(1, 1, "a")])])
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::EntityNotFound {
            kind: EntityKind::Database,
            ..
        }
    ));
    create_table(&storage).await;
    let err = storage.write_extent(DB, T, &[]).await.unwrap_err();
    assert_eq!(err.http_status(), 400, "{err}");
    // A column of the wrong type.
    storage
        .commit(|c| {
            c.require_database_mut(DB)?.tables.insert(
                "U".into(),
                Table::new("U", vec![Column::new("x", KqlType::Int)]).into(),
            );
            Ok(())
        })
        .await
        .unwrap();
    let err = storage
        .write_extent(DB, "U", &[batch(&[(1, 1, "a")])])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
}

#[tokio::test]
async fn columns_added_later_read_as_null_in_older_extents() {
    let storage = Storage::in_memory();
    create_table(&storage).await;
    ingest(&storage, &[batch(&[(1, 1, "a"), (2, 2, "b")])]).await;
    // `.alter-merge table T (y:real)`
    storage
        .commit(|c| {
            c.require_table_mut(DB, T)?.merge_columns(&[
                Column::new("x", KqlType::Long),
                Column::new("y", KqlType::Real),
            ])
        })
        .await
        .unwrap();
    let err = storage
        .commit(|c| {
            c.require_table_mut(DB, T)?
                .merge_columns(&[Column::new("y", KqlType::String)])
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));

    // A new extent with the new column.
    let schema = storage.catalog().table(DB, T).unwrap().arrow_schema();
    let new = arrow::array::RecordBatch::try_new(
        schema,
        vec![
            Arc::new(arrow::array::TimestampNanosecondArray::from(vec![
                3_000_000_000,
            ])),
            Arc::new(arrow::array::Int64Array::from(vec![3])),
            Arc::new(arrow::array::StringArray::from(vec!["c"])),
            Arc::new(arrow::array::Float64Array::from(vec![0.5])),
        ],
    )
    .unwrap();
    ingest(&storage, &[new]).await;

    let rows = query(&storage, |df| {
        df.aggregate(
            vec![],
            vec![count(ident("y")), count(lit(1)), sum(ident("x"))],
        )
    })
    .await;
    assert_eq!(single_i64(&rows, 0), Some(1));
    assert_eq!(single_i64(&rows, 1), Some(3));
    assert_eq!(single_i64(&rows, 2), Some(6));
    // Pruning knows the old extent has only nulls in `y`.
    let rows = query(&storage, |df| {
        df.filter(ident("y").gt(lit(0.0)))?
            .aggregate(vec![], vec![count(lit(1))])
    })
    .await;
    assert_eq!(single_i64(&rows, 0), Some(1));
}

#[tokio::test]
async fn filters_skip_extents_by_their_statistics() {
    let storage = Storage::in_memory();
    create_table(&storage).await;
    ingest(&storage, &[batch(&[(100, 1, "a"), (200, 2, "b")])]).await;
    ingest(&storage, &[batch(&[(1000, 10, "c"), (2000, 20, "d")])]).await;
    let extents = storage.catalog().table(DB, T).unwrap().extents.clone();

    let filtered = |df: datafusion::dataframe::DataFrame| {
        df.filter(ident("Timestamp").gt(ts(500)))?
            .aggregate(vec![], vec![count(lit(1)), sum(ident("x"))])
    };
    let text = plan(&storage, filtered).await;
    assert!(!text.contains(&extents[0].id), "{text}");
    assert!(text.contains(&extents[1].id), "{text}");
    assert_eq!(text.matches(".parquet").count(), 1, "{text}");
    let rows = query(&storage, filtered).await;
    assert_eq!(single_i64(&rows, 0), Some(2));
    assert_eq!(single_i64(&rows, 1), Some(30));

    // The same through the counters (cumulative over the storage's scans).
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let c = storage.scan_counters();
    let (scanned0, pruned0) = (load(&c.extents_scanned), load(&c.extents_pruned));
    let table = storage.extent_table(&storage.snapshot(), DB, T).unwrap();
    let ctx = datafusion::prelude::SessionContext::new();
    ctx.register_table(T, Arc::clone(&table) as _).unwrap();
    let df = ctx.table(T).await.unwrap();
    let rows = df
        .filter(ident("x").lt_eq(lit(2i64)))
        .unwrap()
        .aggregate(vec![], vec![count(lit(1))])
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(single_i64(&rows, 0), Some(2));
    assert_eq!(load(&table.counters().extents_scanned) - scanned0, 1);
    assert_eq!(load(&table.counters().extents_pruned) - pruned0, 1);

    // A filter that excludes everything reads nothing; one that cannot prune reads all.
    let text = plan(&storage, |df| df.filter(ident("x").gt(lit(100i64)))).await;
    assert_eq!(text.matches(".parquet").count(), 0, "{text}");
    let text = plan(&storage, |df| df.filter(ident("s").not_eq(lit("zzz")))).await;
    assert_eq!(text.matches(".parquet").count(), 2, "{text}");
}

#[tokio::test]
async fn orphan_extents_are_removed_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    create_table(&storage).await;
    let kept = ingest(&storage, &[batch(&[(1, 1, "a")])]).await;
    // An ingestion that failed before its commit.
    let orphan = storage
        .write_extent(DB, T, &[batch(&[(2, 2, "b")])])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    storage
        .commit(|c| {
            c.require_table_mut(DB, T)?.folder = Some("f".into());
            Ok(())
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // One written after the newest commit may still be committed by its writer: kept.
    let recent = storage
        .write_extent(DB, T, &[batch(&[(3, 3, "c")])])
        .await
        .unwrap();
    assert_eq!(parquet_files(dir.path()).len(), 3);
    drop(storage);

    let reopened = Storage::open_local(dir.path()).await.unwrap();
    let files = parquet_files(dir.path());
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(dir.path().join(&kept.path).exists());
    assert!(!dir.path().join(&orphan.path).exists());
    assert!(dir.path().join(&recent.path).exists());
    let rows = query(&reopened, |df| df.aggregate(vec![], vec![sum(ident("x"))])).await;
    assert_eq!(single_i64(&rows, 0), Some(1));
}

/// A checkpoint replaces the log records before it (the older checkpoint and the records
/// after it stay); the extents the catalog no longer references go at the next open.
#[tokio::test]
async fn checkpoints_replace_old_records_and_dropped_extents_go() {
    let dir = tempfile::tempdir().unwrap();
    let options = StorageOptions {
        checkpoint_every: 3,
        checkpoints_to_keep: 2,
        ..StorageOptions::default()
    };
    let storage = Storage::open_local_with(dir.path(), options.clone())
        .await
        .unwrap();
    // A new directory starts with the checkpoint of its first catalog.
    assert_eq!(checkpoints(dir.path()), vec![0]);
    create_table(&storage).await;
    let dropped = ingest(&storage, &[batch(&[(1, 1, "a")])]).await;
    assert_eq!(log_records(dir.path()), vec![1, 2]);
    common::clear_data(&storage).await;
    // The third record: a checkpoint at 3 (written after the commit is answered, before
    // the next one; `refresh` waits for it); 0 and the records after it stay.
    storage.refresh().await.unwrap();
    assert_eq!(checkpoints(dir.path()), vec![0, 3]);
    assert_eq!(log_records(dir.path()), vec![1, 2, 3]);
    for n in 0..3 {
        storage
            .commit(move |c| {
                c.require_table_mut(DB, T)?.docstring = Some(format!("v{n}"));
                Ok(())
            })
            .await
            .unwrap();
    }
    storage.refresh().await.unwrap();
    assert_eq!(checkpoints(dir.path()), vec![3, 6]);
    assert_eq!(log_records(dir.path()), vec![4, 5, 6]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    storage
        .commit(|c| {
            c.require_table_mut(DB, T)?.docstring = Some("last".into());
            Ok(())
        })
        .await
        .unwrap();
    assert!(dir.path().join(&dropped.path).exists());
    let before = storage.catalog();
    drop(storage);
    let reopened = Storage::open_local_with(dir.path(), options).await.unwrap();
    assert_eq!(*reopened.catalog(), *before);
    assert!(!dir.path().join(&dropped.path).exists());
}

/// One process at a time owns a data directory: a second open is refused (and deletes
/// nothing) while the first storage lives; the lock goes with the last handle.
#[tokio::test]
async fn a_data_directory_is_locked_while_open() {
    let dir = tempfile::tempdir().unwrap();
    let first = Storage::open_local(dir.path()).await.unwrap();
    let clone = first.clone();
    create_table(&first).await;
    let second = Storage::open_local(dir.path()).await;
    match second {
        Err(Error::Locked(path)) => {
            let name = dir.path().file_name().unwrap().to_string_lossy();
            assert!(path.contains(&*name), "{path}");
        }
        other => panic!("a second open should be refused, got {other:?}"),
    }
    assert!(first.catalog().table(DB, T).is_some());
    drop(first);
    assert!(matches!(
        Storage::open_local(dir.path()).await,
        Err(Error::Locked(_))
    ));
    drop(clone);
    let reopened = Storage::open_local(dir.path()).await.unwrap();
    assert!(reopened.catalog().table(DB, T).is_some());
}

/// A storage with table `T` on an in-memory store behind a [`FaultyStore`].
async fn faulty_storage() -> (
    Arc<FaultyStore>,
    Arc<dyn object_store::ObjectStore>,
    Storage,
) {
    let faulty = FaultyStore::new(Arc::new(object_store::memory::InMemory::new()));
    let store: Arc<dyn object_store::ObjectStore> = Arc::clone(&faulty) as _;
    let storage = Storage::open_object_store(Arc::clone(&store), StorageOptions::default())
        .await
        .unwrap();
    create_table(&storage).await;
    (faulty, store, storage)
}

/// A commit whose caller goes away while its record is being written still finishes: the
/// catalog in memory is the one in the store, and the next commit follows it.
#[tokio::test]
async fn a_commit_abandoned_by_its_caller_still_completes() {
    let (faulty, store, storage) = faulty_storage().await;
    faulty.set(Faults {
        delay: Some(("catalog/log".into(), Duration::from_millis(300))),
        fail: None,
    });
    let abandoned = tokio::time::timeout(
        Duration::from_millis(50),
        storage.commit(|c| {
            c.require_table_mut(DB, T)?.docstring = Some("late".into());
            Ok(())
        }),
    )
    .await;
    assert!(abandoned.is_err(), "the commit should still be writing");
    faulty.set(Faults::default());
    // The next commit waits for the first and follows it.
    storage
        .commit(|c| {
            c.require_table_mut(DB, T)?.folder = Some("f".into());
            Ok(())
        })
        .await
        .unwrap();
    let t = storage.catalog().table(DB, T).unwrap().clone();
    assert_eq!(t.docstring.as_deref(), Some("late"));
    assert_eq!(t.folder.as_deref(), Some("f"));
    assert_eq!(storage.catalog().version, 3);
    let reopened = Storage::open_object_store(store, StorageOptions::default())
        .await
        .unwrap();
    assert_eq!(*reopened.catalog(), *storage.catalog());
}

/// A commit whose record cannot be written fails and changes nothing, in memory or in the
/// store; the next one takes its number.
#[tokio::test]
async fn a_commit_that_cannot_be_written_changes_nothing() {
    let (faulty, store, storage) = faulty_storage().await;
    let before = storage.catalog();
    faulty.set(Faults {
        delay: None,
        fail: Some("catalog/log".into()),
    });
    let err = storage
        .commit(|c| {
            c.require_table_mut(DB, T)?.docstring = Some("lost".into());
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ObjectStore(_)), "{err}");
    assert!(Arc::ptr_eq(&before, &storage.catalog()));
    faulty.set(Faults::default());
    storage
        .commit(|c| {
            c.require_table_mut(DB, T)?.folder = Some("f".into());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(storage.catalog().version, 2);
    let reopened = Storage::open_object_store(store, StorageOptions::default())
        .await
        .unwrap();
    let t = reopened.catalog().table(DB, T).unwrap().clone();
    assert_eq!(t.docstring, None);
    assert_eq!(t.folder.as_deref(), Some("f"));
}

/// A commit's record holds what changed: its size does not grow with the catalog.
#[tokio::test]
async fn a_commit_writes_what_changed_not_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    create_table(&storage).await;
    let size_of = |v: u64| {
        std::fs::metadata(dir.path().join(format!("catalog/log/{v:020}.rec")))
            .unwrap()
            .len()
    };
    ingest(&storage, &[batch(&[(1, 1, "a")])]).await;
    let first = size_of(storage.catalog().version);
    for i in 0..200 {
        ingest(&storage, &[batch(&[(i, i, "b")])]).await;
    }
    let last = size_of(storage.catalog().version);
    assert_eq!(storage.catalog().table(DB, T).unwrap().extents.len(), 201);
    assert!(
        last <= first + 16,
        "the 201st append wrote {last} bytes, the first {first}"
    );
}
