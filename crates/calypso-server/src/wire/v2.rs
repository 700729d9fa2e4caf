//! The v2 reply of `/v2/rest/query`: a JSON array of frames (`wire-protocol.md` §3,
//! `wire-fixtures/README.md` "v2 frame sequences").
//!
//! ```text
//! DataSetHeader
//! DataTable @ExtendedProperties (TableId 0, one Visualization row per primary result)
//! per primary result (TableId 1..n):
//!     DataTable                                  (default)
//!     TableHeader, TableFragment*, TableCompletion   (fragmented or progressive;
//!                                                 progressive adds TableProgress frames)
//! DataTable QueryCompletionInformation (TableId n+1)   (absent after a partial failure)
//! DataSetCompletion
//! ```

use arrow::array::RecordBatch;
use calypso_engine::{QueryResult, ResultSchema, ResultTable};
use kql_types::KqlType;
use serde_json::{Map, Value, json};

use super::errors::{OneApiError, ResponseContext};
use super::service::{self, TableStats};
use super::values::{write_rows, write_value};

/// Where partial-failure errors go (`results_error_reporting_placement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorPlacement {
    /// A row that is an object `{"OneApiErrors":[...]}` at the end of the table (default).
    #[default]
    InData,
    /// In the table's `TableCompletion` frame (fragmented tables only; a `DataTable`
    /// has no completion frame, so it gets the in-data row).
    EndOfTable,
}

impl ErrorPlacement {
    /// The `DataSetHeader.ErrorReportingPlacement` value.
    pub fn name(self) -> &'static str {
        match self {
            ErrorPlacement::InData => "InData",
            ErrorPlacement::EndOfTable => "EndOfTable",
        }
    }

    /// Parses the request property value (`in_data`, `end_of_table`, case and `_`
    /// insensitive).
    pub fn parse(s: &str) -> Option<ErrorPlacement> {
        let norm: String = s
            .chars()
            .filter(|c| *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        match norm.as_str() {
            "indata" => Some(ErrorPlacement::InData),
            "endoftable" => Some(ErrorPlacement::EndOfTable),
            _ => None,
        }
    }
}

/// Request options that shape a v2 reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct V2Options {
    /// `results_v2_fragment_primary_tables`: TableHeader / TableFragment / TableCompletion.
    pub fragment_primary_tables: bool,
    /// `results_v2_newlines_between_frames`: `[frame\n,frame\n]`.
    pub newlines_between_frames: bool,
    /// `results_progressive_enabled`: fragmented tables with `TableProgress` frames.
    pub progressive: bool,
    /// `results_error_reporting_placement`.
    pub error_reporting_placement: ErrorPlacement,
    /// `deferpartialqueryfailures`: partial failures only as QueryCompletionInformation
    /// error rows (`HasErrors` stays false).
    pub defer_partial_query_failures: bool,
}

/// Most rows in one `TableFragment`.
pub const MAX_FRAGMENT_ROWS: usize = 10_000;

/// The v2 reply body of a whole result. `partial_errors` are `(index into result.tables,
/// error)` pairs, e.g. [`OneApiError::result_set_too_large`] for a truncated table.
pub fn v2_frames(
    result: &QueryResult,
    opts: &V2Options,
    ctx: &ResponseContext,
    partial_errors: &[(usize, OneApiError)],
) -> Vec<u8> {
    let schemas: Vec<ResultSchema> = result.tables.iter().map(ResultTable::schema).collect();
    let mut out = Vec::new();
    let mut w = V2Writer::new(opts);
    w.begin(&mut out, &schemas);
    let mut stats = Vec::with_capacity(result.tables.len());
    for (i, t) in result.tables.iter().enumerate() {
        let mut table = w.table_begin(&mut out, i, &schemas[i]);
        let total = t.row_count() as u64;
        for b in &t.batches {
            w.rows(&mut out, &mut table, b, Some(total));
        }
        w.table_end(&mut out, table, &OneApiError::of_table(partial_errors, i));
        stats.push(TableStats::of(t));
    }
    w.end(&mut out, &stats, ctx, partial_errors, false);
    out
}

