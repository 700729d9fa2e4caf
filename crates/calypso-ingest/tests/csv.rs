//! The CSV family: separators, quoting, line breaks, field counts, value conversion.
#![allow(clippy::unwrap_used)]

mod common;

use std::borrow::Cow;
use std::io::Write;

use calypso_ingest::{
    BATCH_ROWS, Format, MAX_VALUE_BYTES, codes, decompress, decompress_at_most, read, read_body,
};
use common::{cols, err, ok, rows, table};

const SL: &[&str] = &["s:string", "n:long"];

#[test]
fn format_names() {
    for (name, f) in [
        ("csv", Format::Csv),
        ("TSV", Format::Tsv),
        ("TsvE", Format::Tsve),
        ("scsv", Format::Scsv),
        ("PSV", Format::Psv),
        ("SOHsv", Format::Sohsv),
        ("txt", Format::Txt),
        ("json", Format::Json),
        ("SingleJSON", Format::SingleJson),
        ("MULTIJSON", Format::MultiJson),
        ("raw", Format::Raw),
        ("W3CLOGFILE", Format::W3cLogFile),
        ("parquet", Format::Parquet),
        ("Avro", Format::Avro),
        ("ApacheAvro", Format::ApacheAvro),
        ("ORC", Format::Orc),
    ] {
        assert_eq!(Format::parse(name), Some(f), "{name}");
        assert_eq!(Format::parse(f.name()), Some(f));
    }
    assert_eq!(Format::parse("sstream"), None);
    assert_eq!(Format::parse(""), None);
    assert!(Format::MultiJson.is_json() && !Format::Csv.is_json());
    for f in [
        Format::Parquet,
        Format::Avro,
        Format::ApacheAvro,
        Format::Orc,
    ] {
        assert!(f.is_binary() && !f.is_json() && !f.is_csv(), "{f}");
    }
    for f in [Format::Raw, Format::W3cLogFile, Format::Csv, Format::Json] {
        assert!(!f.is_binary(), "{f}");
    }
    assert!(Format::Txt.is_csv() && !Format::Raw.is_csv());
}

#[test]
fn separators() {
    let want = table(&[&["a", "1"], &["b", "2"]]);
    assert_eq!(ok(Format::Csv, "a,1\nb,2\n", SL), want);
    assert_eq!(ok(Format::Tsv, "a\t1\nb\t2\n", SL), want);
    assert_eq!(ok(Format::Tsve, "a\t1\nb\t2\n", SL), want);
    assert_eq!(ok(Format::Scsv, "a;1\nb;2\n", SL), want);
    assert_eq!(ok(Format::Psv, "a|1\nb|2\n", SL), want);
    assert_eq!(ok(Format::Sohsv, "a\u{1}1\nb\u{1}2\n", SL), want);
    // Other separators are ordinary characters.
    assert_eq!(
        ok(Format::Tsv, "a,b;c|d\t1\n", SL),
        table(&[&["a,b;c|d", "1"]])
    );
}

#[test]
fn quoting() {
    let c = &["a:string", "b:string", "c:string"];
    assert_eq!(
        ok(
            Format::Csv,
            "\"x,y\",\"he said \"\"hi\"\"\",\"l1\nl2\"\n",
            c
        ),
        table(&[&["x,y", "he said \"hi\"", "l1\nl2"]])
    );
    // Quoted line breaks keep CR LF; a quote inside an unquoted field is a character.
    assert_eq!(
        ok(Format::Csv, "\"a\r\nb\",ab\"c,\"\"\"\"", c),
        table(&[&["a\r\nb", "ab\"c", "\""]])
    );
    // Quoting works with every separator.
    assert_eq!(
        ok(Format::Psv, "\"x|y\"|\"\"|z\n", c),
        table(&[&["x|y", "", "z"]])
    );
    assert_eq!(
        ok(Format::Tsv, "\"x\ty\"\t\"q\"\"\"\tz", c),
        table(&[&["x\ty", "q\"", "z"]])
    );
}

