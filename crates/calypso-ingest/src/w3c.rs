//! `w3clogfile`: the W3C extended log file format (IIS and other web servers).
//!
//! * Lines starting with `#` are directives. `#Fields:` names the fields of the entries
//!   that follow it (separated by spaces); it may appear again, with other fields, for
//!   the entries after it. Other directives (`#Version`, `#Software`, `#Date`,
//!   `#Remark`...) are skipped.
//! * Every other non-empty line is an entry (a record): values separated by spaces or
//!   tabs; a value may be quoted (`"a b"`, a quote written `""`); `-` is a missing value.
//! * Identity mapping: each table column takes the field of the same name
//!   (case-sensitive); a W3CLOGFILE mapping takes fields by their `Field` name.
//!   Columns naming no field of the entry, and fields the entry lacks, are missing.
//! * An entry before any `#Fields:` directive cannot be mapped and fails the request
//!   (`BadRequest_InvalidBlob`).

use crate::apply::{self, Plan};
use crate::columns::Batcher;
use crate::mapping::Source;
use crate::{IngestError, codes};

/// Reads a W3C log into `out`, by field name or as the mapping `plan` says.
pub(crate) fn read(text: &str, out: &mut Batcher, plan: Option<&Plan>) -> Result<(), IngestError> {
    let names: Vec<String> = out.names().map(str::to_string).collect();
    // For each table column, the position of its field in the current `#Fields:`.
    let mut positions: Option<Vec<Option<usize>>> = None;
    let mut values: Vec<Option<String>> = Vec::new();
    let mut record = 0u64;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(directive) = line.strip_prefix('#') {
            if let Some(fields) = strip_prefix_ignore_case(directive, "Fields:") {
                let fields: Vec<&str> = fields.split_whitespace().collect();
                let position = |name: &str| fields.iter().position(|f| *f == name);
                positions = Some(match plan {
                    None => names.iter().map(|n| position(n)).collect(),
                    Some(plan) => plan
                        .columns
                        .iter()
                        .map(|cm| match cm.as_ref().map(|c| &c.source) {
                            Some(Source::Field(f)) => position(f),
                            _ => None,
                        })
                        .collect(),
                });
            }
            continue;
        }
        record += 1;
        let Some(positions) = positions.as_ref() else {
            return Err(IngestError::at_record(
                codes::INVALID_BLOB,
                record,
                format!("Record {record} comes before any '#Fields:' directive"),
            ));
        };
        split(line, &mut values);
        for (i, pos) in positions.iter().enumerate() {
            let cm = plan.and_then(|p| p.columns.get(i)).and_then(Option::as_ref);
            match cm.map(|c| &c.source) {
                Some(Source::Const(_) | Source::LineNumber | Source::Location) => {
                    if let (Some(plan), Some(cm)) = (plan, cm) {
                        match apply::constant(&cm.source, plan, record) {
                            serde_json::Value::String(s) => out.push_text(i, &s),
                            v => out.push_json(i, &v),
                        }
                    }
                }
                _ => match pos.and_then(|p| values.get(p)).and_then(Option::as_deref) {
                    Some(v) => out.push_text(i, v),
                    None => out.push_null(i),
                },
            }
        }
        out.end_row()?;
    }
    Ok(())
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// The values of an entry: `None` for `-`.
fn split(line: &str, out: &mut Vec<Option<String>>) {
    out.clear();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let Some(&c) = chars.peek() else {
            return;
        };
        let mut value = String::new();
        if c == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '"' && chars.next_if_eq(&'"').is_none() {
                    break;
                }
                value.push(c);
            }
            // Text glued to the closing quote belongs to the value.
            while let Some(c) = chars.next_if(|c| *c != ' ' && *c != '\t') {
                value.push(c);
            }
            out.push(Some(value));
        } else {
            while let Some(c) = chars.next_if(|c| *c != ' ' && *c != '\t') {
                value.push(c);
            }
            out.push((value != "-").then_some(value));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn splits_entries() {
        let mut v = Vec::new();
        split("a  b\t- \"x y\" \"q\"\"uote\" \"-\"", &mut v);
        assert_eq!(
            v,
            vec![
                Some("a".to_string()),
                Some("b".to_string()),
                None,
                Some("x y".to_string()),
                Some("q\"uote".to_string()),
                Some("-".to_string()),
            ]
        );
        split("   ", &mut v);
        assert!(v.is_empty());
    }
}
