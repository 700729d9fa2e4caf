//! v1 replies: `{"Tables":[...]}` (`wire-protocol.md` §2).
//!
//! * [`v1_query`]: `/v1/rest/query` (and a management command piped into query
//!   operators): `Table_0..` = the primary results, `@ExtendedProperties`, QueryStatus,
//!   TableOfContents (`go/v1/success.json`).
//! * [`v1_mgmt`]: management commands: a single `Table_0` (`python/versionshowcommandresult.json`).

use calypso_engine::{QueryResult, ResultTable};
use kql_functions::KqlType;
use serde_json::{Map, Value, json};

use super::errors::{OneApiError, ResponseContext};
use super::service;
use super::values::{dotnet_type, row_json};

/// A change to the declared schema of one column of a management-command result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColumnOverride<'a> {
    /// `DataType` instead of the default .NET name (e.g. `Boolean` for `.show databases`).
    pub data_type: Option<&'a str>,
    /// Leave `ColumnType` out (as `.show version` does).
    pub omit_column_type: bool,
}

impl<'a> ColumnOverride<'a> {
    /// No change.
    pub const KEEP: ColumnOverride<'static> = ColumnOverride {
        data_type: None,
        omit_column_type: false,
    };

    /// Only `DataType` is written, with its default name.
    pub const DATA_TYPE_ONLY: ColumnOverride<'static> = ColumnOverride {
        data_type: None,
        omit_column_type: true,
    };

    /// Another `DataType` name.
    pub fn data_type(name: &'a str) -> Self {
        ColumnOverride {
            data_type: Some(name),
            omit_column_type: false,
        }
    }
}

/// The columns of the v1 QueryStatus table (`Name`, `DataType`, `ColumnType`).
pub const QUERY_STATUS_COLUMNS: [(&str, KqlType); 10] = [
    ("Timestamp", KqlType::DateTime),
    ("Severity", KqlType::Int),
    ("SeverityName", KqlType::String),
    ("StatusCode", KqlType::Int),
    ("StatusDescription", KqlType::String),
    ("Count", KqlType::Int),
    ("RequestId", KqlType::Guid),
    ("ActivityId", KqlType::Guid),
    ("SubActivityId", KqlType::Guid),
    ("ClientActivityId", KqlType::String),
];

/// The columns of the v1 TableOfContents table.
pub const TOC_COLUMNS: [(&str, KqlType); 5] = [
    ("Ordinal", KqlType::Long),
    ("Kind", KqlType::String),
    ("Name", KqlType::String),
    ("Id", KqlType::String),
    ("PrettyName", KqlType::String),
];

const ZERO_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// The v1 reply of a query.
pub fn v1_query(result: &QueryResult, ctx: &ResponseContext) -> Value {
    v1_query_with_errors(result, ctx, &[])
}

