//! The row store: small ingests durable in the write-ahead log, visible at once, sealed
//! into extents in the background, each row read exactly once, across restarts.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use calypso_storage::{Column, Storage, StorageOptions};
use common::{DB, T, batch, clear_data, create_table, query, single_i64};
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::prelude::{col, lit};
use kql_types::KqlType;

/// Options that never seal by themselves (tests seal with `seal_all`).
fn no_auto_seal() -> StorageOptions {
    StorageOptions {
        seal_after: Duration::from_secs(3600),
        ..StorageOptions::default()
    }
}

async fn open(dir: &Path) -> Storage {
    Storage::open_local_with(dir, no_auto_seal()).await.unwrap()
}

/// (count(*), sum(x)) over the table.
async fn count_sum(storage: &Storage) -> (i64, Option<i64>) {
    let out = query(storage, |df| {
        df.aggregate(vec![], vec![count(lit(1)), sum(col("x"))])
    })
    .await;
    (single_i64(&out, 0).unwrap(), single_i64(&out, 1))
}

/// A storage in `dir` with table `T` and one hot row per value of `xs`.
async fn with_rows(dir: &Path, xs: &[i64]) -> Storage {
    let storage = open(dir).await;
    create_table(&storage).await;
    for x in xs {
        append(&storage, *x).await;
    }
    storage
}

async fn append(storage: &Storage, x: i64) {
    let appended = storage
        .append_rows(DB, T, &[batch(&[(x, x, "s")])])
        .await
        .unwrap();
    assert_eq!(appended.map(|a| a.rows), Some(1), "the row store took it");
}

#[tokio::test]
async fn rows_are_visible_at_once_and_read_once_after_sealing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = with_rows(dir.path(), &[1, 2, 3]).await;
    assert_eq!(count_sum(&storage).await, (3, Some(6)));
    let t = storage.catalog().require_table(DB, T).unwrap().clone();
    assert!(t.extents.is_empty(), "nothing sealed yet");

    assert_eq!(storage.seal_all().await.unwrap(), 1);
    let t = storage.catalog().require_table(DB, T).unwrap().clone();
    assert_eq!(t.extents.len(), 1);
    assert_eq!(t.extents[0].rows, 3);
    assert!(t.sealed_seq >= 3);
    assert!(storage.snapshot().hot.is_empty());
    assert_eq!(count_sum(&storage).await, (3, Some(6)), "each row once");

    // New rows after the seal are hot again, next to the extent.
    append(&storage, 10).await;
    assert_eq!(count_sum(&storage).await, (4, Some(16)));
}

#[tokio::test]
async fn a_snapshot_keeps_its_rows_while_a_seal_commits() {
    let dir = tempfile::tempdir().unwrap();
    let storage = with_rows(dir.path(), &[5]).await;
    let before = storage.snapshot();
    storage.seal_all().await.unwrap();
    let after = storage.snapshot();
    let t_before = before.catalog.require_table(DB, T).unwrap();
    let t_after = after.catalog.require_table(DB, T).unwrap();
    let hot = |s: &calypso_storage::Snapshot, id: &str| s.hot.table(id).map_or(0, |h| h.rows());
    assert_eq!(
        (t_before.total_rows(), hot(&before, &t_before.id)),
        (0, 1),
        "the old snapshot: in the row store"
    );
    assert_eq!(
        (t_after.total_rows(), hot(&after, &t_after.id)),
        (1, 0),
        "the new one: in the extent"
    );
}

#[tokio::test]
async fn acknowledged_rows_survive_a_restart_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    drop(with_rows(dir.path(), &[1, 2]).await);
    {
        let storage = open(dir.path()).await;
        assert_eq!(count_sum(&storage).await, (2, Some(3)), "replayed");
        storage.seal_all().await.unwrap();
        append(&storage, 4).await;
    }
    {
        let storage = open(dir.path()).await;
        assert_eq!(
            count_sum(&storage).await,
            (3, Some(7)),
            "sealed rows are not replayed again"
        );
        storage.seal_all().await.unwrap();
        assert!(
            storage.row_store_segments() <= 1,
            "sealed segments are deleted"
        );
    }
    let storage = open(dir.path()).await;
    assert_eq!(count_sum(&storage).await, (3, Some(7)));
    assert!(storage.snapshot().hot.is_empty());
}

