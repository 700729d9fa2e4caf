//! Window functions (`row_number`, `prev`, `next`) after `serialize` and after `order by`
//! over stored tables made of several extents (issue 8: `serialize rn = row_number()` over a
//! stored table failed with DataFusion's "ORDER BY column cannot be empty"). Expected values
//! follow the documented semantics: `row_number()` numbers the serialized rows from 1 (or
//! its start), `prev()`/`next()` read the row before/after in that same order (null, or the
//! default, beyond the ends), and the order of a serialized row set is kept.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use calypso_engine::{DEFAULT_DATABASE, Engine, RequestOptions};
use common::rows;

/// `T (k:string, v:long)` with v = 1..12 in four extents, and the docs' `Flights`
/// (row_number() example) in three extents.
async fn engine_with_extents() -> Engine {
    let e = Engine::new();
    let o = RequestOptions::default();
    for cmd in [
        ".create table T (k:string, v:long)",
        ".create table Flights (Airport:string, Airline:string, Departures:long)",
        ".ingest inline into table Flights <| TLV,LH,1\nSEA,LY,0",
        ".ingest inline into table Flights <| TLV,LY,100\nSEA,BA,2",
        ".ingest inline into table Flights <| SEA,LH,1",
    ] {
        e.execute(DEFAULT_DATABASE, cmd, &o).await.unwrap();
    }
    for chunk in [[7, 8, 9], [1, 2, 3], [10, 11, 12], [4, 5, 6]] {
        let rows: Vec<String> = chunk.iter().map(|v| format!("k{v},{v}")).collect();
        let cmd = format!(".ingest inline into table T <| {}", rows.join("\n"));
        e.execute(DEFAULT_DATABASE, &cmd, &o).await.unwrap();
    }
    let extents = rows(&e, ".show table T extents | count").await;
    assert_eq!(extents, vec![vec!["4".to_string()]]);
    e
}

