//! Ingestion mappings (`.create table T ingestion csv|json|avro|parquet|orc|w3clogfile
//! mapping "name" '[...]'`): which source field fills which column, as Kusto documents
//! them ("Ingestion mappings", "CSV mapping", "JSON mapping", "AVRO mapping", "Parquet
//! mapping", "ORC mapping", "W3CLOGFILE mapping").
//!
//! * CSV mappings (for every format of the CSV family, and `raw`) take a field by
//!   `Ordinal` (0-based) or a `ConstValue`.
//! * JSON mappings (for `json`, `multijson`, `singlejson`) take a value by `Path`
//!   (`$.a.b`, `$['a b']`, `$.items[0]`, `$` for the whole record) or a `ConstValue`.
//! * AVRO (for `avro` and `apacheavro`), Parquet and ORC mappings take a value by
//!   `Field` (a top-level field name) or `Path` (as JSON mappings, into nested records,
//!   lists and maps; a `Path` not starting with `$` is a constant), or a `ConstValue`.
//! * W3CLOGFILE mappings take a field by its `Field` name (as the `#Fields:` directive
//!   names it) or a `ConstValue`.
//! * Transforms, where Kusto's table of mapping transformations allows them:
//!   `SourceLineNumber` and `SourceLocation` (every kind), `DateTimeFromUnixSeconds|
//!   Milliseconds|Microseconds|Nanoseconds` (all but W3CLOGFILE),
//!   `PropertyBagArrayToDictionary` and `DropMappedFields` (JSON, AVRO, Parquet, ORC),
//!   `BytesAsBase64` (AVRO).
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

use crate::apply::Plan;
use crate::{Format, IngestError, codes};

/// The kind of a mapping: which formats it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MappingKind {
    /// The CSV family (`csv`, `tsv`, `tsve`, `scsv`, `psv`, `sohsv`, `txt`) and `raw`.
    Csv,
    /// The JSON family (`json`, `multijson`, `singlejson`).
    Json,
    /// `avro` and `apacheavro`.
    Avro,
    /// `parquet`.
    Parquet,
    /// `orc`.
    Orc,
    /// `w3clogfile`.
    W3cLogFile,
}

impl MappingKind {
    /// The kind named in a command (`csv`, `Json`, `avro`, `apacheavro` (an AVRO
    /// mapping), `parquet`, `orc`, `w3clogfile`), case-insensitive. `sstream`, which
    /// Kusto has for its internal format, is refused with a message naming it.
    pub fn parse(name: &str) -> Result<MappingKind, IngestError> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Ok(MappingKind::Csv),
            "json" => Ok(MappingKind::Json),
            "avro" | "apacheavro" => Ok(MappingKind::Avro),
            "parquet" => Ok(MappingKind::Parquet),
            "orc" => Ok(MappingKind::Orc),
            "w3clogfile" => Ok(MappingKind::W3cLogFile),
            "sstream" => Err(IngestError::new(
                codes::INVALID_MAPPING,
                format!("Ingestion mappings of kind '{name}' are not supported by Calypso"),
            )),
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
            MappingKind::Avro => "Avro",
            MappingKind::Parquet => "Parquet",
            MappingKind::Orc => "Orc",
            MappingKind::W3cLogFile => "W3CLogFile",
        }
    }

    /// The kind of mapping a format needs.
    pub fn of_format(format: Format) -> MappingKind {
        match format {
            Format::Json | Format::SingleJson | Format::MultiJson => MappingKind::Json,
            Format::Avro | Format::ApacheAvro => MappingKind::Avro,
            Format::Parquet => MappingKind::Parquet,
            Format::Orc => MappingKind::Orc,
            Format::W3cLogFile => MappingKind::W3cLogFile,
            Format::Csv
            | Format::Tsv
            | Format::Tsve
            | Format::Scsv
            | Format::Psv
            | Format::Sohsv
            | Format::Txt
            | Format::Raw => MappingKind::Csv,
        }
    }

    /// Whether elements of this kind name fields (`Field`) and paths into records
    /// (AVRO, Parquet, ORC).
    fn is_columnar(self) -> bool {
        matches!(
            self,
            MappingKind::Avro | MappingKind::Parquet | MappingKind::Orc
        )
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
    /// A field by name: a top-level field of an AVRO, Parquet or ORC record (the same
    /// as the path `$['name']`), or a W3C log field.
    Field(String),
    /// A constant.
    Const(String),
    /// The 1-based number of the record.
    LineNumber,
    /// The source of the data ([`crate::ReadOptions::source_location`]).
    Location,
}

