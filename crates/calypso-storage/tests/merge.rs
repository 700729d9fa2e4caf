//! Extent merge by the merge policy: small extents become fewer, rows are read once,
//! `drop-by:` tags are never mixed, the policy's bounds hold, older snapshots still read.
#![allow(clippy::unwrap_used)]

mod common;

use calypso_storage::{MergePolicy, Storage};
use common::{DB, T, batch, create_table, ingest, query, single_i64};
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::prelude::{SessionContext, col, lit};
use serde_json::json;

/// (count(*), sum(x)) over the table.
async fn count_sum(storage: &Storage) -> (i64, Option<i64>) {
    let out = query(storage, |df| {
        df.aggregate(vec![], vec![count(lit(1)), sum(col("x"))])
    })
    .await;
    (single_i64(&out, 0).unwrap(), single_i64(&out, 1))
}

fn extents(storage: &Storage) -> Vec<std::sync::Arc<calypso_storage::ExtentMeta>> {
    storage
        .catalog()
        .require_table(DB, T)
        .unwrap()
        .extents
        .clone()
}

/// `n` one-row extents with x = 1..=n.
async fn small_extents(storage: &Storage, n: i64) {
    for x in 1..=n {
        ingest(storage, &[batch(&[(x, x, "s")])]).await;
    }
}

async fn set_policy(storage: &Storage, policy: serde_json::Value) {
    storage
        .commit(move |c| {
            c.require_table_mut(DB, T)?
                .policies
                .insert("merge".into(), policy);
            Ok(())
        })
        .await
        .unwrap();
}

fn id_of_test_message(file: &str) -> Option<String> {
    file.strip_suffix(".msg").map(str::to_string)
}

#[tokio::test]
async fn merges_keep_only_the_ids_of_messages_that_still_wait() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    create_table(&storage).await;
    small_extents(&storage, 10).await;
    storage
        .commit(|c| {
            let t = c.require_table_mut(DB, T)?;
            for (i, id) in [(0, "done1"), (3, "waiting"), (5, "done2")] {
                std::sync::Arc::make_mut(&mut t.extents[i]).sources = vec![id.into()];
            }
            Ok(())
        })
        .await
        .unwrap();
    // One message still waits in its queue; the two others were deleted after their commit.
    storage
        .put_object("dm/q/waiting.msg", bytes::Bytes::from_static(b"{}"))
        .await
        .unwrap();
    storage
        .put_object("dm/q/unrelated.msg", bytes::Bytes::from_static(b"{}"))
        .await
        .unwrap();
    storage.keep_sources_while(calypso_storage::LiveSources {
        prefix: "dm/q",
        id_of: id_of_test_message,
    });
    assert_eq!(storage.merge_all().await.unwrap(), 1);
    let after = extents(&storage);
    assert_eq!(after.len(), 1);
    assert_eq!(
        after[0].sources,
        vec!["waiting"],
        "the ids of deleted messages are dropped, a waiting one is kept"
    );
    assert_eq!(count_sum(&storage).await, (10, Some(55)));
}

#[tokio::test]
async fn small_extents_merge_into_one_and_rows_stay_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = Storage::open_local(dir.path()).await.unwrap();
        create_table(&storage).await;
        small_extents(&storage, 30).await;
        assert_eq!(extents(&storage).len(), 30);
        // Two of them hold the rows of queued-ingestion messages.
        storage
            .commit(|c| {
                let t = c.require_table_mut(DB, T)?;
                for (i, id) in [(0, "m1"), (7, "m2")] {
                    std::sync::Arc::make_mut(&mut t.extents[i]).sources = vec![id.into()];
                }
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(storage.merge_all().await.unwrap(), 1);
        let after = extents(&storage);
        assert_eq!(after.len(), 1);
        assert_eq!(
            after[0].sources,
            vec!["m1", "m2"],
            "merges keep the message ids"
        );
        assert_eq!(after[0].rows, 30);
        assert_eq!(count_sum(&storage).await, (30, Some(465)));
        assert_eq!(
            storage.merge_all().await.unwrap(),
            0,
            "nothing left to merge"
        );
    }
    let storage = Storage::open_local(dir.path()).await.unwrap();
    assert_eq!(extents(&storage).len(), 1);
    assert_eq!(count_sum(&storage).await, (30, Some(465)));
    let files = walk(&dir.path().join("data"));
    assert_eq!(files, 1, "the merged-away files went at the restart");
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() { walk(&p) } else { 1 }
        })
        .sum()
}

