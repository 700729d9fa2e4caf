//! Catalog files of other format versions, damaged files, and every KQL type in extents.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Decimal128Array, DurationNanosecondArray, FixedSizeBinaryArray,
    Float64Array, Int32Array, Int64Array, LargeStringArray, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use arrow::datatypes::DataType;
use calypso_storage::{Column, Error, FORMAT_VERSION, RoleAssignment, Storage, Table};
use common::{DB, T, create_table, query};
use datafusion::prelude::{col, ident, lit};
use kql_types::KqlType;

#[tokio::test]
async fn a_catalog_of_an_older_format_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    // No format_version, no ids, no functions, no docstrings, no stats or tags.
    let old = r#"{
      "version": 3,
      "databases": {
        "db": {
          "name": "db",
          "tables": {
            "T": {
              "columns": [{"name": "a", "kql_type": "long"}, {"name": "b", "kql_type": "double"}],
              "extents": [{"id": "e1", "path": "data/x/y/e1.parquet", "rows": 5}]
            }
          }
        }
      }
    }"#;
    std::fs::write(dir.path().join("catalog/v3.json"), old).unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    let catalog = storage.catalog();
    assert_eq!(catalog.version, 3);
    assert_eq!(catalog.format_version, 0);
    let db = catalog.database("db").unwrap();
    assert!(!db.id.is_empty());
    assert!(db.functions.is_empty());
    let t = catalog.table("db", "T").unwrap();
    assert_eq!(t.name, "T");
    assert!(!t.id.is_empty());
    assert_eq!(t.columns[1].kql_type, KqlType::Real);
    assert_eq!(t.extents[0].rows, 5);
    assert!(t.extents[0].column_stats.is_empty());
    // Security roles and the RestrictedViewAccess policy came later: none.
    assert!(catalog.cluster_roles.is_empty());
    assert!(db.roles.is_empty());
    assert!(t.roles.is_empty());
    assert_eq!(t.restricted_view_access, None);
    // Opening wrote it as the first checkpoint, in the current format, and the file of
    // the earlier layout is gone.
    let text = std::fs::read_to_string(
        dir.path()
            .join("catalog/checkpoint/00000000000000000003.json"),
    )
    .unwrap();
    let (header, payload) = text.split_once('\n').unwrap();
    assert!(
        header.starts_with("calypso-catalog checkpoint "),
        "{header}"
    );
    let v: serde_json::Value = serde_json::from_str(payload).unwrap();
    assert_eq!(v["format_version"], FORMAT_VERSION);
    assert!(!dir.path().join("catalog/v3.json").exists());
    assert_eq!(
        v["databases"]["db"]["tables"]["T"]["columns"][1]["kql_type"],
        "real"
    );
}

#[tokio::test]
async fn a_catalog_of_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    std::fs::write(
        dir.path().join("catalog/v1.json"),
        format!(
            r#"{{"format_version": {}, "version": 1}}"#,
            FORMAT_VERSION + 1
        ),
    )
    .unwrap();
    let err = Storage::open_local(dir.path()).await.unwrap_err();
    assert!(matches!(err, Error::UnsupportedFormat { .. }), "{err}");
    assert_eq!(err.http_status(), 500);
}

fn record(dir: &std::path::Path, version: u64) -> std::path::PathBuf {
    dir.join(format!("catalog/log/{version:020}.rec"))
}