/// The v1 reply of a query with partial failures (`(index into result.tables, error)`).
/// As in `go/v1/partialError.json`, a failed reply has only the primary tables, each
/// failed table ending with a row `{"Exceptions":[text]}`, plus a top-level
/// `"Exceptions"` array.
pub fn v1_query_with_errors(
    result: &QueryResult,
    ctx: &ResponseContext,
    partial_errors: &[(usize, OneApiError)],
) -> Value {
    let mut tables = Vec::new();
    for (i, t) in result.tables.iter().enumerate() {
        let mut rows = table_rows(t);
        let texts: Vec<Value> = partial_errors
            .iter()
            .filter(|(ti, _)| *ti == i)
            .map(|(_, e)| Value::String(e.to_v1_exception_text()))
            .collect();
        if !texts.is_empty() {
            rows.push(json!({"Exceptions": texts}));
        }
        tables.push(table_json(
            tables.len(),
            columns_json(t.columns.iter().map(|(n, k)| (n.as_str(), *k)), None),
            rows,
        ));
    }
    if !partial_errors.is_empty() {
        let all: Vec<Value> = partial_errors
            .iter()
            .map(|(_, e)| Value::String(e.to_v1_exception_text()))
            .collect();
        return json!({"Tables": tables, "Exceptions": all});
    }

    let primaries = result.tables.len();
    // @ExtendedProperties.
    let props_rows = result
        .tables
        .iter()
        .map(|t| json!([service::visualization_text(t)]))
        .collect();
    tables.push(table_json(
        tables.len(),
        columns_json([("Value", KqlType::String)].into_iter(), None),
        props_rows,
    ));
    // QueryStatus.
    let ts = ctx.timestamp_text();
    let aid = ctx.activity_id.as_str();
    let status = |sev: i32, name: &str, desc: String| {
        json!([
            ts,
            sev,
            name,
            0,
            desc,
            1,
            aid,
            aid,
            aid,
            ctx.client_request_id
        ])
    };
    let status_rows = vec![
        status(4, "Info", "Query completed successfully".into()),
        status(
            6,
            "Stats",
            service::resource_consumption(result, ctx).to_string(),
        ),
    ];
    tables.push(table_json(
        tables.len(),
        columns_json(QUERY_STATUS_COLUMNS.into_iter(), None),
        status_rows,
    ));
    // TableOfContents.
    let mut toc = Vec::new();
    for t in &result.tables {
        toc.push(json!([toc.len(), "QueryResult", t.name, new_id(), ""]));
    }
    toc.push(json!([
        primaries,
        "QueryProperties",
        "@ExtendedProperties",
        new_id(),
        ""
    ]));
    toc.push(json!([
        primaries + 1,
        "QueryStatus",
        "QueryStatus",
        ZERO_GUID,
        ""
    ]));
    tables.push(table_json(
        tables.len(),
        columns_json(TOC_COLUMNS.into_iter(), None),
        toc,
    ));
    json!({ "Tables": tables })
}

/// The v1 reply of a management command: one `Table_0`. `schema_overrides` apply by
/// column position (missing entries keep the defaults).
pub fn v1_mgmt(table: &ResultTable, schema_overrides: Option<&[ColumnOverride<'_>]>) -> Value {
    let columns = columns_json(
        table.columns.iter().map(|(n, k)| (n.as_str(), *k)),
        schema_overrides,
    );
    json!({ "Tables": [table_json(0, columns, table_rows(table))] })
}

fn new_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

fn table_rows(t: &ResultTable) -> Vec<Value> {
    let mut rows = Vec::with_capacity(t.row_count());
    for b in &t.batches {
        for r in 0..b.num_rows() {
            rows.push(row_json(b, r, &t.columns));
        }
    }
    rows
}

fn table_json(index: usize, columns: Value, rows: Vec<Value>) -> Value {
    let mut m = Map::new();
    m.insert("TableName".into(), Value::String(format!("Table_{index}")));
    m.insert("Columns".into(), columns);
    m.insert("Rows".into(), Value::Array(rows));
    Value::Object(m)
}

fn columns_json<'c>(
    columns: impl Iterator<Item = (&'c str, KqlType)>,
    overrides: Option<&[ColumnOverride<'_>]>,
) -> Value {
    Value::Array(
        columns
            .enumerate()
            .map(|(i, (name, t))| {
                let o = overrides
                    .and_then(|o| o.get(i))
                    .copied()
                    .unwrap_or_default();
                let mut m = Map::new();
                m.insert("ColumnName".into(), Value::from(name));
                m.insert(
                    "DataType".into(),
                    Value::from(o.data_type.unwrap_or(dotnet_type(t))),
                );
                if !o.omit_column_type {
                    m.insert("ColumnType".into(), Value::from(t.name()));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// The reply to a streaming ingestion: a v1 table with the new extent and its row count
/// (clients need a non-empty JSON body).
pub fn v1_ingest_result(extent_id: Option<&str>, rows: u64) -> Value {
    serde_json::json!({"Tables": [{
        "TableName": "Table_0",
        "Columns": [
            {"ColumnName": "ExtentId", "DataType": "Guid", "ColumnType": "guid"},
            {"ColumnName": "RowCount", "DataType": "Int64", "ColumnType": "long"}
        ],
        "Rows": [[extent_id, rows]]
    }]})
}
