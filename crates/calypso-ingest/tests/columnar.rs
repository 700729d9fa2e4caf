//! The binary formats: Parquet, Avro (`avro`, `apacheavro`) and ORC files, with the
//! identity mapping and with mappings.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array,
    DurationMillisecondArray, FixedSizeBinaryArray, Float32Array, Float64Array, Int32Array,
    Int64Array, ListArray, ListBuilder, StringArray, StringBuilder, StructArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Fields};
use arrow::record_batch::RecordBatch;
use calypso_ingest::{BATCH_ROWS, Format, MAX_VALUE_BYTES, ReadOptions, codes, read_input};
use common::files::{
    GUID, T_MS, avro_file, batch, err, ingest, nullable, ok, orc_file, parquet_file,
};
use common::{cols, rows, table};

#[test]
fn parquet_identity_mapping_converts_to_the_column_types() {
    let mut y = ListBuilder::new(StringBuilder::new());
    y.values().append_value("5");
    y.append(true);
    y.append(false);
    let y = y.finish();
    let d = StructArray::try_new(
        Fields::from(vec![
            nullable("x", DataType::Int32),
            nullable("y", y.data_type().clone()),
        ]),
        vec![Arc::new(Int32Array::from(vec![1, 0])), Arc::new(y)],
        Some(NullBuffer::from(vec![true, false])),
    )
    .unwrap();
    let src = batch(vec![
        ("s", Arc::new(StringArray::from(vec![Some("a"), None]))),
        ("l", Arc::new(Int32Array::from(vec![1, -2]))),
        ("i", Arc::new(Int64Array::from(vec![7, 1 << 40]))),
        ("r", Arc::new(Float32Array::from(vec![1.5, 0.25]))),
        ("b", Arc::new(BooleanArray::from(vec![Some(true), None]))),
        (
            "t",
            Arc::new(TimestampMillisecondArray::from(vec![Some(T_MS), None]).with_timezone("UTC")),
        ),
        (
            "ts",
            Arc::new(DurationMillisecondArray::from(vec![Some(90_061_000), None])),
        ),
        ("d", Arc::new(d)),
        (
            "m",
            Arc::new(
                Decimal128Array::from(vec![1234, -5])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
        ),
        (
            "g",
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                    vec![Some(GUID), None].into_iter(),
                    16,
                )
                .unwrap(),
            ),
        ),
        (
            "j",
            Arc::new(StringArray::from(vec![r#"{"k": 1}"#, "plain"])),
        ),
        ("n", Arc::new(Int64Array::from(vec![42, 7]))),
        (
            "when",
            Arc::new(StringArray::from(vec!["2024-01-02T03:04:05Z", "nope"])),
        ),
        ("f", Arc::new(Float64Array::from(vec![2.0, 3.75]))),
        ("b2", Arc::new(Int32Array::from(vec![0, 5]))),
        ("day", Arc::new(Date32Array::from(vec![19_724, 0]))),
        ("unused", Arc::new(Int32Array::from(vec![9, 9]))),
    ]);
    let specs = [
        "s:string",
        "l:long",
        "i:int",
        "r:real",
        "b:bool",
        "t:datetime",
        "ts:timespan",
        "d:dynamic",
        "m:decimal",
        "g:guid",
        "j:dynamic",
        "n:string",
        "when:datetime",
        "f:long",
        "b2:bool",
        "day:datetime",
        "absent:long",
        "absent_s:string",
    ];
    assert_eq!(
        ok(Format::Parquet, &parquet_file(&src), &specs, None),
        table(&[
            &[
                "a",
                "1",
                "7",
                "1.5",
                "true",
                "2024-01-02T03:04:05.0000000Z",
                "1.01:01:01",
                r#"{"x":1,"y":["5"]}"#,
                "12.34",
                "12345678-9abc-def0-1234-56789abcdef0",
                r#"{"k":1}"#,
                "42",
                "2024-01-02T03:04:05.0000000Z",
                "2",
                "false",
                "2024-01-02T00:00:00.0000000Z",
                "∅",
                "",
            ],
            &[
                "",
                "-2",
                "∅",
                "0.25",
                "∅",
                "∅",
                "∅",
                "∅",
                "-0.05",
                "∅",
                r#""plain""#,
                "7",
                "∅",
                "3",
                "true",
                "1970-01-01T00:00:00.0000000Z",
                "∅",
                "",
            ],
        ])
    );
}

/// Records with nested records and lists, as a mapping sees them.
/// `spaced`: the name of the last field (Avro names cannot hold spaces).
fn events(spaced: &str) -> RecordBatch {
    let props = StructArray::try_new(
        Fields::from(vec![
            nullable("EventName", DataType::Utf8),
            nullable("Revenue", DataType::Float64),
        ]),
        vec![
            Arc::new(StringArray::from(vec!["CustomEvent", "x"])),
            Arc::new(Float64Array::from(vec![0.456, 0.0])),
        ],
        None,
    )
    .unwrap();
    let event = StructArray::try_new(
        Fields::from(vec![
            nullable("Name", DataType::Utf8),
            nullable("Props", props.data_type().clone()),
        ]),
        vec![
            Arc::new(StringArray::from(vec!["n1", "n2"])),
            Arc::new(props),
        ],
        Some(NullBuffer::from(vec![true, false])),
    )
    .unwrap();
    let kv_fields = Fields::from(vec![
        nullable("Key", DataType::Utf8),
        nullable("Value", DataType::Utf8),
    ]);
    let kv = StructArray::try_new(
        kv_fields.clone(),
        vec![
            Arc::new(StringArray::from(vec!["k1", "k2"])),
            Arc::new(StringArray::from(vec!["v1", "v2"])),
        ],
        None,
    )
    .unwrap();
    let items = ListArray::try_new(
        nullable("item", DataType::Struct(kv_fields)),
        OffsetBuffer::new(vec![0, 2, 2].into()),
        Arc::new(kv),
        None,
    )
    .unwrap();
    batch(vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2]))),
        ("Event", Arc::new(event)),
        ("ms", Arc::new(Int64Array::from(vec![Some(1500), None]))),
        ("items", Arc::new(items)),
        (spaced, Arc::new(StringArray::from(vec!["sp1", "sp2"]))),
    ])
}

