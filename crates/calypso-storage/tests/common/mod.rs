//! Helpers shared by the storage tests.
#![allow(dead_code, clippy::unwrap_used)]

pub mod faulty;

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow::datatypes::{Field, Schema};
use calypso_storage::{Column, ExtentMeta, Storage, Table};
use datafusion::dataframe::DataFrame;
use datafusion::error::Result as DfResult;
use datafusion::physical_plan::displayable;
use datafusion::prelude::SessionContext;
use kql_types::KqlType;

pub const DB: &str = "db";
pub const T: &str = "T";

/// Creates database `DB` with table `T(Timestamp:datetime, x:long, s:string)`.
pub async fn create_table(storage: &Storage) {
    storage
        .commit(|c| {
            let db = c.ensure_database(DB, true);
            db.tables.insert(
                T.to_string(),
                Table::new(
                    T,
                    vec![
                        Column::new("Timestamp", KqlType::DateTime),
                        Column::new("x", KqlType::Long),
                        Column::new("s", KqlType::String),
                    ],
                )
                .into(),
            );
            Ok(())
        })
        .await
        .unwrap();
}

/// A batch of `T` with the given rows: (timestamp in seconds, x, s).
pub fn batch(rows: &[(i64, i64, &str)]) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("Timestamp", KqlType::DateTime.to_arrow(), true),
        Field::new("x", KqlType::Long.to_arrow(), true),
        Field::new("s", KqlType::String.to_arrow(), true),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampNanosecondArray::from(
            rows.iter().map(|r| r.0 * 1_000_000_000).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

/// One row in the columns of `t`: `name` is `value`, the others are null.
pub fn batch_of(t: &Table, name: &str, value: i64) -> RecordBatch {
    let schema = t.arrow_schema();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.name() == name {
                Arc::new(Int64Array::from(vec![value])) as ArrayRef
            } else {
                arrow::array::new_null_array(f.data_type(), 1)
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Writes `batches` as one extent of `DB.T` and commits it.
pub async fn ingest(storage: &Storage, batches: &[RecordBatch]) -> ExtentMeta {
    let extent = storage.write_extent(DB, T, batches).await.unwrap();
    let added = extent.clone();
    storage
        .commit(move |c| {
            c.require_table_mut(DB, T)?.extents.push(added.into());
            Ok(())
        })
        .await
        .unwrap();
    extent
}

/// Removes every extent of `DB.T` (as `.clear table data` does).
pub async fn clear_data(storage: &Storage) {
    storage
        .commit(|c| {
            c.require_table_mut(DB, T)?.extents.clear();
            Ok(())
        })
        .await
        .unwrap();
}

/// Renames column `from` of `DB.T` to `to`, as `.rename column` does.
pub async fn rename_column(storage: &Storage, from: &'static str, to: &'static str) {
    storage
        .commit(move |c| {
            let t = c.require_table_mut(DB, T)?;
            t.rename_column_data(from, to);
            for column in &mut t.columns {
                if column.name == from {
                    column.name = to.into();
                }
            }
            Ok(())
        })
        .await
        .unwrap();
}

/// A session with `DB.T` registered as `T`.
pub fn session(storage: &Storage) -> SessionContext {
    let ctx = SessionContext::new();
    ctx.register_table(T, storage.table_provider(DB, T).unwrap())
        .unwrap();
    ctx
}

/// Runs `f` over the table and collects the result.
pub async fn query(
    storage: &Storage,
    f: impl FnOnce(DataFrame) -> DfResult<DataFrame>,
) -> Vec<RecordBatch> {
    let ctx = session(storage);
    let df = f(ctx.table(T).await.unwrap()).unwrap();
    df.collect().await.unwrap()
}

/// The physical plan of `f` over the table, as text.
pub async fn plan(storage: &Storage, f: impl FnOnce(DataFrame) -> DfResult<DataFrame>) -> String {
    let ctx = session(storage);
    let df = f(ctx.table(T).await.unwrap()).unwrap();
    let plan = df.create_physical_plan().await.unwrap();
    displayable(plan.as_ref()).indent(true).to_string()
}

/// The single value of a one-row, one-column-of-i64 result.
pub fn single_i64(batches: &[RecordBatch], column: usize) -> Option<i64> {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 1, "{batches:?}");
    let batch = batches.iter().find(|b| b.num_rows() == 1).unwrap();
    let array = batch.column(column);
    let array = arrow::compute::cast(array, &arrow::datatypes::DataType::Int64).unwrap();
    let array = array.as_any().downcast_ref::<Int64Array>().unwrap();
    (!array.is_null(0)).then(|| array.value(0))
}
