//! Helpers shared by the engine tests.
#![allow(dead_code, clippy::panic)]

use calypso_engine::{DEFAULT_DATABASE, Engine, QueryResult, RequestOptions};

/// Every cell of the first result table as Kusto text, row by row.
pub fn text_rows(r: &QueryResult) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in &r.tables[0].batches {
        for i in 0..b.num_rows() {
            out.push(
                b.columns()
                    .iter()
                    .map(|c| kql_functions::convert::kql_to_string(c.as_ref(), i))
                    .collect(),
            );
        }
    }
    out
}

/// Runs `q` in the default database; the first result as text (panics on an error).
pub async fn rows(e: &Engine, q: &str) -> Vec<Vec<String>> {
    match e
        .execute(DEFAULT_DATABASE, q, &RequestOptions::default())
        .await
    {
        Ok(r) => text_rows(&r),
        Err(err) => panic!("{q}: {err}"),
    }
}

/// The strings of column `column` of the first result table.
pub fn strings(r: &QueryResult, column: usize) -> Vec<String> {
    use arrow::array::{Array, StringArray};
    let mut out = Vec::new();
    for b in &r.tables[0].batches {
        let Some(c) = b.column(column).as_any().downcast_ref::<StringArray>() else {
            panic!("column {column} is not a string column");
        };
        out.extend((0..c.len()).map(|i| c.value(i).to_string()));
    }
    out
}

/// The first cell of the first result table, a long.
pub fn long(r: &QueryResult) -> i64 {
    use arrow::array::{Array, Int64Array};
    let b = &r.tables[0].batches[0];
    let Some(c) = b.column(0).as_any().downcast_ref::<Int64Array>() else {
        panic!("the first column is not a long column");
    };
    c.value(0)
}

/// Creates database `db` (from `NetDefaultDB`).
pub async fn create_db(e: &Engine) {
    if let Err(err) = e
        .execute(
            "NetDefaultDB",
            ".create database db",
            &RequestOptions::default(),
        )
        .await
    {
        panic!(".create database db: {err}");
    }
}