#[tokio::test]
async fn a_torn_log_tail_is_cut_and_kept_aside() {
    let dir = tempfile::tempdir().unwrap();
    drop(with_rows(dir.path(), &[1, 2]).await);
    // A crash in the middle of writing a third entry.
    let wal = dir.path().join("wal");
    let segment = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "wal"))
        .unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let whole = bytes.len();
    bytes.extend_from_slice(b"CWL1\x40\x00\x00\x00garbage");
    std::fs::write(&segment, bytes).unwrap();

    let storage = open(dir.path()).await;
    assert_eq!(count_sum(&storage).await, (2, Some(3)));
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), whole as u64);
    assert_eq!(std::fs::read_dir(wal.join("torn")).unwrap().count(), 1);
    append(&storage, 3).await;
    drop(storage);
    let storage = open(dir.path()).await;
    assert_eq!(count_sum(&storage).await, (3, Some(6)));
}

#[tokio::test]
async fn clearing_the_table_discards_its_hot_rows_for_good() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = with_rows(dir.path(), &[1]).await;
        clear_data(&storage).await;
        assert_eq!(count_sum(&storage).await, (0, None));
        append(&storage, 7).await;
        assert_eq!(count_sum(&storage).await, (1, Some(7)));
    }
    let storage = open(dir.path()).await;
    assert_eq!(
        count_sum(&storage).await,
        (1, Some(7)),
        "the cleared row stays gone"
    );
}

#[tokio::test]
async fn renaming_and_dropping_columns_apply_to_hot_rows() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = with_rows(dir.path(), &[2, 3]).await;
        common::rename_column(&storage, "x", "y").await;
        let t = storage.catalog().require_table(DB, T).unwrap().clone();
        assert_eq!(t.extents.len(), 1, "the hot rows were sealed by the rename");
        assert!(storage.snapshot().hot.is_empty());
        let out = query(&storage, |df| df.aggregate(vec![], vec![sum(col("y"))])).await;
        assert_eq!(single_i64(&out, 0), Some(5));

        // A column of the old name, added again, does not see the old data.
        append_with_new_x(&storage).await;
        let out = query(&storage, |df| {
            df.aggregate(vec![], vec![sum(col("y")), sum(col("x"))])
        })
        .await;
        assert_eq!(
            (single_i64(&out, 0), single_i64(&out, 1)),
            (Some(5), Some(100))
        );
    }
    let storage = open(dir.path()).await;
    let out = query(&storage, |df| {
        df.aggregate(vec![], vec![sum(col("y")), sum(col("x")), count(lit(1))])
    })
    .await;
    assert_eq!(
        (
            single_i64(&out, 0),
            single_i64(&out, 1),
            single_i64(&out, 2)
        ),
        (Some(5), Some(100), Some(3))
    );
}

/// Adds column `x:long` at the end and appends one row with x = 100 (y null).
async fn append_with_new_x(storage: &Storage) {
    storage
        .commit(|c| {
            let t = c.require_table_mut(DB, T)?;
            t.columns.push(Column::new("x", KqlType::Long));
            Ok(())
        })
        .await
        .unwrap();
    let t = storage.catalog().require_table(DB, T).unwrap().clone();
    let b = common::batch_of(&t, "x", 100);
    storage.append_rows(DB, T, &[b]).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_dropped_tables_rows_do_not_come_back() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = with_rows(dir.path(), &[1]).await;
        storage
            .commit(|c| {
                c.require_database_mut(DB)?.tables.remove(T);
                Ok(())
            })
            .await
            .unwrap();
        assert!(storage.snapshot().hot.is_empty());
        create_table(&storage).await;
        assert_eq!(count_sum(&storage).await, (0, None));
    }
    let storage = open(dir.path()).await;
    assert_eq!(count_sum(&storage).await, (0, None));
}

