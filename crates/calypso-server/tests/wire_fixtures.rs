//! Structural comparison with the captured ADX replies in
//! `shared/reference/wire-fixtures` (see its README).
//!
//! Each fixture is replayed: its primary tables become `ResultTable`s (values parsed from
//! the fixture's JSON), the request options and partial errors are read off the fixture,
//! and our reply is compared with the capture: frame sequence (runs of `TableFragment`
//! collapsed, `TableProgress` ignored), key sets per frame type, header and completion
//! flags, one-frame-per-line layout, the service tables (kind, name, id, columns),
//! Visualization keys, QueryCompletionInformation events, the primary columns and values,
//! and OneApi error keys. Ids, timestamps and statistics are not compared.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Decimal128Array, DurationNanosecondArray, FixedSizeBinaryArray,
    Float64Array, Int32Array, Int64Array, LargeStringArray, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use calypso_engine::{QueryResult, ResultTable};
use calypso_server::wire::{
    ColumnOverride, ErrorPlacement, OneApiError, ResponseContext, V2Options, v1_mgmt,
    v1_query_with_errors, v2_frames,
};
use kql_types::KqlType;
use kql_types::parse::{parse_datetime, parse_decimal, parse_guid, parse_timespan};
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/wire-fixtures");
    assert!(
        dir.is_dir(),
        "wire fixtures not found at {} (expected shared/reference/wire-fixtures next to the \
         repository checkout); these tests need them and do not skip",
        dir.display()
    );
    dir
}

fn load(name: &str) -> (Value, String) {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("fixture {} is not JSON: {e}", path.display()));
    (v, text)
}

fn ctx() -> ResponseContext {
    ResponseContext::new(
        "KPC.execute;fixture",
        "123e27de-1e4e-49d9-b579-fe0b331d3642",
    )
}

// ---------------------------------------------------------------------------------------
// Fixture tables → ResultTables

fn kql_type(name: &str) -> KqlType {
    KqlType::from_name(name).unwrap_or_else(|| panic!("unknown column type {name}"))
}

fn build_array(t: KqlType, values: &[&Value]) -> ArrayRef {
    let text = |v: &Value| v.as_str().map(str::to_string);
    match t {
        KqlType::Bool => Arc::new(
            values
                .iter()
                .map(|v| v.as_bool().or_else(|| v.as_i64().map(|i| i != 0)))
                .collect::<BooleanArray>(),
        ),
        KqlType::Int => Arc::new(
            values
                .iter()
                .map(|v| v.as_i64().map(|i| i as i32))
                .collect::<Int32Array>(),
        ),
        KqlType::Long => Arc::new(values.iter().map(|v| v.as_i64()).collect::<Int64Array>()),
        KqlType::Real => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.parse::<f64>().ok().or(match s.as_str() {
                        "Infinity" => Some(f64::INFINITY),
                        "-Infinity" => Some(f64::NEG_INFINITY),
                        _ => Some(f64::NAN),
                    }),
                    _ => v.as_f64(),
                })
                .collect::<Float64Array>(),
        ),
        KqlType::Decimal => Arc::new(
            values
                .iter()
                .map(|v| text(v).and_then(|s| parse_decimal(&s, 18)))
                .collect::<Decimal128Array>()
                .with_precision_and_scale(38, 18)
                .unwrap(),
        ),
        KqlType::String => Arc::new(
            values
                .iter()
                .map(|v| Some(text(v).unwrap_or_default()))
                .collect::<StringArray>(),
        ),
        KqlType::DateTime => Arc::new(
            values
                .iter()
                .map(|v| text(v).and_then(|s| parse_datetime(&s)))
                .collect::<TimestampNanosecondArray>(),
        ),
        KqlType::TimeSpan => Arc::new(
            values
                .iter()
                .map(|v| text(v).and_then(|s| parse_timespan(&s)))
                .collect::<DurationNanosecondArray>(),
        ),
        KqlType::Guid => Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                values.iter().map(|v| text(v).and_then(|s| parse_guid(&s))),
                16,
            )
            .unwrap(),
        ),
        KqlType::Dynamic => Arc::new(
            values
                .iter()
                .map(|v| (!v.is_null()).then(|| v.to_string()))
                .collect::<LargeStringArray>(),
        ),
    }
}

