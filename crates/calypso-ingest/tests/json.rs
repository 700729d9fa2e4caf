//! The JSON family: JSON lines, multijson, singlejson, and conversion of JSON values.
#![allow(clippy::unwrap_used)]

mod common;

use calypso_ingest::{BATCH_ROWS, Format, codes, read};
use common::{cols, err, ok, rows, table};

const AB: &[&str] = &["a:long", "b:string"];

#[test]
fn json_lines() {
    assert_eq!(
        ok(
            Format::Json,
            "{\"a\":1,\"b\":\"x\"}\n\n  {\"b\":\"y\",\"extra\":true}  \r\n{}",
            AB
        ),
        table(&[&["1", "x"], &["∅", "y"], &["∅", ""]])
    );
    // Property names match exactly.
    assert_eq!(
        ok(Format::Json, "{\"A\":1,\"B\":\"x\",\"a \":2}\n", AB),
        table(&[&["∅", ""]])
    );
}

#[test]
fn json_lines_skip_malformed_lines() {
    // As documented for format=json: malformed records are ignored.
    assert_eq!(
        ok(
            Format::Json,
            "{\"a\":1}\n{\"a\":\n\"b\"}\n{bad json\n[1,2]\n42\n{\"a\":2}\n",
            AB
        ),
        table(&[&["1", ""], &["2", ""]])
    );
    // Kusto's lenient syntax: single quotes, unquoted names, comments.
    assert_eq!(
        ok(Format::Json, "{'a': 3, b: 'q'} // note\n", AB),
        table(&[&["3", "q"]])
    );
    // Nothing valid at all: no records.
    let e = err(Format::Json, "{bad\nnot json\n", AB);
    assert_eq!(e.code, codes::NO_RECORDS);
    assert!(e.permanent);
    // A pretty-printed object is not JSON lines.
    let e = err(Format::Json, "{\n  \"a\": 1\n}\n", AB);
    assert_eq!(e.code, codes::NO_RECORDS);
}

#[test]
fn multijson_objects_span_lines() {
    let data = "{\n  \"a\": 1,\n  \"b\": \"x\"\n}\n{\"a\": 2}{\"a\": 3, \"b\": \"z\"}\n\n\t{\n\"b\"\n:\n\"w\"}";
    assert_eq!(
        ok(Format::MultiJson, data, AB),
        table(&[&["1", "x"], &["2", ""], &["3", "z"], &["∅", "w"]])
    );
}

#[test]
fn multijson_arrays() {
    let data = "[\n  {\"a\": 1},\n  {\"a\": 2, \"b\": \"y\"}\n]\n{\"a\": 3}\n[]\n[{\"b\": \"q\"}]";
    assert_eq!(
        ok(Format::MultiJson, data, AB),
        table(&[&["1", ""], &["2", "y"], &["3", ""], &["∅", "q"]])
    );
}

#[test]
fn multijson_errors() {
    let e = err(Format::MultiJson, "{\"a\":1}\n{\"a\": 2,\n", AB);
    assert_eq!(e.code, codes::INVALID_BLOB);
    assert_eq!(e.code, "BadRequest_InvalidBlob");
    assert_eq!(e.record, Some(2));
    assert!(e.permanent);
    assert!(
        e.message.starts_with("Invalid JSON in record 2"),
        "{}",
        e.message
    );
    assert!(e.message.contains("line 3"), "{}", e.message);
    let e = err(Format::MultiJson, "{\"a\":1} garbage", AB);
    assert_eq!((e.code, e.record), (codes::INVALID_BLOB, Some(2)));
    let e = err(Format::MultiJson, "[{\"a\":1}, 5, {\"a\":2}]", AB);
    assert_eq!((e.code, e.record), (codes::INVALID_BLOB, Some(2)));
    assert_eq!(e.message, "Record 2 is a number, not a JSON object");
    let e = err(Format::MultiJson, "{\"a\":1}\n\"text\"", AB);
    assert_eq!((e.code, e.record), (codes::INVALID_BLOB, Some(2)));
    assert_eq!(err(Format::MultiJson, " \n ", AB).code, codes::NO_RECORDS);
    assert_eq!(err(Format::MultiJson, "[]", AB).code, codes::NO_RECORDS);
    // One document in the lenient syntax is accepted.
    assert_eq!(
        ok(Format::MultiJson, "[{'a': 1, /* c */ b: 'x',},]", AB),
        table(&[&["1", "x"]])
    );
}