#[tokio::test]
async fn rows_that_no_longer_fit_the_table_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    create_table(&storage).await;
    // The caller shaped the rows for the table before its `x` was dropped.
    storage
        .commit(|c| {
            let t = c.require_table_mut(DB, T)?;
            t.forget_column_data("x");
            t.columns.retain(|c| c.name != "x");
            Ok(())
        })
        .await
        .unwrap();
    let err = storage
        .append_rows(DB, T, &[batch(&[(1, 1, "a")])])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("changed during the ingestion"),
        "{err}"
    );
    assert!(storage.snapshot().hot.is_empty(), "nothing half-written");
    drop(storage);
    let storage = open(dir.path()).await;
    assert!(storage.snapshot().hot.is_empty(), "nothing logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingests_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    create_table(&storage).await;
    let (entries_before, syncs_before) = storage.row_store_writes();

    // A commit holds the lock while twenty ingests queue up behind it.
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let holder = {
        let storage = storage.clone();
        tokio::spawn(async move {
            storage
                .commit(move |c| {
                    started_tx.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(500));
                    c.require_table_mut(DB, T)?.docstring = Some("held".into());
                    Ok(())
                })
                .await
                .unwrap();
        })
    };
    tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
        .await
        .unwrap();
    let mut writers = Vec::new();
    for x in 1..=20 {
        let storage = storage.clone();
        writers.push(tokio::spawn(async move { append(&storage, x).await }));
    }
    holder.await.unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let (entries, syncs) = storage.row_store_writes();
    assert_eq!(entries - entries_before, 20);
    assert!(
        syncs - syncs_before <= 2,
        "twenty queued ingests took {} fsyncs",
        syncs - syncs_before
    );
    assert_eq!(count_sum(&storage).await, (20, Some(210)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sealer_seals_rows_once_they_are_old_enough() {
    let dir = tempfile::tempdir().unwrap();
    let options = StorageOptions {
        seal_after: Duration::from_millis(50),
        ..StorageOptions::default()
    };
    let storage = Storage::open_local_with(dir.path(), options).await.unwrap();
    create_table(&storage).await;
    append(&storage, 1).await;
    let mut sealed = false;
    for _ in 0..500 {
        if storage.snapshot().hot.is_empty() {
            sealed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sealed, "the background task sealed the rows");
    let t = storage.catalog().require_table(DB, T).unwrap().clone();
    assert_eq!(t.total_rows(), 1);
    assert_eq!(count_sum(&storage).await, (1, Some(1)));
}

#[tokio::test]
async fn an_in_memory_storage_has_no_row_store() {
    let storage = Storage::in_memory();
    create_table(&storage).await;
    let taken = storage
        .append_rows(DB, T, &[batch(&[(1, 1, "a")])])
        .await
        .unwrap();
    assert_eq!(taken, None, "the caller writes an extent");
}

/// A failed fsync of the row store's log fails the ingest with a clear error and leaves
/// nothing: the rows are not visible, the bytes written are taken back (a restart does not
/// replay them), and the next ingest goes through. When the bytes cannot be cut off again,
/// a marker voids them (a restart skips them too) and the log goes on in a new segment;
/// only when that marker cannot be written either does the log refuse every later write
/// until a restart, rather than risk acknowledging rows after an entry in an unknown state.
#[tokio::test]
async fn a_failed_log_fsync_fails_the_ingest_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = with_rows(dir.path(), &[1]).await;
        storage.inject_row_store_faults(1, false, false);
        let failed = storage.append_rows(DB, T, &[batch(&[(10, 10, "s")])]).await;
        let message = failed.expect_err("the fsync failed").to_string();
        assert!(message.contains("injected fsync failure"), "{message}");
        assert_eq!(count_sum(&storage).await, (1, Some(1)), "not visible");
        append(&storage, 2).await;
        assert_eq!(count_sum(&storage).await, (2, Some(3)));
    }
    {
        let storage = open(dir.path()).await;
        assert_eq!(count_sum(&storage).await, (2, Some(3)), "not replayed");
        // The bytes stay in the segment: the marker voids them.
        storage.inject_row_store_faults(1, true, false);
        let segments = storage.row_store_segments();
        let failed = storage.append_rows(DB, T, &[batch(&[(20, 20, "s")])]).await;
        assert!(failed.is_err());
        append(&storage, 4).await;
        // After a restart appends start a new segment: the failed one's (voided, closed)
        // and the next append's.
        assert_eq!(storage.row_store_segments(), segments + 2, "a new segment");
        assert_eq!(count_sum(&storage).await, (3, Some(7)));
    }
    {
        let storage = open(dir.path()).await;
        assert_eq!(
            count_sum(&storage).await,
            (3, Some(7)),
            "20 is not replayed"
        );
        append(&storage, 8).await;
        storage.inject_row_store_faults(1, true, true);
        let failed = storage.append_rows(DB, T, &[batch(&[(30, 30, "s")])]).await;
        assert!(failed.is_err());
        let refused = storage
            .append_rows(DB, T, &[batch(&[(40, 40, "s")])])
            .await
            .expect_err("the log is unusable");
        assert!(refused.to_string().contains("unusable"), "{refused}");
        assert!(refused.to_string().contains("marker"), "{refused}");
        assert_eq!(count_sum(&storage).await, (4, Some(15)));
    }
    // Sealing the rows deletes the voided segment with its marker.
    let storage = open(dir.path()).await;
    storage.seal_all().await.unwrap();
    let wal = dir.path().join("wal");
    let markers = std::fs::read_dir(&wal)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".void")
        })
        .count();
    assert_eq!(markers, 0);
}

