//! Extent pruning through the engine: filters on datetime columns written with `ago()`,
//! `now()`, `datetime()` arithmetic and `between` skip extents by their statistics.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::Ordering;

use calypso_engine::{DEFAULT_DATABASE, Engine, RequestOptions};

async fn engine_with_three_extents() -> Engine {
    let e = Engine::new();
    let o = RequestOptions::default();
    e.execute(
        DEFAULT_DATABASE,
        ".create table T (ts:datetime, v:long)",
        &o,
    )
    .await
    .unwrap();
    for (day, v) in [("2026-01-01", 1), ("2026-06-01", 2), ("2026-11-20", 3)] {
        let cmd =
            format!(".ingest inline into table T <| {day}T00:00:00Z,{v}\n{day}T12:00:00Z,{v}");
        e.execute(DEFAULT_DATABASE, &cmd, &o).await.unwrap();
    }
    e
}

/// Runs `query` with now() = 2026-11-23; returns (sum of v, extents scanned, pruned).
async fn run(e: &Engine, query: &str) -> (String, u64, u64) {
    let c = e.storage().scan_counters();
    let (s0, p0) = (
        c.extents_scanned.load(Ordering::Relaxed),
        c.extents_pruned.load(Ordering::Relaxed),
    );
    let o = RequestOptions {
        query_now: kql_functions::convert::parse_datetime("2026-11-23T00:00:00Z"),
        ..RequestOptions::default()
    };
    let r = e
        .execute(
            DEFAULT_DATABASE,
            &format!("{query} | summarize s = sum(v)"),
            &o,
        )
        .await
        .unwrap();
    let batch = &r.tables[0].batches[0];
    let sum = kql_functions::convert::kql_to_string(batch.column(0).as_ref(), 0);
    (
        sum,
        c.extents_scanned.load(Ordering::Relaxed) - s0,
        c.extents_pruned.load(Ordering::Relaxed) - p0,
    )
}

#[tokio::test]
async fn ago_and_now_prune_extents() {
    let e = engine_with_three_extents().await;
    assert_eq!(run(&e, "T").await, ("12".into(), 3, 0));
    assert_eq!(run(&e, "T | where ts > ago(7d)").await, ("6".into(), 1, 2));
    assert_eq!(
        run(&e, "T | where ts >= now() - 30d").await,
        ("6".into(), 1, 2)
    );
    assert_eq!(
        run(&e, "T | where ts < ago(300d)").await,
        ("2".into(), 1, 2)
    );
    assert_eq!(
        run(&e, "T | where ts between (datetime(2026-05-01) .. 32d)").await,
        ("4".into(), 1, 2)
    );
    // 30 days after May 1st ends before the June extent: nothing to read.
    assert_eq!(
        run(&e, "T | where ts between (datetime(2026-05-01) .. 30d)").await,
        ("0".into(), 0, 3)
    );
    assert_eq!(
        run(&e, "T | where ts > datetime(2026-12-01) - 200d and v > 0").await,
        ("10".into(), 2, 1)
    );
}
