//! Applying a mapping to records: where each column's value comes from and how the
//! mapping's transformations change it (`DateTimeFromUnix*`, `PropertyBagArrayToDictionary`,
//! `DropMappedFields`, `BytesAsBase64`, `SourceLineNumber`, `SourceLocation`).

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::columns::{Batcher, ColumnBuilder};
use crate::mapping::{ColumnMapping, PathStep, Source, Transform, prop};

/// A mapping fitted to a table (see [`crate::Mapping::plan`]).
pub(crate) struct Plan {
    /// For each table column, the element that fills it.
    pub(crate) columns: Vec<Option<ColumnMapping>>,
    /// For each table column whose element has `DropMappedFields`, the paths (relative
    /// to its own) of the fields other elements read.
    pub(crate) drops: Vec<Vec<Vec<PathStep>>>,
    /// What `SourceLocation` gives.
    pub(crate) location: String,
}

impl Plan {
    /// The `DropMappedFields` paths of column `i`.
    pub(crate) fn drops(&self, i: usize) -> &[Vec<PathStep>] {
        self.drops.get(i).map_or(&[], Vec::as_slice)
    }
}

/// The value at `steps` in `v`.
pub(crate) fn lookup<'a>(v: &'a Value, steps: &[PathStep]) -> Option<&'a Value> {
    let mut cur = v;
    for step in steps {
        cur = match (step, cur) {
            (PathStep::Key(k), Value::Object(o)) => o.get(k)?,
            (PathStep::Index(n), Value::Array(a)) => a.get(index(*n, a.len())?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The position of index `n` (negative: from the end) in a list of `len` elements.
pub(crate) fn index(n: i64, len: usize) -> Option<usize> {
    if n < 0 {
        len.checked_sub(usize::try_from(n.unsigned_abs()).ok()?)
    } else {
        usize::try_from(n).ok()
    }
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

/// Appends one CSV-family record (`field(k)`: its field `k`; `record`: its 1-based
/// number) as the plan says.
pub(crate) fn push_csv_row<'a>(
    out: &mut Batcher,
    plan: &Plan,
    field: impl Fn(usize) -> Option<&'a str>,
    record: u64,
) {
    for (i, cm) in plan.columns.iter().enumerate() {
        let Some(cm) = cm else {
            out.push_null(i);
            continue;
        };
        let line;
        let value: Option<&str> = match &cm.source {
            Source::Ordinal(k) => field(*k),
            Source::Const(s) => Some(s),
            Source::LineNumber => {
                line = record.to_string();
                Some(&line)
            }
            Source::Location => Some(&plan.location),
            Source::Path(_) | Source::Field(_) => None,
        };
        match (cm.transform, value) {
            (Transform::None, Some(v)) => out.push_text(i, v),
            (Transform::UnixTime(f), Some(v)) => out.push_datetime(i, unix_nanos_text(v, f)),
            _ => out.push_null(i),
        }
    }
}

/// Appends one JSON record (`number`: its 1-based number) as the plan says.
pub(crate) fn push_json_row(
    out: &mut Batcher,
    plan: &Plan,
    record: &Map<String, Value>,
    number: u64,
) {
    for (i, cm) in plan.columns.iter().enumerate() {
        let Some(cm) = cm else {
            out.push_null(i);
            continue;
        };
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
            Source::Field(_) | Source::Ordinal(_) => None,
            Source::Const(_) | Source::LineNumber | Source::Location => {
                owned = constant(&cm.source, plan, number);
                Some(&owned)
            }
        };
        match value {
            None => out.push_null(i),
            Some(v) => match transformed(cm.transform, v, plan.drops(i)) {
                Transformed::Null => out.push_null(i),
                Transformed::DateTime(n) => out.push_datetime(i, n),
                Transformed::Same => out.push_json(i, v),
                Transformed::Value(v) => out.push_json(i, &v),
            },
        }
    }
}

/// The value of a source that reads no record: a constant, the record number, the
/// source location.
pub(crate) fn constant(source: &Source, plan: &Plan, number: u64) -> Value {
    match source {
        Source::Const(s) => Value::String(s.clone()),
        Source::LineNumber => Value::from(number),
        Source::Location => Value::String(plan.location.clone()),
        _ => Value::Null,
    }
}

/// A source value after a transformation.
pub(crate) enum Transformed {
    /// Unchanged.
    Same,
    /// A datetime (`DateTimeFromUnix*`), null when the value is no number.
    DateTime(Option<i64>),
    /// Another value.
    Value(Value),
    /// Nothing.
    Null,
}

/// Applies `transform` to `v` (`drops`: the paths `DropMappedFields` removes).
pub(crate) fn transformed(transform: Transform, v: &Value, drops: &[Vec<PathStep>]) -> Transformed {
    match transform {
        Transform::None => Transformed::Same,
        Transform::UnixTime(f) => Transformed::DateTime(unix_nanos(v, f)),
        Transform::PropertyBagArrayToDictionary => Transformed::Value(property_bag(v)),
        Transform::DropMappedFields => {
            let mut v = v.clone();
            for path in drops {
                remove(&mut v, path);
            }
            Transformed::Value(v)
        }
        Transform::BytesAsBase64 => match json_bytes(v) {
            Some(b) => Transformed::Value(Value::String(base64(&b))),
            None => Transformed::Null,
        },
    }
}

/// Appends `v` after `transform` to a column being built on its own.
pub(crate) fn push_transformed(
    b: &mut ColumnBuilder,
    transform: Transform,
    v: &Value,
    drops: &[Vec<PathStep>],
) {
    match transformed(transform, v, drops) {
        Transformed::Null => b.push_null(),
        Transformed::DateTime(n) => b.push_datetime(n),
        Transformed::Same => b.push_value(v),
        Transformed::Value(v) => b.push_json(&v),
    }
}

/// Removes the value at `path` from `v`, if there is one.
fn remove(v: &mut Value, path: &[PathStep]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for step in parents {
        cur = match (step, cur) {
            (PathStep::Key(k), Value::Object(o)) => match o.get_mut(k) {
                Some(c) => c,
                None => return,
            },
            (PathStep::Index(n), Value::Array(a)) => {
                let Some(c) = index(*n, a.len()).and_then(|i| a.get_mut(i)) else {
                    return;
                };
                c
            }
            _ => return,
        };
    }
    if let (PathStep::Key(k), Value::Object(o)) = (last, cur) {
        o.shift_remove(k);
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

/// The bytes of a JSON array of numbers 0-255 (how bytes read as values).
pub(crate) fn json_bytes(v: &Value) -> Option<Vec<u8>> {
    let Value::Array(items) = v else {
        return None;
    };
    items
        .iter()
        .map(|x| x.as_u64().and_then(|n| u8::try_from(n).ok()))
        .collect()
}

/// Standard base64 with padding.
pub(crate) fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::mapping::parse_path;

    #[test]
    fn drop_mapped_fields_removes_nested_paths() {
        let mut v = serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [{"f": 1, "g": 2}]});
        remove(&mut v, &parse_path("$.b.c").unwrap());
        remove(&mut v, &parse_path("$.e[-1].g").unwrap());
        remove(&mut v, &parse_path("$.zz.y").unwrap());
        remove(&mut v, &parse_path("$.a.y").unwrap());
        assert_eq!(
            v,
            serde_json::json!({"a": 1, "b": {"d": 3}, "e": [{"f": 1}]})
        );
    }

    #[test]
    fn bytes_as_base64() {
        let ok = serde_json::json!([
            227, 131, 34, 92, 28, 91, 65, 72, 134, 138, 9, 133, 51, 45, 104, 52
        ]);
        match transformed(Transform::BytesAsBase64, &ok, &[]) {
            Transformed::Value(Value::String(s)) => assert_eq!(s, "44MiXBxbQUiGigmFMy1oNA=="),
            _ => panic!("not base64"),
        }
        for bad in [
            serde_json::json!([1, 256]),
            serde_json::json!("ab"),
            serde_json::json!([-1]),
        ] {
            assert!(matches!(
                transformed(Transform::BytesAsBase64, &bad, &[]),
                Transformed::Null
            ));
        }
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