fn table(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// Values of column `i` as numbers (`None` for an empty cell).
fn longs(rows: &[Vec<String>], i: usize) -> Vec<Option<i64>> {
    rows.iter().map(|r| r[i].parse().ok()).collect()
}

#[tokio::test]
async fn row_number_after_serialize_counts_every_row_once() {
    let e = engine_with_extents().await;
    assert_eq!(
        rows(
            &e,
            "T | serialize rn = row_number() | where rn between (3 .. 7) | count"
        )
        .await,
        table("5")
    );
    assert_eq!(
        rows(
            &e,
            "T | serialize rn = row_number() | summarize min(rn), max(rn), dcount(rn), count()"
        )
        .await,
        table("1 12 12 12")
    );
    assert_eq!(
        rows(
            &e,
            "T | serialize rn = row_number(10) | summarize min(rn), max(rn), dcount(rn)"
        )
        .await,
        table("10 21 12")
    );
    // the serialized order is kept: the rows come back numbered 1, 2, 3, ...
    let r = rows(&e, "T | serialize rn = row_number() | where v > 0").await;
    assert_eq!(longs(&r, 2), (1..=12).map(Some).collect::<Vec<_>>());
    let r = rows(&e, "T | serialize | extend rn = row_number() | take 12").await;
    assert_eq!(longs(&r, 2), (1..=12).map(Some).collect::<Vec<_>>());
}

#[tokio::test]
async fn prev_and_next_after_serialize_follow_the_serialized_order() {
    let e = engine_with_extents().await;
    // prev/next agree with row_number: the row before rn is rn - 1.
    let r = rows(
        &e,
        "T | serialize rn = row_number(), p = prev(v), n = next(v), pr = prev(rn), nr = next(rn, 2, -1)",
    )
    .await;
    assert_eq!(r.len(), 12);
    let (v, rn, p, n, pr, nr) = (
        longs(&r, 1),
        longs(&r, 2),
        longs(&r, 3),
        longs(&r, 4),
        longs(&r, 5),
        longs(&r, 6),
    );
    assert_eq!(rn, (1..=12).map(Some).collect::<Vec<_>>());
    for i in 0..12 {
        assert_eq!(p[i], if i == 0 { None } else { v[i - 1] }, "prev at {i}");
        assert_eq!(n[i], v.get(i + 1).copied().flatten(), "next at {i}");
        assert_eq!(pr[i], if i == 0 { None } else { rn[i - 1] });
        assert_eq!(nr[i], if i + 2 < 12 { rn[i + 2] } else { Some(-1) });
    }
    let mut all = v.clone();
    all.sort();
    assert_eq!(all, (1..=12).map(Some).collect::<Vec<_>>());
    // without row_number(): prev() reads the row before in the output order.
    let r = rows(&e, "T | serialize | extend p = prev(v, 1, 0)").await;
    let (v, p) = (longs(&r, 1), longs(&r, 2));
    for i in 0..12 {
        assert_eq!(p[i], if i == 0 { Some(0) } else { v[i - 1] }, "prev at {i}");
    }
    // operators after the numbering keep its order
    let r = rows(
        &e,
        "T | serialize rn = row_number() | where rn > 6 | extend p = prev(rn)",
    )
    .await;
    assert_eq!(longs(&r, 2), (7..=12).map(Some).collect::<Vec<_>>());
    assert_eq!(
        longs(&r, 3),
        [None, Some(7), Some(8), Some(9), Some(10), Some(11)]
    );
}

#[tokio::test]
async fn window_functions_after_order_by() {
    let e = engine_with_extents().await;
    assert_eq!(
        rows(
            &e,
            "T | order by v asc | extend rn = row_number(), p = prev(v), n = next(v, 1, -1) \
             | where rn between (3 .. 6) | project v, rn, p, n"
        )
        .await,
        table("3 3 2 4\n4 4 3 5\n5 5 4 6\n6 6 5 7")
    );
    assert_eq!(
        rows(
            &e,
            "T | order by v desc | serialize rn = row_number() | where rn <= 3 | project v, rn, p = prev(v, 2)"
        )
        .await,
        table("12 1 \n11 2 \n10 3 12")
            .into_iter()
            .map(|mut r| {
                if r.len() == 2 {
                    r.push(String::new());
                }
                r
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(
        rows(
            &e,
            "T | order by v asc | serialize rn = row_number() | where rn between (3 .. 7) | count"
        )
        .await,
        table("5")
    );
    // the row_number() docs' example, over a stored table: restart when the airport changes
    assert_eq!(
        rows(
            &e,
            "Flights | sort by Airport asc, Departures desc \
             | extend Rank = row_number(1, prev(Airport) != Airport)"
        )
        .await,
        table("SEA BA 2 1\nSEA LH 1 2\nSEA LY 0 3\nTLV LY 100 1\nTLV LH 1 2")
    );
    // top keeps its order too
    assert_eq!(
        rows(
            &e,
            "T | top 3 by v desc | extend rn = row_number(), n = next(v) | project v, rn, n"
        )
        .await,
        table("12 1 11\n11 2 10\n10 3")
            .into_iter()
            .map(|mut r| {
                if r.len() == 2 {
                    r.push(String::new());
                }
                r
            })
            .collect::<Vec<_>>()
    );
}

/// Enough rows for DataFusion to split the work between partitions after the numbering:
/// the serialized order (rn ascending) must still be the result's order, and `prev()`
/// computed next to `row_number()` reads the row numbered rn - 1.
#[tokio::test(flavor = "multi_thread")]
async fn the_serialized_order_survives_repartitioning() {
    let e = Engine::new();
    let o = RequestOptions::default();
    e.execute(DEFAULT_DATABASE, ".create table Big (v:long)", &o)
        .await
        .unwrap();
    for c in 0..4 {
        let rows: Vec<String> = (0..30_000).map(|i| (c * 30_000 + i).to_string()).collect();
        let cmd = format!(".ingest inline into table Big <| {}", rows.join("\n"));
        e.execute(DEFAULT_DATABASE, &cmd, &o).await.unwrap();
    }
    let r = rows(
        &e,
        "Big | serialize rn = row_number() | where rn % 2 == 0 | project rn",
    )
    .await;
    assert_eq!(
        longs(&r, 0),
        (1..=60_000).map(|i| Some(2 * i)).collect::<Vec<_>>()
    );
    let r = rows(
        &e,
        "Big | serialize p = prev(v), rn = row_number() | extend s = strcat('x', v) \
         | where s != 'y' | project v, p, rn",
    )
    .await;
    assert_eq!(longs(&r, 2), (1..=120_000).map(Some).collect::<Vec<_>>());
    let (v, p) = (longs(&r, 0), longs(&r, 1));
    assert_eq!(p[0], None);
    assert!((1..v.len()).all(|i| p[i] == v[i - 1]));
}
