//! `.ingest [async] into table T (sources)`: from local files below the allowed directories
//! only, from http URLs (a server on 127.0.0.1), from the blobs this engine hands out (SAS
//! checked) and from `.show export containers`; streaming ingestion from a URI; update
//! policies run by streaming and queued ingestion; queued work in `.show operations`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;

use arrow::array::{Int64Array, StringArray};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use calypso_engine::queued::{EXPORT_CONTAINER, INGESTION_QUEUE, TEMP_CONTAINER};
use calypso_engine::{Engine, EngineError, MappingSpec, QueryResult, RequestOptions};
use common::{long, strings};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DB: &str = "db";

async fn run(e: &Engine, text: &str) -> QueryResult {
    e.execute(DB, text, &RequestOptions::default())
        .await
        .unwrap_or_else(|err| panic!("{text}: {err}"))
}

async fn fails(e: &Engine, text: &str) -> EngineError {
    match e.execute(DB, text, &RequestOptions::default()).await {
        Ok(_) => panic!("{text}: succeeded"),
        Err(err) => err,
    }
}

async fn count(e: &Engine, table: &str) -> i64 {
    long(&run(e, &format!("{table} | count")).await)
}

async fn setup(e: &Engine) {
    common::create_db(e).await;
    run(e, ".create table T (a:long, s:string)").await;
}

/// A one-connection-at-a-time HTTP server on 127.0.0.1: `/a.csv`, `/b.csv.gz`, else 404.
async fn http_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut gz = flate2_gzip(b"3,c\n4,d\n");
    gz.shrink_to_fit();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let gz = gz.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let target = head.split_whitespace().nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or("/").to_string();
                let (status, body): (&str, Vec<u8>) = match path.as_str() {
                    "/a.csv" => ("200 OK", b"1,a\n2,b\n".to_vec()),
                    "/b.csv.gz" => ("200 OK", gz),
                    _ => ("404 Not Found", b"no".to_vec()),
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.write_all(&body).await;
            });
        }
    });
    format!("http://{addr}")
}