fn event_mapping(spaced: &str) -> String {
    EVENT_MAPPING.replace("Field name with space", spaced)
}

const EVENT_MAPPING: &str = r#"[
    {"Column": "id", "Properties": {"Field": "id"}},
    {"Column": "name", "Properties": {"Path": "$.Event.Name"}},
    {"Column": "event_name", "Properties": {"Path": "$.Event.Props.EventName"}},
    {"Column": "props", "Properties": {"Path": "$.Event.Props", "Transform": "DropMappedFields"}},
    {"Column": "when", "Properties": {"Path": "$.ms", "Transform": "DateTimeFromUnixMilliseconds"}},
    {"Column": "bag", "Properties": {"Path": "$.items", "Transform": "PropertyBagArrayToDictionary"}},
    {"Column": "second", "Properties": {"Path": "$.items[1].Value"}},
    {"Column": "spaced", "Properties": {"Field": "$.['Field name with space']"}},
    {"Column": "all", "Properties": {"Path": "$"}},
    {"Column": "const", "Properties": {"ConstValue": "c"}},
    {"Column": "lit", "Properties": {"Path": "literal"}},
    {"Column": "src", "Properties": {"Transform": "SourceLocation"}},
    {"Column": "line", "Properties": {"Transform": "SourceLineNumber"}}
]"#;

const EVENT_COLUMNS: &[&str] = &[
    "id:long",
    "name:string",
    "event_name:string",
    "props:dynamic",
    "when:datetime",
    "bag:dynamic",
    "second:string",
    "spaced:string",
    "all:dynamic",
    "const:string",
    "lit:string",
    "src:string",
    "line:long",
    "none:int",
];

fn event_rows(spaced: &str) -> Vec<Vec<String>> {
    let mut t = table(&[
        &[
            "1",
            "n1",
            "CustomEvent",
            r#"{"Revenue":0.456}"#,
            "1970-01-01T00:00:01.5000000Z",
            r#"{"k1":"v1","k2":"v2"}"#,
            "v2",
            "sp1",
            r#"{"id":1,"Event":{"Name":"n1","Props":{"EventName":"CustomEvent","Revenue":0.456}},"ms":1500,"items":[{"Key":"k1","Value":"v1"},{"Key":"k2","Value":"v2"}],"Field name with space":"sp1"}"#,
            "c",
            "literal",
            "blob://x",
            "1",
            "∅",
        ],
        &[
            "2",
            "",
            "",
            "∅",
            "∅",
            "{}",
            "",
            "sp2",
            r#"{"id":2,"Event":null,"ms":null,"items":[],"Field name with space":"sp2"}"#,
            "c",
            "literal",
            "blob://x",
            "2",
            "∅",
        ],
    ]);
    for r in &mut t {
        r[8] = r[8].replace("Field name with space", spaced);
    }
    t
}

#[test]
fn parquet_mapping_paths_and_transforms() {
    let opts = ReadOptions {
        source_location: "blob://x".into(),
        ..Default::default()
    };
    let spaced = "Field name with space";
    let file = parquet_file(&events(spaced));
    let mapping = event_mapping(spaced);
    let got = ingest(Format::Parquet, &file, EVENT_COLUMNS, Some(&mapping), &opts).unwrap();
    assert_eq!(got, event_rows(spaced));
}

