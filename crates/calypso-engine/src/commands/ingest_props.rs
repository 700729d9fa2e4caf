//! The ingestion properties that shape the extent an ingestion writes (ingest-properties.md):
//! `tags`, `ingestIfNotExists` and `creationTime`, shared by `.ingest inline` and the
//! `.set`/`.append` commands (and the queued ingestion later).

use kql_syntax::ast::{PropValue, Property, prop};

use crate::{EngineError, Result};

/// What an ingestion asks of its extent.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtentProps {
    /// `tags`: the extent's tags (`drop-by:...`, `ingest-by:...`, any other).
    pub tags: Vec<String>,
    /// `ingestIfNotExists`: the ingestion is skipped when an extent of the table already
    /// has the tag `ingest-by:<value>` for one of these values.
    pub ingest_if_not_exists: Vec<String>,
    /// `creationTime`: the extent's creation time (RFC 3339), which retention counts from;
    /// `None`: the time of the ingestion.
    pub creation_time: Option<String>,
    /// `policy_ingestiontime`: whether a table the command creates gets the IngestionTime
    /// policy (default true).
    pub policy_ingestiontime: bool,
    /// The queued-ingestion messages the rows come from, kept on the extent
    /// (`ExtentMeta::sources`): the commit fails when an extent of the table holds one of
    /// them already (the worker leaves those out before).
    pub source_ids: Vec<String>,
}

impl Default for ExtentProps {
    fn default() -> ExtentProps {
        ExtentProps {
            tags: Vec::new(),
            ingest_if_not_exists: Vec::new(),
            creation_time: None,
            policy_ingestiontime: true,
            source_ids: Vec::new(),
        }
    }
}

/// A list property: a JSON array's text (`'["a", "b"]'`), a list `("a", "b")`, or one
/// value.
fn string_list(name: &str, v: &PropValue) -> Result<Vec<String>> {
    match v {
        PropValue::List(items) => Ok(items.iter().map(PropValue::text).collect()),
        other => {
            let text = other.text();
            if text.trim_start().starts_with('[') {
                serde_json::from_str::<Vec<String>>(&text).map_err(|e| {
                    EngineError::BadRequest(format!(
                        "The ingestion property '{name}' must be a JSON array of strings: {e}"
                    ))
                })
            } else if text.trim().is_empty() {
                Ok(Vec::new())
            } else {
                Ok(vec![text])
            }
        }
    }
}

/// A datetime property (`'2020-01-01'` or `datetime(2020-01-01)`) as nanoseconds since the
/// epoch; `None` when absent.
pub(crate) fn datetime_prop(with: &[Property], name: &str) -> Result<Option<i64>> {
    let Some(v) = prop(with, name) else {
        return Ok(None);
    };
    let text = v.text();
    let inner = text
        .strip_prefix("datetime(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(&text);
    kql_functions::convert::parse_datetime(inner.trim())
        .map(Some)
        .ok_or_else(|| {
            EngineError::BadRequest(format!("The property '{name}' is not a datetime: '{text}'"))
        })
}

impl ExtentProps {
    /// The properties of a command's `with (...)`.
    pub fn from_with(with: &[Property]) -> Result<ExtentProps> {
        let list = |name: &str| match prop(with, name) {
            Some(v) => string_list(name, v),
            None => Ok(Vec::new()),
        };
        let creation_time = datetime_prop(with, "creationTime")?.map(|ns| {
            chrono::DateTime::from_timestamp_nanos(ns)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        });
        Ok(ExtentProps {
            tags: list("tags")?,
            ingest_if_not_exists: list("ingestIfNotExists")?,
            creation_time,
            policy_ingestiontime: prop(with, "policy_ingestiontime")
                .and_then(PropValue::as_bool)
                .unwrap_or(true),
            source_ids: Vec::new(),
        })
    }

    /// Whether an extent with `tags` makes this ingestion a repeat (`ingestIfNotExists`).
    pub fn already_ingested<'a>(&self, mut tags: impl Iterator<Item = &'a String>) -> bool {
        !self.ingest_if_not_exists.is_empty()
            && tags.any(|t| {
                t.strip_prefix("ingest-by:")
                    .is_some_and(|v| self.ingest_if_not_exists.iter().any(|x| x == v))
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with(name: &str, v: PropValue) -> Vec<Property> {
        vec![Property {
            name: name.into(),
            value: v,
        }]
    }

    #[test]
    fn tags_as_json_text_or_list() {
        let p = ExtentProps::from_with(&with(
            "tags",
            PropValue::Str(r#"["drop-by:a", "ingest-by:b"]"#.into()),
        ))
        .unwrap();
        assert_eq!(p.tags, ["drop-by:a", "ingest-by:b"]);
        let p = ExtentProps::from_with(&with(
            "tags",
            PropValue::List(vec![PropValue::Str("x".into()), PropValue::Str("y".into())]),
        ))
        .unwrap();
        assert_eq!(p.tags, ["x", "y"]);
        assert!(ExtentProps::from_with(&with("tags", PropValue::Str("[1, 2".into()))).is_err());
    }

    #[test]
    fn repeats_are_found_by_their_ingest_by_tag() {
        let p = ExtentProps::from_with(&with(
            "ingestIfNotExists",
            PropValue::Str(r#"["2016-02-17"]"#.into()),
        ))
        .unwrap();
        let tags = ["drop-by:2016-02-17".to_string()];
        assert!(!p.already_ingested(tags.iter()));
        let tags = ["ingest-by:2016-02-17".to_string()];
        assert!(p.already_ingested(tags.iter()));
        assert!(!ExtentProps::default().already_ingested(tags.iter()));
    }

    #[test]
    fn creation_time() {
        let p = ExtentProps::from_with(&with(
            "creationTime",
            PropValue::Str("2017-02-13T11:09:36.7992775Z".into()),
        ))
        .unwrap();
        assert_eq!(
            p.creation_time.as_deref(),
            Some("2017-02-13T11:09:36.799277500Z")
        );
        assert!(ExtentProps::from_with(&with("creationTime", PropValue::Str("x".into()))).is_err());
    }
}