/// A ResultTable from fixture columns (`ColumnType` or v1 `DataType`) and array rows
/// (object rows, i.e. errors, are skipped).
fn result_table(name: &str, columns: &Value, rows: &[&Value]) -> ResultTable {
    let columns: Vec<(String, KqlType)> = columns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let ty = c["ColumnType"]
                .as_str()
                .map(kql_type)
                .unwrap_or_else(|| v1_type(c["DataType"].as_str().unwrap()));
            (c["ColumnName"].as_str().unwrap().to_string(), ty)
        })
        .collect();
    let rows: Vec<&Vec<Value>> = rows.iter().filter_map(|r| r.as_array()).collect();
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, t))| {
            let col: Vec<&Value> = rows.iter().map(|r| &r[i]).collect();
            build_array(*t, &col)
        })
        .collect();
    let schema = kql_types::types::schema(&columns);
    let batch = RecordBatch::try_new(schema, arrays).unwrap();
    ResultTable {
        name: name.to_string(),
        columns,
        batches: vec![batch],
        render: None,
    }
}

fn v1_type(dotnet: &str) -> KqlType {
    match dotnet {
        "SByte" | "Boolean" => KqlType::Bool,
        "Int32" => KqlType::Int,
        "Int64" => KqlType::Long,
        "Double" => KqlType::Real,
        "SqlDecimal" | "Decimal" => KqlType::Decimal,
        "String" => KqlType::String,
        "DateTime" => KqlType::DateTime,
        "TimeSpan" => KqlType::TimeSpan,
        "Guid" => KqlType::Guid,
        "Object" => KqlType::Dynamic,
        other => panic!("unknown DataType {other}"),
    }
}

fn frame_type(f: &Value) -> &str {
    f["FrameType"].as_str().unwrap_or("?")
}

/// Frame sequence with runs of TableFragment collapsed and TableProgress dropped.
fn sequence(frames: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in frames {
        let t = frame_type(f);
        let label = match f.get("TableKind").and_then(Value::as_str) {
            Some(k) if t == "DataTable" => format!("DataTable({k})"),
            _ => t.to_string(),
        };
        if t == "TableProgress" || (t == "TableFragment" && out.last() == Some(&label)) {
            continue;
        }
        out.push(label);
    }
    out
}

// ---------------------------------------------------------------------------------------
// v2

struct Replay {
    result: QueryResult,
    opts: V2Options,
    errors: Vec<(usize, OneApiError)>,
}