#[test]
fn empty_fields() {
    // Empty: "" for strings, null for other types, quoted or not.
    let c = &["s:string", "n:long", "d:dynamic", "t:string"];
    assert_eq!(
        ok(Format::Csv, ",,,\n\"\",\"\",\"\",\"\"\n", c),
        table(&[&["", "∅", "∅", ""], &["", "∅", "∅", ""]])
    );
    // A trailing separator is a trailing empty field.
    assert_eq!(ok(Format::Csv, "a,\n", SL), table(&[&["a", "∅"]]));
}

#[test]
fn line_breaks() {
    let want = table(&[&["a", "1"], &["b", "2"]]);
    assert_eq!(ok(Format::Csv, "a,1\r\nb,2\r\n", SL), want);
    assert_eq!(ok(Format::Csv, "a,1\nb,2", SL), want);
    assert_eq!(ok(Format::Csv, "a,1\r\nb,2", SL), want);
    assert_eq!(ok(Format::Csv, "a,1\nb,2\n\n\r\n\n", SL), want);
    assert_eq!(ok(Format::Csv, "\"a\",1\r\n\"b\",2\r\n", SL), want);
    assert_eq!(ok(Format::Csv, "a,\"1\"\r\nb,\"2\"", SL), want);
    // A CR that does not end a line is data.
    assert_eq!(ok(Format::Csv, "x\r,1\n", SL), table(&[&["x\r", "1"]]));
    // A single-column table: an empty line in the middle is an empty record.
    assert_eq!(
        ok(Format::Csv, "a\n\nb\n", &["s:string"]),
        table(&[&["a"], &[""], &["b"]])
    );
}

#[test]
fn wrong_number_of_fields() {
    let c = &["a:string", "b:string", "c:string"];
    let e = err(Format::Csv, "1,2,3\n4,5,6\n7,8\n9,10,11\n", c);
    assert_eq!(e.code, codes::WRONG_NUMBER_OF_FIELDS);
    assert_eq!(e.code, "Stream_WrongNumberOfFields");
    assert_eq!(e.record, Some(3));
    assert!(e.permanent);
    assert_eq!(e.message, "Record 3 has 2 fields, expected 3");
    assert_eq!(e.http_status(), 400);
    assert_eq!(
        e.to_string(),
        "Stream_WrongNumberOfFields: Record 3 has 2 fields, expected 3"
    );
    // Too many fields, and records (not lines) are counted.
    let e = err(Format::Csv, "\"1\n2\",2,3\n4,5,6,7\n", c);
    assert_eq!(e.record, Some(2));
    assert_eq!(e.message, "Record 2 has 4 fields, expected 3");
    // A blank line in the middle has one field.
    let e = err(Format::Tsv, "a\t1\n\nb\t2\n", SL);
    assert_eq!((e.code, e.record), (codes::WRONG_NUMBER_OF_FIELDS, Some(2)));
    // Separators of another format do not split fields.
    let e = err(Format::Scsv, "a,1\n", SL);
    assert_eq!(e.message, "Record 1 has 1 fields, expected 2");
}

#[test]
fn broken_quoting() {
    let e = err(Format::Csv, "a,1\n\"b,2\nc,3\n", SL);
    assert_eq!(e.code, codes::CLOSING_QUOTE_MISSING);
    assert_eq!(e.code, "Stream_ClosingQuoteMissing");
    assert_eq!(e.record, Some(2));
    assert!(e.permanent);
    let e = err(Format::Csv, "a,\"1\"\"", SL);
    assert_eq!(e.code, codes::CLOSING_QUOTE_MISSING);
    let e = err(Format::Csv, "\"a\"x,1\n", SL);
    assert_eq!(e.code, codes::UNEXPECTED_CHARACTER);
    assert_eq!(e.record, Some(1));
    let e = err(Format::Csv, "a,1\n\"b\" ,2\n", SL);
    assert_eq!((e.code, e.record), (codes::UNEXPECTED_CHARACTER, Some(2)));
}

