//! What each policy Calypso stores looks like: its `PolicyName`, its JSON properties with
//! their types, defaults and limits, and the value a new database starts with. One table,
//! [`SPECS`], drives validation (`.alter`/`.alter-merge` values are checked and normalized
//! before they are stored) and `.show` (unset policies show `null`, except those ADX sets on
//! every new database).
//!
//! Sources (management/*.md in the ADX docs): retention-policy.md (defaults 365000 days,
//! `Enabled`; `"{}"` sets the defaults), cache-policy.md, merge-policy.md ("default policy
//! example"; set on database creation), batching-policy.md ("Defaults and limits"),
//! sharding-policy.md (defaults; set on database creation), streaming-ingestion-policy.md,
//! update-policy.md (the update policy object), partitioning-policy.md (at most two
//! partition keys, `Hash` or `UniformRange`), auto-delete-policy.md,
//! extent-tags-retention-policy.md (a prefix ends with its only colon),
//! row-level-security-policy.md, ingestion-time-policy.md, alter-encoding-policy.md
//! (profiles), row-order-policy.md.
//!
//! Property names match case-insensitively and are stored in the documented spelling; an
//! unknown property, a value of the wrong type or out of range, or a missing required
//! property is refused with a message that names it. Timespans are stored as Kusto writes
//! them (`[d.]hh:mm:ss[.fffffff]`), from that form or a KQL literal (`7d`, `90m`).

use serde_json::{Map, Value};

use crate::{EngineError, Result};

/// The type of a policy property.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Bool,
    /// A whole number in `min..=max`.
    Int(i64, i64),
    Real,
    Str,
    /// A timespan in seconds `min..=max`.
    Timespan(i64, i64),
    DateTime,
    /// One of these words (case-insensitive; stored as written here).
    Enum(&'static [&'static str]),
    /// `{"Value": <timespan>}`, or a timespan alone.
    HotSpan,
    /// An array of objects with these properties.
    Objects(&'static [Field]),
    /// An object with these properties.
    Object(&'static [Field]),
    /// An extent tag prefix: text ending with its only colon.
    TagPrefix,
    /// Any JSON (validated elsewhere or free-form in ADX).
    Any,
}

/// A property of a policy object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub name: &'static str,
    pub kind: Kind,
    /// The JSON written when the property is absent; `None`: required; `Some("")`: left out.
    pub default: Option<&'static str>,
    /// Whether `null` is a valid value.
    pub nullable: bool,
}

const fn f(name: &'static str, kind: Kind, default: &'static str) -> Field {
    Field {
        name,
        kind,
        default: Some(default),
        nullable: false,
    }
}

const fn nullable(name: &'static str, kind: Kind, default: &'static str) -> Field {
    Field {
        name,
        kind,
        default: Some(default),
        nullable: true,
    }
}

const fn required(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        default: None,
        nullable: false,
    }
}