/// Writes a v2 reply as it is produced: [`V2Writer::begin`], then per table
/// [`V2Writer::table_begin`], [`V2Writer::rows`] for each batch and
/// [`V2Writer::table_end`], then [`V2Writer::end`]. Each call appends whole frames or, for a
/// `DataTable`, a piece of one, so the text can go to the wire after every call.
#[derive(Debug)]
pub struct V2Writer<'o> {
    opts: &'o V2Options,
    frames: usize,
}

/// A table being written.
#[derive(Debug)]
pub struct V2Table<'t> {
    id: usize,
    columns: &'t [(String, KqlType)],
    rows: u64,
}

impl<'o> V2Writer<'o> {
    /// A writer for a reply shaped by `opts`.
    pub fn new(opts: &'o V2Options) -> V2Writer<'o> {
        V2Writer { opts, frames: 0 }
    }

    fn fragmented(&self) -> bool {
        self.opts.fragment_primary_tables || self.opts.progressive
    }

    /// Starts the next frame: the separator after the previous one.
    fn frame(&mut self, out: &mut Vec<u8>) {
        if self.frames == 0 {
            out.push(b'[');
        } else {
            if self.opts.newlines_between_frames {
                out.push(b'\n');
            }
            out.push(b',');
        }
        self.frames += 1;
    }

    /// DataSetHeader and the `@ExtendedProperties` table of `tables`.
    pub fn begin(&mut self, out: &mut Vec<u8>, tables: &[ResultSchema]) {
        self.frame(out);
        write_value(
            out,
            &json!({
                "FrameType": "DataSetHeader",
                "IsProgressive": self.opts.progressive,
                "Version": "v2.0",
                "IsFragmented": self.fragmented(),
                "ErrorReportingPlacement": self.opts.error_reporting_placement.name(),
            }),
        );
        self.frame(out);
        extended_properties(out, tables);
    }

    /// Starts primary result `index` (TableId `index + 1`): a TableHeader frame, or the
    /// head of a DataTable frame.
    pub fn table_begin<'t>(
        &mut self,
        out: &mut Vec<u8>,
        index: usize,
        table: &'t ResultSchema,
    ) -> V2Table<'t> {
        let id = index + 1;
        let columns = columns_json(&table.columns);
        self.frame(out);
        if self.fragmented() {
            write_value(
                out,
                &json!({
                    "FrameType": "TableHeader",
                    "TableId": id,
                    "TableKind": "PrimaryResult",
                    "TableName": table.name,
                    "Columns": columns,
                }),
            );
        } else {
            open_rows(
                out,
                &data_table_head(id, "PrimaryResult", &table.name, &columns),
            );
        }
        V2Table {
            id,
            columns: &table.columns,
            rows: 0,
        }
    }

    /// The rows of `batch`: in the DataTable, or as TableFragment frames of at most
    /// [`MAX_FRAGMENT_ROWS`] rows (each followed by a TableProgress frame when progressive;
    /// `total`, the table's row count, gives the percentage).
    pub fn rows(
        &mut self,
        out: &mut Vec<u8>,
        table: &mut V2Table<'_>,
        batch: &RecordBatch,
        total: Option<u64>,
    ) {
        if !self.fragmented() {
            let first = table.rows == 0;
            table.rows += write_rows(out, std::slice::from_ref(batch), table.columns, first) as u64;
            return;
        }
        let mut offset = 0;
        while offset < batch.num_rows() {
            let len = (batch.num_rows() - offset).min(MAX_FRAGMENT_ROWS);
            let chunk = batch.slice(offset, len);
            self.frame(out);
            open_rows(out, &fragment_head(table.id));
            write_rows(out, std::slice::from_ref(&chunk), table.columns, true);
            out.extend_from_slice(b"]}");
            offset += len;
            table.rows += len as u64;
            if self.opts.progressive {
                let pct = match total {
                    Some(t) if t > 0 => table.rows as f64 * 100.0 / t as f64,
                    _ => 100.0,
                };
                self.frame(out);
                write_value(
                    out,
                    &json!({
                        "FrameType": "TableProgress",
                        "TableId": table.id,
                        "TableProgress": pct,
                    }),
                );
            }
        }
    }

    /// Ends a table, with its partial-failure `errors` (left out when they are deferred):
    /// an in-data error row, or (fragmented, `EndOfTable`) in the TableCompletion frame.
    pub fn table_end(&mut self, out: &mut Vec<u8>, table: V2Table<'_>, errors: &[&OneApiError]) {
        let errors = if self.opts.defer_partial_query_failures {
            &[]
        } else {
            errors
        };
        if !self.fragmented() {
            if !errors.is_empty() {
                write_error_row(out, errors, table.rows == 0);
            }
            out.extend_from_slice(b"]}");
            return;
        }
        let end_of_table = self.opts.error_reporting_placement == ErrorPlacement::EndOfTable;
        if !errors.is_empty() && !end_of_table {
            self.frame(out);
            open_rows(out, &fragment_head(table.id));
            write_error_row(out, errors, true);
            out.extend_from_slice(b"]}");
        }
        let mut completion = Map::new();
        completion.insert("FrameType".into(), Value::from("TableCompletion"));
        completion.insert("TableId".into(), Value::from(table.id));
        completion.insert("RowCount".into(), Value::from(table.rows));
        if !errors.is_empty() && end_of_table {
            completion.insert("OneApiErrors".into(), errors_json(errors));
        }
        self.frame(out);
        write_value(out, &Value::Object(completion));
    }

    /// QueryCompletionInformation (absent after a reported partial failure) and
    /// DataSetCompletion, closing the reply. `tables` are the written tables' statistics.
    pub fn end(
        &mut self,
        out: &mut Vec<u8>,
        tables: &[TableStats],
        ctx: &ResponseContext,
        partial_errors: &[(usize, OneApiError)],
        cancelled: bool,
    ) {
        let deferred = self.opts.defer_partial_query_failures;
        let reported = !deferred && !partial_errors.is_empty();
        if !reported {
            let qci_errors: Vec<&OneApiError> = if deferred {
                partial_errors.iter().map(|(_, e)| e).collect()
            } else {
                Vec::new()
            };
            self.frame(out);
            query_completion_information(out, tables, ctx, tables.len() + 1, &qci_errors);
        }
        let mut completion = Map::new();
        completion.insert("FrameType".into(), Value::from("DataSetCompletion"));
        completion.insert("HasErrors".into(), Value::Bool(reported));
        completion.insert("Cancelled".into(), Value::Bool(cancelled));
        if reported {
            completion.insert(
                "OneApiErrors".into(),
                Value::Array(partial_errors.iter().map(|(_, e)| e.to_json()).collect()),
            );
        }
        self.frame(out);
        write_value(out, &Value::Object(completion));
        if self.opts.newlines_between_frames {
            out.push(b'\n');
        }
        out.push(b']');
    }
}