fn avro_source() -> RecordBatch {
    let rec = StructArray::try_new(
        Fields::from(vec![nullable("a", DataType::Int32)]),
        vec![Arc::new(Int32Array::from(vec![7, 8]))],
        None,
    )
    .unwrap();
    let mut tags = ListBuilder::new(StringBuilder::new());
    tags.values().append_value("1");
    tags.append(true);
    tags.append(true);
    let tags: ArrayRef = Arc::new(tags.finish());
    batch(vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2]))),
        ("name", Arc::new(StringArray::from(vec![Some("x"), None]))),
        ("score", Arc::new(Float64Array::from(vec![Some(2.5), None]))),
        (
            "when",
            Arc::new(TimestampMicrosecondArray::from(vec![T_MS * 1000, 0]).with_timezone("+00:00")),
        ),
        (
            "payload",
            Arc::new(BinaryArray::from(vec![&[1u8, 2, 255][..], &[][..]])),
        ),
        ("rec", Arc::new(rec)),
        ("tags", tags),
    ])
}

#[test]
fn avro_identity_mapping_and_codecs() {
    use arrow_avro::compression::CompressionCodec;
    let specs = [
        "id:int",
        "name:string",
        "score:real",
        "when:datetime",
        "payload:dynamic",
        "rec:dynamic",
        "tags:dynamic",
        "missing:bool",
    ];
    let want = table(&[
        &[
            "1",
            "x",
            "2.5",
            "2024-01-02T03:04:05.0000000Z",
            "[1,2,255]",
            r#"{"a":7}"#,
            r#"["1"]"#,
            "∅",
        ],
        &[
            "2",
            "",
            "∅",
            "1970-01-01T00:00:00.0000000Z",
            "[]",
            r#"{"a":8}"#,
            "[]",
            "∅",
        ],
    ]);
    for codec in [
        None,
        Some(CompressionCodec::Deflate),
        Some(CompressionCodec::Snappy),
        Some(CompressionCodec::ZStandard),
        Some(CompressionCodec::Bzip2),
    ] {
        let file = avro_file(&avro_source(), codec);
        for format in [Format::Avro, Format::ApacheAvro] {
            assert_eq!(ok(format, &file, &specs, None), want, "{format} {codec:?}");
        }
    }
}

#[test]
fn avro_mapping_fields_paths_and_bytes_as_base64() {
    let file = avro_file(&avro_source(), None);
    let m = r#"[
        {"Column": "b64", "Properties": {"Field": "payload", "Transform": "BytesAsBase64"}},
        {"Column": "raw", "Properties": {"Field": "payload"}},
        {"Column": "a", "Properties": {"Path": "$.rec.a"}},
        {"Column": "tag", "Properties": {"Path": "$.tags[0]"}},
        {"Column": "t", "Properties": {"Field": "id", "Transform": "DateTimeFromUnixSeconds"}},
        {"Column": "who", "Properties": {"Field": "name"}}
    ]"#;
    let specs = [
        "b64:string",
        "raw:dynamic",
        "a:long",
        "tag:string",
        "t:datetime",
        "who:string",
    ];
    for format in [Format::Avro, Format::ApacheAvro] {
        assert_eq!(
            ok(format, &file, &specs, Some(m)),
            table(&[
                &[
                    "AQL/",
                    "[1,2,255]",
                    "7",
                    "1",
                    "1970-01-01T00:00:01.0000000Z",
                    "x"
                ],
                &["", "[]", "8", "", "1970-01-01T00:00:02.0000000Z", ""],
            ]),
            "{format}"
        );
    }
    // The event records read the same from Avro as from Parquet.
    let opts = ReadOptions {
        source_location: "blob://x".into(),
        ..Default::default()
    };
    let events = avro_file(&events("spaced"), None);
    let mapping = event_mapping("spaced");
    assert_eq!(
        ingest(
            Format::ApacheAvro,
            &events,
            EVENT_COLUMNS,
            Some(&mapping),
            &opts
        )
        .unwrap(),
        event_rows("spaced")
    );
}

