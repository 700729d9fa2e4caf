//! Snapshots of the wire format: v2 frames, v1 replies, values and errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use calypso_engine::{Engine, QueryResult, RequestOptions};
use calypso_server::wire::{
    ColumnOverride, ErrorPlacement, OneApiError, ResponseContext, V2Options, dotnet_type,
    from_engine_error, v1_mgmt, v1_query, v1_query_with_errors, v2_frames, value_json,
};
use chrono::TimeZone;
use kql_types::KqlType;
use serde_json::Value;

const ALL_TYPES: &str = r#"datatable(i:int, l:long, r:real, d:decimal, s:string, dt:datetime,
    ts:timespan, g:guid, b:bool, y:dynamic)[
  1, 9223372036854775807, 0.01, decimal(2.00000000000001), "asdf",
  datetime(2020-03-04T14:05:01.3109965Z), time(01:23:45.6789),
  guid(123E27DE-1E4E-49D9-B579-FE0B331D3642), true, dynamic({"moshe":"value"}),
  int(null), long(null), real(null), decimal(null), "", datetime(null), time(null),
  guid(null), bool(null), dynamic(null)]"#;

const SPECIAL_VALUES: &str = r#"print n=real(nan), pi=real(+inf), ni=real(-inf), r=2.0,
    arr=dynamic([1,"a",null]), obj=dynamic({"a":{"b":[1.5]}}), dnull=dynamic(null),
    dstr=dynamic("text"), e="", neg=-2d-2s-2ms, zero=0s, tick=1tick,
    dec=decimal(-1.50), dec0=decimal(100), date0=datetime(2014-01-01T01:01:01),
    i=int(-7), l=-9223372036854775807, b=false"#;

fn ctx() -> ResponseContext {
    ResponseContext {
        client_request_id: "KPC.execute;00000000-1111-2222-3333-444444444444".into(),
        activity_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into(),
        timestamp: chrono::Utc
            .with_ymd_and_hms(2024, 5, 6, 7, 8, 9)
            .unwrap()
            .checked_add_signed(chrono::Duration::nanoseconds(123_456_700))
            .unwrap(),
        execution_time: Duration::from_millis(15),
    }
}

fn run(query: &str) -> QueryResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(Engine::new().execute("NetDefaultDB", query, &RequestOptions::default()))
        .unwrap()
}

/// Replaces values that change from run to run (process id, generated ids).
fn redact(mut v: Value) -> Value {
    fn walk(v: &mut Value, key: Option<&str>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    walk(x, Some(k));
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, None)),
            Value::String(s) => {
                let pid = format!("ProcessId={}", std::process::id());
                if s.contains(&pid) {
                    *s = s.replace(&pid, "ProcessId=[pid]");
                }
            }
            Value::Number(_) if key == Some("processId") => *v = Value::from("[pid]"),
            _ => {}
        }
    }
    walk(&mut v, None);
    // v1 TableOfContents ids are random GUIDs.
    let toc_rows = v
        .get_mut("Tables")
        .and_then(Value::as_array_mut)
        .and_then(|t| t.last_mut())
        .and_then(|toc| toc.get_mut("Rows"))
        .and_then(Value::as_array_mut);
    for r in toc_rows.into_iter().flatten() {
        if let Some(id) = r.get_mut(3)
            && id.is_string()
            && id != "00000000-0000-0000-0000-000000000000"
        {
            *id = Value::from("[id]");
        }
    }
    v
}

fn frames(result: &QueryResult, opts: &V2Options, errors: &[(usize, OneApiError)]) -> Value {
    let bytes = v2_frames(result, opts, &ctx(), errors);
    redact(serde_json::from_slice(&bytes).expect("v2 frames are JSON"))
}

fn too_large() -> Vec<(usize, OneApiError)> {
    vec![(0, OneApiError::result_set_too_large(2, &ctx()))]
}

#[test]
fn v2_one_result() {
    let r = run("print a=1, s='x'");
    insta::assert_json_snapshot!(frames(&r, &V2Options::default(), &[]));
}

#[test]
fn v2_two_results() {
    let r = run("datatable(A:int)[1,2,3]; datatable(A:string, B:int)['a',1,'b',2,'c',3]");
    assert_eq!(r.tables.len(), 2);
    insta::assert_json_snapshot!(frames(&r, &V2Options::default(), &[]));
}