#[test]
fn singlejson() {
    assert_eq!(
        ok(
            Format::SingleJson,
            "\n{\n \"a\": 7,\n \"b\": \"s\"\n}\n",
            AB
        ),
        table(&[&["7", "s"]])
    );
    assert_eq!(
        ok(Format::SingleJson, "[{\"a\": 1}, {\"a\": 2}]", AB),
        table(&[&["1", ""], &["2", ""]])
    );
    let e = err(Format::SingleJson, "{\"a\":1}\n{\"a\":2}", AB);
    assert_eq!(e.code, codes::INVALID_BLOB);
    assert!(e.permanent);
    let e = err(Format::SingleJson, "{\"a\":1", AB);
    assert_eq!(e.code, codes::INVALID_BLOB);
    let e = err(Format::SingleJson, "42", AB);
    assert_eq!((e.code, e.record), (codes::INVALID_BLOB, Some(1)));
    assert_eq!(err(Format::SingleJson, "", AB).code, codes::NO_RECORDS);
}

#[test]
fn value_conversion() {
    let specs = &[
        "b:bool",
        "i:int",
        "l:long",
        "r:real",
        "m:decimal",
        "s:string",
        "d:datetime",
        "t:timespan",
        "g:guid",
        "y:dynamic",
    ];
    let data = r#"
{"b": true, "i": 42, "l": -9223372036854775808, "r": 1.5, "m": 0.1, "s": "text", "d": "2024-01-02T03:04:05.1234567Z", "t": "1.02:03:04.5", "g": "74be27de-1e4e-49d9-b579-fe0b331d3642", "y": {"k": [1, 2.5, "x", null], "n": {}}}
{"b": "FALSE", "i": "7", "l": "12", "r": "NaN", "m": "123.456", "s": 1.5, "d": "2014-11-08 15:05", "t": "90m", "g": "74BE27DE1E4E49D9B579FE0B331D3642", "y": "just text"}
{"b": 1, "i": 5.5, "l": 9223372036854775808, "r": "-Infinity", "m": 1e2, "s": true, "d": 1234567, "t": 10, "g": 5, "y": 42}
{"b": 0, "i": 3000000000, "l": 1.0, "r": 7, "m": "x", "s": {"a": [1, "b"]}, "d": "never", "t": "abc", "g": "nope", "y": [1, {"a": null}]}
{"b": "yes", "i": [1], "l": {"x": 1}, "r": true, "m": null, "s": null, "d": null, "t": null, "g": null, "y": null}
{"b": [true], "i": null, "s": [1, 2], "y": false}
{}
"#;
    let got = ok(Format::MultiJson, data, specs);
    let want = table(&[
        &[
            "true",
            "42",
            "-9223372036854775808",
            "1.5",
            "0.1",
            "text",
            "2024-01-02T03:04:05.1234567Z",
            "1.02:03:04.5000000",
            "74be27de-1e4e-49d9-b579-fe0b331d3642",
            r#"{"k":[1,2.5,"x",null],"n":{}}"#,
        ],
        &[
            "false",
            "7",
            "12",
            "NaN",
            "123.456",
            "1.5",
            "2014-11-08T15:05:00.0000000Z",
            "01:30:00",
            "74be27de-1e4e-49d9-b579-fe0b331d3642",
            r#""just text""#,
        ],
        &[
            "true",
            "∅",
            "∅",
            "-Infinity",
            "100",
            "true",
            "∅",
            "10.00:00:00",
            "∅",
            "42",
        ],
        &[
            "false",
            "∅",
            "∅",
            "7",
            "∅",
            r#"{"a":[1,"b"]}"#,
            "∅",
            "∅",
            "∅",
            r#"[1,{"a":null}]"#,
        ],
        &["∅", "∅", "∅", "∅", "∅", "", "∅", "∅", "∅", "∅"],
        &["∅", "∅", "∅", "∅", "∅", "[1,2]", "∅", "∅", "∅", "false"],
        &["∅", "∅", "∅", "∅", "∅", "", "∅", "∅", "∅", "∅"],
    ]);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "row {}", i + 1);
    }
    assert_eq!(got.len(), want.len());
    // The same through JSON lines.
    let lines = ok(Format::Json, data, specs);
    assert_eq!(lines, got);
}

#[test]
fn dynamic_columns_keep_json() {
    let c = &["id:long", "props:dynamic"];
    let data = "{\"id\": 1, \"props\": {\"b\": 2, \"a\": 1}}\n{\"id\": 2, \"props\": \"{\\\"not\\\": \\\"parsed\\\"}\"}\n{\"id\": 3, \"props\": 1.25}";
    assert_eq!(
        ok(Format::Json, data, c),
        table(&[
            &["1", r#"{"b":2,"a":1}"#],
            &["2", r#""{\"not\": \"parsed\"}""#],
            &["3", "1.25"]
        ])
    );
}

#[test]
fn json_batches() {
    let n = BATCH_ROWS + 1;
    let data: String = (0..n).map(|i| format!("{{\"a\":{i}}}\n")).collect();
    for format in [Format::Json, Format::MultiJson] {
        let batches = read(format, data.as_bytes(), &cols(AB)).unwrap();
        let sizes: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
        assert_eq!(sizes, vec![BATCH_ROWS, 1]);
        assert_eq!(rows(&batches)[BATCH_ROWS][0], BATCH_ROWS.to_string());
    }
}