#[test]
fn orc_identity_and_mapping() {
    let src = batch(vec![
        ("id", Arc::new(Int64Array::from(vec![Some(1), None]))),
        ("name", Arc::new(StringArray::from(vec![Some("x"), None]))),
        ("score", Arc::new(Float64Array::from(vec![1.25, -3.0]))),
        ("flag", Arc::new(BooleanArray::from(vec![true, false]))),
        ("day", Arc::new(Date32Array::from(vec![19_724, 1]))),
        (
            "ts",
            Arc::new(TimestampNanosecondArray::from(vec![T_MS * 1_000_000, 5])),
        ),
        (
            "bin",
            Arc::new(BinaryArray::from(vec![&[7u8][..], &[][..]])),
        ),
    ]);
    let file = orc_file(&src);
    assert_eq!(
        ok(
            Format::Orc,
            &file,
            &[
                "id:long",
                "name:string",
                "score:real",
                "flag:bool",
                "day:datetime",
                "ts:datetime",
                "bin:dynamic",
                "score_i:int"
            ],
            None
        ),
        table(&[
            &[
                "1",
                "x",
                "1.25",
                "true",
                "2024-01-02T00:00:00.0000000Z",
                "2024-01-02T03:04:05.0000000Z",
                "[7]",
                "∅"
            ],
            &[
                "∅",
                "",
                "-3",
                "false",
                "1970-01-02T00:00:00.0000000Z",
                "1970-01-01T00:00:00.0000000Z",
                "[]",
                "∅"
            ],
        ])
    );
    let m = r#"[{"Column":"n","Properties":{"Path":"$.name"}},{"Column":"s","Properties":{"Field":"score"}},{"Column":"line","Properties":{"Transform":"SourceLineNumber"}}]"#;
    assert_eq!(
        ok(
            Format::Orc,
            &file,
            &["s:int", "n:string", "line:long"],
            Some(m)
        ),
        table(&[&["1", "x", "1"], &["-3", "", "2"]])
    );
}

#[test]
fn malformed_binary_input_is_an_invalid_blob() {
    let none = ReadOptions::default();
    let good = parquet_file(&batch(vec![("id", Arc::new(Int64Array::from(vec![1, 2])))]));
    let avro = avro_file(&avro_source(), None);
    let orc = orc_file(&batch(vec![("id", Arc::new(Int64Array::from(vec![1, 2])))]));
    for (format, body) in [
        (Format::Parquet, b"not a parquet file at all".to_vec()),
        (Format::Parquet, good[..good.len() / 2].to_vec()),
        (Format::Parquet, good[good.len() / 2..].to_vec()),
        (Format::Avro, b"{\"a\": 1}".to_vec()),
        (Format::ApacheAvro, avro[..avro.len() - 7].to_vec()),
        (Format::Avro, b"Obj\x01\x02garbage".to_vec()),
        (Format::Orc, b"ORC and then nothing that decodes".to_vec()),
        (Format::Orc, orc[..orc.len() - 5].to_vec()),
        (Format::Orc, b"text".to_vec()),
    ] {
        let e = err(format, &body, &["id:long"], &none);
        assert_eq!(e.code, codes::INVALID_BLOB, "{format}: {e}");
        assert!(e.permanent);
    }
    assert!(
        err(Format::Avro, b"{}", &["id:long"], &none)
            .message
            .contains("schema-less")
    );
    // No records: an empty body, a file without rows.
    let empty = parquet_file(&batch(vec![(
        "id",
        Arc::new(Int64Array::from(Vec::<i64>::new())),
    )]));
    for (format, body) in [(Format::Parquet, Vec::new()), (Format::Parquet, empty)] {
        assert_eq!(
            err(format, &body, &["id:long"], &none).code,
            codes::NO_RECORDS
        );
    }
    // Binary data is never decoded as text.
    assert_eq!(
        ok(Format::Parquet, &good, &["id:string"], None),
        table(&[&["1"], &["2"]])
    );
}

#[test]
fn binary_formats_respect_batch_and_value_limits() {
    let n = 2 * BATCH_ROWS + 5;
    let ids = Int64Array::from_iter_values(0..n as i64);
    let file = parquet_file(&batch(vec![("id", Arc::new(ids))]));
    let batches = read_input(
        Format::Parquet,
        &file,
        &cols(&["id:long"]),
        None,
        &ReadOptions::default(),
    )
    .unwrap();
    assert!(batches.iter().all(|b| b.num_rows() <= BATCH_ROWS));
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), n);
    assert_eq!(rows(&batches)[n - 1], vec![(n - 1).to_string()]);

    let big = "é".repeat(MAX_VALUE_BYTES / 2 + 3);
    let nested = StructArray::try_new(
        Fields::from(vec![nullable("s", DataType::Utf8)]),
        vec![Arc::new(StringArray::from(vec![big.as_str()]))],
        None,
    )
    .unwrap();
    let src = batch(vec![
        ("big", Arc::new(StringArray::from(vec![big.as_str()]))),
        ("nested", Arc::new(nested)),
    ]);
    let got = ok(
        Format::Parquet,
        &parquet_file(&src),
        &["big:string", "nested:dynamic"],
        None,
    );
    assert_eq!(got[0][0].len(), MAX_VALUE_BYTES);
    assert!(big.starts_with(&got[0][0]));
    assert_eq!(got[0][1], "∅");
}