#[test]
fn v2_render() {
    let r = run(
        "print a=1, b=2 | render timechart with (title='T', xcolumn=a, ycolumns=b, ymin=0, \
         accumulate=true, legend=hidden, kind=stacked)",
    );
    assert!(r.tables[0].render.is_some());
    let v = frames(&r, &V2Options::default(), &[]);
    let props = v[1]["Rows"][0][2].as_str().unwrap();
    let props: Value = serde_json::from_str(props).unwrap();
    insta::assert_json_snapshot!(props);
}

#[test]
fn v2_fragmented() {
    let r = run("datatable(A:int)[1,2,3]; datatable(A:string, B:int)['a',1,'b',2,'c',3]");
    let opts = V2Options {
        fragment_primary_tables: true,
        error_reporting_placement: ErrorPlacement::EndOfTable,
        ..V2Options::default()
    };
    insta::assert_json_snapshot!(frames(&r, &opts, &[]));
}

#[test]
fn v2_progressive() {
    let r = run("range x from 1 to 3 step 1");
    let opts = V2Options {
        progressive: true,
        ..V2Options::default()
    };
    insta::assert_json_snapshot!(frames(&r, &opts, &[]));
}

#[test]
fn v2_newlines_layout() {
    let r = run("print a=1");
    let opts = V2Options {
        fragment_primary_tables: true,
        newlines_between_frames: true,
        error_reporting_placement: ErrorPlacement::EndOfTable,
        ..V2Options::default()
    };
    let text = String::from_utf8(v2_frames(&r, &opts, &ctx(), &[])).unwrap();
    // `[` frame, then `\n,` frame ..., then `\n]`: one frame per line.
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("[{\"FrameType\":\"DataSetHeader\""));
    assert!(
        lines[1..lines.len() - 1]
            .iter()
            .all(|l| l.starts_with(",{"))
    );
    assert_eq!(*lines.last().unwrap(), "]");
    let types: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            let l = l.trim_start_matches(['[', ',']);
            serde_json::from_str::<Value>(l).ok()
        })
        .map(|f| f["FrameType"].as_str().unwrap().to_string())
        .collect();
    insta::assert_json_snapshot!(types);
    // Without newlines: the same frames on one line.
    let compact = v2_frames(&r, &V2Options::default(), &ctx(), &[]);
    assert!(!compact.contains(&b'\n'));
}

#[test]
fn v2_partial_error_in_data() {
    let r = run("range x from 1 to 2 step 1");
    insta::assert_json_snapshot!(frames(&r, &V2Options::default(), &too_large()));
}

#[test]
fn v2_partial_error_end_of_table() {
    let r = run("range x from 1 to 2 step 1");
    let opts = V2Options {
        fragment_primary_tables: true,
        newlines_between_frames: true,
        error_reporting_placement: ErrorPlacement::EndOfTable,
        ..V2Options::default()
    };
    insta::assert_json_snapshot!(frames(&r, &opts, &too_large()));
}

#[test]
fn v2_partial_error_deferred() {
    let r = run("range x from 1 to 2 step 1");
    let opts = V2Options {
        defer_partial_query_failures: true,
        ..V2Options::default()
    };
    let v = frames(&r, &opts, &too_large());
    let frames = v.as_array().unwrap();
    let last = frames.last().unwrap();
    assert_eq!(last["HasErrors"], false);
    let qci = &frames[frames.len() - 2];
    insta::assert_json_snapshot!(qci["Rows"]);
}

#[test]
fn v2_every_value_type() {
    let r = run(ALL_TYPES);
    let v = frames(&r, &V2Options::default(), &[]);
    insta::assert_json_snapshot!("v2_all_types_table", v[2]);
    let r = run(SPECIAL_VALUES);
    let v = frames(&r, &V2Options::default(), &[]);
    insta::assert_json_snapshot!("v2_special_values_table", v[2]);
}

#[test]
fn v1_query_reply() {
    let r = run("datatable(a:int)[1,2,3]; datatable(a:string, b:int)['a',1,'b',2,'c',3]");
    insta::assert_json_snapshot!(redact(v1_query(&r, &ctx())));
}

#[test]
fn v1_query_partial_error() {
    let r = run("range x from 1 to 2 step 1");
    let v = v1_query_with_errors(&r, &ctx(), &too_large());
    insta::assert_json_snapshot!(redact(v));
}

#[test]
fn v1_query_all_types() {
    let r = run(ALL_TYPES);
    let v = v1_query(&r, &ctx());
    insta::assert_json_snapshot!(redact(v["Tables"][0].clone()));
}

