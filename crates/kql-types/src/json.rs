//! The JSON text of `dynamic` values.
//!
//! A `dynamic` value is stored as Arrow `LargeUtf8` holding compact JSON text; a JSON
//! `null` is stored as an Arrow null.

use serde_json::Value;

use crate::lenient;

/// The JSON held by a `dynamic` cell's text. Text that is not JSON (which Calypso
/// never writes) is read leniently, else as a JSON string.
pub fn parse_dynamic_text(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => v,
        Err(_) => lenient::parse(text).unwrap_or_else(|| Value::String(text.to_string())),
    }
}

/// `parse_json(string)`: the JSON value of `text`, or the string itself as a JSON
/// string when `text` is not JSON. Kusto's parser is lenient (single quotes, unquoted
/// keys, trailing commas, comments), and so is this one. Empty text gives `null`.
pub fn parse_json_string(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Null;
    }
    parse_dynamic_text(text)
}

/// The text stored in a `dynamic` cell for `v`: compact JSON, or `None` (an Arrow
/// null) for JSON `null`.
pub fn json_to_dynamic_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        v => Some(v.to_string()),
    }
}
