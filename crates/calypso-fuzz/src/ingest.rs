//! The ingestion parsers (`calypso_ingest::read_mapped`) with a schema of every column
//! type, the identity mapping, a fixed mapping or one read from the input, and gzip.

use std::io::Write as _;

use arbitrary::Unstructured;
use calypso_ingest::{BATCH_ROWS, Format, Mapping, MappingKind, codes};
use kql_functions::KqlType;

/// Every column type, in an order the input may rotate and cut.
const COLUMNS: &[(&str, KqlType)] = &[
    ("s", KqlType::String),
    ("l", KqlType::Long),
    ("d", KqlType::DateTime),
    ("r", KqlType::Real),
    ("b", KqlType::Bool),
    ("i", KqlType::Int),
    ("m", KqlType::Decimal),
    ("t", KqlType::TimeSpan),
    ("g", KqlType::Guid),
    ("y", KqlType::Dynamic),
];

const CSV_MAPPINGS: &[&str] = &[
    r#"[{"column": "l", "Properties": {"Ordinal": "0"}}, {"column": "s", "Properties": {"Ordinal": "1"}}]"#,
    r#"[{"Column": "d", "Properties": {"Ordinal": "1", "Transform": "DateTimeFromUnixSeconds"}},
        {"Column": "s", "Properties": {"Transform": "SourceLocation"}},
        {"Column": "l", "Properties": {"Transform": "SourceLineNumber"}},
        {"Column": "y", "Properties": {"ConstValue": "{\"k\": 1}"}}]"#,
    r#"[{"Column": "y", "DataType": "dynamic", "Ordinal": 2}, {"Name": "g", "Ordinal": "0"}]"#,
];

const JSON_MAPPINGS: &[&str] = &[
    r#"[{"column": "l", "Properties": {"Path": "$.a"}}, {"column": "y", "Properties": {"Path": "$"}}]"#,
    r#"[{"Column": "s", "Properties": {"Path": "$['a b'][0]"}},
        {"Column": "d", "Properties": {"Path": "$.t", "Transform": "DateTimeFromUnixMilliseconds"}},
        {"Column": "y", "Properties": {"Path": "$.kv", "Transform": "PropertyBagArrayToDictionary"}},
        {"Column": "l", "Properties": {"Transform": "SourceLineNumber"}}]"#,
    r#"[{"column": "r", "path": "$.a.b[-1]"}, {"column": "m", "Properties": "{\"Path\": \"$.m\"}"}]"#,
];

/// The CSV family.
pub fn ingest_csv(data: &[u8]) {
    run(
        data,
        &[
            Format::Csv,
            Format::Tsv,
            Format::Tsve,
            Format::Scsv,
            Format::Psv,
            Format::Sohsv,
            Format::Txt,
        ],
        MappingKind::Csv,
        CSV_MAPPINGS,
    );
}

/// The JSON family.
pub fn ingest_json(data: &[u8]) {
    run(
        data,
        &[Format::Json, Format::MultiJson, Format::SingleJson],
        MappingKind::Json,
        JSON_MAPPINGS,
    );
}

fn run(data: &[u8], formats: &[Format], kind: MappingKind, mappings: &[&str]) {
    let mut u = Unstructured::new(data);
    let format = *u.choose(formats).unwrap_or(&formats[0]);
    // A prefix of a rotation of every type, so that a few fields make a record.
    let rotate = u.choose_index(COLUMNS.len()).unwrap_or(0);
    let count = 1 + u.choose_index(COLUMNS.len()).unwrap_or(0);
    let columns: Vec<(String, KqlType)> = COLUMNS
        .iter()
        .cycle()
        .skip(rotate)
        .take(count)
        .map(|(n, t)| (n.to_string(), *t))
        .collect();
    let mapping_text: Option<&str> = match u.choose_index(4).unwrap_or(0) {
        0 | 1 => None,
        2 => u.choose(mappings).ok().copied(),
        _ => u.arbitrary::<&str>().ok(),
    };
    let gzip = u.ratio(1u8, 8u8).unwrap_or(false);
    let body = u.take_rest();

    let mapping = match mapping_text.map(|m| Mapping::parse(kind, m)) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => {
            assert_ne!(
                e.code,
                codes::INTERNAL,
                "internal error parsing a mapping: {e}"
            );
            return;
        }
    };
    let body: Vec<u8> = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = enc.write_all(body);
        enc.finish().unwrap_or_default()
    } else {
        body.to_vec()
    };
    let data = match calypso_ingest::decompress(&body) {
        Ok(d) => d,
        Err(e) => {
            assert_ne!(e.code, codes::INTERNAL, "internal error decompressing: {e}");
            return;
        }
    };
    match calypso_ingest::read_mapped(format, &data, &columns, mapping.as_ref()) {
        Err(e) => assert_ne!(
            e.code,
            codes::INTERNAL,
            "internal error reading {format} into {columns:?}: {e}"
        ),
        Ok(batches) => {
            let schema = kql_functions::types::schema(&columns);
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            assert!(rows > 0, "no error and no record ({format})");
            for b in &batches {
                assert_eq!(b.schema(), schema, "batch schema ({format})");
                assert!(
                    b.num_rows() <= BATCH_ROWS,
                    "a batch of {} rows ({format})",
                    b.num_rows()
                );
                for (i, (name, t)) in columns.iter().enumerate() {
                    if *t == KqlType::String {
                        assert_eq!(
                            b.column(i).null_count(),
                            0,
                            "string column {name} has nulls ({format})"
                        );
                    }
                }
            }
        }
    }
}