/// The JSON shape of a policy.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape {
    Object(&'static [Field]),
    /// An array of objects (update, extent tags retention).
    Objects(&'static [Field]),
    /// `true` or `false` (restricted view access).
    Bool,
}

/// A policy: its command word, `PolicyName`, shape and the value of a new database.
#[derive(Debug)]
pub(crate) struct Spec {
    pub word: &'static str,
    pub name: &'static str,
    pub shape: Shape,
    /// What `.show database D policy <word>` shows while nothing was set (ADX sets these on
    /// database creation).
    pub database_default: Option<&'static str>,
}

const DAY: i64 = 86_400;
/// Timespans are unbounded in policies except where the docs give limits (10,675,199 days is
/// .NET's TimeSpan.MaxValue).
const ANY_SPAN: (i64, i64) = (0, 10_675_199 * DAY);

const RETENTION: &[Field] = &[
    f(
        "SoftDeletePeriod",
        Kind::Timespan(ANY_SPAN.0, ANY_SPAN.1),
        "\"365000.00:00:00\"",
    ),
    f(
        "Recoverability",
        Kind::Enum(&["Enabled", "Disabled"]),
        "\"Enabled\"",
    ),
];

const HOT_WINDOW: &[Field] = &[
    required("MinValue", Kind::DateTime),
    required("MaxValue", Kind::DateTime),
];

const CACHING: &[Field] = &[
    nullable("DataHotSpan", Kind::HotSpan, "null"),
    nullable("IndexHotSpan", Kind::HotSpan, "null"),
    f("HotWindows", Kind::Objects(HOT_WINDOW), ""),
];

const LOOKBACK: &[Field] = &[
    f(
        "Kind",
        Kind::Enum(&["Default", "All", "HotCache", "Custom"]),
        "\"Default\"",
    ),
    nullable(
        "CustomPeriod",
        Kind::Timespan(ANY_SPAN.0, ANY_SPAN.1),
        "null",
    ),
];

const MERGE: &[Field] = &[
    f(
        "RowCountUpperBoundForMerge",
        Kind::Int(0, i64::MAX),
        "16000000",
    ),
    f(
        "OriginalSizeMBUpperBoundForMerge",
        Kind::Int(0, i64::MAX),
        "30000",
    ),
    f("MaxExtentsToMerge", Kind::Int(2, i64::MAX), "100"),
    f("MaxRangeInHours", Kind::Int(1, i64::MAX), "24"),
    f("AllowRebuild", Kind::Bool, "true"),
    f("AllowMerge", Kind::Bool, "true"),
    f(
        "Lookback",
        Kind::Object(LOOKBACK),
        r#"{"Kind":"Default","CustomPeriod":null}"#,
    ),
];

const BATCHING: &[Field] = &[
    f(
        "MaximumBatchingTimeSpan",
        Kind::Timespan(10, 30 * 60),
        "\"00:05:00\"",
    ),
    f("MaximumNumberOfItems", Kind::Int(1, 25_000), "500"),
    f("MaximumRawDataSizeMB", Kind::Int(100, 4096), "1024"),
];

const INGESTION_TIME: &[Field] = &[f("IsEnabled", Kind::Bool, "true")];

const STREAMING: &[Field] = &[
    f("IsEnabled", Kind::Bool, "false"),
    nullable("HintAllocatedRate", Kind::Real, "null"),
];

const UPDATE: &[Field] = &[
    f("IsEnabled", Kind::Bool, "true"),
    required("Source", Kind::Str),
    f("SourceIsWildCard", Kind::Bool, "false"),
    required("Query", Kind::Str),
    f("IsTransactional", Kind::Bool, "false"),
    f("PropagateIngestionProperties", Kind::Bool, "false"),
    nullable("ManagedIdentity", Kind::Str, "null"),
];

const PARTITION_KEY: &[Field] = &[
    required("ColumnName", Kind::Str),
    required("Kind", Kind::Enum(&["Hash", "UniformRange"])),
    required("Properties", Kind::Any),
];

const PARTITIONING: &[Field] = &[
    required("PartitionKeys", Kind::Objects(PARTITION_KEY)),
    nullable("EffectiveDateTime", Kind::DateTime, "null"),
    f("MinRowCountPerOperation", Kind::Int(0, i64::MAX), "0"),
    f("MaxRowCountPerOperation", Kind::Int(0, i64::MAX), "0"),
    f("MaxOriginalSizePerOperation", Kind::Int(0, i64::MAX), "0"),
];

const SHARDING: &[Field] = &[
    f("ShardEngineMaxRowCount", Kind::Int(1, i64::MAX), "1048576"),
    f(
        "ShardEngineMaxExtentSizeInMb",
        Kind::Int(1, i64::MAX),
        "8192",
    ),
    f(
        "ShardEngineMaxOriginalSizeInMb",
        Kind::Int(1, i64::MAX),
        "3072",
    ),
    // The older names of the same limits, still accepted by ADX.
    f("MaxRowCount", Kind::Int(1, i64::MAX), ""),
    f("MaxExtentSizeInMb", Kind::Int(1, i64::MAX), ""),
    f("MaxOriginalSizeInMb", Kind::Int(1, i64::MAX), ""),
];

const ROW_LEVEL_SECURITY: &[Field] = &[
    f("IsEnabled", Kind::Bool, "false"),
    f("Query", Kind::Str, "\"\""),
];

const TAG_RETENTION: &[Field] = &[
    required("TagPrefix", Kind::TagPrefix),
    required("RetentionPeriod", Kind::Timespan(ANY_SPAN.0, ANY_SPAN.1)),
];

const AUTO_DELETE: &[Field] = &[
    required("ExpiryDate", Kind::DateTime),
    f("DeleteIfNotEmpty", Kind::Bool, "false"),
];

const ROW_ORDER: &[Field] = &[required("RowOrder", Kind::Any)];

const ENCODING: &[Field] = &[nullable(
    "EncodingProfile",
    Kind::Enum(&["Identifier", "BigObject", "BigObject32", "Vector16", "Null"]),
    "null",
)];

/// The policies Calypso stores.
pub(crate) const SPECS: &[Spec] = &[
    spec("retention", "RetentionPolicy", Shape::Object(RETENTION)),
    spec("caching", "CachingPolicy", Shape::Object(CACHING)),
    Spec {
        word: "merge",
        name: "ExtentsMergePolicy",
        shape: Shape::Object(MERGE),
        database_default: Some(
            r#"{"RowCountUpperBoundForMerge":16000000,"OriginalSizeMBUpperBoundForMerge":30000,"MaxExtentsToMerge":100,"MaxRangeInHours":24,"AllowRebuild":true,"AllowMerge":true,"Lookback":{"Kind":"Default","CustomPeriod":null}}"#,
        ),
    },
    spec(
        "ingestionbatching",
        "IngestionBatchingPolicy",
        Shape::Object(BATCHING),
    ),
    spec(
        "ingestiontime",
        "IngestionTimePolicy",
        Shape::Object(INGESTION_TIME),
    ),
    spec(
        "streamingingestion",
        "StreamingIngestionPolicy",
        Shape::Object(STREAMING),
    ),
    spec("update", "UpdatePolicy", Shape::Objects(UPDATE)),
    spec(
        "partitioning",
        "PartitioningPolicy",
        Shape::Object(PARTITIONING),
    ),
    Spec {
        word: "sharding",
        name: "ExtentsShardingPolicy",
        shape: Shape::Object(SHARDING),
        database_default: Some(
            r#"{"ShardEngineMaxRowCount":1048576,"ShardEngineMaxExtentSizeInMb":8192,"ShardEngineMaxOriginalSizeInMb":3072}"#,
        ),
    },
    spec(
        "restricted_view_access",
        "RestrictedViewAccessPolicy",
        Shape::Bool,
    ),
    spec(
        "row_level_security",
        "RowLevelSecurityPolicy",
        Shape::Object(ROW_LEVEL_SECURITY),
    ),
    spec(
        "extent_tags_retention",
        "ExtentTagsRetentionPolicy",
        Shape::Objects(TAG_RETENTION),
    ),
    spec(
        "auto_delete",
        "AutoDeletePolicy",
        Shape::Object(AUTO_DELETE),
    ),
    spec("roworder", "RowOrderPolicy", Shape::Object(ROW_ORDER)),
    spec("encoding", "EncodingPolicy", Shape::Object(ENCODING)),
];

const fn spec(word: &'static str, name: &'static str, shape: Shape) -> Spec {
    Spec {
        word,
        name,
        shape,
        database_default: None,
    }
}

/// The spec of the policy named `word` in commands.
pub(crate) fn spec_of(word: &str) -> Result<&'static Spec> {
    SPECS.iter().find(|p| p.word == word).ok_or_else(|| {
        EngineError::NotImplemented(format!(
            "The policy '{word}' is not implemented by Calypso yet"
        ))
    })
}