#[tokio::test]
async fn extents_with_different_drop_by_tags_are_not_merged_together() {
    let storage = Storage::in_memory();
    create_table(&storage).await;
    small_extents(&storage, 4).await;
    storage
        .commit(|c| {
            let t = c.require_table_mut(DB, T)?;
            for (i, e) in t.extents_mut().enumerate() {
                e.tags = vec![format!("drop-by:{}", i % 2), format!("ingest-by:{i}")];
            }
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(storage.merge_all().await.unwrap(), 2);
    let mut tags: Vec<Vec<String>> = extents(&storage).iter().map(|e| e.tags.clone()).collect();
    tags.sort();
    assert_eq!(
        tags,
        vec![
            vec![
                "drop-by:0".to_string(),
                "ingest-by:0".into(),
                "ingest-by:2".into()
            ],
            vec![
                "drop-by:1".to_string(),
                "ingest-by:1".into(),
                "ingest-by:3".into()
            ],
        ]
    );
    assert_eq!(count_sum(&storage).await, (4, Some(10)));
}

#[tokio::test]
async fn the_policys_bounds_hold() {
    let storage = Storage::in_memory();
    create_table(&storage).await;
    small_extents(&storage, 5).await;

    set_policy(&storage, json!({"AllowMerge": false})).await;
    assert_eq!(storage.merge_all().await.unwrap(), 0);

    // At most two extents per merge: 5 -> 2 + 2 + 1.
    set_policy(&storage, json!({"MaxExtentsToMerge": 2})).await;
    assert_eq!(storage.merge_all().await.unwrap(), 2);
    let mut rows: Vec<u64> = extents(&storage).iter().map(|e| e.rows).collect();
    rows.sort();
    assert_eq!(rows, vec![1, 2, 2]);

    // At most three rows in a merged extent: 2 + 2 is too many, 1 + 2 is not.
    set_policy(&storage, json!({"RowCountUpperBoundForMerge": 3})).await;
    assert_eq!(storage.merge_all().await.unwrap(), 1);
    let mut rows: Vec<u64> = extents(&storage).iter().map(|e| e.rows).collect();
    rows.sort();
    assert_eq!(rows, vec![2, 3]);
    assert_eq!(count_sum(&storage).await, (5, Some(15)));
}

#[test]
fn the_policy_falls_back_to_the_database_then_to_adx_defaults() {
    let d = MergePolicy::default();
    assert_eq!(
        (
            d.row_count_upper_bound,
            d.max_extents,
            d.max_range_hours,
            d.allow_merge
        ),
        (16_000_000, 100, 24, true)
    );
    let table = json!({"MaxExtentsToMerge": 7});
    let database = json!({"MaxExtentsToMerge": 9, "MaxRangeInHours": 2});
    let p = MergePolicy::of(Some(&table), Some(&database));
    assert_eq!((p.max_extents, p.max_range_hours), (7, 2));
    assert_eq!(p.row_count_upper_bound, 16_000_000);
}

#[tokio::test]
async fn extents_created_far_apart_are_not_merged() {
    let storage = Storage::in_memory();
    create_table(&storage).await;
    small_extents(&storage, 3).await;
    storage
        .commit(|c| {
            let t = c.require_table_mut(DB, T)?;
            let times = [
                "2026-01-01T00:00:00Z",
                "2026-01-01T05:00:00Z",
                "2026-01-03T00:00:00Z",
            ];
            for (e, at) in t.extents_mut().zip(times) {
                e.created_on = at.into();
            }
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(storage.merge_all().await.unwrap(), 1);
    let mut rows: Vec<u64> = extents(&storage).iter().map(|e| e.rows).collect();
    rows.sort();
    assert_eq!(rows, vec![1, 2], "the third is 43 hours later");
    let merged = extents(&storage).into_iter().find(|e| e.rows == 2).unwrap();
    assert_eq!(
        merged.created_on, "2026-01-01T05:00:00Z",
        "the latest of its sources"
    );
}

#[tokio::test]
async fn renamed_columns_merge_under_their_new_names() {
    let storage = Storage::in_memory();
    create_table(&storage).await;
    small_extents(&storage, 2).await;
    common::rename_column(&storage, "x", "y").await;
    let t = storage.catalog().require_table(DB, T).unwrap().clone();
    let extent = storage
        .write_extent(DB, T, &[common::batch_of(&t, "y", 40)])
        .await
        .unwrap();
    storage
        .commit(move |c| {
            c.require_table_mut(DB, T)?.extents.push(extent.into());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(storage.merge_all().await.unwrap(), 1);
    let after = extents(&storage);
    assert_eq!(after.len(), 1);
    assert!(
        after[0].columns_as.is_empty(),
        "the merged file has the table's names"
    );
    let out = query(&storage, |df| df.aggregate(vec![], vec![sum(col("y"))])).await;
    assert_eq!(single_i64(&out, 0), Some(43));
}

#[tokio::test]
async fn a_query_on_the_version_before_a_merge_still_reads_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    create_table(&storage).await;
    small_extents(&storage, 3).await;
    let before = storage.extent_table(&storage.snapshot(), DB, T).unwrap();
    assert_eq!(storage.merge_all().await.unwrap(), 1);
    let ctx = SessionContext::new();
    ctx.register_table("old", before).unwrap();
    let out = ctx
        .table("old")
        .await
        .unwrap()
        .aggregate(vec![], vec![count(lit(1)), sum(col("x"))])
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(
        (single_i64(&out, 0), single_i64(&out, 1)),
        (Some(3), Some(6))
    );
    assert_eq!(count_sum(&storage).await, (3, Some(6)));
}

/// Sets the created time of the table's extents, in order.
async fn created(storage: &Storage, times: &'static [&'static str]) {
    storage
        .commit(move |c| {
            let t = c.require_table_mut(DB, T)?;
            for (e, at) in t.extents_mut().zip(times) {
                e.created_on = (*at).to_string();
            }
            Ok(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn retention_removes_extents_older_than_the_soft_delete_period() {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    {
        let storage = Storage::open_local(dir.path()).await.unwrap();
        create_table(&storage).await;
        small_extents(&storage, 3).await;
        created(
            &storage,
            &[
                "2026-11-01T00:00:00Z",
                "2026-12-01T00:00:00Z",
                "2026-12-03T11:00:00Z",
            ],
        )
        .await;
        assert_eq!(
            storage.apply_retention(now).await.unwrap(),
            0,
            "no policy: kept"
        );

        // The database's policy applies to a table without one...
        storage
            .commit(|c| {
                c.require_database_mut(DB)?.policies.insert(
                    "retention".into(),
                    json!({"SoftDeletePeriod": "10.00:00:00", "Recoverability": "Enabled"}),
                );
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(storage.apply_retention(now).await.unwrap(), 1);
        assert_eq!(count_sum(&storage).await, (2, Some(5)));

        // ... and the table's own overrides it.
        storage
            .commit(|c| {
                c.require_table_mut(DB, T)?.policies.insert(
                    "retention".into(),
                    json!({"SoftDeletePeriod": "1.00:00:00", "Recoverability": "Disabled"}),
                );
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(storage.apply_retention(now).await.unwrap(), 1);
        assert_eq!(count_sum(&storage).await, (1, Some(3)));
    }
    let storage = Storage::open_local(dir.path()).await.unwrap();
    assert_eq!(count_sum(&storage).await, (1, Some(3)), "durable");
}

/// `setNewIngestionTime`: the rows are written again; a move that fails (one id is not an
/// extent) leaves none of the files it wrote, and one that succeeds stamps every row anew.
#[tokio::test]
async fn moving_with_a_new_ingestion_time_writes_the_rows_again_or_nothing() {
    use calypso_storage::ExtentRef;
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    create_table(&storage).await;
    storage
        .commit(|c| {
            let t = c.require_table(DB, T)?.clone();
            let u = calypso_storage::Table::new("U", t.columns.clone());
            c.require_database_mut(DB)?
                .tables
                .insert("U".into(), u.into());
            Ok(())
        })
        .await
        .unwrap();
    small_extents(&storage, 2).await;
    let ids: Vec<String> = extents(&storage).iter().map(|e| e.id.clone()).collect();
    let before = extents(&storage);
    let data = dir.path().join("data");
    assert_eq!(walk(&data), 2);
    let r = |id: &str| ExtentRef {
        table: T.into(),
        id: id.into(),
    };
    let err = storage
        .move_extents(
            DB,
            "U",
            vec![r(&ids[0]), r("no-such-extent")],
            Vec::new(),
            true,
        )
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 404, "{err}");
    assert_eq!(
        walk(&data),
        2,
        "the rewritten file went with the failed move"
    );
    assert_eq!(extents(&storage).len(), 2);
    let (_, moved) = storage
        .move_extents(DB, "U", vec![r(&ids[0]), r(&ids[1])], Vec::new(), true)
        .await
        .unwrap();
    assert_eq!(moved.len(), 2);
    let u = storage.catalog().require_table(DB, "U").unwrap().clone();
    assert_eq!(u.extents.iter().map(|e| e.rows).sum::<u64>(), 2);
    for m in &moved {
        let source = before.iter().find(|e| e.id == m.original).unwrap();
        assert_ne!(m.result.path, source.path, "a new file");
        assert_eq!(
            m.result.created_on, source.created_on,
            "the creation time stays"
        );
        assert!(u.extents.iter().any(|e| e.id == m.result.id));
    }
    assert!(extents(&storage).is_empty());
}