/// Reads the request options, primary tables and partial errors off a v2 fixture.
fn replay_v2(frames: &[Value], raw: &str) -> Replay {
    let header = &frames[0];
    let completion = frames.last().unwrap();
    let has_errors = completion["HasErrors"].as_bool().unwrap();
    let mut tables: Vec<(Value, Value, Vec<Value>)> = Vec::new(); // id, name/columns, rows
    let mut placement = ErrorPlacement::InData;
    let mut error_tables = Vec::new();
    for f in frames {
        match frame_type(f) {
            "DataTable" if f["TableKind"] == "PrimaryResult" => {
                let rows = f["Rows"].as_array().unwrap().clone();
                if rows.iter().any(Value::is_object) {
                    error_tables.push(tables.len());
                }
                tables.push((f["TableName"].clone(), f["Columns"].clone(), rows));
            }
            "TableHeader" => tables.push((f["TableName"].clone(), f["Columns"].clone(), vec![])),
            "TableFragment" => {
                let rows = f["Rows"].as_array().unwrap();
                if rows.iter().any(Value::is_object) {
                    error_tables.push(tables.len() - 1);
                }
                tables.last_mut().unwrap().2.extend(rows.iter().cloned());
            }
            "TableCompletion" if f.get("OneApiErrors").is_some() => {
                placement = ErrorPlacement::EndOfTable;
                error_tables.push(tables.len() - 1);
            }
            _ => {}
        }
    }
    if header["ErrorReportingPlacement"] == "EndOfTable" {
        placement = ErrorPlacement::EndOfTable;
    }
    let deferred = !has_errors
        && frames.iter().any(|f| {
            f["TableKind"] == "QueryCompletionInformation"
                && f["Rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r[6] == "Error")
        });
    if deferred {
        error_tables.push(0);
    }
    let result = QueryResult {
        tables: tables
            .iter()
            .map(|(name, cols, rows)| {
                let rows: Vec<&Value> = rows.iter().collect();
                result_table(name.as_str().unwrap(), cols, &rows)
            })
            .collect(),
        ..Default::default()
    };
    let fragmented = frames.iter().any(|f| frame_type(f) == "TableHeader");
    let opts = V2Options {
        fragment_primary_tables: fragmented,
        newlines_between_frames: raw.contains("}\n,{"),
        progressive: header["IsProgressive"].as_bool().unwrap(),
        error_reporting_placement: placement,
        defer_partial_query_failures: deferred,
    };
    let errors = error_tables
        .into_iter()
        .map(|t| (t, OneApiError::result_set_too_large(1, &ctx())))
        .collect();
    Replay {
        result,
        opts,
        errors,
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Keys per frame type, over all frames of that type.
fn frame_keys(frames: &[Value]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in frames {
        out.entry(frame_type(f).to_string())
            .or_default()
            .extend(keys(f));
    }
    out
}

/// Keys newer services add that older captures lack.
const NEWER_KEYS: [&str; 2] = ["IsFragmented", "ErrorReportingPlacement"];
const NEWER_VISUALIZATION_KEYS: [&str; 5] = ["AnomalyColumns", "Ymin", "Ymax", "Xmin", "Xmax"];
/// `@context` keys of older services that Calypso does not write.
const OLDER_CONTEXT_KEYS: [&str; 1] = ["appDomainName"];

fn service_table<'a>(frames: &'a [Value], kind: &str) -> Option<&'a Value> {
    frames
        .iter()
        .find(|f| frame_type(f) == "DataTable" && f["TableKind"] == kind)
}

fn primary_tables(frames: &[Value]) -> Vec<(Value, Value, Vec<Value>)> {
    let mut out: Vec<(Value, Value, Vec<Value>)> = Vec::new();
    for f in frames {
        match frame_type(f) {
            "DataTable" if f["TableKind"] == "PrimaryResult" => out.push((
                f["TableName"].clone(),
                f["Columns"].clone(),
                f["Rows"].as_array().unwrap().clone(),
            )),
            "TableHeader" => out.push((f["TableName"].clone(), f["Columns"].clone(), vec![])),
            "TableFragment" => {
                if let Some(t) = out.last_mut() {
                    t.2.extend(f["Rows"].as_array().unwrap().iter().cloned());
                }
            }
            _ => {}
        }
    }
    out
}

/// Values are equal when the same after Kusto's accepted variations: datetimes with or
/// without a zero fraction, numbers as integers or floats.
fn same_value(ours: &Value, theirs: &Value, t: &str) -> bool {
    match (ours, theirs) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) if t == "datetime" => {
            parse_datetime(a) == parse_datetime(b)
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y, t))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| same_value(x, y, t)))
        }
        _ => ours == theirs,
    }
}

fn check_error_keys(ours: &Value, theirs: &Value, what: &str) {
    let (o, t) = (&ours["error"], &theirs["error"]);
    let missing: Vec<_> = keys(t).difference(&keys(o)).cloned().collect();
    assert!(
        missing.is_empty(),
        "{what}: error keys missing: {missing:?}"
    );
    let missing: Vec<_> = keys(&t["@context"])
        .difference(&keys(&o["@context"]))
        .filter(|k| !OLDER_CONTEXT_KEYS.contains(&k.as_str()))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "{what}: @context keys missing: {missing:?}"
    );
}