#[test]
fn v1_mgmt_reply() {
    let r = run(
        "print BuildVersion='1.0.0', BuildTime=datetime(2024-01-02), ServiceType='Engine', \
         ProductVersion='Calypso_0.1.0'",
    );
    let t = &r.tables[0];
    insta::assert_json_snapshot!("v1_mgmt_default", v1_mgmt(t, None));
    let version = [ColumnOverride::DATA_TYPE_ONLY; 4];
    insta::assert_json_snapshot!("v1_mgmt_show_version", v1_mgmt(t, Some(&version)));
    let r = run("print DatabaseName='db', IsCurrent=true");
    let dbs = [ColumnOverride::KEEP, ColumnOverride::data_type("Boolean")];
    insta::assert_json_snapshot!("v1_mgmt_boolean", v1_mgmt(&r.tables[0], Some(&dbs)));
}

#[test]
fn dotnet_types() {
    let names: Vec<(String, &str)> = [
        KqlType::Bool,
        KqlType::Int,
        KqlType::Long,
        KqlType::Real,
        KqlType::Decimal,
        KqlType::String,
        KqlType::DateTime,
        KqlType::TimeSpan,
        KqlType::Guid,
        KqlType::Dynamic,
    ]
    .into_iter()
    .map(|t| (t.name().to_string(), dotnet_type(t)))
    .collect();
    insta::assert_json_snapshot!(names);
}

#[test]
fn value_json_handles_other_arrow_types() {
    use arrow::array::{Int64Array, StringViewArray};
    // A long stored as Int32 by mistake is cast, not a panic.
    let a = arrow::array::Int32Array::from(vec![Some(5), None]);
    assert_eq!(value_json(&a, 0, KqlType::Long), Value::from(5));
    assert_eq!(value_json(&a, 1, KqlType::Long), Value::Null);
    let s = StringViewArray::from(vec![Some("v"), None]);
    assert_eq!(value_json(&s, 0, KqlType::String), Value::from("v"));
    assert_eq!(value_json(&s, 1, KqlType::String), Value::from(""));
    // Unreadable (a long array as a guid): null, and out-of-range rows too.
    let l = Int64Array::from(vec![1]);
    assert_eq!(value_json(&l, 0, KqlType::Guid), Value::Null);
    assert_eq!(value_json(&l, 9, KqlType::Long), Value::Null);
}

fn error_json(e: &OneApiError) -> Value {
    redact(e.to_json())
}

#[test]
fn errors() {
    let c = ctx();
    let all: Vec<(String, u16, Value)> = [
        OneApiError::syntax_error(
            "Syntax error: Expected '=', found ',' [line:position=1:64]",
            &c,
        )
        .with_request("print a=1,", "NetDefaultDB"),
        OneApiError::semantic_error(
            "Semantic error: Failed to resolve table or column expression named 'aaa'",
            &c,
        ),
        OneApiError::bad_request(
            "Control commands (starting with a dot '.') do not support api_version=v2",
            &c,
        ),
        OneApiError::entity_not_found("Database 'nope' was not found", &c),
        OneApiError::internal(&c),
        OneApiError::throttled(
            "QueryThrottledException",
            "Too many concurrent requests",
            &c,
        ),
        OneApiError::payload_too_large("The body is larger than 104857600 bytes", &c),
        OneApiError::streaming_ingest(
            400,
            "StreamingIngestionFunctionalityDisabled",
            "Streaming ingestion is disabled for table 'T'",
            true,
            &c,
        ),
        OneApiError::result_set_too_large(1, &c),
    ]
    .iter()
    .map(|e| (e.code.clone(), e.status, error_json(e)))
    .collect();
    insta::assert_json_snapshot!(all);
}

#[test]
fn engine_errors_map_to_one_api_errors() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let engine = Engine::new();
    let cases = [
        ("NetDefaultDB", "print a=", 400, "BadRequest_SyntaxError"),
        ("NetDefaultDB", "aaa", 400, "General_BadRequest"),
        ("nope", "print 1", 404, "BadRequest_EntityNotFound"),
    ];
    for (db, q, status, code) in cases {
        let e = rt
            .block_on(engine.execute(db, q, &RequestOptions::default()))
            .expect_err(q);
        let o = from_engine_error(&e, &ctx());
        assert_eq!((o.status, o.code.as_str()), (status, code), "{q}: {e}");
        let msg = o.to_json()["error"]["@message"]
            .as_str()
            .unwrap()
            .to_string();
        if code == "BadRequest_SyntaxError" {
            assert!(msg.contains("Syntax error:"), "{msg}");
        }
        if code == "General_BadRequest" {
            assert!(msg.contains("Semantic error:"), "{msg}");
        }
    }
}