#[test]
fn tsve_escapes() {
    let c = &["a:string", "b:string", "c:string", "d:string"];
    assert_eq!(
        ok(Format::Tsve, "a\\tb\tc\\\\d\te\\nf\\rg\th\\x\\\n", c),
        table(&[&["a\tb", "c\\d", "e\nf\rg", "h\\x\\"]])
    );
    // Escapes apply in quoted fields too; tsv keeps backslashes.
    assert_eq!(
        ok(Format::Tsve, "\"q\\t\"\"\"\t\\\\\t\"\"\tx\n", c),
        table(&[&["q\t\"", "\\", "", "x"]])
    );
    assert_eq!(
        ok(Format::Tsv, "a\\tb\tc\\\\d\te\tf\n", c),
        table(&[&["a\\tb", "c\\\\d", "e", "f"]])
    );
}

#[test]
fn txt_lines() {
    let c = &["line:string", "n:long", "other:string"];
    assert_eq!(
        ok(
            Format::Txt,
            "first, with \"quotes\"\r\n\nsecond\tline\n\n",
            c
        ),
        table(&[
            &["first, with \"quotes\"", "∅", ""],
            &["second\tline", "∅", ""]
        ])
    );
    assert_eq!(
        ok(Format::Txt, "12\nabc\n 7 ", &["n:long"]),
        table(&[&["12"], &["∅"], &["7"]])
    );
    assert_eq!(
        err(Format::Txt, "\n\r\n\n", &["s:string"]).code,
        codes::NO_RECORDS
    );
}

#[test]
fn every_type() {
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
    let data = "\
true,42,-9223372036854775808,1.5,123.456,  spaced  ,2024-01-02T03:04:05.1234567Z,1.02:03:04.5,74BE27DE-1E4E-49D9-B579-FE0B331D3642,\"{\"\"a\"\": 1, \"\"b\"\": [1, 2]}\"
FALSE,-7,9223372036854775807,NaN,1e2,x,2024-01-02 03:04,-00:00:01,74be27de1e4e49d9b579fe0b331d3642,hello
1,2147483647,0,-Infinity,-0.5,,\"Sat, 8 Nov 14 15:05:02 GMT\",1d,{74be27de-1e4e-49d9-b579-fe0b331d3642},42
0, 3 ,+5,1e300,0,\"\",2014-11-08,90m,,\"[1, 2]\"
yes,2147483648,9223372036854775808,abc,100000000000000000000,z,not a date,abc,nope,null
2,1.5,1.5,1.2.3,1.2.3,z,2024-13-01,25:00:00,74be27de,\"[1,\"
";
    let got = ok(Format::Csv, data, specs);
    let want = table(&[
        &[
            "true",
            "42",
            "-9223372036854775808",
            "1.5",
            "123.456",
            "  spaced  ",
            "2024-01-02T03:04:05.1234567Z",
            "1.02:03:04.5000000",
            "74be27de-1e4e-49d9-b579-fe0b331d3642",
            "{\"a\":1,\"b\":[1,2]}",
        ],
        &[
            "false",
            "-7",
            "9223372036854775807",
            "NaN",
            "100",
            "x",
            "2024-01-02T03:04:00.0000000Z",
            "-00:00:01",
            "74be27de-1e4e-49d9-b579-fe0b331d3642",
            "\"hello\"",
        ],
        &[
            "true",
            "2147483647",
            "0",
            "-Infinity",
            "-0.5",
            "",
            "2014-11-08T15:05:02.0000000Z",
            "1.00:00:00",
            "∅",
            "42",
        ],
        &[
            "false",
            "3",
            "5",
            "1E+300",
            "0",
            "",
            "2014-11-08T00:00:00.0000000Z",
            "01:30:00",
            "∅",
            "[1,2]",
        ],
        &["∅", "∅", "∅", "∅", "∅", "z", "∅", "∅", "∅", "∅"],
        &["∅", "∅", "∅", "∅", "∅", "z", "∅", "∅", "∅", "\"[1,\""],
    ]);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "row {}", i + 1);
    }
    assert_eq!(got.len(), want.len());
}

