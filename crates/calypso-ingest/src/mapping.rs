//! Ingestion mappings (`.create table T ingestion csv|json mapping "name" '[...]'`): which
//! source field fills which column, as Kusto documents them ("Data mappings",
//! "CSV mapping", "JSON mapping").
//!
//! * CSV mappings (for every format of the CSV family) take a field by `Ordinal`
//!   (0-based) or a `ConstValue`.
//! * JSON mappings (for `json`, `multijson`, `singlejson`) take a value by `Path`
//!   (`$.a.b`, `$['a b']`, `$.items[0]`, `$` for the whole record) or a `ConstValue`.
//! * Both accept the transforms `SourceLineNumber`, `SourceLocation`,
//!   `DateTimeFromUnixSeconds|Milliseconds|Microseconds|Nanoseconds` and (JSON)
//!   `PropertyBagArrayToDictionary`.
//! * Elements may be written in the current form
//!   `{"Column": "c", "Properties": {"Ordinal": "0"}}` or the legacy flat forms
//!   (`{"Name": "c", "Ordinal": 0}`, `{"column": "c", "path": "$.c"}`); keys are matched
//!   case-insensitively.
//!
//! Table columns that no element names are missing values (`""` for strings, null
//! otherwise).

use std::fmt;

use kql_types::KqlType;
use serde_json::{Map, Value};

use crate::columns::Batcher;
use crate::{Format, IngestError, codes};

/// The kind of a mapping: which formats it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MappingKind {
    /// The CSV family (`csv`, `tsv`, `tsve`, `scsv`, `psv`, `sohsv`, `txt`).
    Csv,
    /// The JSON family (`json`, `multijson`, `singlejson`).
    Json,
}

impl MappingKind {
    /// The kind named in a command (`csv`, `Json`...), case-insensitive. Kinds Kusto has
    /// but Calypso cannot ingest yet (`avro`, `parquet`, `orc`, `w3clogfile`) are refused
    /// with a message naming them.
    pub fn parse(name: &str) -> Result<MappingKind, IngestError> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Ok(MappingKind::Csv),
            "json" => Ok(MappingKind::Json),
            "avro" | "apacheavro" | "parquet" | "orc" | "w3clogfile" | "sstream" => {
                Err(IngestError::new(
                    codes::INVALID_MAPPING,
                    format!("Ingestion mappings of kind '{name}' are not supported by Calypso yet"),
                ))
            }
            _ => Err(IngestError::new(
                codes::INVALID_MAPPING,
                format!(
                    "'{name}' is not an ingestion mapping kind (csv, json, avro, parquet, orc, w3clogfile)"
                ),
            )),
        }
    }

    /// Kusto's name of the kind, as `.show ingestion mappings` prints it.
    pub fn name(self) -> &'static str {
        match self {
            MappingKind::Csv => "Csv",
            MappingKind::Json => "Json",
        }
    }

    /// The kind of mapping a format needs.
    pub fn of_format(format: Format) -> MappingKind {
        if format.is_json() {
            MappingKind::Json
        } else {
            MappingKind::Csv
        }
    }
}

impl fmt::Display for MappingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// A property.
    Key(String),
    /// An array element (negative counts from the end).
    Index(i64),
}

/// Where a column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A CSV field (0-based).
    Ordinal(usize),
    /// A JSON path (empty: the whole record).
    Path(Vec<PathStep>),
    /// A constant.
    Const(String),
    /// The 1-based number of the record.
    LineNumber,
    /// The source of the data (empty for streaming ingestion, which has no blob).
    Location,
}

/// A transformation applied to a source value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// The value as it is.
    None,
    /// A number of units since 1970-01-01 (`DateTimeFromUnix*`); the factor to
    /// nanoseconds.
    UnixTime(i64),
    /// An array of objects merged into one object.
    PropertyBagArrayToDictionary,
}

/// One element of a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMapping {
    /// The target column.
    pub column: String,
    /// The source.
    pub source: Source,
    /// The transformation.
    pub transform: Transform,
}

/// A parsed mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Its kind.
    pub kind: MappingKind,
    /// Its elements.
    pub columns: Vec<ColumnMapping>,
}

fn invalid(msg: impl Into<String>) -> IngestError {
    IngestError::new(codes::INVALID_MAPPING, msg)
}

