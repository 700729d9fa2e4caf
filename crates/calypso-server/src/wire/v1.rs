//! v1 replies: `{"Tables":[...]}` (`wire-protocol.md` §2).
//!
//! * [`v1_query`]: `/v1/rest/query` (and a management command piped into query
//!   operators): `Table_0..` = the primary results, `@ExtendedProperties`, QueryStatus,
//!   TableOfContents (`go/v1/success.json`).
//! * [`v1_mgmt`]: management commands: a single `Table_0` (`python/versionshowcommandresult.json`).

use arrow::array::RecordBatch;
use calypso_engine::{QueryResult, ResultSchema, ResultTable};
use kql_types::KqlType;
use serde_json::{Map, Value, json};

use super::errors::{OneApiError, ResponseContext};
use super::service::{self, TableStats};
use super::values::{dotnet_type, row_json, write_rows, write_value};

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
    let schemas: Vec<ResultSchema> = result.tables.iter().map(ResultTable::schema).collect();
    let mut out = Vec::new();
    let mut w = V1Writer::default();
    w.begin(&mut out);
    let mut stats = Vec::with_capacity(result.tables.len());
    for (i, t) in result.tables.iter().enumerate() {
        let mut table = w.table_begin(&mut out, &schemas[i]);
        for b in &t.batches {
            w.rows(&mut out, &mut table, b);
        }
        w.table_end(&mut out, table, &OneApiError::of_table(partial_errors, i));
        stats.push(TableStats::of(t));
    }
    w.end(&mut out, &schemas, &stats, ctx, partial_errors);
    serde_json::from_slice(&out).unwrap_or(Value::Null)
}

/// Writes a v1 query reply as it is produced ([`V1Writer::begin`], per table
/// [`V1Writer::table_begin`], [`V1Writer::rows`], [`V1Writer::table_end`], then
/// [`V1Writer::end`]), like `super::v2::V2Writer`.
#[derive(Debug, Default)]
pub struct V1Writer {
    tables: usize,
}

/// A v1 table being written.
#[derive(Debug)]
pub struct V1Table<'t> {
    columns: &'t [(String, KqlType)],
    rows: u64,
}

impl V1Writer {
    /// `{"Tables":[`.
    pub fn begin(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"Tables\":[");
    }

    fn open_table(&mut self, out: &mut Vec<u8>, columns: Value) {
        if self.tables > 0 {
            out.push(b',');
        }
        let mut m = Map::new();
        m.insert(
            "TableName".into(),
            Value::String(format!("Table_{}", self.tables)),
        );
        m.insert("Columns".into(), columns);
        write_value(out, &Value::Object(m));
        // The object's text ends with `}`.
        out.pop();
        out.extend_from_slice(b",\"Rows\":[");
        self.tables += 1;
    }

    /// Starts a primary result table.
    pub fn table_begin<'t>(&mut self, out: &mut Vec<u8>, table: &'t ResultSchema) -> V1Table<'t> {
        self.open_table(
            out,
            columns_json(table.columns.iter().map(|(n, k)| (n.as_str(), *k)), None),
        );
        V1Table {
            columns: &table.columns,
            rows: 0,
        }
    }

    /// The rows of `batch`.
    pub fn rows(&mut self, out: &mut Vec<u8>, table: &mut V1Table<'_>, batch: &RecordBatch) {
        let first = table.rows == 0;
        table.rows += write_rows(out, std::slice::from_ref(batch), table.columns, first) as u64;
    }

    /// Ends a table; a failed one ends with a row `{"Exceptions":[text]}`.
    pub fn table_end(&mut self, out: &mut Vec<u8>, table: V1Table<'_>, errors: &[&OneApiError]) {
        if !errors.is_empty() {
            if table.rows > 0 {
                out.push(b',');
            }
            let texts: Vec<Value> = errors
                .iter()
                .map(|e| Value::String(e.to_v1_exception_text()))
                .collect();
            write_value(out, &json!({ "Exceptions": texts }));
        }
        out.extend_from_slice(b"]}");
    }

    /// Closes the reply: after partial failures, the top-level `"Exceptions"`; otherwise
    /// the @ExtendedProperties, QueryStatus and TableOfContents tables.
    pub fn end(
        &mut self,
        out: &mut Vec<u8>,
        tables: &[ResultSchema],
        stats: &[TableStats],
        ctx: &ResponseContext,
        partial_errors: &[(usize, OneApiError)],
    ) {
        if !partial_errors.is_empty() {
            let all: Vec<Value> = partial_errors
                .iter()
                .map(|(_, e)| Value::String(e.to_v1_exception_text()))
                .collect();
            out.extend_from_slice(b"],\"Exceptions\":");
            write_value(out, &Value::Array(all));
            out.push(b'}');
            return;
        }
        let rows_table = |w: &mut V1Writer, out: &mut Vec<u8>, columns: Value, rows: Vec<Value>| {
            w.open_table(out, columns);
            for (i, r) in rows.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, r);
            }
            out.extend_from_slice(b"]}");
        };
        let primaries = tables.len();
        let props_rows = tables
            .iter()
            .map(|t| json!([service::visualization_text(t.render.as_ref())]))
            .collect();
        rows_table(
            self,
            out,
            columns_json([("Value", KqlType::String)].into_iter(), None),
            props_rows,
        );
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
                service::resource_consumption(stats, ctx).to_string(),
            ),
        ];
        rows_table(
            self,
            out,
            columns_json(QUERY_STATUS_COLUMNS.into_iter(), None),
            status_rows,
        );
        let mut toc = Vec::new();
        for t in tables {
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
        rows_table(self, out, columns_json(TOC_COLUMNS.into_iter(), None), toc);
        out.extend_from_slice(b"]}");
    }
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