fn check_v2(name: &str) {
    let (fixture, raw) = load(name);
    let theirs = fixture.as_array().unwrap().clone();
    let replay = replay_v2(&theirs, &raw);
    let bytes = v2_frames(&replay.result, &replay.opts, &ctx(), &replay.errors);
    let text = String::from_utf8(bytes).unwrap();
    let ours: Vec<Value> = serde_json::from_str(&text).unwrap();

    // frames
    assert_eq!(sequence(&ours), sequence(&theirs), "{name}: frame sequence");
    // keys
    let (ok, tk) = (frame_keys(&ours), frame_keys(&theirs));
    for (ft, tkeys) in &tk {
        let okeys = &ok[ft];
        let missing: Vec<_> = tkeys.difference(okeys).collect();
        let extra: Vec<_> = okeys
            .difference(tkeys)
            .filter(|k| !NEWER_KEYS.contains(&k.as_str()))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name}: {ft} keys: missing {missing:?}, extra {extra:?}"
        );
    }
    // header and completion flags
    for k in [
        "IsProgressive",
        "Version",
        "IsFragmented",
        "ErrorReportingPlacement",
    ] {
        if let Some(v) = theirs[0].get(k) {
            assert_eq!(&ours[0][k], v, "{name}: DataSetHeader.{k}");
        }
    }
    for k in ["HasErrors", "Cancelled"] {
        assert_eq!(
            ours.last().unwrap()[k],
            theirs.last().unwrap()[k],
            "{name}: {k}"
        );
    }
    // layout: one frame per line when the capture has it
    if replay.opts.newlines_between_frames {
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), ours.len() + 1, "{name}: one frame per line");
        assert!(lines[0].starts_with("[{"), "{name}: layout start");
        assert!(
            lines[1..lines.len() - 1]
                .iter()
                .all(|l| l.starts_with(",{")),
            "{name}: layout `\\n,` between frames"
        );
        assert_eq!(lines[lines.len() - 1], "]", "{name}: layout end");
    }
    // service tables
    for kind in ["QueryProperties", "QueryCompletionInformation"] {
        let t = service_table(&theirs, kind);
        let o = service_table(&ours, kind);
        assert_eq!(t.is_some(), o.is_some(), "{name}: presence of {kind}");
        if let (Some(t), Some(o)) = (t, o) {
            for k in ["TableId", "TableName", "Columns"] {
                assert_eq!(o[k], t[k], "{name}: {kind}.{k}");
            }
        }
    }
    // Visualization rows and keys
    let (o, t) = (
        service_table(&ours, "QueryProperties").unwrap(),
        service_table(&theirs, "QueryProperties").unwrap(),
    );
    let (orows, trows) = (o["Rows"].as_array().unwrap(), t["Rows"].as_array().unwrap());
    assert_eq!(orows.len(), trows.len(), "{name}: @ExtendedProperties rows");
    for (or, tr) in orows.iter().zip(trows) {
        assert_eq!((&or[0], &or[1]), (&tr[0], &tr[1]), "{name}: props row");
        let ov: Value = serde_json::from_str(or[2].as_str().unwrap()).unwrap();
        let tv: Value = serde_json::from_str(tr[2].as_str().unwrap()).unwrap();
        let (ok, tk) = (keys(&ov), keys(&tv));
        assert!(
            tk.is_subset(&ok),
            "{name}: Visualization keys {tk:?} ⊄ {ok:?}"
        );
        assert!(
            ok.difference(&tk)
                .all(|k| NEWER_VISUALIZATION_KEYS.contains(&k.as_str())),
            "{name}: extra Visualization keys"
        );
        for k in &tk {
            assert_eq!(ov[k], tv[k], "{name}: Visualization.{k}");
        }
    }
    // QueryCompletionInformation events
    if let (Some(o), Some(t)) = (
        service_table(&ours, "QueryCompletionInformation"),
        service_table(&theirs, "QueryCompletionInformation"),
    ) {
        let events = |f: &Value| -> BTreeSet<String> {
            f["Rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| Value::Array(r.as_array().unwrap()[5..11].to_vec()).to_string())
                .collect()
        };
        let missing: Vec<_> = events(t).difference(&events(o)).cloned().collect();
        assert!(
            missing.is_empty(),
            "{name}: QCI events missing: {missing:?}"
        );
        for r in o["Rows"].as_array().unwrap() {
            let p: Value = serde_json::from_str(r[11].as_str().unwrap()).unwrap();
            assert!(p.is_object(), "{name}: QCI payload is a JSON object");
        }
    }
    // primary tables: names, columns, values, error rows
    let (op, tp) = (primary_tables(&ours), primary_tables(&theirs));
    assert_eq!(op.len(), tp.len(), "{name}: primary tables");
    for ((on, oc, or), (tn, tc, tr)) in op.iter().zip(&tp) {
        assert_eq!((on, oc), (tn, tc), "{name}: primary name and columns");
        assert_eq!(or.len(), tr.len(), "{name}: primary rows");
        let types: Vec<&str> = tc
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["ColumnType"].as_str().unwrap())
            .collect();
        for (orow, trow) in or.iter().zip(tr) {
            match (orow, trow) {
                (Value::Array(a), Value::Array(b)) => {
                    for (i, (x, y)) in a.iter().zip(b).enumerate() {
                        assert!(same_value(x, y, types[i]), "{name}: value {x} vs {y}");
                    }
                }
                (Value::Object(_), Value::Object(_)) => {
                    check_error_keys(&orow["OneApiErrors"][0], &trow["OneApiErrors"][0], name);
                }
                _ => panic!("{name}: row kinds differ: {orow} vs {trow}"),
            }
        }
    }
    // OneApiErrors of TableCompletion and DataSetCompletion
    for ft in ["TableCompletion", "DataSetCompletion"] {
        let find = |fs: &[Value]| {
            fs.iter()
                .find(|f| frame_type(f) == ft && f.get("OneApiErrors").is_some())
                .cloned()
        };
        let (o, t) = (find(&ours), find(&theirs));
        assert_eq!(
            o.is_some(),
            t.is_some(),
            "{name}: {ft}.OneApiErrors presence"
        );
        if let (Some(o), Some(t)) = (o, t) {
            check_error_keys(&o["OneApiErrors"][0], &t["OneApiErrors"][0], name);
        }
    }
}

