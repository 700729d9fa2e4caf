//! Queued ingestion inside the engine: the resources and their SAS tokens, blobs and blocks,
//! queue semantics, the worker (properties, status reports, blob cleanup), who may ingest
//! (an Ingestor of the table, named by the message's authorization context), and messages
//! that survive a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use calypso_auth::Identity;
use calypso_engine::queued::{
    FAILURE_QUEUE, INGESTION_QUEUE, Permission, Resource, SUCCESS_QUEUE, TEMP_CONTAINER,
};
use calypso_engine::{Caller, Engine, QueryResult, RequestOptions};
use common::{long, strings};
use serde_json::json;

const DB: &str = "db";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn user(name: &str) -> Caller {
    let claims = json!({
        "oid": format!("00000000-0000-0000-0000-{:0>12}", name.len()),
        "sub": format!("sub-{name}"),
        "tid": TENANT,
        "upn": format!("{name}@contoso.com"),
    });
    Caller::Principal(Box::new(
        Identity::from_claims(claims, &format!("https://sts.windows.net/{TENANT}/"), None).unwrap(),
    ))
}

async fn run(e: &Engine, text: &str) -> QueryResult {
    e.execute(DB, text, &RequestOptions::default())
        .await
        .unwrap_or_else(|err| panic!("{text}: {err}"))
}

/// The SAS query string of one resource kind.
async fn sas_of(e: &Engine, caller: &Caller, kind: &str) -> String {
    let r = e
        .execute_as(
            caller,
            DB,
            ".get ingestion resources",
            &RequestOptions::default(),
        )
        .await
        .unwrap();
    let kinds = strings(&r, 0);
    let urls = strings(&r, 1);
    let i = kinds.iter().position(|k| k == kind).unwrap();
    urls[i].split_once('?').unwrap().1.to_string()
}

async fn token(e: &Engine, caller: &Caller) -> String {
    let r = e
        .execute_as(
            caller,
            DB,
            ".get kusto identity token",
            &RequestOptions::default(),
        )
        .await
        .unwrap();
    strings(&r, 0).remove(0)
}

fn message(table: &str, blob: &str, report_level: i64, props: serde_json::Value) -> String {
    let m = json!({
        "BlobPath": format!("http://localhost/calypso/{TEMP_CONTAINER}/{blob}?sig=x"),
        "DatabaseName": DB,
        "TableName": table,
        "ReportLevel": report_level,
        "Id": uuid::Uuid::new_v4().to_string(),
        "AdditionalProperties": props,
    });
    STANDARD.encode(m.to_string())
}

async fn setup(e: &Engine) {
    common::create_db(e).await;
    run(e, ".create table T (a:long, s:string)").await;
    run(e, ".create table Other (a:long)").await;
}