/// A property of a JSON object, by case-insensitive name.
fn prop<'a>(o: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Mapping {
    /// Parses the JSON text of a mapping of `kind`.
    pub fn parse(kind: MappingKind, json: &str) -> Result<Mapping, IngestError> {
        let v: Value = serde_json::from_str(json)
            .map_err(|e| invalid(format!("The ingestion mapping is not valid JSON: {e}")))?;
        let Value::Array(items) = v else {
            return Err(invalid("An ingestion mapping must be a JSON array"));
        };
        if items.is_empty() {
            return Err(invalid("The ingestion mapping has no elements"));
        }
        let columns = items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_element(kind, i, item))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Mapping { kind, columns })
    }

    /// The mapping in Kusto's current form, as `.show ingestion mappings` prints it.
    pub fn to_json(&self) -> String {
        let items: Vec<Value> = self
            .columns
            .iter()
            .map(|c| {
                let mut props = Map::new();
                match &c.source {
                    Source::Ordinal(n) => {
                        props.insert("Ordinal".into(), Value::String(n.to_string()));
                    }
                    Source::Path(steps) => {
                        props.insert("Path".into(), Value::String(path_text(steps)));
                    }
                    Source::Const(s) => {
                        props.insert("ConstValue".into(), Value::String(s.clone()));
                    }
                    Source::LineNumber => {
                        props.insert("Transform".into(), "SourceLineNumber".into());
                    }
                    Source::Location => {
                        props.insert("Transform".into(), "SourceLocation".into());
                    }
                }
                match c.transform {
                    Transform::None => {}
                    Transform::UnixTime(factor) => {
                        let name = match factor {
                            1_000_000_000 => "DateTimeFromUnixSeconds",
                            1_000_000 => "DateTimeFromUnixMilliseconds",
                            1_000 => "DateTimeFromUnixMicroseconds",
                            _ => "DateTimeFromUnixNanoseconds",
                        };
                        props.insert("Transform".into(), name.into());
                    }
                    Transform::PropertyBagArrayToDictionary => {
                        props.insert("Transform".into(), "PropertyBagArrayToDictionary".into());
                    }
                }
                serde_json::json!({"Column": c.column, "Properties": props})
            })
            .collect();
        Value::Array(items).to_string()
    }

    /// Checks that every element names a column of the table.
    pub fn check_columns(&self, columns: &[(String, KqlType)]) -> Result<(), IngestError> {
        for c in &self.columns {
            if !columns.iter().any(|(n, _)| *n == c.column) {
                return Err(invalid(format!(
                    "The ingestion mapping refers to column '{}', which the table does not have",
                    c.column
                )));
            }
        }
        Ok(())
    }

    /// For each table column, the element that fills it (the last one naming it).
    pub(crate) fn plan(&self, columns: &[(String, KqlType)]) -> Vec<Option<ColumnMapping>> {
        columns
            .iter()
            .map(|(name, _)| {
                self.columns
                    .iter()
                    .rev()
                    .find(|c| c.column == *name)
                    .cloned()
            })
            .collect()
    }
}

