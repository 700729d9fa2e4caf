//! `fork` and `facet` give one result table per leg, in order, named by the leg's `name=`
//! or `as` (fork-operator.md, facet-operator.md), each computed over the same input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use calypso_engine::{Engine, QueryResult, RequestOptions};

const DB: &str = "db";

async fn run(e: &Engine, text: &str) -> QueryResult {
    e.execute(DB, text, &RequestOptions::default())
        .await
        .unwrap_or_else(|err| panic!("{text}: {err}"))
}

fn rows(r: &QueryResult, i: usize) -> usize {
    r.tables[i].batches.iter().map(|b| b.num_rows()).sum()
}

async fn setup() -> Engine {
    let e = Engine::new();
    common::create_db(&e).await;
    run(
        &e,
        ".create table Storm (State: string, Deaths: long, Injuries: long)",
    )
    .await;
    run(
        &e,
        ".ingest inline into table Storm <|\nFLORIDA,2,0\nFLORIDA,0,3\nFLORIDA,1,5\nTEXAS,4,1",
    )
    .await;
    e
}

#[tokio::test]
async fn fork_gives_a_table_per_leg_named_as_the_docs_say() {
    let e = setup().await;
    let r = run(
        &e,
        "Storm | where State == 'FLORIDA' | fork StormsWithDeaths = (where Deaths > 0) (where Injuries > 1 | as StormsWithInjuries) (count)",
    )
    .await;
    let names: Vec<&str> = r.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["StormsWithDeaths", "StormsWithInjuries", "PrimaryResult"]
    );
    assert_eq!((rows(&r, 0), rows(&r, 1), rows(&r, 2)), (2, 2, 1));
    let count = r.tables[2].batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .value(0);
    assert_eq!(count, 3);
}

#[tokio::test]
async fn facet_gives_the_with_table_then_a_count_per_column() {
    let e = setup().await;
    let r = run(
        &e,
        "Storm | facet by State, Deaths with (where Deaths > 1 | take 5)",
    )
    .await;
    assert_eq!(r.tables.len(), 3);
    assert_eq!(rows(&r, 0), 2);
    assert_eq!(
        r.tables[1]
            .columns
            .iter()
            .map(|c| c.0.as_str())
            .collect::<Vec<_>>(),
        ["State", "count_State"]
    );
    assert_eq!(rows(&r, 1), 2);
    assert_eq!(
        r.tables[2]
            .columns
            .iter()
            .map(|c| c.0.as_str())
            .collect::<Vec<_>>(),
        ["Deaths", "count_Deaths"]
    );
    assert_eq!(rows(&r, 2), 4);
}

#[tokio::test]
async fn preview_gives_the_first_rows_then_the_count() {
    let e = setup().await;
    let r = run(&e, "Storm | evaluate preview(2)").await;
    assert_eq!(r.tables.len(), 2);
    assert_eq!(rows(&r, 0), 2);
    assert_eq!(r.tables[0].columns.len(), 3);
    assert_eq!(r.tables[1].columns[0].0, "Count");
}
