//! `async` commands (operations.md, show-operation-details.md, data-ingestion
//! `.set-or-append async`, clear-table-data-command.md): the reply is one `OperationId`;
//! `.show operations <id>` gives the operation's state and `.show operation <id> details`
//! the result the command gives when run synchronously.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use calypso_engine::{DEFAULT_DATABASE, Engine, RequestOptions};

async fn rows(e: &Engine, q: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let r = e
        .execute(DEFAULT_DATABASE, q, &RequestOptions::default())
        .await
        .unwrap_or_else(|err| panic!("{q}: {err}"));
    let t = &r.tables[0];
    let names = t.columns.iter().map(|(n, _)| n.clone()).collect();
    (names, common::text_rows(&r))
}

#[tokio::test]
async fn async_commands_answer_an_operation_id_with_details() {
    let e = Engine::new();
    rows(&e, ".create table T (a:long)").await;
    let (names, r) = rows(&e, ".set-or-append async T <| range a from 1 to 5 step 1").await;
    assert_eq!(names, ["OperationId"]);
    assert_eq!(r.len(), 1);
    let id = r[0][0].clone();
    assert_eq!(id.len(), 36, "a guid: {id}");

    let (_, ops) = rows(&e, &format!(".show operations {id} | project State")).await;
    assert_eq!(ops, [["Completed"]]);

    // The synchronous result of .set-or-append: one row per extent with its RowCount.
    let (names, details) = rows(&e, &format!(".show operation {id} details")).await;
    let rc = names.iter().position(|n| n == "RowCount").unwrap();
    assert_eq!(details[0][rc], "5");
    let (_, count) = rows(&e, "T | count").await;
    assert_eq!(count, [["5"]]);

    // The synchronous form still answers its result directly.
    let (names, _) = rows(&e, ".set-or-append T <| print a = 6").await;
    assert!(names.contains(&"RowCount".to_string()), "{names:?}");

    let (names, r) = rows(&e, ".clear async table T data").await;
    assert_eq!(names, ["OperationId"]);
    let (_, ops) = rows(&e, &format!(".show operations {} | project State", r[0][0])).await;
    assert_eq!(ops, [["Completed"]]);
    let (_, count) = rows(&e, "T | count").await;
    assert_eq!(count, [["0"]]);
}