fn parse_element(kind: MappingKind, i: usize, item: &Value) -> Result<ColumnMapping, IngestError> {
    let Value::Object(o) = item else {
        return Err(invalid(format!(
            "Element {} of the ingestion mapping is not a JSON object",
            i + 1
        )));
    };
    let column = prop(o, "Column")
        .or_else(|| prop(o, "Name"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            invalid(format!(
                "Element {} of the ingestion mapping has no 'Column'",
                i + 1
            ))
        })?
        .to_string();
    // Current form: properties in "Properties"; legacy form: on the element itself.
    let props = match prop(o, "Properties") {
        Some(Value::Object(p)) => p,
        Some(Value::String(s)) => {
            return parse_element(
                kind,
                i,
                &serde_json::json!({"Column": column, "Properties": serde_json::from_str::<Value>(s)
                    .map_err(|e| invalid(format!("The properties of column '{column}' are not valid JSON: {e}")))?}),
            );
        }
        _ => o,
    };
    let transform_name = prop(props, "Transform").and_then(text);
    let mut transform = Transform::None;
    let mut special = None;
    if let Some(t) = transform_name.as_deref() {
        match t.to_ascii_lowercase().as_str() {
            "none" | "" => {}
            "sourcelinenumber" => special = Some(Source::LineNumber),
            "sourcelocation" => special = Some(Source::Location),
            "datetimefromunixseconds" => transform = Transform::UnixTime(1_000_000_000),
            "datetimefromunixmilliseconds" => transform = Transform::UnixTime(1_000_000),
            "datetimefromunixmicroseconds" => transform = Transform::UnixTime(1_000),
            "datetimefromunixnanoseconds" => transform = Transform::UnixTime(1),
            "propertybagarraytodictionary" if kind == MappingKind::Json => {
                transform = Transform::PropertyBagArrayToDictionary
            }
            _ => {
                return Err(invalid(format!(
                    "The transformation '{t}' of column '{column}' is not supported"
                )));
            }
        }
    }
    let source = if let Some(s) = special {
        s
    } else if let Some(c) = prop(props, "ConstValue").and_then(text) {
        Source::Const(c)
    } else {
        match kind {
            MappingKind::Csv => {
                let ord = prop(props, "Ordinal").and_then(text).ok_or_else(|| {
                    invalid(format!(
                        "Column '{column}' of the CSV mapping has no 'Ordinal'"
                    ))
                })?;
                Source::Ordinal(ord.trim().parse().map_err(|_| {
                    invalid(format!(
                        "The ordinal '{ord}' of column '{column}' is not a number"
                    ))
                })?)
            }
            MappingKind::Json => {
                let path = prop(props, "Path").and_then(text).ok_or_else(|| {
                    invalid(format!(
                        "Column '{column}' of the JSON mapping has no 'Path'"
                    ))
                })?;
                Source::Path(parse_path(&path).ok_or_else(|| {
                    invalid(format!(
                        "'{path}' (column '{column}') is not a valid JSON path"
                    ))
                })?)
            }
        }
    };
    Ok(ColumnMapping {
        column,
        source,
        transform,
    })
}

/// Parses `$`, `$.a.b`, `$['a b']`, `$["a"]`, `$.a[0]`, `$.a[-1]`.
pub fn parse_path(path: &str) -> Option<Vec<PathStep>> {
    let rest = path.trim().strip_prefix('$')?;
    let b = rest.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b.get(i)? {
            b'.' => {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end] != b'.' && b[end] != b'[' {
                    end += 1;
                }
                if end == start {
                    return None;
                }
                steps.push(PathStep::Key(rest.get(start..end)?.to_string()));
                i = end;
            }
            b'[' => {
                let q = *b.get(i + 1)?;
                if q == b'\'' || q == b'"' {
                    let start = i + 2;
                    let len = rest.get(start..)?.find(q as char)?;
                    steps.push(PathStep::Key(rest.get(start..start + len)?.to_string()));
                    i = start + len + 1;
                    if b.get(i) != Some(&b']') {
                        return None;
                    }
                    i += 1;
                } else {
                    let close = rest.get(i..)?.find(']')? + i;
                    let n: i64 = rest.get(i + 1..close)?.trim().parse().ok()?;
                    steps.push(PathStep::Index(n));
                    i = close + 1;
                }
            }
            _ => return None,
        }
    }
    Some(steps)
}

fn path_text(steps: &[PathStep]) -> String {
    let mut s = String::from("$");
    for step in steps {
        match step {
            PathStep::Key(k)
                if !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-') =>
            {
                s.push('.');
                s.push_str(k);
            }
            PathStep::Key(k) => {
                s.push_str("['");
                s.push_str(k);
                s.push_str("']");
            }
            PathStep::Index(n) => {
                s.push('[');
                s.push_str(&n.to_string());
                s.push(']');
            }
        }
    }
    s
}

/// The value at `steps` in `v`.
pub(crate) fn lookup<'a>(v: &'a Value, steps: &[PathStep]) -> Option<&'a Value> {
    let mut cur = v;
    for step in steps {
        cur = match (step, cur) {
            (PathStep::Key(k), Value::Object(o)) => o.get(k)?,
            (PathStep::Index(n), Value::Array(a)) => {
                let idx = if *n < 0 {
                    a.len().checked_sub(n.unsigned_abs() as usize)?
                } else {
                    usize::try_from(*n).ok()?
                };
                a.get(idx)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// Nanoseconds since the epoch of a `DateTimeFromUnix*` source value (a number or
/// numeric text) in units of `factor` nanoseconds.
pub(crate) fn unix_nanos(v: &Value, factor: i64) -> Option<i64> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.checked_mul(factor),
            None => n.as_f64().and_then(|f| scaled(f, factor)),
        },
        Value::String(s) => unix_nanos_text(s, factor),
        _ => None,
    }
}