fn fragment_head(table_id: usize) -> Map<String, Value> {
    let mut head = Map::new();
    head.insert("FrameType".into(), Value::from("TableFragment"));
    head.insert("TableFragmentType".into(), Value::from("DataAppend"));
    head.insert("TableId".into(), Value::from(table_id));
    head
}

/// The `@ExtendedProperties` table: one `Visualization` row per primary result.
fn extended_properties(out: &mut Vec<u8>, tables: &[ResultSchema]) {
    let columns = json!([
        {"ColumnName": "TableId", "ColumnType": "int"},
        {"ColumnName": "Key", "ColumnType": "string"},
        {"ColumnName": "Value", "ColumnType": "dynamic"},
    ]);
    open_rows(
        out,
        &data_table_head(0, "QueryProperties", "@ExtendedProperties", &columns),
    );
    for (i, t) in tables.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_value(
            out,
            &json!([
                i + 1,
                "Visualization",
                service::visualization_text(t.render.as_ref())
            ]),
        );
    }
    out.extend_from_slice(b"]}");
}

/// The columns of the QueryCompletionInformation table.
pub const QCI_COLUMNS: [(&str, &str); 12] = [
    ("Timestamp", "datetime"),
    ("ClientRequestId", "string"),
    ("ActivityId", "guid"),
    ("SubActivityId", "guid"),
    ("ParentActivityId", "guid"),
    ("Level", "int"),
    ("LevelName", "string"),
    ("StatusCode", "int"),
    ("StatusCodeName", "string"),
    ("EventType", "int"),
    ("EventTypeName", "string"),
    ("Payload", "string"),
];