#[tokio::test]
async fn resources_carry_signed_urls_at_the_public_address() {
    let e = Engine::new();
    setup(&e).await;
    let options = RequestOptions {
        public_url: Some("https://kusto.example:8443".into()),
        ..RequestOptions::default()
    };
    // The SDKs send it in NetDefaultDB, with a trailing space (Node).
    let r = e
        .execute("NetDefaultDB", ".get ingestion resources ", &options)
        .await
        .unwrap();
    let kinds = strings(&r, 0);
    assert_eq!(
        kinds,
        vec![
            "SecuredReadyForAggregationQueue",
            "FailedIngestionsQueue",
            "SuccessfulIngestionsQueue",
            "TempStorage",
            "IngestionsStatusTable"
        ]
    );
    let temp = &strings(&r, 1)[3];
    assert!(
        temp.starts_with("https://kusto.example:8443/calypso/tempstorage?sv=2022-11-02&se="),
        "{temp}"
    );
    let (_, sas) = temp.split_once('?').unwrap();
    let temp = Resource::Container(TEMP_CONTAINER);
    e.authorize_storage(temp, sas, Permission::Write)
        .await
        .unwrap();
    e.authorize_storage(temp, sas, Permission::Read)
        .await
        .unwrap();
    let denied = e
        .authorize_storage(temp, sas, Permission::Delete)
        .await
        .unwrap_err();
    assert_eq!(
        (denied.status, denied.code),
        (403, "AuthorizationPermissionMismatch")
    );
    // A container's token is no queue's.
    let other = e
        .authorize_storage(Resource::Queue(INGESTION_QUEUE), sas, Permission::Add)
        .await
        .unwrap_err();
    assert_eq!((other.status, other.code), (403, "AuthenticationFailed"));
    let missing = e
        .authorize_storage(Resource::Container("nope"), sas, Permission::Read)
        .await
        .unwrap_err();
    assert_eq!((missing.status, missing.code), (404, "ContainerNotFound"));
    // `with (EnableBlobCors=...)` (the browser SDK) is accepted.
    e.execute(
        "NetDefaultDB",
        ".get ingestion resources with (EnableBlobCors='true', EnableQueueCors='true')",
        &options,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn blocks_assemble_in_list_order_and_unknown_ids_fail() {
    let e = Engine::new();
    let c = TEMP_CONTAINER;
    e.put_block(c, "b", "QUE=", Bytes::from_static(b"1,a\n"))
        .await
        .unwrap();
    e.put_block(c, "b", "QkI=", Bytes::from_static(b"2,b\n"))
        .await
        .unwrap();
    let bad = e
        .put_block_list(c, "b", &["QUE=".into(), "Wlo=".into()], false)
        .await
        .unwrap_err();
    assert_eq!((bad.status, bad.code), (400, "InvalidBlockList"));
    assert_eq!(e.blob_properties(c, "b").await.unwrap_err().status, 404);
    let info = e
        .put_block_list(c, "b", &["QkI=".into(), "QUE=".into()], true)
        .await
        .unwrap();
    assert_eq!(info.size, 8);
    assert_eq!(
        e.get_blob(c, "b").await.unwrap().1,
        Bytes::from_static(b"2,b\n1,a\n")
    );
    // If-None-Match: * on an existing blob.
    let exists = e.put_blob(c, "b", Bytes::new(), true).await.unwrap_err();
    assert_eq!((exists.status, exists.code), (409, "BlobAlreadyExists"));
    e.delete_blob(c, "b").await.unwrap();
    assert_eq!(
        e.delete_blob(c, "b").await.unwrap_err().code,
        "BlobNotFound"
    );
}

#[tokio::test]
async fn queue_messages_follow_visibility_and_pop_receipts() {
    let e = Engine::new();
    let q = SUCCESS_QUEUE;
    e.put_message(q, "one".into(), None, None).await.unwrap();
    e.put_message(q, "two".into(), Some(3600), None)
        .await
        .unwrap();
    let peeked = e.peek_messages(q, 32).await.unwrap();
    assert_eq!(peeked.len(), 1, "the second is not visible yet");
    assert!(peeked[0].pop_receipt.is_none());
    let got = e.get_messages(q, 5, Some(60)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].text.as_str(), got[0].dequeue_count), ("one", 1));
    assert!(
        e.get_messages(q, 5, None).await.unwrap().is_empty(),
        "invisible now"
    );
    let wrong = e.delete_message(q, &got[0].id, "nope").await.unwrap_err();
    assert_eq!((wrong.status, wrong.code), (404, "MessageNotFound"));
    e.delete_message(q, &got[0].id, got[0].pop_receipt.as_deref().unwrap())
        .await
        .unwrap();
    assert!(e.peek_messages(q, 1).await.unwrap().is_empty());
    assert_eq!(e.get_messages(q, 33, None).await.unwrap_err().status, 400);
    assert_eq!(
        e.put_message("nope", "x".into(), None, None)
            .await
            .unwrap_err()
            .code,
        "QueueNotFound"
    );
    let big = "x".repeat(65 * 1024);
    assert_eq!(
        e.put_message(q, big, None, None).await.unwrap_err().code,
        "MessageTooLarge"
    );
}

