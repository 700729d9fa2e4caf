//! `raw`, `w3clogfile`, gzip and zip bodies, the options of `read_input`, and the
//! mapping kinds of the new formats.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use arrow::array::Int64Array;
use calypso_ingest::{Format, Mapping, MappingKind, ReadOptions, codes, read, read_input};
use common::files::{batch, err, gzip, ingest, ok, parquet_file, zip_file};
use common::{cols, rows, table};

#[test]
fn gzip_wrapped_parquet_and_zip_patterns() {
    let one = parquet_file(&batch(vec![("id", Arc::new(Int64Array::from(vec![1, 2])))]));
    let two = parquet_file(&batch(vec![("id", Arc::new(Int64Array::from(vec![3])))]));
    let opts = ReadOptions::default();
    let gz = gzip(&one);
    assert_eq!(
        ingest(Format::Parquet, &gz, &["id:long"], None, &opts).unwrap(),
        table(&[&["1"], &["2"]])
    );
    let archive = zip_file(&[
        ("a.parquet", Some(&one)),
        ("dir/", None),
        ("dir/b.parquet", Some(&two)),
        ("notes.txt", Some(b"hello")),
    ]);
    let with = |p: &str| ReadOptions {
        zip_pattern: Some(p.to_string()),
        ..Default::default()
    };
    let line = r#"[{"Column":"id","Properties":{"Field":"id"}},{"Column":"n","Properties":{"Transform":"SourceLineNumber"}}]"#;
    for p in [r".*\.parquet", "*.parquet"] {
        assert_eq!(
            ingest(
                Format::Parquet,
                &archive,
                &["id:long", "n:long"],
                Some(line),
                &with(p)
            )
            .unwrap(),
            table(&[&["1", "1"], &["2", "2"], &["3", "1"]]),
            "{p}"
        );
    }
    assert_eq!(
        ingest(
            Format::Parquet,
            &archive,
            &["id:long"],
            None,
            &with("dir/.*")
        )
        .unwrap(),
        table(&[&["3"]])
    );
    // The pattern matches whole names.
    assert_eq!(
        err(Format::Parquet, &archive, &["id:long"], &with("b.parquet")).code,
        codes::NO_RECORDS
    );
    // Without a pattern, every file is read: the text file is no Parquet file.
    let e = err(Format::Parquet, &archive, &["id:long"], &opts);
    assert_eq!(e.code, codes::INVALID_BLOB);
    assert!(e.message.contains("notes.txt"), "{}", e.message);
    // Text formats read zip entries too.
    assert_eq!(
        ingest(
            Format::Txt,
            &archive,
            &["t:string"],
            None,
            &with(r".*\.txt")
        )
        .unwrap(),
        table(&[&["hello"]])
    );
    assert_eq!(
        err(Format::Csv, &b"PK\x03\x04broken"[..], &["a:string"], &opts).code,
        codes::INVALID_BLOB
    );
}

