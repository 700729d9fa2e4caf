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
use calypso_engine::{QueryResult, ResultTable};
use serde_json::{Map, Value, json};

use super::errors::{OneApiError, ResponseContext};
use super::service;
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

/// The v2 reply body. `partial_errors` are `(index into result.tables, error)` pairs,
/// e.g. [`OneApiError::result_set_too_large`] for a truncated table.
pub fn v2_frames(
    result: &QueryResult,
    opts: &V2Options,
    ctx: &ResponseContext,
    partial_errors: &[(usize, OneApiError)],
) -> Vec<u8> {
    join_frames(
        &v2_frame_list(result, opts, ctx, partial_errors),
        opts.newlines_between_frames,
    )
}

/// Joins frames into the reply array: `[f1,f2]`, or `[f1\n,f2\n]` with newlines.
pub fn join_frames(frames: &[Vec<u8>], newlines: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(frames.iter().map(|f| f.len() + 2).sum::<usize>() + 2);
    out.push(b'[');
    for (i, f) in frames.iter().enumerate() {
        if i > 0 {
            if newlines {
                out.push(b'\n');
            }
            out.push(b',');
        }
        out.extend_from_slice(f);
    }
    if newlines {
        out.push(b'\n');
    }
    out.push(b']');
    out
}

/// The frames of the v2 reply, each serialized on its own (for streaming writers).
pub fn v2_frame_list(
    result: &QueryResult,
    opts: &V2Options,
    ctx: &ResponseContext,
    partial_errors: &[(usize, OneApiError)],
) -> Vec<Vec<u8>> {
    let fragmented = opts.fragment_primary_tables || opts.progressive;
    let deferred = opts.defer_partial_query_failures;
    let reported = !deferred && !partial_errors.is_empty();
    let mut frames = Vec::new();

    frames.push(to_bytes(&json!({
        "FrameType": "DataSetHeader",
        "IsProgressive": opts.progressive,
        "Version": "v2.0",
        "IsFragmented": fragmented,
        "ErrorReportingPlacement": opts.error_reporting_placement.name(),
    })));

    frames.push(extended_properties(result));

    for (i, table) in result.tables.iter().enumerate() {
        let table_id = i + 1;
        let errors: Vec<&OneApiError> = if deferred {
            Vec::new()
        } else {
            partial_errors
                .iter()
                .filter(|(t, _)| *t == i)
                .map(|(_, e)| e)
                .collect()
        };
        if fragmented {
            fragmented_table(&mut frames, table, table_id, opts, &errors);
        } else {
            frames.push(data_table(
                table_id,
                "PrimaryResult",
                &table.name,
                &columns_json(table),
                |out| {
                    let n = write_rows(out, &table.batches, &table.columns, true);
                    if !errors.is_empty() {
                        write_error_row(out, &errors, n == 0);
                    }
                },
            ));
        }
    }

    if !reported {
        let qci_errors: Vec<&OneApiError> = if deferred {
            partial_errors.iter().map(|(_, e)| e).collect()
        } else {
            Vec::new()
        };
        frames.push(query_completion_information(
            result,
            ctx,
            result.tables.len() + 1,
            &qci_errors,
        ));
    }

    let mut completion = Map::new();
    completion.insert("FrameType".into(), Value::from("DataSetCompletion"));
    completion.insert("HasErrors".into(), Value::Bool(reported));
    completion.insert("Cancelled".into(), Value::Bool(false));
    if reported {
        completion.insert(
            "OneApiErrors".into(),
            Value::Array(partial_errors.iter().map(|(_, e)| e.to_json()).collect()),
        );
    }
    frames.push(to_bytes(&Value::Object(completion)));
    frames
}