/// A failed first append of a segment whose bytes stay is voided whole: after a restart
/// the segment is gone and its name is free for the next append.
#[tokio::test]
async fn a_voided_empty_segment_goes_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = with_rows(dir.path(), &[1]).await;
        storage.seal_all().await.unwrap();
        // The next append starts a new segment, and fails there.
        storage.inject_row_store_faults(1, true, false);
        assert!(
            storage
                .append_rows(DB, T, &[batch(&[(20, 20, "s")])])
                .await
                .is_err()
        );
    }
    let storage = open(dir.path()).await;
    assert_eq!(count_sum(&storage).await, (1, Some(1)));
    append(&storage, 2).await;
    drop(storage);
    let storage = open(dir.path()).await;
    assert_eq!(count_sum(&storage).await, (2, Some(3)));
}

/// A commit copies what it changes and shares the rest with the version before, by
/// pointer: the other tables (one with rows in the row store too, though every commit
/// adds and removes its stand-in) and the extents a changed table kept.
#[tokio::test]
async fn a_commit_shares_what_it_did_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    create_table(&storage).await;
    storage
        .commit(|c| {
            let u = calypso_storage::Table::new("U", vec![Column::new("x", KqlType::Long)]);
            c.require_database_mut(DB)?
                .tables
                .insert("U".into(), u.into());
            Ok(())
        })
        .await
        .unwrap();
    common::ingest(&storage, &[batch(&[(1, 1, "a")])]).await;
    append(&storage, 2).await;
    let before = storage.catalog();
    storage
        .commit(|c| {
            c.require_table_mut(DB, "U")?.docstring = Some("changed".into());
            Ok(())
        })
        .await
        .unwrap();
    let after = storage.catalog();
    assert_eq!(after.version, before.version + 1);
    let (b, a) = (&before.databases[DB], &after.databases[DB]);
    assert!(
        Arc::ptr_eq(&b.tables[T], &a.tables[T]),
        "T (with hot rows) is shared"
    );
    assert!(!Arc::ptr_eq(&b.tables["U"], &a.tables["U"]), "U changed");
    assert_eq!(a.tables["U"].docstring.as_deref(), Some("changed"));
    // An extent added to T: the extent it had stays shared, and so does U.
    common::ingest(&storage, &[batch(&[(3, 3, "c")])]).await;
    let later = storage.catalog();
    let l = &later.databases[DB];
    assert_eq!(l.tables[T].extents.len(), 2);
    assert!(Arc::ptr_eq(
        &a.tables[T].extents[0],
        &l.tables[T].extents[0]
    ));
    assert!(Arc::ptr_eq(&a.tables["U"], &l.tables["U"]));
    // What is shared is what is stored: the reopened catalog is the same.
    assert_eq!(count_sum(&storage).await, (3, Some(6)));
    drop((before, after, later));
    drop(storage);
    let reopened = open(dir.path()).await;
    assert_eq!(count_sum(&reopened).await, (3, Some(6)));
    let t = reopened.catalog().require_table(DB, "U").unwrap().clone();
    assert_eq!(t.docstring.as_deref(), Some("changed"));
}