#[tokio::test]
async fn the_worker_ingests_with_the_messages_properties_and_reports() {
    let e = Engine::new();
    setup(&e).await;
    let me = Caller::Unauthenticated;
    let ctx = token(&e, &me).await;
    e.put_blob(
        TEMP_CONTAINER,
        "ok.csv",
        Bytes::from_static(b"a,s\n1,x\n2,y\n"),
        false,
    )
    .await
    .unwrap();
    let props = json!({
        "authorizationContext": ctx,
        "format": "csv",
        "ignoreFirstRecord": true,
        "tags": "[\"drop-by:d1\", \"ingest-by:i1\"]",
        "creationTime": "2021-02-03T00:00:00Z",
    });
    e.put_message(
        INGESTION_QUEUE,
        message("T", "ok.csv", 2, props),
        None,
        None,
    )
    .await
    .unwrap();
    // A mapping that does not exist fails, and is reported (FailuresOnly).
    e.put_blob(TEMP_CONTAINER, "bad.csv", Bytes::from_static(b"1\n"), false)
        .await
        .unwrap();
    let bad =
        json!({"authorizationContext": ctx, "format": "csv", "ingestionMappingReference": "nope"});
    e.put_message(INGESTION_QUEUE, message("T", "bad.csv", 0, bad), None, None)
        .await
        .unwrap();
    assert_eq!(e.run_queued_ingestion().await.unwrap(), 2);
    assert_eq!(long(&run(&e, "T | summarize sum(a)").await), 3);
    let extent = run(
        &e,
        ".show table T extents | project Tags, tostring(MaxCreatedOn)",
    )
    .await;
    assert!(strings(&extent, 0)[0].contains("drop-by:d1"));
    assert_eq!(strings(&extent, 1)[0], "2021-02-03T00:00:00.0000000Z");
    let ok = e.get_messages(SUCCESS_QUEUE, 32, None).await.unwrap();
    assert_eq!(ok.len(), 1);
    let status: serde_json::Value =
        serde_json::from_slice(&STANDARD.decode(&ok[0].text).unwrap()).unwrap();
    assert_eq!(
        (status["Table"].as_str(), status["Database"].as_str()),
        (Some("T"), Some(DB))
    );
    assert!(status["SucceededOn"].is_string());
    let failed = e.get_messages(FAILURE_QUEUE, 32, None).await.unwrap();
    assert_eq!(failed.len(), 1);
    let status: serde_json::Value =
        serde_json::from_slice(&STANDARD.decode(&failed[0].text).unwrap()).unwrap();
    assert!(
        status["Details"].as_str().unwrap().contains("nope"),
        "{status}"
    );
    assert_eq!(status["FailureStatus"], "Permanent");
    // `.show ingestion failures` lists it, under the operation id of the report.
    let shown = run(
        &e,
        ".show ingestion failures | project tostring(OperationId), Table, Details, FailureKind, ErrorCode",
    )
    .await;
    let op = status["OperationId"].as_str().unwrap().to_string();
    assert_eq!(strings(&shown, 0), vec![op.clone()]);
    assert_eq!(strings(&shown, 1), vec!["T"]);
    assert!(strings(&shown, 2)[0].contains("nope"));
    assert_eq!(strings(&shown, 3), vec!["Permanent"]);
    let by_id = run(
        &e,
        &format!(".show ingestion failures with (OperationId = '{op}') | count"),
    )
    .await;
    assert_eq!(long(&by_id), 1);
    let other = run(
        &e,
        ".show ingestion failures with (OperationId = '00000000-0000-0000-0000-000000000001') | count",
    )
    .await;
    assert_eq!(long(&other), 0);
    // The blobs and the ingestion messages are gone.
    assert_eq!(
        e.blob_properties(TEMP_CONTAINER, "ok.csv")
            .await
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(
        e.blob_properties(TEMP_CONTAINER, "bad.csv")
            .await
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(e.run_queued_ingestion().await.unwrap(), 0);
}

#[tokio::test]
async fn only_ingestors_get_resources_and_each_message_is_authorized_on_its_table() {
    let e = Engine::new();
    setup(&e).await;
    let alice = user("alice");
    let denied = e
        .execute_as(
            &alice,
            DB,
            ".get ingestion resources",
            &RequestOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(denied.http_status(), 403, "{denied}");
    run(&e, ".add table T ingestors ('aaduser=alice@contoso.com')").await;
    let _ = sas_of(&e, &alice, "TempStorage").await;
    let ctx = token(&e, &alice).await;
    for (blob, table) in [("t.csv", "T"), ("o.csv", "Other")] {
        e.put_blob(TEMP_CONTAINER, blob, Bytes::from_static(b"5,z\n"), false)
            .await
            .unwrap();
        let props = json!({"authorizationContext": ctx, "format": "csv"});
        e.put_message(INGESTION_QUEUE, message(table, blob, 0, props), None, None)
            .await
            .unwrap();
    }
    // A context this server did not sign is refused.
    e.put_blob(TEMP_CONTAINER, "f.csv", Bytes::from_static(b"6\n"), false)
        .await
        .unwrap();
    let forged = json!({"authorizationContext": "stub-authorization-context"});
    e.put_message(
        INGESTION_QUEUE,
        message("Other", "f.csv", 0, forged),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(e.run_queued_ingestion().await.unwrap(), 3);
    assert_eq!(long(&run(&e, "T | count").await), 1);
    assert_eq!(long(&run(&e, "Other | count").await), 0);
    let failed = e.get_messages(FAILURE_QUEUE, 32, None).await.unwrap();
    let details: Vec<String> = failed
        .iter()
        .map(|m| {
            let v: serde_json::Value =
                serde_json::from_slice(&STANDARD.decode(&m.text).unwrap()).unwrap();
            v["Details"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(details.len(), 2, "{details:?}");
    assert!(
        details
            .iter()
            .any(|d| d.contains("not authorized to write table 'db.Other'")),
        "{details:?}"
    );
    assert!(
        details.iter().any(|d| d.contains("authorizationContext")),
        "{details:?}"
    );
}

#[tokio::test]
async fn accepted_messages_and_blobs_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = Engine::open(dir.path()).await.unwrap();
        setup(&e).await;
        let ctx = token(&e, &Caller::Unauthenticated).await;
        e.put_blob(
            TEMP_CONTAINER,
            "r.csv",
            Bytes::from_static(b"1,a\n2,b\n"),
            false,
        )
        .await
        .unwrap();
        let props = json!({"authorizationContext": ctx});
        e.put_message(INGESTION_QUEUE, message("T", "r.csv", 1, props), None, None)
            .await
            .unwrap();
    }
    // The secret is kept too, so the context signed before the restart still opens.
    let e = Engine::open(dir.path()).await.unwrap();
    assert_eq!(e.run_queued_ingestion().await.unwrap(), 1);
    assert_eq!(long(&run(&e, "T | count").await), 2);
    assert!(
        e.get_messages(FAILURE_QUEUE, 32, None)
            .await
            .unwrap()
            .is_empty()
    );
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A crash after a message's rows were committed but before the message was deleted: after
/// the restart the message is there again, and its rows are not ingested twice.
#[tokio::test]
async fn a_message_ingested_before_a_crash_is_not_ingested_again() {
    let dir = tempfile::tempdir().unwrap();
    let saved = tempfile::tempdir().unwrap();
    {
        let e = Engine::open(dir.path()).await.unwrap();
        setup(&e).await;
        let ctx = token(&e, &Caller::Unauthenticated).await;
        e.put_blob(
            TEMP_CONTAINER,
            "c.csv",
            Bytes::from_static(b"1,a\n2,b\n"),
            false,
        )
        .await
        .unwrap();
        let props = json!({"authorizationContext": ctx});
        e.put_message(INGESTION_QUEUE, message("T", "c.csv", 2, props), None, None)
            .await
            .unwrap();
        // The message and the blob as they were before the worker took them.
        copy_tree(&dir.path().join("dm"), saved.path());
        assert_eq!(e.run_queued_ingestion().await.unwrap(), 1);
        assert_eq!(long(&run(&e, "T | count").await), 2);
    }
    // The crash: the deletions are undone.
    copy_tree(saved.path(), &dir.path().join("dm"));
    let e = Engine::open(dir.path()).await.unwrap();
    assert_eq!(e.run_queued_ingestion().await.unwrap(), 1);
    assert_eq!(long(&run(&e, "T | count").await), 2, "ingested once");
    // It still reports success (the rows are there) and the blob goes.
    assert_eq!(
        e.get_messages(SUCCESS_QUEUE, 32, None).await.unwrap().len(),
        2
    );
    assert_eq!(
        e.blob_properties(TEMP_CONTAINER, "c.csv")
            .await
            .unwrap_err()
            .status,
        404
    );
}

fn sized_message(table: &str, blob: &str, props: serde_json::Value) -> String {
    let m = json!({
        "BlobPath": format!("http://localhost/calypso/{TEMP_CONTAINER}/{blob}?sig=x"),
        "DatabaseName": DB,
        "TableName": table,
        "RawDataSize": 4,
        "ReportLevel": 1,
        "FlushImmediately": false,
        "Id": uuid::Uuid::new_v4().to_string(),
        "AdditionalProperties": props,
    });
    STANDARD.encode(m.to_string())
}

/// The IngestionBatching policy: messages of a known size wait until a batch seals (here
/// by count), and a sealed batch becomes one extent; other properties, another batch;
/// `FlushImmediately` and `ingest-by:` go alone at once.
#[tokio::test]
async fn messages_are_batched_by_the_ingestion_batching_policy() {
    let e = Engine::new();
    setup(&e).await;
    let ctx = token(&e, &Caller::Unauthenticated).await;
    let put = |name: &'static str, rows: &'static [u8]| {
        let e = &e;
        async move {
            e.put_blob(TEMP_CONTAINER, name, Bytes::from_static(rows), false)
                .await
                .unwrap();
        }
    };
    put("b1.csv", b"1,a\n").await;
    e.put_message(
        INGESTION_QUEUE,
        sized_message("T", "b1.csv", json!({"authorizationContext": ctx})),
        None,
        None,
    )
    .await
    .unwrap();
    // The default policy waits 5 minutes for more.
    assert_eq!(e.run_queued_ingestion().await.unwrap(), 0);
    assert_eq!(long(&run(&e, "T | count").await), 0);
    run(
        &e,
        r#".alter table T policy ingestionbatching '{"MaximumNumberOfItems": 3}'"#,
    )
    .await;
    for (blob, rows) in [("b2.csv", b"2,b\n" as &[u8]), ("b3.csv", b"3,c\n")] {
        e.put_blob(TEMP_CONTAINER, blob, Bytes::copy_from_slice(rows), false)
            .await
            .unwrap();
    }
    // Another tag: another batch, still open.
    e.put_message(
        INGESTION_QUEUE,
        sized_message(
            "T",
            "b2.csv",
            json!({"authorizationContext": ctx, "tags": "[\"other\"]"}),
        ),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(e.run_queued_ingestion().await.unwrap(), 0);
    e.put_message(
        INGESTION_QUEUE,
        sized_message("T", "b3.csv", json!({"authorizationContext": ctx})),
        None,
        None,
    )
    .await
    .unwrap();
    put("b4.csv", b"4,d\n").await;
    e.put_message(
        INGESTION_QUEUE,
        sized_message("T", "b4.csv", json!({"authorizationContext": ctx})),
        None,
        None,
    )
    .await
    .unwrap();
    // b1, b3, b4: three items seal the batch, one extent.
    assert_eq!(e.run_queued_ingestion().await.unwrap(), 3);
    let extents = run(&e, ".show table T extents | project RowCount").await;
    assert_eq!(extents.tables[0].row_count(), 1, "one extent for the batch");
    assert_eq!(long(&run(&e, "T | summarize sum(a)").await), 8);
    // FlushImmediately: alone, at once.
    let flush = json!({
        "BlobPath": format!("http://localhost/calypso/{TEMP_CONTAINER}/b2.csv?sig=x"),
        "DatabaseName": DB, "TableName": "T", "RawDataSize": 4, "FlushImmediately": true,
        "AdditionalProperties": {"authorizationContext": ctx, "tags": "[\"other\"]"},
    });
    e.put_message(
        INGESTION_QUEUE,
        STANDARD.encode(flush.to_string()),
        None,
        None,
    )
    .await
    .unwrap();
    // The flushed message, and then the b2 one that waited (its blob went with the first).
    assert_eq!(e.run_queued_ingestion().await.unwrap(), 1);
    assert_eq!(long(&run(&e, "T | summarize sum(a)").await), 10);
}