#[test]
fn raw_is_one_record() {
    let got = read(
        Format::Raw,
        b"\xEF\xBB\xBFline1\r\nline2\n",
        &cols(&["text:string", "n:long"]),
    )
    .unwrap();
    assert_eq!(rows(&got), table(&[&["line1\r\nline2\n", "∅"]]));
    assert_eq!(
        ok(Format::Raw, br#"{"a": [1, 2]}"#, &["d:dynamic"], None),
        table(&[&[r#"{"a":[1,2]}"#]])
    );
    let m = r#"[{"Column":"n","Properties":{"Transform":"SourceLineNumber"}},{"Column":"t","Properties":{"Ordinal":"0"}},{"Column":"x","Properties":{"Ordinal":"1"}}]"#;
    assert_eq!(
        ok(
            Format::Raw,
            b"a,b\nc",
            &["t:string", "n:long", "x:string"],
            Some(m)
        ),
        table(&[&["a,b\nc", "1", ""]])
    );
    let header = ReadOptions {
        ignore_first_record: true,
        ..Default::default()
    };
    assert_eq!(
        ingest(Format::Raw, b"h\nv", &["t:string"], None, &header).unwrap(),
        table(&[&["h\nv"]])
    );
    assert_eq!(
        err(Format::Raw, b"", &["t:string"], &ReadOptions::default()).code,
        codes::NO_RECORDS
    );
}

const W3C_LOG: &str = "#Software: Microsoft Internet Information Services 10.0\r
#Version: 1.0\r
#Date: 2024-01-01 00:00:00\r
#Fields: date time s-ip cs-method cs-uri-stem sc-status time-taken\r
2024-01-01 00:00:01 10.0.0.1 GET /index.html 200 15\r
\r
2024-01-01 00:00:02 10.0.0.1 POST \"/a b\" 404 -\r
#Fields: date time cs-method\r
2024-01-02 10:00:00 PUT\r
";

#[test]
fn w3c_log_files_by_field_name() {
    let specs = [
        "date:datetime",
        "time:timespan",
        "s-ip:string",
        "cs-method:string",
        "cs-uri-stem:string",
        "sc-status:int",
        "time-taken:long",
    ];
    assert_eq!(
        ok(Format::W3cLogFile, W3C_LOG.as_bytes(), &specs, None),
        table(&[
            &[
                "2024-01-01T00:00:00.0000000Z",
                "00:00:01",
                "10.0.0.1",
                "GET",
                "/index.html",
                "200",
                "15"
            ],
            &[
                "2024-01-01T00:00:00.0000000Z",
                "00:00:02",
                "10.0.0.1",
                "POST",
                "/a b",
                "404",
                "∅"
            ],
            &[
                "2024-01-02T00:00:00.0000000Z",
                "10:00:00",
                "",
                "PUT",
                "",
                "∅",
                "∅"
            ],
        ])
    );
    let m = r#"[
        {"Column": "Method", "Properties": {"Field": "cs-method"}},
        {"Column": "Status", "Properties": {"Field": "sc-status"}},
        {"Column": "Line", "Properties": {"Transform": "SourceLineNumber"}},
        {"Column": "Src", "Properties": {"Transform": "SourceLocation"}},
        {"Column": "K", "Properties": {"ConstValue": "k"}}
    ]"#;
    let opts = ReadOptions {
        source_location: "loc".into(),
        ..Default::default()
    };
    assert_eq!(
        ingest(
            Format::W3cLogFile,
            W3C_LOG.as_bytes(),
            &[
                "Method:string",
                "Status:long",
                "Line:long",
                "Src:string",
                "K:string",
                "Other:string"
            ],
            Some(m),
            &opts,
        )
        .unwrap(),
        table(&[
            &["GET", "200", "1", "loc", "k", ""],
            &["POST", "404", "2", "loc", "k", ""],
            &["PUT", "∅", "3", "loc", "k", ""],
        ])
    );
    let none = ReadOptions::default();
    let e = err(Format::W3cLogFile, b"a b c\n", &["a:string"], &none);
    assert_eq!((e.code, e.record), (codes::INVALID_BLOB, Some(1)));
    assert_eq!(
        err(
            Format::W3cLogFile,
            b"#Fields: a b\n#Remark: x\n",
            &["a:string"],
            &none
        )
        .code,
        codes::NO_RECORDS
    );
    for bad in [
        r#"[{"Column":"a","Properties":{"Field":"a","Transform":"DateTimeFromUnixSeconds"}}]"#,
        r#"[{"Column":"a","Properties":{"Path":"$.a"}}]"#,
    ] {
        assert_eq!(
            Mapping::parse(MappingKind::W3cLogFile, bad)
                .unwrap_err()
                .code,
            codes::INVALID_MAPPING
        );
    }
}

#[test]
fn ignore_first_record_drops_csv_headers_only() {
    let header = ReadOptions {
        ignore_first_record: true,
        ..Default::default()
    };
    assert_eq!(
        ingest(
            Format::Csv,
            b"a,b\n1,2\n3,4\n",
            &["a:long", "b:long"],
            None,
            &header
        )
        .unwrap(),
        table(&[&["1", "2"], &["3", "4"]])
    );
    // The header is not checked; record numbers still count it.
    let m = r#"[{"Column":"a","Properties":{"Ordinal":"1"}},{"Column":"n","Properties":{"Transform":"SourceLineNumber"}}]"#;
    assert_eq!(
        ingest(
            Format::Psv,
            b"h\n1|2\n3|4",
            &["a:long", "n:long"],
            Some(m),
            &header
        )
        .unwrap(),
        table(&[&["2", "2"], &["4", "3"]])
    );
    assert_eq!(
        ingest(Format::Txt, b"\nhdr\nl1\n", &["t:string"], None, &header).unwrap(),
        table(&[&["l1"]])
    );
    // Other formats ignore it.
    assert_eq!(
        ingest(
            Format::Json,
            b"{\"a\":1}\n{\"a\":2}",
            &["a:long"],
            None,
            &header
        )
        .unwrap(),
        table(&[&["1"], &["2"]])
    );
    // Every file of a zip archive has its header.
    let archive = zip_file(&[("x.csv", Some(b"h\n1\n")), ("y.csv", Some(b"h\n2\n"))]);
    assert_eq!(
        ingest(Format::Csv, &archive, &["a:long"], None, &header).unwrap(),
        table(&[&["1"], &["2"]])
    );
    assert_eq!(
        err(
            Format::Csv,
            b"only,header\n",
            &["a:long", "b:long"],
            &header
        )
        .code,
        codes::NO_RECORDS
    );
}

#[test]
fn mapping_kinds_of_the_new_formats() {
    for (name, kind, shown) in [
        ("avro", MappingKind::Avro, "Avro"),
        ("ApacheAvro", MappingKind::Avro, "Avro"),
        ("PARQUET", MappingKind::Parquet, "Parquet"),
        ("orc", MappingKind::Orc, "Orc"),
        ("w3clogfile", MappingKind::W3cLogFile, "W3CLogFile"),
    ] {
        let k = MappingKind::parse(name).unwrap();
        assert_eq!((k, k.name()), (kind, shown));
        assert_eq!(MappingKind::parse(k.name()).unwrap(), k);
    }
    assert!(MappingKind::parse("sstream").is_err());
    for (format, kind) in [
        (Format::Raw, MappingKind::Csv),
        (Format::Avro, MappingKind::Avro),
        (Format::ApacheAvro, MappingKind::Avro),
        (Format::Parquet, MappingKind::Parquet),
        (Format::Orc, MappingKind::Orc),
        (Format::W3cLogFile, MappingKind::W3cLogFile),
    ] {
        assert_eq!(MappingKind::of_format(format), kind, "{format}");
    }
    // Field and Path are mutually exclusive; transformations only where allowed.
    for (kind, bad) in [
        (
            MappingKind::Parquet,
            r#"[{"Column":"a","Properties":{"Field":"a","Path":"$.a"}}]"#,
        ),
        (MappingKind::Orc, r#"[{"Column":"a","Properties":{}}]"#),
        (
            MappingKind::Parquet,
            r#"[{"Column":"a","Properties":{"Field":"a","Transform":"BytesAsBase64"}}]"#,
        ),
        (
            MappingKind::Csv,
            r#"[{"Column":"a","Properties":{"Ordinal":"0","Transform":"DropMappedFields"}}]"#,
        ),
        (
            MappingKind::Avro,
            r#"[{"Column":"a","Properties":{"Path":"$.["}}]"#,
        ),
    ] {
        assert_eq!(
            Mapping::parse(kind, bad).unwrap_err().code,
            codes::INVALID_MAPPING,
            "{bad}"
        );
    }
    let m = Mapping::parse(
        MappingKind::Avro,
        r#"[{"Column":"a","Properties":{"Field":"x y","Transform":"BytesAsBase64"}},{"column":"b","path":"$.p.q","transform":"DropMappedFields"}]"#,
    )
    .unwrap();
    assert_eq!(
        m.to_json(),
        r#"[{"Column":"a","Properties":{"Field":"x y","Transform":"BytesAsBase64"}},{"Column":"b","Properties":{"Path":"$.p.q","Transform":"DropMappedFields"}}]"#
    );
    assert_eq!(Mapping::parse(MappingKind::Avro, &m.to_json()).unwrap(), m);
    // A mapping of another kind is refused.
    let csv = Mapping::parse(
        MappingKind::Csv,
        r#"[{"Column":"a","Properties":{"Ordinal":"0"}}]"#,
    )
    .unwrap();
    let file = parquet_file(&batch(vec![("a", Arc::new(Int64Array::from(vec![1])))]));
    let e = read_input(
        Format::Parquet,
        &file,
        &cols(&["a:long"]),
        Some(&csv),
        &ReadOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.code, codes::INVALID_MAPPING);
}

#[test]
fn json_drop_mapped_fields_and_source_location() {
    let m = r#"[
        {"Column": "Time", "Properties": {"Path": "$.Time"}},
        {"Column": "EventName", "Properties": {"Path": "$.Props.EventName"}},
        {"Column": "Props", "Properties": {"Path": "$.Props", "Transform": "DropMappedFields"}},
        {"Column": "Src", "Properties": {"Transform": "SourceLocation"}}
    ]"#;
    let opts = ReadOptions {
        source_location: "https://blob/x.json".into(),
        ..Default::default()
    };
    let doc =
        br#"{"Time": "2012-01-15T10:45", "Props": {"EventName": "CustomEvent", "Revenue": 0.456}}"#;
    assert_eq!(
        ingest(
            Format::MultiJson,
            doc,
            &[
                "Time:datetime",
                "EventName:string",
                "Props:dynamic",
                "Src:string"
            ],
            Some(m),
            &opts,
        )
        .unwrap(),
        table(&[&[
            "2012-01-15T10:45:00.0000000Z",
            "CustomEvent",
            r#"{"Revenue":0.456}"#,
            "https://blob/x.json",
        ]])
    );
}

#[test]
fn do_not_validate_takes_csv_records_of_any_width() {
    let body = b"1,x\n2,y,3,extra\n";
    let specs = ["a:long", "s:string", "c:long"];
    // The default validation: every record has as many fields as the table has columns.
    assert_eq!(
        err(Format::Csv, body, &specs, &ReadOptions::default()).code,
        codes::WRONG_NUMBER_OF_FIELDS
    );
    let lenient = ReadOptions {
        skip_field_count_validation: true,
        ..Default::default()
    };
    // Missing fields are missing values (`""` for strings, null otherwise); extra fields
    // are dropped.
    assert_eq!(
        ingest(Format::Csv, body, &specs, None, &lenient).unwrap(),
        table(&[&["1", "x", "∅"], &["2", "y", "3"]])
    );
    assert_eq!(
        ingest(Format::Psv, b"7\n", &specs, None, &lenient).unwrap(),
        table(&[&["7", "", "∅"]])
    );
}