impl Source {
    /// The path into a record this source reads, if it reads one (a `Field` being a
    /// one-step path).
    pub(crate) fn path(&self) -> Option<Vec<PathStep>> {
        match self {
            Source::Path(p) => Some(p.clone()),
            Source::Field(f) => Some(vec![PathStep::Key(f.clone())]),
            _ => None,
        }
    }
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
    /// The object without the fields that other elements of the mapping read.
    DropMappedFields,
    /// Bytes (an AVRO `bytes` or `fixed` value, or an array of values 0-255) as base64
    /// text; null for anything else.
    BytesAsBase64,
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
pub(crate) fn prop<'a>(o: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
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
                    Source::Field(f) => {
                        props.insert("Field".into(), Value::String(f.clone()));
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
                let transform = match c.transform {
                    Transform::None => None,
                    Transform::UnixTime(factor) => Some(match factor {
                        1_000_000_000 => "DateTimeFromUnixSeconds",
                        1_000_000 => "DateTimeFromUnixMilliseconds",
                        1_000 => "DateTimeFromUnixMicroseconds",
                        _ => "DateTimeFromUnixNanoseconds",
                    }),
                    Transform::PropertyBagArrayToDictionary => Some("PropertyBagArrayToDictionary"),
                    Transform::DropMappedFields => Some("DropMappedFields"),
                    Transform::BytesAsBase64 => Some("BytesAsBase64"),
                };
                if let Some(t) = transform {
                    props.insert("Transform".into(), t.into());
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

    /// The mapping fitted to a table: for each column, the element that fills it (the
    /// last one naming it), and what `SourceLocation` gives.
    pub(crate) fn plan(&self, columns: &[(String, KqlType)], location: &str) -> Plan {
        let chosen: Vec<Option<ColumnMapping>> = columns
            .iter()
            .map(|(name, _)| {
                self.columns
                    .iter()
                    .rev()
                    .find(|c| c.column == *name)
                    .cloned()
            })
            .collect();
        // DropMappedFields: the fields below its path that the other chosen elements read.
        let drops = chosen
            .iter()
            .enumerate()
            .map(|(i, cm)| {
                let Some(cm) = cm
                    .as_ref()
                    .filter(|c| c.transform == Transform::DropMappedFields)
                else {
                    return Vec::new();
                };
                let Some(base) = cm.source.path() else {
                    return Vec::new();
                };
                chosen
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .filter_map(|(_, other)| other.as_ref()?.source.path())
                    .filter(|p| p.len() > base.len() && p.starts_with(&base))
                    .map(|p| p[base.len()..].to_vec())
                    .collect()
            })
            .collect();
        Plan {
            columns: chosen,
            drops,
            location: location.to_string(),
        }
    }
}

/// Whether the transformation (lowercase name) is allowed in mappings of `kind`, as
/// Kusto's table of mapping transformations says.
fn transform_allowed(kind: MappingKind, name: &str) -> bool {
    match name {
        "sourcelinenumber" | "sourcelocation" => true,
        "datetimefromunixseconds"
        | "datetimefromunixmilliseconds"
        | "datetimefromunixmicroseconds"
        | "datetimefromunixnanoseconds" => kind != MappingKind::W3cLogFile,
        "propertybagarraytodictionary" | "dropmappedfields" => {
            kind == MappingKind::Json || kind.is_columnar()
        }
        "bytesasbase64" => kind == MappingKind::Avro,
        _ => false,
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
        let lower = t.to_ascii_lowercase();
        if !(lower.is_empty() || lower == "none" || transform_allowed(kind, &lower)) {
            return Err(invalid(format!(
                "The transformation '{t}' of column '{column}' is not supported in {kind} mappings"
            )));
        }
        match lower.as_str() {
            "sourcelinenumber" => special = Some(Source::LineNumber),
            "sourcelocation" => special = Some(Source::Location),
            "datetimefromunixseconds" => transform = Transform::UnixTime(1_000_000_000),
            "datetimefromunixmilliseconds" => transform = Transform::UnixTime(1_000_000),
            "datetimefromunixmicroseconds" => transform = Transform::UnixTime(1_000),
            "datetimefromunixnanoseconds" => transform = Transform::UnixTime(1),
            "propertybagarraytodictionary" => transform = Transform::PropertyBagArrayToDictionary,
            "dropmappedfields" => transform = Transform::DropMappedFields,
            "bytesasbase64" => transform = Transform::BytesAsBase64,
            _ => {}
        }
    }
    let source = if let Some(s) = special {
        s
    } else if let Some(c) = prop(props, "ConstValue").and_then(text) {
        Source::Const(c)
    } else {
        parse_source(kind, &column, props)?
    };
    Ok(ColumnMapping {
        column,
        source,
        transform,
    })
}

/// The `Ordinal`, `Path` or `Field` of an element of `kind`.
fn parse_source(
    kind: MappingKind,
    column: &str,
    props: &Map<String, Value>,
) -> Result<Source, IngestError> {
    let json_path = |path: &str| {
        parse_path(path).map(Source::Path).ok_or_else(|| {
            invalid(format!(
                "'{path}' (column '{column}') is not a valid JSON path"
            ))
        })
    };
    let field = prop(props, "Field").and_then(text);
    let path = prop(props, "Path").and_then(text);
    match kind {
        MappingKind::Csv => {
            let ord = prop(props, "Ordinal").and_then(text).ok_or_else(|| {
                invalid(format!(
                    "Column '{column}' of the CSV mapping has no 'Ordinal'"
                ))
            })?;
            Ok(Source::Ordinal(ord.trim().parse().map_err(|_| {
                invalid(format!(
                    "The ordinal '{ord}' of column '{column}' is not a number"
                ))
            })?))
        }
        MappingKind::Json => {
            let path = path.ok_or_else(|| {
                invalid(format!(
                    "Column '{column}' of the JSON mapping has no 'Path'"
                ))
            })?;
            json_path(&path)
        }
        MappingKind::W3cLogFile => field.map(Source::Field).ok_or_else(|| {
            invalid(format!(
                "Column '{column}' of the W3CLOGFILE mapping has no 'Field'"
            ))
        }),
        MappingKind::Avro | MappingKind::Parquet | MappingKind::Orc => match (field, path) {
            (Some(_), Some(_)) => Err(invalid(format!(
                "Column '{column}' of the {kind} mapping has both 'Field' and 'Path', which are mutually exclusive"
            ))),
            // Kusto's own examples write paths in 'Field' too.
            (Some(f), None) if f.trim_start().starts_with('$') => json_path(&f),
            (Some(f), None) => Ok(Source::Field(f)),
            (None, Some(p)) if p.trim_start().starts_with('$') => json_path(&p),
            // "If the value doesn't start with `$`, it's treated as a constant value."
            (None, Some(p)) => Ok(Source::Const(p)),
            (None, None) => Err(invalid(format!(
                "Column '{column}' of the {kind} mapping has no 'Field' or 'Path'"
            ))),
        },
    }
}

/// Parses `$`, `$.a.b`, `$['a b']`, `$["a"]`, `$.a[0]`, `$.a[-1]`.
pub fn parse_path(path: &str) -> Option<Vec<PathStep>> {
    let rest = path.trim().strip_prefix('$')?;
    let b = rest.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b.get(i)? {
            // `$.['a b']`, as Kusto's examples write it, is `$['a b']`.
            b'.' if b.get(i + 1) == Some(&b'[') => i += 1,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::apply::lookup;

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
        assert_eq!(
            parse_path("$.['a b'].c").unwrap(),
            parse_path("$['a b'].c").unwrap()
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
            MappingKind::parse("sstream")
                .unwrap_err()
                .message
                .contains("not supported")
        );
        assert_eq!(MappingKind::parse("ApacheAvro").unwrap(), MappingKind::Avro);
        assert!(MappingKind::parse("xml").is_err());
        assert_eq!(MappingKind::parse("JSON").unwrap(), MappingKind::Json);
    }
}
