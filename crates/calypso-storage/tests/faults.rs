//! Random write faults: a storage on an object store that fails puts, copies and deletes at
//! random (before they change anything) runs a random mix of ingestions, schema changes,
//! extent drops, retags and merges. Every operation either succeeds and is there after a
//! restart, or fails with an error and leaves no trace: the catalog in memory always equals
//! the one a fresh open reads from the store, and the rows are exactly those of the
//! acknowledged ingestions minus the dropped extents'. The files the failures left are
//! collected after the grace period.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow::array::{AsArray, Int64Array, RecordBatch};
use arrow::datatypes::{Field, Int64Type, Schema};
use calypso_storage::{Column, ExtentRef, Storage, StorageOptions, Table};
use common::faulty::{FaultyStore, RandomFaults};
use common::{DB, T};
use datafusion::prelude::{SessionContext, col};
use kql_types::KqlType;

/// The multiset of `x` values the table holds.
async fn values(storage: &Storage) -> BTreeMap<i64, usize> {
    let ctx = SessionContext::new();
    ctx.register_table(T, storage.table_provider(DB, T).unwrap())
        .unwrap();
    let batches = ctx
        .table(T)
        .await
        .unwrap()
        .select(vec![col("x")])
        .unwrap()
        .collect()
        .await
        .unwrap();
    count(&batches)
}

fn count(batches: &[RecordBatch]) -> BTreeMap<i64, usize> {
    let mut out = BTreeMap::new();
    for b in batches {
        let a = b.column(0).as_primitive::<Int64Type>();
        for i in 0..a.len() {
            *out.entry(a.value(i)).or_insert(0) += 1;
        }
    }
    out
}

/// The `x` values of one extent.
async fn values_of_extent(storage: &Storage, id: &str) -> BTreeMap<i64, usize> {
    let ctx = SessionContext::new();
    ctx.register_table(T, storage.table_provider(DB, T).unwrap())
        .unwrap();
    let bytes = uuid::Uuid::parse_str(id).unwrap().as_bytes().to_vec();
    let batches = ctx
        .table(T)
        .await
        .unwrap()
        .filter(
            datafusion::prelude::ident("$ExtentId").eq(datafusion::prelude::lit(
                datafusion::scalar::ScalarValue::FixedSizeBinary(16, Some(bytes)),
            )),
        )
        .unwrap()
        .select(vec![col("x")])
        .unwrap()
        .collect()
        .await
        .unwrap();
    count(&batches)
}

/// `n` rows of `x = value` (the table's other columns absent: null).
fn rows(value: i64, n: usize) -> RecordBatch {
    let schema = Schema::new(vec![Field::new("x", KqlType::Long.to_arrow(), true)]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![Arc::new(Int64Array::from(vec![value; n]))],
    )
    .unwrap()
}

async fn open(store: Arc<dyn object_store::ObjectStore>) -> Storage {
    Storage::open_object_store(store, StorageOptions::default())
        .await
        .unwrap()
}

/// The live catalog and the one a fresh open of the store reads agree, and so do the rows.
async fn check(
    storage: &Storage,
    inner: &Arc<dyn object_store::ObjectStore>,
    model: &BTreeMap<i64, usize>,
    step: usize,
) {
    assert_eq!(&values(storage).await, model, "step {step}: the live rows");
    let reopened = open(Arc::clone(inner)).await;
    let (live, read) = (storage.catalog(), reopened.catalog());
    assert_eq!(live.databases, read.databases, "step {step}: the catalog");
    assert_eq!(
        &values(&reopened).await,
        model,
        "step {step}: the rows after a restart"
    );
}