/// [`unix_nanos`] of numeric text (a CSV field), without building a JSON value.
pub(crate) fn unix_nanos_text(s: &str, factor: i64) -> Option<i64> {
    let s = s.trim();
    match s.parse::<i64>() {
        Ok(i) => i.checked_mul(factor),
        Err(_) => s.parse::<f64>().ok().and_then(|f| scaled(f, factor)),
    }
}

/// `f * factor` as whole nanoseconds, when it fits.
fn scaled(f: f64, factor: i64) -> Option<i64> {
    let n = f * factor as f64;
    (n.is_finite() && n.abs() < 9.2e18).then_some(n as i64)
}

/// Appends the value `cm` takes from a CSV record (`field(k)`: the record's field `k`)
/// to column `i`.
pub(crate) fn push_csv<'a>(
    out: &mut Batcher,
    i: usize,
    cm: &ColumnMapping,
    field: impl FnOnce(usize) -> Option<&'a str>,
    record: u64,
) {
    let line;
    let value: Option<&str> = match &cm.source {
        Source::Ordinal(k) => field(*k),
        Source::Const(s) => Some(s),
        Source::LineNumber => {
            line = record.to_string();
            Some(&line)
        }
        Source::Location => Some(""),
        Source::Path(_) => None,
    };
    match (cm.transform, value) {
        (_, None) => out.push_null(i),
        (Transform::UnixTime(f), Some(v)) => out.push_datetime(i, unix_nanos_text(v, f)),
        (Transform::PropertyBagArrayToDictionary, Some(_)) => out.push_null(i),
        (Transform::None, Some(v)) => out.push_text(i, v),
    }
}

/// Appends the value `cm` takes from a JSON record to column `i`.
pub(crate) fn push_json(
    out: &mut Batcher,
    i: usize,
    cm: &ColumnMapping,
    record: &Map<String, Value>,
    number: u64,
) {
    let owned;
    let value: Option<&Value> = match &cm.source {
        Source::Path(steps) => match steps.split_first() {
            None => {
                owned = Value::Object(record.clone());
                Some(&owned)
            }
            Some((PathStep::Key(k), rest)) => record.get(k).and_then(|v| lookup(v, rest)),
            Some((PathStep::Index(_), _)) => None,
        },
        Source::Const(s) => {
            owned = Value::String(s.clone());
            Some(&owned)
        }
        Source::LineNumber => {
            owned = Value::from(number);
            Some(&owned)
        }
        Source::Location => {
            owned = Value::String(String::new());
            Some(&owned)
        }
        Source::Ordinal(_) => None,
    };
    match (cm.transform, value) {
        (_, None) => out.push_null(i),
        (Transform::UnixTime(f), Some(v)) => out.push_datetime(i, unix_nanos(v, f)),
        (Transform::PropertyBagArrayToDictionary, Some(v)) => out.push_json(i, &property_bag(v)),
        (Transform::None, Some(v)) => out.push_json(i, v),
    }
}

