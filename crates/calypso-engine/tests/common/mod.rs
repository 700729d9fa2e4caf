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