#[tokio::test]
async fn every_operation_succeeds_durably_or_leaves_nothing() {
    let inner: Arc<dyn object_store::ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let faulty = FaultyStore::new(Arc::clone(&inner));
    let storage = open(Arc::clone(&faulty) as _).await;
    storage
        .commit(|c| {
            let db = c.ensure_database(DB, true);
            db.tables.insert(
                T.to_string(),
                Table::new(T, vec![Column::new("x", KqlType::Long)]).into(),
            );
            Ok(())
        })
        .await
        .unwrap();
    faulty.set_random(Some(RandomFaults { seed: 7, rate: 0.2 }));

    let mut model: BTreeMap<i64, usize> = BTreeMap::new();
    let mut pick = 12_345u64;
    let mut next = move |n: u64| {
        pick = pick.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (pick >> 33) % n
    };
    let (mut ok, mut failed) = (0, 0);
    let mut columns = 0;
    for step in 0..200usize {
        let value = step as i64;
        let outcome: Result<(), calypso_storage::Error> = match next(10) {
            // An ingestion: the file, then the commit that adds it.
            0..=4 => {
                let n = 1 + next(50) as usize;
                let r = async {
                    let e = storage.write_extent(DB, T, &[rows(value, n)]).await?;
                    storage
                        .commit(move |c| {
                            c.require_table_mut(DB, T)?.extents.push(e.into());
                            Ok(())
                        })
                        .await
                }
                .await;
                if r.is_ok() {
                    *model.entry(value).or_insert(0) += n;
                }
                r
            }
            // A schema change.
            5 => {
                let name = format!("c{columns}");
                let r = storage
                    .commit(move |c| {
                        c.require_table_mut(DB, T)?
                            .columns
                            .push(Column::new(&name, KqlType::String));
                        Ok(())
                    })
                    .await;
                if r.is_ok() {
                    columns += 1;
                }
                r
            }
            // Drop one extent.
            6 | 7 => {
                let extents = storage.catalog().table(DB, T).unwrap().extents.clone();
                if extents.is_empty() {
                    continue;
                }
                let e = &extents[next(extents.len() as u64) as usize];
                let held = values_of_extent(&storage, &e.id).await;
                let r = storage
                    .drop_extents(
                        DB,
                        vec![ExtentRef {
                            table: T.into(),
                            id: e.id.clone(),
                        }],
                        true,
                    )
                    .await
                    .map(|_| ());
                if r.is_ok() {
                    for (v, n) in held {
                        let left = model.get_mut(&v).unwrap();
                        *left -= n;
                        if *left == 0 {
                            model.remove(&v);
                        }
                    }
                }
                r
            }
            // Retag one extent: the rows stay either way.
            8 => {
                let extents = storage.catalog().table(DB, T).unwrap().extents.clone();
                if extents.is_empty() {
                    continue;
                }
                let id = extents[next(extents.len() as u64) as usize].id.clone();
                storage
                    .retag_extents(DB, T, vec![id], move |_, _| vec![format!("t{step}")])
                    .await
                    .map(|_| ())
            }
            // Merge: the rows stay either way.
            _ => storage.merge_all().await.map(|_| ()),
        };
        match outcome {
            Ok(()) => ok += 1,
            Err(e) => {
                failed += 1;
                assert!(!e.to_string().is_empty());
            }
        }
        if step % 20 == 19 {
            faulty.set_random(None);
            check(&storage, &inner, &model, step).await;
            faulty.set_random(Some(RandomFaults {
                seed: step as u64,
                rate: 0.2,
            }));
        }
    }
    faulty.set_random(None);
    check(&storage, &inner, &model, 200).await;
    assert!(
        ok > 50 && failed > 20,
        "both outcomes were exercised: {ok} succeeded, {failed} failed ({} faults injected)",
        faulty.injected.load(Ordering::Relaxed)
    );
    // The files of failed commits are collected once past the grace period (not before),
    // and only those.
    let data = object_store::path::Path::from("data");
    let files = || async {
        use futures::TryStreamExt;
        inner
            .list(Some(&data))
            .map_ok(|m| m.location.to_string())
            .try_collect::<Vec<String>>()
            .await
            .unwrap()
    };
    let referenced: Vec<String> = storage
        .catalog()
        .extent_paths()
        .map(str::to_string)
        .collect();
    // (The restarts above collected what the random failures left: ingestions whose
    // file landed but whose commit failed, made here.)
    faulty.set(common::faulty::Faults {
        delay: None,
        fail: Some("catalog/log".into()),
    });
    for i in 0..3 {
        let e = storage
            .write_extent(DB, T, &[rows(1000 + i, 5)])
            .await
            .unwrap();
        let r = storage
            .commit(move |c| {
                c.require_table_mut(DB, T)?.extents.push(e.into());
                Ok(())
            })
            .await;
        assert!(r.is_err());
    }
    faulty.set(common::faulty::Faults::default());
    let before = files().await;
    assert_eq!(
        before.len(),
        referenced.len() + 3,
        "failed commits left files"
    );
    assert_eq!(
        storage.collect_garbage(chrono::Utc::now()).await.unwrap(),
        0
    );
    let later = chrono::Utc::now() + chrono::Duration::days(1);
    let collected = storage.collect_garbage(later).await.unwrap();
    let mut after = files().await;
    after.sort();
    let mut expected = referenced.clone();
    expected.sort();
    assert_eq!(after, expected, "only the referenced files are left");
    assert_eq!(collected, before.len() - referenced.len());
    assert_eq!(values(&storage).await, model);

    // A restart of the store that saw the faults opens, with the same rows.
    let reopened = open(Arc::clone(&faulty) as _).await;
    assert_eq!(values(&reopened).await, model);
}