#[test]
fn v2_go_valid_frames() {
    check_v2("go/v2/validFrames.json");
}

#[test]
fn v2_go_two_tables() {
    check_v2("go/v2/twoTables.json");
}

#[test]
fn v2_go_partial_error_end_of_table() {
    check_v2("go/v2/partialError.json");
}

#[test]
fn v2_python_deft() {
    check_v2("python/deft.json");
}

#[test]
fn v2_python_dynamic() {
    check_v2("python/dynamic.json");
}

#[test]
fn v2_python_zero_results() {
    check_v2("python/zero_results.json");
}

#[test]
fn v2_python_progressive() {
    check_v2("python/progressive_result.json");
}

#[test]
fn v2_python_partial_error_in_data() {
    check_v2("python/query_partial_results_defer_is_false.json");
}

#[test]
fn v2_python_partial_error_deferred() {
    check_v2("python/query_partial_results_defer_is_true.json");
}

// ---------------------------------------------------------------------------------------
// v1

fn check_v1_query(name: &str) {
    let (fixture, _) = load(name);
    let theirs = fixture["Tables"].as_array().unwrap();
    let has_exceptions = fixture.get("Exceptions").is_some();
    // The primary tables are those the TOC calls QueryResult (all tables when no TOC).
    let n_primary = match theirs.last().filter(|_| !has_exceptions) {
        Some(toc) => toc["Rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r[1] == "QueryResult")
            .count(),
        None => theirs.len(),
    };
    let mut tables = Vec::new();
    let mut errors = Vec::new();
    for (i, t) in theirs[..n_primary].iter().enumerate() {
        let rows: Vec<&Value> = t["Rows"].as_array().unwrap().iter().collect();
        if rows.iter().any(|r| r.is_object()) {
            errors.push((i, OneApiError::result_set_too_large(1, &ctx())));
        }
        tables.push(result_table("PrimaryResult", &t["Columns"], &rows));
    }
    let result = QueryResult {
        tables,
        ..Default::default()
    };
    let ours = v1_query_with_errors(&result, &ctx(), &errors);
    assert_eq!(
        ours.get("Exceptions").is_some(),
        has_exceptions,
        "{name}: top-level Exceptions"
    );
    let ours = ours["Tables"].as_array().unwrap();
    assert_eq!(ours.len(), theirs.len(), "{name}: number of tables");
    for (i, (o, t)) in ours.iter().zip(theirs).enumerate() {
        assert_eq!(o["TableName"], t["TableName"], "{name}: table {i} name");
        let (oc, tc) = (
            o["Columns"].as_array().unwrap(),
            t["Columns"].as_array().unwrap(),
        );
        assert_eq!(oc.len(), tc.len(), "{name}: table {i} columns");
        for (a, b) in oc.iter().zip(tc) {
            assert_eq!(a["ColumnName"], b["ColumnName"], "{name}: table {i} column");
            assert_eq!(a["DataType"], b["DataType"], "{name}: table {i} DataType");
            if let Some(ct) = b.get("ColumnType") {
                assert_eq!(&a["ColumnType"], ct, "{name}: table {i} ColumnType");
            }
        }
        let (or, tr) = (o["Rows"].as_array().unwrap(), t["Rows"].as_array().unwrap());
        assert_eq!(or.len(), tr.len(), "{name}: table {i} rows");
        if i < n_primary {
            for (x, y) in or.iter().zip(tr) {
                if y.is_object() {
                    assert!(x["Exceptions"][0].is_string(), "{name}: exception row");
                } else {
                    assert!(same_value(x, y, "datetime"), "{name}: row {x} vs {y}");
                }
            }
        }
    }
    if has_exceptions {
        return;
    }
    // TableOfContents: kinds and names; QueryStatus severities.
    let toc = |ts: &[Value]| -> Vec<(Value, Value, Value)> {
        ts.last().unwrap()["Rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
            .collect()
    };
    assert_eq!(toc(ours), toc(theirs), "{name}: TableOfContents");
    let status = |ts: &[Value]| -> Vec<(Value, Value, Value)> {
        ts[ts.len() - 2]["Rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r[1].clone(), r[2].clone(), r[3].clone()))
            .collect()
    };
    assert_eq!(status(ours), status(theirs), "{name}: QueryStatus rows");
    let props = &ours[n_primary]["Rows"];
    let tprops = &theirs[n_primary]["Rows"];
    for (o, t) in props
        .as_array()
        .unwrap()
        .iter()
        .zip(tprops.as_array().unwrap())
    {
        let ov: Value = serde_json::from_str(o[0].as_str().unwrap()).unwrap();
        // The 2018 capture was edited (spaces after colons) but is still JSON.
        let tv: Value = serde_json::from_str(t[0].as_str().unwrap()).unwrap();
        assert!(
            keys(&tv).is_subset(&keys(&ov)),
            "{name}: Visualization keys"
        );
    }
}

#[test]
fn v1_go_success() {
    check_v1_query("go/v1/success.json");
}

#[test]
fn v1_go_partial_error() {
    check_v1_query("go/v1/partialError.json");
}

#[test]
fn v1_python_admin_then_query() {
    check_v1_query("python/adminthenquery.json");
}

#[test]
fn v1_node_query() {
    check_v1_query("node/v1_2.json");
}

#[test]
fn v1_python_show_version() {
    let (fixture, _) = load("python/versionshowcommandresult.json");
    let t = &fixture["Tables"][0];
    let rows: Vec<&Value> = t["Rows"].as_array().unwrap().iter().collect();
    let table = result_table("Table_0", &t["Columns"], &rows);
    let overrides = vec![ColumnOverride::DATA_TYPE_ONLY; table.columns.len()];
    let ours = v1_mgmt(&table, Some(&overrides));
    let o = &ours["Tables"][0];
    assert_eq!(ours["Tables"].as_array().unwrap().len(), 1);
    assert_eq!(o["TableName"], t["TableName"]);
    assert_eq!(o["Columns"], t["Columns"], "columns with DataType only");
    for (x, y) in o["Rows"]
        .as_array()
        .unwrap()
        .iter()
        .zip(t["Rows"].as_array().unwrap())
    {
        assert!(same_value(x, y, "datetime"), "{x} vs {y}");
    }
}
