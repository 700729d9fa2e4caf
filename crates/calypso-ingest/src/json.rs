//! The JSON family: `json` (JSON lines), `multijson` and `singlejson`.
//!
//! Records are JSON objects whose properties are matched to column names exactly;
//! missing properties are missing values, other properties are ignored.
//!
//! * `json`: one object per line (`\n` or `\r\n`). As Kusto documents, lines may use the
//!   lenient syntax (comments, single quotes), and lines that are not a JSON object are
//!   skipped rather than failing the request.
//! * `multijson`: JSON values separated by whitespace, each spanning any number of lines;
//!   a top-level array gives one record per element. Any malformed value fails the whole
//!   request (`BadRequest_InvalidBlob`).
//! * `singlejson`: exactly one JSON value, an object or an array of objects.

use kql_types::lenient;
use serde_json::{Map, Value};

use crate::apply::{self, Plan};
use crate::columns::Batcher;
use crate::{IngestError, codes};

/// How records fill the columns: by name (identity mapping) or by a mapping.
struct Fill<'a> {
    names: Vec<String>,
    plan: Option<&'a Plan>,
}

/// Reads JSON lines.
pub(crate) fn read_lines(
    text: &str,
    out: &mut Batcher,
    plan: Option<&Plan>,
) -> Result<(), IngestError> {
    let fill = fill(out, plan);
    let mut record = 0u64;
    for line in text.split('\n') {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value = match serde_json::from_str::<Value>(line) {
            Ok(v) => Some(v),
            Err(_) => lenient::parse(line),
        };
        if let Some(Value::Object(map)) = value {
            record += 1;
            push_object(&map, &fill, out, record)?;
        }
    }
    Ok(())
}

/// Reads a stream of JSON values separated by whitespace.
pub(crate) fn read_multi(
    text: &str,
    out: &mut Batcher,
    plan: Option<&Plan>,
) -> Result<(), IngestError> {
    let fill = fill(out, plan);
    let mut record = 0u64;
    let mut documents = 0u64;
    for item in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        match item {
            Ok(v) => {
                documents += 1;
                push_document(v, &fill, out, &mut record)?;
            }
            Err(e) => {
                // A single document in Kusto's lenient syntax (comments, single quotes).
                if documents == 0
                    && let Some(v) = lenient::parse(text)
                {
                    return push_document(v, &fill, out, &mut record);
                }
                return Err(IngestError::at_record(
                    codes::INVALID_BLOB,
                    record + 1,
                    format!("Invalid JSON in record {}: {e}", record + 1),
                ));
            }
        }
    }
    Ok(())
}

/// Reads one JSON document.
pub(crate) fn read_single(
    text: &str,
    out: &mut Batcher,
    plan: Option<&Plan>,
) -> Result<(), IngestError> {
    if text.trim().is_empty() {
        return Ok(());
    }
    let fill = fill(out, plan);
    let value = match serde_json::from_str::<Value>(text) {
        Ok(v) => v,
        Err(e) => match lenient::parse(text) {
            Some(v) => v,
            None => {
                return Err(IngestError::new(
                    codes::INVALID_BLOB,
                    format!("Invalid JSON document: {e}"),
                ));
            }
        },
    };
    let mut record = 0;
    push_document(value, &fill, out, &mut record)
}

fn fill<'a>(out: &Batcher, plan: Option<&'a Plan>) -> Fill<'a> {
    Fill {
        names: out.names().map(str::to_string).collect(),
        plan,
    }
}

/// Appends an object as one record, or an array's objects as one record each.
fn push_document(
    v: Value,
    fill: &Fill<'_>,
    out: &mut Batcher,
    record: &mut u64,
) -> Result<(), IngestError> {
    match v {
        Value::Object(map) => {
            *record += 1;
            push_object(&map, fill, out, *record)
        }
        Value::Array(items) => {
            for item in items {
                *record += 1;
                match item {
                    Value::Object(map) => push_object(&map, fill, out, *record)?,
                    other => return Err(not_an_object(*record, &other)),
                }
            }
            Ok(())
        }
        other => Err(not_an_object(*record + 1, &other)),
    }
}

fn not_an_object(record: u64, v: &Value) -> IngestError {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    IngestError::at_record(
        codes::INVALID_BLOB,
        record,
        format!("Record {record} is {kind}, not a JSON object"),
    )
}

fn push_object(
    map: &Map<String, Value>,
    fill: &Fill<'_>,
    out: &mut Batcher,
    record: u64,
) -> Result<(), IngestError> {
    if let Some(plan) = fill.plan {
        apply::push_json_row(out, plan, map, record);
        return out.end_row();
    }
    for (i, name) in fill.names.iter().enumerate() {
        match map.get(name) {
            Some(v) => out.push_json(i, v),
            None => out.push_null(i),
        }
    }
    out.end_row()
}