/// `[{"a": 1}, {"b": 2}]` → `{"a": 1, "b": 2}`; also accepts `[{"Key": k, "Value": v}]`.
pub(crate) fn property_bag(v: &Value) -> Value {
    let Value::Array(items) = v else {
        return Value::Null;
    };
    let mut out = Map::new();
    for item in items {
        if let Value::Object(o) = item {
            let key = prop(o, "Key").and_then(Value::as_str);
            match (key, o.len()) {
                (Some(k), 2) if prop(o, "Value").is_some() || o.contains_key("Value") => {
                    out.insert(
                        k.to_string(),
                        prop(o, "Value").cloned().unwrap_or(Value::Null),
                    );
                }
                _ => out.extend(o.iter().map(|(k, v)| (k.clone(), v.clone()))),
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(parse_path("$").unwrap(), vec![]);
        assert_eq!(
            parse_path("$.a.b[2]['c d'][-1]").unwrap(),
            vec![
                PathStep::Key("a".into()),
                PathStep::Key("b".into()),
                PathStep::Index(2),
                PathStep::Key("c d".into()),
                PathStep::Index(-1)
            ]
        );
        assert!(parse_path("a.b").is_none());
        assert!(parse_path("$.").is_none());
        assert!(parse_path("$['a").is_none());
        let v: Value = serde_json::json!({"a": {"b": [1, 2, {"x": 5}]}});
        let p = parse_path("$.a.b[-1].x").unwrap();
        assert_eq!(lookup(&v, &p), Some(&serde_json::json!(5)));
        assert_eq!(lookup(&v, &parse_path("$.a.c").unwrap()), None);
        assert_eq!(
            path_text(&parse_path("$['a b'].c[1]").unwrap()),
            "$['a b'].c[1]"
        );
    }

    #[test]
    fn parse_current_and_legacy_forms() {
        let m = Mapping::parse(
            MappingKind::Csv,
            r#"[{"Column":"a","Properties":{"Ordinal":"2"}},{"Name":"b","DataType":"int","Ordinal":0},{"column":"c","Properties":{"ConstValue":"x"}},{"Column":"n","Properties":{"Transform":"SourceLineNumber"}}]"#,
        )
        .unwrap();
        assert_eq!(m.columns[0].source, Source::Ordinal(2));
        assert_eq!(m.columns[1].source, Source::Ordinal(0));
        assert_eq!(m.columns[2].source, Source::Const("x".into()));
        assert_eq!(m.columns[3].source, Source::LineNumber);
        let j = Mapping::parse(
            MappingKind::Json,
            r#"[{"column":"t","path":"$.ts","transform":"DateTimeFromUnixMilliseconds"}]"#,
        )
        .unwrap();
        assert_eq!(j.columns[0].transform, Transform::UnixTime(1_000_000));
        assert_eq!(
            j.to_json(),
            r#"[{"Column":"t","Properties":{"Path":"$.ts","Transform":"DateTimeFromUnixMilliseconds"}}]"#
        );
        // the printed form parses back to the same mapping
        assert_eq!(Mapping::parse(MappingKind::Json, &j.to_json()).unwrap(), j);
    }

    #[test]
    fn invalid_mappings() {
        for (kind, text) in [
            (MappingKind::Csv, "{}"),
            (MappingKind::Csv, "[]"),
            (MappingKind::Csv, "[1]"),
            (MappingKind::Csv, r#"[{"Column":"a"}]"#),
            (
                MappingKind::Csv,
                r#"[{"Column":"a","Properties":{"Ordinal":"x"}}]"#,
            ),
            (
                MappingKind::Json,
                r#"[{"Column":"a","Properties":{"Path":"a"}}]"#,
            ),
            (
                MappingKind::Json,
                r#"[{"Column":"a","Properties":{"Path":"$.a","Transform":"Nope"}}]"#,
            ),
            (MappingKind::Csv, "not json"),
        ] {
            let e = Mapping::parse(kind, text).unwrap_err();
            assert_eq!(e.code, codes::INVALID_MAPPING, "{text}");
            assert!(e.permanent);
        }
        assert!(
            MappingKind::parse("avro")
                .unwrap_err()
                .message
                .contains("not supported")
        );
        assert!(MappingKind::parse("xml").is_err());
        assert_eq!(MappingKind::parse("JSON").unwrap(), MappingKind::Json);
    }

    #[test]
    fn transforms() {
        assert_eq!(
            unix_nanos(&serde_json::json!(2), 1_000_000_000),
            Some(2_000_000_000)
        );
        assert_eq!(
            unix_nanos(&serde_json::json!("1.5"), 1_000_000_000),
            Some(1_500_000_000)
        );
        assert_eq!(unix_nanos(&serde_json::json!("x"), 1), None);
        assert_eq!(unix_nanos(&serde_json::json!(i64::MAX), 1000), None);
        assert_eq!(
            property_bag(&serde_json::json!([{"a": 1}, {"b": 2}])),
            serde_json::json!({"a": 1, "b": 2})
        );
        assert_eq!(
            property_bag(&serde_json::json!([{"Key": "k", "Value": "v"}])),
            serde_json::json!({"k": "v"})
        );
        assert_eq!(property_bag(&serde_json::json!(5)), Value::Null);
    }
}