async fn set_docstring(storage: &Storage, text: &str) {
    let text = text.to_string();
    storage
        .commit(move |c| {
            c.require_table_mut(DB, T)?.docstring = Some(text);
            Ok(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_torn_last_log_record_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    create_table(&storage).await;
    set_docstring(&storage, "two").await;
    drop(storage);
    // A crash while version 2 was being written: a short file.
    let bytes = std::fs::read(record(dir.path(), 2)).unwrap();
    std::fs::write(record(dir.path(), 2), &bytes[..bytes.len() - 3]).unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    assert_eq!(storage.catalog().version, 1);
    assert_eq!(storage.catalog().table(DB, T).unwrap().docstring, None);
    assert!(!record(dir.path(), 2).exists());
    // Kept for inspection, never read again.
    let torn: Vec<String> = std::fs::read_dir(dir.path().join("catalog/torn"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(torn.len(), 1, "{torn:?}");
    assert!(torn[0].starts_with("00000000000000000002.rec."), "{torn:?}");
    // The next commit takes the number again.
    set_docstring(&storage, "again").await;
    assert_eq!(storage.catalog().version, 2);
    drop(storage);
    let storage = Storage::open_local(dir.path()).await.unwrap();
    assert_eq!(storage.catalog().version, 2);
    assert_eq!(
        storage.catalog().table(DB, T).unwrap().docstring.as_deref(),
        Some("again")
    );
    set_docstring(&storage, "three").await;
    drop(storage);

    // A damaged record with records after it stops the open, and nothing is touched.
    let bytes = std::fs::read(record(dir.path(), 2)).unwrap();
    let mut damaged = bytes.clone();
    let i = damaged.len() - 5;
    damaged[i] ^= 0x20;
    std::fs::write(record(dir.path(), 2), &damaged).unwrap();
    let err = Storage::open_local(dir.path()).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
    assert!(
        err.to_string().contains("00000000000000000002.rec"),
        "{err}"
    );
    assert_eq!(std::fs::read(record(dir.path(), 2)).unwrap(), damaged);
    assert!(record(dir.path(), 3).exists());
    // So does a missing one.
    std::fs::write(record(dir.path(), 2), &bytes).unwrap();
    std::fs::remove_file(record(dir.path(), 2)).unwrap();
    let err = Storage::open_local(dir.path()).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
    assert!(err.to_string().contains("missing"), "{err}");
    std::fs::write(record(dir.path(), 2), &bytes).unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    assert_eq!(storage.catalog().version, 3);
}

#[tokio::test]
async fn a_log_record_of_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    drop(storage);
    let payload = format!(
        r#"{{"format_version":{},"version":1,"changes":[]}}"#,
        FORMAT_VERSION + 1
    );
    let crc = crc32fast::hash(payload.as_bytes());
    std::fs::create_dir_all(dir.path().join("catalog/log")).unwrap();
    std::fs::write(
        record(dir.path(), 1),
        format!(
            "calypso-catalog record {} {crc:08x}\n{payload}",
            payload.len()
        ),
    )
    .unwrap();
    let err = Storage::open_local(dir.path()).await.unwrap_err();
    assert!(matches!(err, Error::UnsupportedFormat { .. }), "{err}");
}

/// Whole-catalog files of the earlier layout (`catalog/v{N}.json`) that are damaged: the
/// newest readable one is loaded.
#[tokio::test]
async fn a_damaged_catalog_file_of_the_earlier_layout() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    let v1 = r#"{"version": 1, "databases": {"db": {"name": "db", "tables": {}}}}"#;
    std::fs::write(dir.path().join("catalog/v1.json"), v1).unwrap();
    std::fs::write(
        dir.path().join("catalog/v2.json"),
        "{\"format_version\": 1, \"ver",
    )
    .unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    assert_eq!(storage.catalog().version, 1);
    assert!(storage.catalog().database("db").is_some());
    drop(storage);

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    std::fs::write(dir.path().join("catalog/v1.json"), "").unwrap();
    std::fs::write(dir.path().join("catalog/v2.json"), v1).unwrap();
    std::fs::write(dir.path().join("catalog/v3.json"), "").unwrap();
    // Only the newest readable one matters; the damaged newest is kept aside.
    let storage = Storage::open_local(dir.path()).await.unwrap();
    assert_eq!(storage.catalog().version, 2);
    assert!(storage.catalog().database("db").is_some());
    let torn = std::fs::read_dir(dir.path().join("catalog/torn"))
        .unwrap()
        .count();
    assert_eq!(torn, 1);
}

#[tokio::test]
async fn every_kql_type_round_trips_through_an_extent() {
    let storage = Storage::in_memory();
    let columns: Vec<Column> = KqlType::ALL
        .iter()
        .map(|t| Column::new(&format!("c_{}", t.name()), *t))
        .collect();
    storage
        .commit(|c| {
            c.ensure_database(DB, true)
                .tables
                .insert(T.into(), Table::new(T, columns).into());
            Ok(())
        })
        .await
        .unwrap();
    let schema = storage.catalog().table(DB, T).unwrap().arrow_schema();
    let arrays: Vec<ArrayRef> = KqlType::ALL
        .iter()
        .map(|t| -> ArrayRef {
            match t {
                KqlType::Bool => Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
                KqlType::Int => Arc::new(Int32Array::from(vec![Some(1), None, Some(-3)])),
                KqlType::Long => Arc::new(Int64Array::from(vec![Some(1), None, Some(i64::MIN)])),
                KqlType::Real => {
                    Arc::new(Float64Array::from(vec![Some(1.5), None, Some(f64::NAN)]))
                }
                KqlType::Decimal => Arc::new(
                    Decimal128Array::from(vec![Some(1_500_000_000_000_000_000), None, Some(-1)])
                        .with_precision_and_scale(38, 18)
                        .unwrap(),
                ),
                KqlType::String => Arc::new(StringArray::from(vec![Some("a"), None, Some("é")])),
                KqlType::DateTime => Arc::new(TimestampNanosecondArray::from(vec![
                    Some(1_600_000_000_000_000_100),
                    None,
                    Some(-5),
                ])),
                KqlType::TimeSpan => Arc::new(DurationNanosecondArray::from(vec![
                    Some(100),
                    None,
                    Some(-100),
                ])),
                KqlType::Guid => Arc::new(
                    FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                        vec![Some([7u8; 16]), None, Some([0u8; 16])].into_iter(),
                        16,
                    )
                    .unwrap(),
                ),
                KqlType::Dynamic => Arc::new(LargeStringArray::from(vec![
                    Some("{\"a\":1}"),
                    None,
                    Some("[1,2]"),
                ])),
            }
        })
        .collect();
    let input = RecordBatch::try_new(Arc::clone(&schema), arrays).unwrap();
    let extent = storage
        .write_extent(DB, T, std::slice::from_ref(&input))
        .await
        .unwrap();
    let stats = |name: &str| extent.stats(name).unwrap().clone();
    assert_eq!(
        stats("c_decimal").min,
        Some(serde_json::json!("-0.000000000000000001"))
    );
    assert_eq!(stats("c_real").max, None);
    assert_eq!(stats("c_timespan").min, Some(serde_json::json!(-100)));
    assert_eq!(stats("c_guid").null_count, 1);
    assert_eq!(stats("c_dynamic").min, None);
    storage
        .commit(move |c| {
            c.require_table_mut(DB, T)?.extents.push(extent.into());
            Ok(())
        })
        .await
        .unwrap();

    let batches = query(&storage, |df| {
        df.sort(vec![ident("c_long").sort(true, true)])
    })
    .await;
    // Scans read strings as views (`StorageOptions::string_views`): the same values.
    let batches: Vec<RecordBatch> = batches
        .iter()
        .map(|b| {
            assert_eq!(b.schema().field(8).data_type(), &DataType::Utf8View);
            let columns = b
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| arrow::compute::cast(c, f.data_type()).unwrap())
                .collect();
            RecordBatch::try_new(Arc::clone(&schema), columns).unwrap()
        })
        .collect();
    let output = arrow::compute::concat_batches(&schema, &batches).unwrap();
    assert_eq!(output.schema(), schema);
    // Sorted by c_long (nulls first): rows 1, 2, 0 of the input.
    let indices = arrow::array::UInt32Array::from(vec![1, 2, 0]);
    let expected = arrow::compute::take_record_batch(&input, &indices).unwrap();
    for (i, field) in schema.fields().iter().enumerate() {
        if field.name() == "c_real" {
            continue; // NaN != NaN
        }
        assert_eq!(output.column(i), expected.column(i), "{}", field.name());
    }

    // Decimal and datetime statistics prune.
    let rows = query(&storage, |df| {
        df.filter(
            col("c_decimal").gt(lit(datafusion::scalar::ScalarValue::Decimal128(
                Some(2_000_000_000_000_000_000),
                38,
                18,
            ))),
        )
    })
    .await;
    assert_eq!(rows.iter().map(RecordBatch::num_rows).sum::<usize>(), 0);
}

fn assignment(role: &str, principal: &str) -> RoleAssignment {
    RoleAssignment {
        role: role.into(),
        principal: principal.into(),
        display_name: "Alice".into(),
        notes: "note".into(),
        added_on: "2024-01-01T00:00:00Z".into(),
        id: "r1".into(),
    }
}

#[tokio::test]
async fn role_assignments_survive_a_reopen_follow_renames_and_go_with_drops() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open_local(dir.path()).await.unwrap();
    storage
        .commit(|c| {
            c.cluster_roles
                .push(assignment("AllDatabasesAdmin", "aaduser=a@x.com"));
            let d = c.ensure_database("db", true);
            d.roles.push(assignment("viewers", "aadgroup=g1"));
            let mut t = Table::new("T", vec![Column::new("a", KqlType::Long)]);
            t.roles.push(assignment("ingestors", "aadapp=app;tenant"));
            t.restricted_view_access = Some(true);
            d.tables.insert("T".into(), t.into());
            Ok(())
        })
        .await
        .unwrap();
    drop(storage);
    let storage = Storage::open_local(dir.path()).await.unwrap();
    let c = storage.catalog();
    assert!(c.cluster_roles[0].is("alldatabasesadmin", "AADUSER=A@X.COM"));
    assert_eq!(c.database("db").unwrap().roles[0].principal, "aadgroup=g1");
    let t = c.table("db", "T").unwrap();
    assert_eq!(t.roles[0].role, "ingestors");
    assert_eq!(t.restricted_view_access, Some(true));
    // A renamed table keeps its roles; a dropped one takes them along.
    storage
        .commit(|c| {
            let d = c.require_database_mut("db")?;
            let mut t = Arc::unwrap_or_clone(d.tables.remove("T").unwrap());
            t.name = "U".into();
            d.tables.insert("U".into(), t.into());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(storage.catalog().table("db", "U").unwrap().roles.len(), 1);
    storage
        .commit(|c| {
            c.databases.remove("db");
            Ok(())
        })
        .await
        .unwrap();
    assert!(storage.catalog().database("db").is_none());
    assert_eq!(storage.catalog().cluster_roles.len(), 1);
}