fn flate2_gzip(data: &[u8]) -> Vec<u8> {
    // A stored (uncompressed) deflate block inside a gzip member: enough for a reader.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.push(1);
    let len = data.len() as u16;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn local_files_only_below_the_allowed_directories() {
    let e = Engine::new();
    setup(&e).await;
    let tmp = tempfile::tempdir().unwrap();
    let inside = tmp.path().join("in");
    std::fs::create_dir(&inside).unwrap();
    let file = inside.join("x.csv");
    std::fs::File::create(&file)
        .unwrap()
        .write_all(b"a,s\n1,one\n2,two\n")
        .unwrap();
    let outside = tmp.path().join("secret.csv");
    std::fs::write(&outside, "9,nine\n").unwrap();
    let ingest = format!(
        ".ingest into table T (h'file://{}') with (format='csv', ignoreFirstRecord=true)",
        file.display()
    );
    // Off by default.
    let off = fails(&e, &ingest).await;
    assert!(matches!(off, EngineError::Forbidden(_)), "{off}");
    assert!(off.to_string().contains("--ingest-from-dir"), "{off}");
    e.allow_ingest_from_dirs(vec![inside.clone()]);
    let r = run(&e, &ingest).await;
    assert_eq!(
        r.tables[0]
            .columns
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        [
            "ExtentId",
            "ItemLoaded",
            "Duration",
            "HasErrors",
            "OperationId"
        ]
    );
    assert_eq!(strings(&r, 1), [format!("file://{}", file.display())]);
    assert_eq!(strings(&r, 3), ["False"]);
    assert_eq!(count(&e, "T").await, 2, "the header was skipped");
    assert_eq!(
        long(&run(&e, "T | summarize sum(a)").await),
        3,
        "values as written"
    );
    // `..` and absolute paths outside are refused; nothing is ingested.
    for path in [
        format!("{}/../secret.csv", inside.display()),
        outside.display().to_string(),
    ] {
        let e2 = fails(&e, &format!(".ingest into table T ('{path}')")).await;
        assert!(matches!(e2, EngineError::Forbidden(_)), "{path}: {e2}");
    }
    assert_eq!(count(&e, "T").await, 2);
}

#[tokio::test]
async fn http_sources_are_ingested_together_as_one_extent() {
    let e = Engine::new();
    setup(&e).await;
    let base = http_server().await;
    let r = run(
        &e,
        &format!(".ingest into table T (h'{base}/a.csv', h'{base}/b.csv.gz?sig=secret') with (tags='[\"drop-by:web\"]')"),
    )
    .await;
    assert_eq!(
        strings(&r, 1),
        [format!("{base}/a.csv, {base}/b.csv.gz")],
        "sources named without their query string"
    );
    assert_eq!(count(&e, "T").await, 4);
    let extents = run(&e, ".show table T extents | project Tags").await;
    assert_eq!(strings(&extents, 0), ["drop-by:web"], "one extent");
    // A source that fails fails the whole command.
    let err = fails(
        &e,
        &format!(".ingest into table T ('{base}/a.csv', '{base}/missing.csv')"),
    )
    .await;
    assert!(err.to_string().contains("404"), "{err}");
    assert_eq!(count(&e, "T").await, 4);
    // An ingestIfNotExists repeat reads no source (this one does not exist) and adds nothing.
    run(
        &e,
        &format!(".ingest into table T ('{base}/a.csv') with (tags='[\"ingest-by:once\"]')"),
    )
    .await;
    assert_eq!(count(&e, "T").await, 6);
    run(
        &e,
        &format!(
            ".ingest into table T ('{base}/missing.csv') with (ingestIfNotExists='[\"once\"]')"
        ),
    )
    .await;
    assert_eq!(count(&e, "T").await, 6);
    // validationPolicy DoNotValidate takes records with fewer fields than columns.
    run(&e, ".create table W (a:long, s:string, extra:long)").await;
    let strict = fails(&e, &format!(".ingest into table W ('{base}/a.csv')")).await;
    assert!(
        strict.to_string().contains("has 2 fields, expected 3"),
        "{strict}"
    );
    run(
        &e,
        &format!(".ingest into table W ('{base}/a.csv') with (validationPolicy='{{\"ValidationOptions\": 0, \"ValidationImplications\": 1}}')"),
    )
    .await;
    assert_eq!(count(&e, "W").await, 2);
    let bad = fails(
        &e,
        &format!(".ingest into table W ('{base}/a.csv') with (validationPolicy='{{\"ValidationOptions\": 7}}')"),
    )
    .await;
    assert!(bad.to_string().contains("validationPolicy"), "{bad}");
    // Schemes Calypso cannot reach.
    let err = fails(
        &e,
        ".ingest into table T ('abfss://fs@acct.dfs.core.windows.net/x.csv;impersonate')",
    )
    .await;
    assert!(err.to_string().contains("'abfss'"), "{err}");
}

/// A handed-out container's URL (`.get ingestion resources` or `.show export containers`).
fn container_url(r: &QueryResult, kind: Option<&str>) -> String {
    match kind {
        Some(k) => {
            let kinds = strings(r, 0);
            let i = kinds.iter().position(|x| x == k).unwrap();
            strings(r, 1)[i].clone()
        }
        None => strings(r, 0)[0].clone(),
    }
}

#[tokio::test]
async fn handed_out_blobs_are_read_with_their_sas() {
    let e = Engine::new();
    setup(&e).await;
    let resources = run(&e, ".get ingestion resources").await;
    let temp = container_url(&resources, Some("TempStorage"));
    let (base, sas) = temp.split_once('?').unwrap();
    e.put_blob(
        TEMP_CONTAINER,
        "up/x.csv",
        Bytes::from_static(b"5,e\n"),
        false,
    )
    .await
    .unwrap();
    run(
        &e,
        &format!(".ingest into table T (h'{base}/up/x.csv?{sas}')"),
    )
    .await;
    assert_eq!(count(&e, "T").await, 1);
    // A forged signature is refused.
    let forged = sas.replace("sig=", "sig=AAAA");
    let err = fails(
        &e,
        &format!(".ingest into table T (h'{base}/up/x.csv?{forged}')"),
    )
    .await;
    assert!(matches!(err, EngineError::Forbidden(_)), "{err}");
    // The export container: handed out read/write, readable back.
    let export = run(&e, ".show export containers").await;
    assert_eq!(export.tables[0].columns[0].0, "StorageRoot");
    let url = container_url(&export, None);
    assert!(
        url.contains(&format!("/calypso/{EXPORT_CONTAINER}?")),
        "{url}"
    );
    assert!(url.contains("sp=rwd"), "{url}");
    e.put_blob(
        EXPORT_CONTAINER,
        "e.csv",
        Bytes::from_static(b"6,f\n7,g\n"),
        false,
    )
    .await
    .unwrap();
    let (base, sas) = url.split_once('?').unwrap();
    run(&e, &format!(".ingest into table T (h'{base}/e.csv?{sas}')")).await;
    assert_eq!(count(&e, "T").await, 3);
    // Streaming ingestion from a URI reads the same way.
    run(&e, ".alter table T policy streamingingestion enable").await;
    let summary = e
        .ingest_stream_from_uri_as(
            &calypso_engine::Caller::Unauthenticated,
            DB,
            "T",
            "csv",
            MappingSpec::Identity,
            &format!("{base}/e.csv?{sas}"),
        )
        .await
        .unwrap();
    assert_eq!(summary.rows, 2);
    assert_eq!(count(&e, "T").await, 5);
}

#[tokio::test]
async fn async_ingest_answers_with_an_operation() {
    let e = Engine::new();
    setup(&e).await;
    let base = http_server().await;
    let r = run(&e, &format!(".ingest async into table T ('{base}/a.csv')")).await;
    assert_eq!(r.tables[0].columns[0].0, "OperationId");
    let id = common::text_rows(&r)[0][0].clone();
    for _ in 0..200 {
        if count(&e, "T").await == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(count(&e, "T").await, 2);
    let ops = run(&e, &format!(".show operations {id} | project State")).await;
    let mut state = strings(&ops, 0);
    for _ in 0..200 {
        if state == ["Completed"] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        state = strings(
            &run(&e, &format!(".show operations {id} | project State")).await,
            0,
        );
    }
    assert_eq!(state, ["Completed"]);
}

#[tokio::test]
async fn streaming_and_queued_ingestion_run_update_policies() {
    let e = Engine::new();
    setup(&e).await;
    run(&e, ".create table Big (a:long)").await;
    run(
        &e,
        r#".alter table Big policy update @'[{"Source": "T", "Query": "T | where a > 1 | project a = a * 100", "IsTransactional": true}]'"#,
    )
    .await;
    run(&e, ".alter table T policy streamingingestion enable").await;
    e.ingest_stream(DB, "T", "csv", MappingSpec::Identity, b"1,a\n2,b\n3,c\n")
        .await
        .unwrap();
    assert_eq!(count(&e, "T").await, 3);
    assert_eq!(long(&run(&e, "Big | summarize sum(a)").await), 500);
    // Queued: the worker's ingestion triggers the policy too, and shows in .show operations.
    e.put_blob(
        TEMP_CONTAINER,
        "q.csv",
        Bytes::from_static(b"10,x\n"),
        false,
    )
    .await
    .unwrap();
    let token = strings(&run(&e, ".get kusto identity token").await, 0).remove(0);
    let m = json!({
        "BlobPath": format!("http://localhost/calypso/{TEMP_CONTAINER}/q.csv?sig=x"),
        "DatabaseName": DB,
        "TableName": "T",
        "ReportLevel": 2,
        "Id": uuid::Uuid::new_v4().to_string(),
        "AdditionalProperties": {"authorizationContext": token, "format": "csv"},
    });
    e.put_message(INGESTION_QUEUE, STANDARD.encode(m.to_string()), None, None)
        .await
        .unwrap();
    assert_eq!(e.run_queued_ingestion().await.unwrap(), 1);
    assert_eq!(count(&e, "T").await, 4);
    assert_eq!(long(&run(&e, "Big | summarize sum(a)").await), 1500);
    let ops = run(
        &e,
        ".show operations | where Operation == 'DataIngestPull' | project State, Database",
    )
    .await;
    assert_eq!(strings(&ops, 0), ["Completed"]);
    assert_eq!(strings(&ops, 1), [DB]);
    // Queued work is not a command.
    let cmds = run(
        &e,
        ".show commands | where CommandType == 'DataIngestPull' | count",
    )
    .await;
    assert_eq!(long(&cmds), 0);
}

/// A Parquet file of `(id: int32, epoch: int64 seconds, nested: struct{name})`.
fn parquet_rows() -> Vec<u8> {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int32Array, StructArray};
    use arrow::datatypes::{DataType, Field};
    let nested = StructArray::from(vec![(
        Arc::new(Field::new("name", DataType::Utf8, true)),
        Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef,
    )]);
    let batch = arrow::record_batch::RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef),
        (
            "epoch",
            Arc::new(Int64Array::from(vec![0, 86_400, 172_800])) as ArrayRef,
        ),
        ("nested", Arc::new(nested) as ArrayRef),
    ])
    .unwrap();
    let mut out = Vec::new();
    let mut w =
        datafusion::parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