#[test]
fn batches_of_8192_rows() {
    let n = 2 * BATCH_ROWS + 100;
    let data: String = (0..n).map(|i| format!("r{i},{i}\n")).collect();
    let batches = read(Format::Csv, data.as_bytes(), &cols(SL)).unwrap();
    let sizes: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
    assert_eq!(sizes, vec![BATCH_ROWS, BATCH_ROWS, 100]);
    let all = rows(&batches);
    assert_eq!(
        all[BATCH_ROWS + 1],
        vec!["r8193".to_string(), "8193".to_string()]
    );
    // An error after the first batch still fails the whole request.
    let bad = format!("{data}x\n");
    let e = read(Format::Csv, bad.as_bytes(), &cols(SL)).unwrap_err();
    assert_eq!(e.record, Some(n as u64 + 1));
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzip_detection() {
    let plain = b"a,1\nb,2\n";
    assert!(matches!(decompress(plain).unwrap(), Cow::Borrowed(b) if b == plain));
    assert!(matches!(decompress(b"").unwrap(), Cow::Borrowed(b"")));
    let gz = gzip(plain);
    assert_eq!(&*decompress(&gz).unwrap(), plain);
    let batches = read_body(Format::Csv, &gz, &cols(SL)).unwrap();
    assert_eq!(rows(&batches), table(&[&["a", "1"], &["b", "2"]]));
    // Concatenated members are one stream.
    let mut two = gzip(b"a,1\n");
    two.extend(gzip(b"b,2\n"));
    assert_eq!(&*decompress(&two).unwrap(), plain);
    // A corrupted stream is a permanent error.
    let mut bad = gz.clone();
    bad.truncate(12);
    let e = decompress(&bad).unwrap_err();
    assert_eq!(e.code, codes::INVALID_BLOB);
    assert!(e.permanent);
    let e = decompress(&[0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).unwrap_err();
    assert_eq!(e.code, codes::INVALID_BLOB);
}

#[test]
fn a_gzip_bomb_stops_at_the_limit() {
    // 1 MiB of zeros compresses to about a kilobyte.
    let bomb = gzip(&vec![0u8; 1 << 20]);
    assert!(bomb.len() < 8 << 10);
    let e = decompress_at_most(&bomb, 64 << 10).unwrap_err();
    assert_eq!(e.code, codes::PAYLOAD_TOO_LARGE);
    assert!(e.permanent);
    assert_eq!(decompress_at_most(&bomb, 1 << 20).unwrap().len(), 1 << 20);
}

#[test]
fn no_records() {
    for data in ["", "\n", "\r\n\r\n"] {
        let e = err(Format::Csv, data, SL);
        assert_eq!(e.code, codes::NO_RECORDS, "{data:?}");
        assert!(e.permanent);
    }
    let e = read(Format::Csv, b"a\n", &[]).unwrap_err();
    assert_eq!(e.code, codes::INCONSISTENT_MAPPING);
}

#[test]
fn text_encoding() {
    // A byte-order mark is skipped; invalid UTF-8 becomes U+FFFD.
    let batches = read(Format::Csv, b"\xEF\xBB\xBFa\xFFb,1\n", &cols(SL)).unwrap();
    assert_eq!(rows(&batches), table(&[&["a\u{FFFD}b", "1"]]));
    assert_eq!(
        ok(Format::Csv, "ünï,\"çødé\"\n", &["a:string", "b:string"]),
        table(&[&["ünï", "çødé"]])
    );
}

#[test]
fn value_size_limits() {
    let big = "x".repeat(MAX_VALUE_BYTES + 10);
    let data = format!("{big},{big}\n");
    let batches = read(
        Format::Csv,
        data.as_bytes(),
        &cols(&["s:string", "d:dynamic"]),
    )
    .unwrap();
    let r = rows(&batches);
    assert_eq!(r[0][0].len(), MAX_VALUE_BYTES);
    assert_eq!(r[0][1], "∅");
}