/// QueryCompletionInformation: QueryInfo (or the deferred partial-failure errors),
/// WorkloadGroup, EffectiveRequestOptions and QueryResourceConsumption rows.
fn query_completion_information(
    out: &mut Vec<u8>,
    tables: &[TableStats],
    ctx: &ResponseContext,
    table_id: usize,
    deferred_errors: &[&OneApiError],
) {
    let columns = Value::Array(
        QCI_COLUMNS
            .iter()
            .map(|(n, t)| json!({"ColumnName": n, "ColumnType": t}))
            .collect(),
    );
    let ts = ctx.timestamp_text();
    let aid = ctx.activity_id.as_str();
    let row = |level: i32,
               level_name: &str,
               code: i64,
               code_name: &str,
               et: i32,
               etn: &str,
               payload: String| {
        json!([
            ts,
            ctx.client_request_id,
            aid,
            aid,
            aid,
            level,
            level_name,
            code,
            code_name,
            et,
            etn,
            payload
        ])
    };
    let text = |t: &str| json!({"Count": 1, "Text": t}).to_string();
    let mut rows = Vec::new();
    if deferred_errors.is_empty() {
        rows.push(row(
            4,
            "Info",
            0,
            "S_OK (0)",
            4,
            "QueryInfo",
            text("Query completed successfully"),
        ));
    } else {
        for e in deferred_errors {
            let (code, code_name, et, etn) = if e.is_limits_exceeded() {
                (
                    -2_133_196_797,
                    "Query result set too large (E_QUERY_RESULT_SET_TOO_LARGE). (-2133196797)",
                    1,
                    "QueryLimitsExceeded",
                )
            } else {
                (-2_147_467_259, "E_FAIL (-2147467259)", 1, "QueryError")
            };
            rows.push(row(
                2,
                "Error",
                code,
                code_name,
                et,
                etn,
                text(&e.inner_message),
            ));
        }
    }
    rows.push(row(
        4,
        "Info",
        0,
        "S_OK (0)",
        5,
        "WorkloadGroup",
        text("default"),
    ));
    rows.push(row(
        4,
        "Info",
        0,
        "S_OK (0)",
        6,
        "EffectiveRequestOptions",
        text(&service::effective_request_options().to_string()),
    ));
    rows.push(row(
        6,
        "Stats",
        0,
        "S_OK (0)",
        0,
        "QueryResourceConsumption",
        service::resource_consumption(tables, ctx).to_string(),
    ));
    open_rows(
        out,
        &data_table_head(
            table_id,
            "QueryCompletionInformation",
            "QueryCompletionInformation",
            &columns,
        ),
    );
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_value(out, r);
    }
    out.extend_from_slice(b"]}");
}

fn columns_json(columns: &[(String, KqlType)]) -> Value {
    Value::Array(
        columns
            .iter()
            .map(|(n, t)| json!({"ColumnName": n, "ColumnType": t.name()}))
            .collect(),
    )
}

fn errors_json(errors: &[&OneApiError]) -> Value {
    Value::Array(errors.iter().map(|e| e.to_json()).collect())
}

/// The in-data error row `{"OneApiErrors":[...]}`.
fn write_error_row(out: &mut Vec<u8>, errors: &[&OneApiError], first: bool) {
    if !first {
        out.push(b',');
    }
    write_value(out, &json!({"OneApiErrors": errors_json(errors)}));
}

/// The members of a `DataTable` frame before its rows.
fn data_table_head(table_id: usize, kind: &str, name: &str, columns: &Value) -> Map<String, Value> {
    let mut head = Map::new();
    head.insert("FrameType".into(), Value::from("DataTable"));
    head.insert("TableId".into(), Value::from(table_id));
    head.insert("TableKind".into(), Value::from(kind));
    head.insert("TableName".into(), Value::from(name));
    head.insert("Columns".into(), columns.clone());
    head
}

/// Writes `head` and opens its `"Rows":[` member; the caller writes the rows
/// (comma-separated) and closes with `]}`. Large tables never exist as one
/// `serde_json::Value`.
fn open_rows(out: &mut Vec<u8>, head: &Map<String, Value>) {
    write_value(out, &Value::Object(head.clone()));
    // `head` is a non-empty object: its text ends with `}`.
    out.pop();
    out.extend_from_slice(b",\"Rows\":[");
}