impl Spec {
    /// `value` checked against the policy and written in its stored form (documented
    /// property names, defaults for absent properties, normalized timespans).
    pub(crate) fn normalize(&self, value: &Value) -> Result<Value> {
        let at = |what: String| {
            EngineError::BadRequest(format!("The {} policy is not valid: {what}", self.word))
        };
        match self.shape {
            Shape::Bool => value
                .as_bool()
                .map(Value::Bool)
                .ok_or_else(|| at(format!("expected true or false, found {value}"))),
            Shape::Object(fields) => object(fields, value, "").map_err(at),
            Shape::Objects(fields) => match value {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| object(fields, v, &format!("[{i}]")))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map(Value::Array)
                    .map_err(at),
                // One object alone stands for a one-element array, as ADX reads it.
                Value::Object(_) => Ok(Value::Array(vec![object(fields, value, "").map_err(at)?])),
                other => Err(at(format!("expected an array of objects, found {other}"))),
            },
        }
        .and_then(|v| self.check(v).map_err(at))
    }

    /// Rules that span properties.
    fn check(&self, v: Value) -> std::result::Result<Value, String> {
        if self.word == "partitioning" {
            let keys = v
                .get("PartitionKeys")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let hash = count_kind(&v, "Hash");
            let range = count_kind(&v, "UniformRange");
            if keys == 0 || keys > 2 || hash > 1 || range > 1 {
                return Err(
                    "PartitionKeys holds one or two keys: at most one Hash key and at most one UniformRange key"
                        .into(),
                );
            }
        }
        if self.word == "row_level_security"
            && v.get("IsEnabled") == Some(&Value::Bool(true))
            && v.get("Query")
                .and_then(Value::as_str)
                .is_none_or(|q| q.trim().is_empty())
        {
            return Err("an enabled policy needs a query".into());
        }
        Ok(v)
    }
}

