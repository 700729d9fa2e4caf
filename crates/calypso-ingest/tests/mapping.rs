//! Ingestion with CSV and JSON mappings.
#![allow(clippy::unwrap_used)]

mod common;

use calypso_ingest::{Format, IngestError, Mapping, MappingKind, codes, read_mapped};
use common::{cols, rows, table};

fn mapped(
    format: Format,
    kind: MappingKind,
    mapping: &str,
    data: &str,
    specs: &[&str],
) -> Result<Vec<Vec<String>>, IngestError> {
    let m = Mapping::parse(kind, mapping)?;
    read_mapped(format, data.as_bytes(), &cols(specs), Some(&m)).map(|b| rows(&b))
}

#[test]
fn csv_by_ordinal_const_and_line_number() {
    let m = r#"[
        {"Column":"name","Properties":{"Ordinal":"2"}},
        {"Column":"id","Properties":{"Ordinal":"0"}},
        {"Column":"src","Properties":{"ConstValue":"sensor"}},
        {"Column":"line","Properties":{"Transform":"SourceLineNumber"}}
    ]"#;
    let got = mapped(
        Format::Csv,
        MappingKind::Csv,
        m,
        "1,skip,alice\n2,skip,bob\n",
        &[
            "id:long",
            "name:string",
            "src:string",
            "line:long",
            "unmapped:real",
        ],
    )
    .unwrap();
    assert_eq!(
        got,
        table(&[
            &["1", "alice", "sensor", "1", "∅"],
            &["2", "bob", "sensor", "2", "∅"]
        ])
    );
}

#[test]
fn csv_mapping_allows_other_field_counts_but_not_inconsistent_ones() {
    // Records may have more fields than the table has columns...
    let m = r#"[{"Column":"a","Properties":{"Ordinal":"3"}}]"#;
    assert_eq!(
        mapped(Format::Psv, MappingKind::Csv, m, "x|y|z|7\n", &["a:long"]).unwrap(),
        table(&[&["7"]])
    );
    // ... an ordinal beyond the record is a missing value ...
    assert_eq!(
        mapped(Format::Csv, MappingKind::Csv, m, "x,y\n", &["a:long"]).unwrap(),
        table(&[&["∅"]])
    );
    // ... but every record has as many fields as the first.
    let e = mapped(
        Format::Csv,
        MappingKind::Csv,
        m,
        "1,2,3,4\n1,2,3\n",
        &["a:long"],
    )
    .unwrap_err();
    assert_eq!(e.code, codes::WRONG_NUMBER_OF_FIELDS);
    assert_eq!(e.record, Some(2));
}

#[test]
fn csv_unix_time_transform() {
    let m = r#"[{"Column":"t","Properties":{"Ordinal":"0","Transform":"DateTimeFromUnixSeconds"}},
               {"Column":"ms","Properties":{"Ordinal":"1","Transform":"DateTimeFromUnixMilliseconds"}}]"#;
    assert_eq!(
        mapped(
            Format::Csv,
            MappingKind::Csv,
            m,
            "86400,1500\nbad,\n",
            &["t:datetime", "ms:datetime"]
        )
        .unwrap(),
        table(&[
            &[
                "1970-01-02T00:00:00.0000000Z",
                "1970-01-01T00:00:01.5000000Z"
            ],
            &["∅", "∅"]
        ])
    );
}

#[test]
fn txt_mapping() {
    let m = r#"[{"Column":"line","Properties":{"Ordinal":"0"}},{"Column":"n","Properties":{"Transform":"SourceLineNumber"}}]"#;
    assert_eq!(
        mapped(
            Format::Txt,
            MappingKind::Csv,
            m,
            "first\n\nsecond\n",
            &["n:long", "line:string"]
        )
        .unwrap(),
        table(&[&["1", "first"], &["2", "second"]])
    );
}

#[test]
fn json_paths_and_transforms() {
    let m = r#"[
        {"column":"dev","Properties":{"Path":"$.device.id"}},
        {"column":"temp","Properties":{"Path":"$.readings[0].value"}},
        {"column":"last","Properties":{"Path":"$.readings[-1].value"}},
        {"column":"ts","Properties":{"Path":"$['event time']","Transform":"DateTimeFromUnixMilliseconds"}},
        {"column":"props","Properties":{"Path":"$.tags","Transform":"PropertyBagArrayToDictionary"}},
        {"column":"raw","Properties":{"Path":"$"}},
        {"column":"n","Properties":{"Transform":"SourceLineNumber"}}
    ]"#;
    let data = r#"{"device":{"id":"d1"},"readings":[{"value":1.5},{"value":2.5}],"event time":1000,"tags":[{"a":1},{"b":"x"}]}
{"device":{"id":"d2"},"readings":[]}"#;
    let got = mapped(
        Format::MultiJson,
        MappingKind::Json,
        m,
        data,
        &[
            "dev:string",
            "temp:real",
            "last:real",
            "ts:datetime",
            "props:dynamic",
            "raw:dynamic",
            "n:long",
        ],
    )
    .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0][..5],
        [
            "d1",
            "1.5",
            "2.5",
            "1970-01-01T00:00:01.0000000Z",
            r#"{"a":1,"b":"x"}"#
        ]
    );
    assert!(
        got[0][5].starts_with(r#"{"device":{"id":"d1"}"#),
        "{}",
        got[0][5]
    );
    assert_eq!(got[0][6], "1");
    assert_eq!(got[1][..4], ["d2", "∅", "∅", "∅"]);
    assert_eq!(got[1][6], "2");
}

#[test]
fn json_lines_with_mapping_ignore_property_names() {
    let m = r#"[{"column":"x","path":"$.Value"}]"#;
    assert_eq!(
        mapped(
            Format::Json,
            MappingKind::Json,
            m,
            "{\"Value\":3,\"x\":9}\n{\"x\":1}\n",
            &["x:long"]
        )
        .unwrap(),
        table(&[&["3"], &["∅"]])
    );
}

#[test]
fn mapping_must_fit_format_and_table() {
    let csv = r#"[{"Column":"a","Properties":{"Ordinal":"0"}}]"#;
    let e = mapped(
        Format::Json,
        MappingKind::Csv,
        csv,
        "{\"a\":1}",
        &["a:long"],
    )
    .unwrap_err();
    assert_eq!(e.code, codes::INVALID_MAPPING);
    assert!(
        e.message.contains("cannot be used with the json format"),
        "{}",
        e.message
    );
    let e = mapped(Format::Csv, MappingKind::Csv, csv, "1", &["b:long"]).unwrap_err();
    assert_eq!(e.code, codes::INVALID_MAPPING);
    assert!(e.message.contains("column 'a'"), "{}", e.message);
    assert!(e.permanent);
}