/// TableHeader, TableFragment(s) (+ TableProgress when progressive), TableCompletion.
fn fragmented_table(
    frames: &mut Vec<Vec<u8>>,
    table: &ResultTable,
    table_id: usize,
    opts: &V2Options,
    errors: &[&OneApiError],
) {
    frames.push(to_bytes(&json!({
        "FrameType": "TableHeader",
        "TableId": table_id,
        "TableKind": "PrimaryResult",
        "TableName": table.name,
        "Columns": columns_json(table),
    })));
    let total = table.row_count();
    let mut written = 0usize;
    for batch in &table.batches {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let len = (batch.num_rows() - offset).min(MAX_FRAGMENT_ROWS);
            let chunk: RecordBatch = batch.slice(offset, len);
            frames.push(fragment(table_id, |out| {
                write_rows(out, std::slice::from_ref(&chunk), &table.columns, true);
            }));
            offset += len;
            written += len;
            if opts.progressive {
                let pct = if total == 0 {
                    100.0
                } else {
                    written as f64 * 100.0 / total as f64
                };
                frames.push(to_bytes(&json!({
                    "FrameType": "TableProgress",
                    "TableId": table_id,
                    "TableProgress": pct,
                })));
            }
        }
    }
    let end_of_table = opts.error_reporting_placement == ErrorPlacement::EndOfTable;
    if !errors.is_empty() && !end_of_table {
        frames.push(fragment(table_id, |out| write_error_row(out, errors, true)));
    }
    let mut completion = Map::new();
    completion.insert("FrameType".into(), Value::from("TableCompletion"));
    completion.insert("TableId".into(), Value::from(table_id));
    completion.insert("RowCount".into(), Value::from(total));
    if !errors.is_empty() && end_of_table {
        completion.insert("OneApiErrors".into(), errors_json(errors));
    }
    frames.push(to_bytes(&Value::Object(completion)));
}

fn fragment(table_id: usize, rows: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut head = Map::new();
    head.insert("FrameType".into(), Value::from("TableFragment"));
    head.insert("TableFragmentType".into(), Value::from("DataAppend"));
    head.insert("TableId".into(), Value::from(table_id));
    with_rows(&head, rows)
}

/// The `@ExtendedProperties` table: one `Visualization` row per primary result.
fn extended_properties(result: &QueryResult) -> Vec<u8> {
    let columns = json!([
        {"ColumnName": "TableId", "ColumnType": "int"},
        {"ColumnName": "Key", "ColumnType": "string"},
        {"ColumnName": "Value", "ColumnType": "dynamic"},
    ]);
    data_table(
        0,
        "QueryProperties",
        "@ExtendedProperties",
        &columns,
        |out| {
            for (i, t) in result.tables.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(
                    out,
                    &json!([i + 1, "Visualization", service::visualization_text(t)]),
                );
            }
        },
    )
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
    result: &QueryResult,
    ctx: &ResponseContext,
    table_id: usize,
    deferred_errors: &[&OneApiError],
) -> Vec<u8> {
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
        service::resource_consumption(result, ctx).to_string(),
    ));
    data_table(
        table_id,
        "QueryCompletionInformation",
        "QueryCompletionInformation",
        &columns,
        |out| {
            for (i, r) in rows.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, r);
            }
        },
    )
}

fn columns_json(table: &ResultTable) -> Value {
    Value::Array(
        table
            .columns
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

/// A `DataTable` frame whose rows `rows` writes (comma-separated, no brackets).
fn data_table(
    table_id: usize,
    kind: &str,
    name: &str,
    columns: &Value,
    rows: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let mut head = Map::new();
    head.insert("FrameType".into(), Value::from("DataTable"));
    head.insert("TableId".into(), Value::from(table_id));
    head.insert("TableKind".into(), Value::from(kind));
    head.insert("TableName".into(), Value::from(name));
    head.insert("Columns".into(), columns.clone());
    with_rows(&head, rows)
}

/// Serializes `head` and appends a `"Rows":[...]` member written by `rows`, so that large
/// tables never exist as one `serde_json::Value`.
fn with_rows(head: &Map<String, Value>, rows: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = to_bytes(&Value::Object(head.clone()));
    // `head` is a non-empty object: its text ends with `}`.
    out.pop();
    out.extend_from_slice(b",\"Rows\":[");
    rows(&mut out);
    out.extend_from_slice(b"]}");
    out
}

fn to_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, v);
    out
}