fn count_kind(v: &Value, kind: &str) -> usize {
    v.get("PartitionKeys")
        .and_then(Value::as_array)
        .map_or(0, |a| {
            a.iter()
                .filter(|k| k.get("Kind").and_then(Value::as_str) == Some(kind))
                .count()
        })
}

fn object(fields: &[Field], value: &Value, path: &str) -> std::result::Result<Value, String> {
    let Value::Object(given) = value else {
        return Err(format!("expected a JSON object{}, found {value}", at(path)));
    };
    for key in given.keys() {
        if !fields.iter().any(|f| f.name.eq_ignore_ascii_case(key)) {
            let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
            return Err(format!(
                "unknown property '{key}'{} (expected one of {})",
                at(path),
                known.join(", ")
            ));
        }
    }
    let mut out = Map::new();
    for field in fields {
        let here = format!(
            "{path}{}{}",
            if path.is_empty() { "" } else { "." },
            field.name
        );
        let v = given
            .iter()
            .find(|(k, _)| field.name.eq_ignore_ascii_case(k))
            .map(|(_, v)| v);
        let v = match (v, field.default) {
            (Some(v), _) => v.clone(),
            (None, None) => return Err(format!("the property '{here}' is required")),
            (None, Some("")) => continue,
            (None, Some(d)) => serde_json::from_str(d).unwrap_or(Value::Null),
        };
        let v = if v.is_null() && field.nullable {
            v
        } else {
            typed(field.kind, &v, &here)?
        };
        out.insert(field.name.to_string(), v);
    }
    Ok(Value::Object(out))
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" at {path}")
    }
}

fn typed(kind: Kind, v: &Value, here: &str) -> std::result::Result<Value, String> {
    let wrong = |what: &str| format!("'{here}' must be {what}, found {v}");
    match kind {
        Kind::Bool => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(wrong("true or false")),
        },
        Kind::Int(min, max) => {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .ok_or_else(|| wrong("a whole number"))?;
            if n < min || n > max {
                return Err(range_error(here, &n.to_string(), &min.to_string(), max));
            }
            Ok(Value::from(n))
        }
        Kind::Real => match v {
            Value::Number(_) => Ok(v.clone()),
            _ => Err(wrong("a number")),
        },
        Kind::Str => match v {
            Value::String(_) => Ok(v.clone()),
            _ => Err(wrong("a string")),
        },
        Kind::Timespan(min, max) => {
            let text = v.as_str().ok_or_else(|| wrong("a timespan"))?;
            let ticks = parse_ticks(text).ok_or_else(|| wrong("a timespan"))?;
            let secs = ticks / TICKS_PER_SEC;
            if secs < i128::from(min) || secs > i128::from(max) || ticks < 0 {
                return Err(format!(
                    "'{here}' is {text}, outside {} .. {}",
                    format_ticks(i128::from(min) * TICKS_PER_SEC),
                    format_ticks(i128::from(max) * TICKS_PER_SEC)
                ));
            }
            Ok(Value::String(format_ticks(ticks)))
        }
        Kind::DateTime => {
            let text = v.as_str().ok_or_else(|| wrong("a datetime"))?;
            kql_functions::convert::parse_datetime(text).ok_or_else(|| wrong("a datetime"))?;
            Ok(v.clone())
        }
        Kind::Enum(words) => {
            let text = v
                .as_str()
                .ok_or_else(|| wrong(&format!("one of {words:?}")))?;
            words
                .iter()
                .find(|w| w.eq_ignore_ascii_case(text))
                .map(|w| Value::String((*w).to_string()))
                .ok_or_else(|| wrong(&format!("one of {}", words.join(", "))))
        }
        Kind::HotSpan => {
            let inner = match v {
                Value::Object(m) => m
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("Value"))
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| wrong("{\"Value\": <timespan>}"))?,
                other => other.clone(),
            };
            let ts = typed(Kind::Timespan(ANY_SPAN.0, ANY_SPAN.1), &inner, here)?;
            Ok(serde_json::json!({ "Value": ts }))
        }
        Kind::Objects(fields) => match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| object(fields, item, &format!("{here}[{i}]")))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map(Value::Array),
            _ => Err(wrong("an array")),
        },
        Kind::Object(fields) => object(fields, v, here),
        Kind::TagPrefix => {
            let text = v.as_str().ok_or_else(|| wrong("a string"))?;
            if !text.ends_with(':') || text.matches(':').count() != 1 {
                return Err(format!(
                    "'{here}' must end with a colon, its only one (e.g. 'drop-by:'), found '{text}'"
                ));
            }
            Ok(v.clone())
        }
        Kind::Any => Ok(v.clone()),
    }
}