#[tokio::test]
async fn parquet_with_a_database_mapping_through_ingest_into_and_the_queue() {
    let e = Engine::new();
    setup(&e).await;
    run(
        &e,
        ".create table P (Id:long, When:datetime, Name:string, Src:string)",
    )
    .await;
    run(
        &e,
        r#".create database db ingestion parquet mapping "pm" '[{"Column":"Id","Properties":{"Path":"$.id"}},{"Column":"When","Properties":{"Path":"$.epoch","Transform":"DateTimeFromUnixSeconds"}},{"Column":"Name","Properties":{"Path":"$.nested.name"}},{"Column":"Src","Properties":{"Transform":"SourceLocation"}}]'"#,
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("p.parquet");
    std::fs::write(&file, parquet_rows()).unwrap();
    e.allow_ingest_from_dirs(vec![tmp.path().to_path_buf()]);
    run(
        &e,
        &format!(
            ".ingest into table P (h'{}') with (format='parquet', ingestionMappingReference='pm')",
            file.display()
        ),
    )
    .await;
    let r = run(
        &e,
        "P | order by Id asc | project s = strcat(Id, ' ', format_datetime(When, 'yyyy-MM-dd'), ' ', Name)",
    )
    .await;
    assert_eq!(
        strings(&r, 0),
        ["1 1970-01-01 a", "2 1970-01-02 b", "3 1970-01-03 c"]
    );
    let src = run(&e, "P | distinct Src").await;
    assert_eq!(strings(&src, 0), [file.display().to_string()]);
    // The same file queued, with the mapping named in the message.
    e.put_blob(
        TEMP_CONTAINER,
        "p.parquet",
        Bytes::from(parquet_rows()),
        false,
    )
    .await
    .unwrap();
    let token = strings(&run(&e, ".get kusto identity token").await, 0).remove(0);
    let m = json!({
        "BlobPath": format!("http://localhost/calypso/{TEMP_CONTAINER}/p.parquet?sig=x"),
        "DatabaseName": DB,
        "TableName": "P",
        "ReportLevel": 2,
        "Id": uuid::Uuid::new_v4().to_string(),
        "AdditionalProperties": {
            "authorizationContext": token,
            "format": "parquet",
            "ingestionMappingReference": "pm",
            "ingestionMappingType": "Parquet",
        },
    });
    e.put_message(INGESTION_QUEUE, STANDARD.encode(m.to_string()), None, None)
        .await
        .unwrap();
    assert_eq!(e.run_queued_ingestion().await.unwrap(), 1);
    assert_eq!(count(&e, "P").await, 6);
    let src = run(
        &e,
        "P | where Src contains 'p.parquet' and Src startswith 'http' | count",
    )
    .await;
    assert_eq!(long(&src), 3, "the blob's URL without its SAS");
}

#[tokio::test]
async fn externaldata_reads_allowed_local_files_as_the_declared_columns() {
    let e = Engine::new();
    setup(&e).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("x.csv");
    std::fs::write(&file, "a,s\n1,one\n2,two\n3,three\n").unwrap();
    let query = format!(
        "externaldata (a:long, s:string) [h'file://{}'] with (format='csv', ignoreFirstRecord=true) | where a >= 2 | summarize n = count(), total = sum(a)",
        file.display()
    );
    // Off by default: local files follow --ingest-from-dir.
    let off = fails(&e, &query).await;
    assert!(off.to_string().contains("--ingest-from-dir"), "{off}");
    e.allow_ingest_from_dirs(vec![tmp.path().to_path_buf()]);
    let r = run(&e, &query).await;
    let b = &r.tables[0].batches[0];
    let n = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    let total = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!((n.value(0), total.value(0)), (2, 5));
    // Without ignoreFirstRecord the header is a row whose long does not convert.
    let all = run(
        &e,
        &format!(
            "externaldata (a:long, s:string) [h'file://{}'] | count",
            file.display()
        ),
    )
    .await;
    assert_eq!(long(&all), 4);
    let unknown = fails(
        &e,
        &format!(
            "externaldata (a:long) [h'file://{}'] with (format='nosuch')",
            file.display()
        ),
    )
    .await;
    assert!(unknown.to_string().contains("unknown format"), "{unknown}");
}

#[tokio::test]
async fn externaldata_reads_http_urls_only_when_the_server_allows_it() {
    let e = Engine::new();
    setup(&e).await;
    let base = http_server().await;
    let query = format!(
        "externaldata (a:long, s:string) ['{base}/a.csv', '{base}/b.csv.gz'] | order by a asc"
    );
    let off = fails(&e, &query).await;
    assert!(
        off.to_string().contains("--allow-externaldata-http"),
        "{off}"
    );
    e.allow_externaldata_http(true);
    let r = run(&e, &query).await;
    assert_eq!(strings(&r, 1), ["a", "b", "c", "d"]);
}
