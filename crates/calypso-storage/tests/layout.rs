//! The layout of extent files: rows sorted by the table's first `datetime` column, page
//! statistics kept as the file's page index, times without a dictionary, the hidden
//! `$IngestionTime`; and what it buys: a narrow time filter reads a small part of what a
//! full scan reads (bytes counted by the storage's object store).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;

use arrow::array::{Array, AsArray};
use arrow::datatypes::TimestampNanosecondType;
use calypso_storage::Storage;
use common::{DB, T, batch, create_table, ingest, session};
use datafusion::dataframe::DataFrame;
use datafusion::functions_aggregate::expr_fn::{max, sum};
use datafusion::prelude::{col, ident, lit};
use datafusion::scalar::ScalarValue;
use object_store::ObjectStoreExt;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Encoding;

const DAY: i64 = 86_400;

/// `days` days of `per_day` rows, interleaved (every batch holds rows of every day).
fn rows(days: i64, per_day: i64, seed: u64) -> Vec<(i64, i64, String)> {
    let mut x = seed;
    let mut out = Vec::new();
    for i in 0..per_day {
        for d in 0..days {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let secs = d * DAY + ((x >> 33) as i64 % DAY);
            out.push((secs, i, format!("s{}", (x >> 40) % 5)));
        }
    }
    out
}

fn as_batch(rows: &[(i64, i64, String)]) -> arrow::record_batch::RecordBatch {
    let r: Vec<(i64, i64, &str)> = rows.iter().map(|(a, b, c)| (*a, *b, c.as_str())).collect();
    batch(&r)
}

#[tokio::test]
async fn extents_are_sorted_by_time_with_a_page_index() {
    let storage = Storage::in_memory();
    create_table(&storage).await;
    let e = ingest(&storage, &[as_batch(&rows(10, 2000, 7))]).await;
    let bytes = storage
        .object_store()
        .get(&object_store::path::Path::from(e.path.as_str()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    let meta = std::sync::Arc::clone(builder.metadata());
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["Timestamp", "x", "s", "$IngestionTime"]);
    let mut last = i64::MIN;
    let mut n = 0;
    for b in builder.build().unwrap() {
        let b = b.unwrap();
        let ts = b.column(0).as_primitive::<TimestampNanosecondType>();
        for i in 0..ts.len() {
            assert!(ts.value(i) >= last, "sorted by Timestamp");
            last = ts.value(i);
            n += 1;
        }
        assert_eq!(
            b.column(3).null_count(),
            0,
            "every row has its ingestion time"
        );
    }
    assert_eq!(n, 20_000);
    let rg = meta.row_group(0);
    let ts = rg.column(0);
    assert!(ts.column_index_offset().is_some() && ts.offset_index_offset().is_some());
    assert!(
        !ts.encodings()
            .any(|e| matches!(e, Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY)),
        "times have no dictionary"
    );
    assert!(ts.encodings().any(|e| e == Encoding::DELTA_BINARY_PACKED));
    assert!(
        rg.column(2)
            .encodings()
            .any(|e| matches!(e, Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY)),
        "low-cardinality strings keep theirs"
    );
    assert!(rg.num_rows() > 0 && meta.num_row_groups() == 1);
    assert!(
        meta.row_group(0).column(0).statistics().is_some(),
        "row-group statistics"
    );
}

#[tokio::test]
async fn a_one_day_filter_reads_a_small_part_of_thirty_days() {
    let storage = Storage::in_memory();
    create_table(&storage).await;
    // Three ingestions of rows from all 30 days, merged into one sorted extent.
    for seed in 0..3 {
        ingest(&storage, &[as_batch(&rows(30, 4000, seed))]).await;
    }
    assert_eq!(storage.merge_all().await.unwrap(), 1);
    assert_eq!(storage.catalog().table(DB, T).unwrap().extents.len(), 1);
    let counters = storage.scan_counters();
    // One session for both, as the engine has: the file's footer and page index are read
    // once and then cached.
    let ctx = session(&storage);
    let run = |f: Box<dyn FnOnce(DataFrame) -> datafusion::error::Result<DataFrame>>| {
        let ctx = ctx.clone();
        async move {
            f(ctx.table(T).await.unwrap())
                .unwrap()
                .collect()
                .await
                .unwrap()
        }
    };

    let before = counters.bytes_read.load(Ordering::Relaxed);
    let full = run(Box::new(|df| {
        df.aggregate(vec![], vec![sum(col("x")), max(ident("Timestamp"))])
    }))
    .await;
    let full_bytes = counters.bytes_read.load(Ordering::Relaxed) - before;
    assert_eq!(full[0].num_rows(), 1);

    let from = ScalarValue::TimestampNanosecond(Some(14 * DAY * 1_000_000_000), None);
    let to = ScalarValue::TimestampNanosecond(Some(15 * DAY * 1_000_000_000), None);
    let before = counters.bytes_read.load(Ordering::Relaxed);
    let day = run(Box::new(move |df| {
        df.filter(
            ident("Timestamp")
                .gt_eq(lit(from))
                .and(ident("Timestamp").lt(lit(to))),
        )?
        .aggregate(
            vec![],
            vec![
                datafusion::functions_aggregate::expr_fn::count(col("x")),
                max(ident("Timestamp")),
            ],
        )
    }))
    .await;
    let day_bytes = counters.bytes_read.load(Ordering::Relaxed) - before;
    let count = day[0]
        .column(0)
        .as_primitive::<arrow::datatypes::Int64Type>();
    assert_eq!(count.value(0), 12_000, "every row of that day");
    let ratio = day_bytes as f64 / full_bytes as f64;
    assert!(
        ratio < 0.15,
        "one day of 30 read {day_bytes} bytes, the full scan {full_bytes} ({ratio:.3})"
    );
}