fn range_error(here: &str, value: &str, min: &str, max: i64) -> String {
    if max == i64::MAX {
        format!("'{here}' is {value}, less than the minimum {min}")
    } else {
        format!("'{here}' is {value}, outside {min} .. {max}")
    }
}

const TICKS_PER_SEC: i128 = 10_000_000;

/// A timespan in 100 ns ticks, from `[-][d.]hh:mm[:ss[.fffffff]]` or a KQL literal
/// (`7d`, `12h`, `30m`, `10s`, `100ms`, `2microseconds`, `5ticks`, `1.5d`). Wider than
/// nanoseconds in i64 so that `365000.00:00:00` (ADX's default retention) fits.
pub(crate) fn parse_ticks(text: &str) -> Option<i128> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let ticks = if t.contains(':') {
        let (days, clock) = match t.split_once('.') {
            Some((d, rest)) if !d.contains(':') => (d.parse::<i128>().ok()?, rest),
            _ => (0, t),
        };
        let mut parts = clock.split(':');
        let h: i128 = parts.next()?.parse().ok()?;
        let m: i128 = parts.next()?.parse().ok()?;
        let (s, frac) = match parts.next() {
            Some(sec) => match sec.split_once('.') {
                Some((s, f)) => (s.parse::<i128>().ok()?, f),
                None => (sec.parse::<i128>().ok()?, ""),
            },
            None => (0, ""),
        };
        if parts.next().is_some() || h > 23 || m > 59 || s > 59 || frac.len() > 7 {
            return None;
        }
        let frac_ticks = if frac.is_empty() {
            0
        } else {
            frac.parse::<i128>().ok()? * 10_i128.pow(7 - frac.len() as u32)
        };
        ((days * 24 + h) * 60 + m) * 60 * TICKS_PER_SEC + s * TICKS_PER_SEC + frac_ticks
    } else {
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let per: f64 = match unit.to_ascii_lowercase().as_str() {
            "d" | "day" | "days" => 86_400e7,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600e7,
            "m" | "min" | "minute" | "minutes" => 60e7,
            "s" | "sec" | "second" | "seconds" => 1e7,
            "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1e4,
            "microsecond" | "microseconds" => 10.0,
            "tick" | "ticks" => 1.0,
            _ => return None,
        };
        let n: f64 = num.parse().ok()?;
        let v = (n * per).round();
        if !v.is_finite() || v > 1e25 {
            return None;
        }
        v as i128
    };
    Some(if neg { -ticks } else { ticks })
}

/// Ticks as Kusto writes a timespan: `[-][d.]hh:mm:ss[.fffffff]`.
pub(crate) fn format_ticks(ticks: i128) -> String {
    let sign = if ticks < 0 { "-" } else { "" };
    let t = ticks.unsigned_abs();
    let frac = t % 10_000_000;
    let secs = t / 10_000_000;
    let (d, h, m, s) = (
        secs / 86_400,
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
    );
    let days = if d > 0 {
        format!("{d}.")
    } else {
        String::new()
    };
    let frac = if frac > 0 {
        format!(".{frac:07}")
    } else {
        String::new()
    };
    format!("{sign}{days}{h:02}:{m:02}:{s:02}{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(word: &str, json: &str) -> Result<String> {
        let v: Value =
            serde_json::from_str(json).map_err(|e| EngineError::BadRequest(e.to_string()))?;
        Ok(spec_of(word)?.normalize(&v)?.to_string())
    }

    #[test]
    fn empty_retention_is_the_documented_default() -> Result<()> {
        // retention-policy.md: `.alter ... policy retention "{}"` applies 1,000 years, Enabled.
        assert_eq!(
            norm("retention", "{}")?,
            r#"{"SoftDeletePeriod":"365000.00:00:00","Recoverability":"Enabled"}"#
        );
        assert_eq!(
            norm(
                "retention",
                r#"{"softdeleteperiod":"10d","recoverability":"disabled"}"#
            )?,
            r#"{"SoftDeletePeriod":"10.00:00:00","Recoverability":"Disabled"}"#
        );
        Ok(())
    }

    #[test]
    fn batching_limits_are_enforced() {
        // batching-policy.md: items 1..25,000, size 100..4096 MB, time 10 s .. 30 min.
        assert!(norm("ingestionbatching", r#"{"MaximumNumberOfItems": 30000}"#).is_err());
        assert!(norm("ingestionbatching", r#"{"MaximumRawDataSizeMB": 50}"#).is_err());
        assert!(
            norm(
                "ingestionbatching",
                r#"{"MaximumBatchingTimeSpan": "00:00:05"}"#
            )
            .is_err()
        );
        assert!(
            norm(
                "ingestionbatching",
                r#"{"MaximumBatchingTimeSpan": "00:31:00"}"#
            )
            .is_err()
        );
        assert!(matches!(
            norm(
                "ingestionbatching",
                r#"{"MaximumBatchingTimeSpan": "00:00:30"}"#
            )
            .as_deref(),
            Ok(
                r#"{"MaximumBatchingTimeSpan":"00:00:30","MaximumNumberOfItems":500,"MaximumRawDataSizeMB":1024}"#
            )
        ));
    }

    #[test]
    fn unknown_and_mistyped_properties_are_named() {
        let e = norm("merge", r#"{"MaxExtentsToMerj": 5}"#)
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("MaxExtentsToMerj")));
        let e = norm("merge", r#"{"AllowMerge": 5}"#)
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("AllowMerge")));
        let e = norm("auto_delete", r#"{"DeleteIfNotEmpty": true}"#)
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("ExpiryDate")));
    }

    #[test]
    fn tag_prefixes_end_with_their_only_colon() {
        assert!(
            norm(
                "extent_tags_retention",
                r#"[{"TagPrefix":"drop-by:","RetentionPeriod":"3.00:00:00"}]"#
            )
            .is_ok()
        );
        assert!(
            norm(
                "extent_tags_retention",
                r#"[{"TagPrefix":"drop-by","RetentionPeriod":"1d"}]"#
            )
            .is_err()
        );
        assert!(
            norm(
                "extent_tags_retention",
                r#"[{"TagPrefix":"a:b:","RetentionPeriod":"1d"}]"#
            )
            .is_err()
        );
    }

    #[test]
    fn partitioning_has_at_most_one_key_of_each_kind() {
        let hash = r#"{"ColumnName":"a","Kind":"Hash","Properties":{}}"#;
        let range = r#"{"ColumnName":"t","Kind":"UniformRange","Properties":{}}"#;
        assert!(
            norm(
                "partitioning",
                &format!(r#"{{"PartitionKeys":[{hash},{range}]}}"#)
            )
            .is_ok()
        );
        assert!(
            norm(
                "partitioning",
                &format!(r#"{{"PartitionKeys":[{hash},{hash}]}}"#)
            )
            .is_err()
        );
        assert!(norm("partitioning", r#"{"PartitionKeys":[]}"#).is_err());
    }

    #[test]
    fn timespans_read_both_forms() {
        assert_eq!(parse_ticks("7d"), Some(7 * 86_400 * TICKS_PER_SEC));
        assert_eq!(
            parse_ticks("1.02:03:04.5"),
            Some(((26 * 60 + 3) * 60 + 4) * TICKS_PER_SEC + 5_000_000)
        );
        assert_eq!(format_ticks(90 * 60 * TICKS_PER_SEC), "01:30:00");
        assert_eq!(parse_ticks("25:00:00"), None);
    }
}
