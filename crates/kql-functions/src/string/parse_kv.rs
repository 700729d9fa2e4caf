//! `__parse_kv(text, keys, options)`: the key/value extraction behind the `parse-kv`
//! operator (`query/parse-kv-operator.md`). The planner adds one column per key, reading
//! the property bag this function returns (dynamic: JSON text, Arrow `LargeUtf8`).
//!
//! * `keys`: a JSON array of the key names to extract (`["src","dst"]`); other keys are
//!   ignored, and the first appearance of a key wins.
//! * `options`: a JSON object with the operator's `with (...)` parameters:
//!   `pair_delimiter` and `kv_delimiter` (strings, given together), `quote` (an array of
//!   one- or two-character strings: the same, or the opening then the closing quote),
//!   `escape` (an array of one-character strings), `greedy` (bool), or `regex` alone.
//!
//! The modes:
//!
//! * Delimiters: the text is a list of pairs separated by `pair_delimiter`, each a key,
//!   `kv_delimiter` and a value. A key or value may be wrapped in quotes (at its start,
//!   after white space), and then holds delimiters; inside quotes an escape character
//!   followed by a quote or escape character stands for that character. A piece without
//!   `kv_delimiter` is no pair and is skipped, unless `greedy=true`: then an unquoted
//!   value runs on through pair delimiters up to the next key appearance (a piece that
//!   holds `kv_delimiter`) or the end.
//! * No delimiters: any character that is not alphanumeric (or `_`) separates words; a
//!   quoted string is one word. A word that is a listed key takes the next word as its
//!   value.
//! * Regex: every match of a regular expression with exactly two capturing groups is a
//!   pair, the first group the key, the second the value.
//!
//! Keys and unquoted values are trimmed of white space; quoted text is kept as written.
//! The options are parsed (and a regex compiled, through the regex cache) once per batch.

use std::sync::Arc;

use arrow::array::{ArrayRef, LargeStringArray};
use arrow::datatypes::DataType;
use datafusion_common::Result;
use regex::Regex;
use serde_json::{Map, Value};

use crate::Registry;
use crate::convert::kernel::{KqlFn, str_col};

/// Registers `__parse_kv`.
pub(crate) fn register(r: &mut Registry) {
    let f = KqlFn::new("__parse_kv", 3, 3, DataType::LargeUtf8, eval_parse_kv);
    let name = f.name_static();
    r.add_scalar(name, f.udf());
}

/// How pairs are found.
#[derive(Debug)]
enum Mode {
    /// `pair_delimiter` / `kv_delimiter` (and `greedy`).
    Delimited {
        pair: String,
        kv: String,
        greedy: bool,
    },
    /// No delimiters: words separated by non-alphanumeric characters.
    Words,
    /// A regular expression with two groups: key, value.
    Regex(Regex),
}

/// A parsed `parse-kv` specification: the keys and how to find them.
#[derive(Debug)]
pub struct KvSpec {
    keys: Vec<String>,
    mode: Mode,
    /// Opening and closing quote characters.
    quotes: Vec<(char, char)>,
    escapes: Vec<char>,
}

/// A JSON member that must be a string, if present.
fn opt_str<'a>(o: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("parse-kv: {name} must be a string")),
    }
}

/// A JSON member that must be an array of strings, if present.
fn opt_strs(o: &Map<String, Value>, name: &str) -> Result<Vec<String>, String> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(format!("parse-kv: {name} must be a string")),
            })
            .collect(),
        Some(_) => Err(format!("parse-kv: {name} must be a list of strings")),
    }
}

impl KvSpec {
    /// Parses the `keys` and `options` JSON texts (see the module docs); the message of an
    /// invalid specification is Kusto-style text.
    pub fn from_json(keys: &str, options: &str) -> Result<KvSpec, String> {
        let keys: Vec<String> = match serde_json::from_str::<Value>(keys) {
            Ok(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(format!("parse-kv: key {other} is not a string")),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err("parse-kv: the keys must be a JSON array of strings".to_string()),
        };
        let o = match serde_json::from_str::<Value>(options) {
            Ok(Value::Object(o)) => o,
            _ => return Err("parse-kv: the options must be a JSON object".to_string()),
        };
        if let Some(k) = o.keys().find(|k| {
            !matches!(
                k.as_str(),
                "pair_delimiter" | "kv_delimiter" | "quote" | "escape" | "greedy" | "regex"
            )
        }) {
            return Err(format!("parse-kv: unknown parameter '{k}'"));
        }
        let pair = opt_str(&o, "pair_delimiter")?;
        let kv = opt_str(&o, "kv_delimiter")?;
        let regex = opt_str(&o, "regex")?;
        let greedy = match o.get("greedy") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err("parse-kv: greedy must be true or false".to_string()),
        };
        let quotes = opt_strs(&o, "quote")?
            .iter()
            .map(|q| {
                let cs: Vec<char> = q.chars().collect();
                match cs.as_slice() {
                    [c] => Ok((*c, *c)),
                    [open, close] => Ok((*open, *close)),
                    _ => Err(format!(
                        "parse-kv: quote '{q}' must be one or two characters (opening and closing quotes)"
                    )),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let escapes = opt_strs(&o, "escape")?
            .iter()
            .map(|e| {
                let mut cs = e.chars();
                match (cs.next(), cs.next()) {
                    (Some(c), None) => Ok(c),
                    _ => Err(format!("parse-kv: escape '{e}' must be one character")),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mode = match (regex, pair, kv) {
            (Some(re), None, None)
                if quotes.is_empty() && escapes.is_empty() && greedy.is_none() =>
            {
                let compiled = super::regex_fns::compile(re).map_err(|_| {
                    let why = Regex::new(re)
                        .err()
                        .map(|e| e.to_string())
                        .unwrap_or_default();
                    format!("parse-kv: '{re}' is not a valid regular expression: {why}")
                })?;
                // Group 0 is the whole match.
                if compiled.captures_len() != 3 {
                    return Err(format!(
                        "parse-kv: the regex '{re}' must have exactly two capturing groups (key and value)"
                    ));
                }
                Mode::Regex(compiled)
            }
            (Some(_), _, _) => {
                return Err(
                    "parse-kv: regex cannot be combined with delimiters, quotes, escapes or greedy"
                        .to_string(),
                );
            }
            (None, Some(pair), Some(kv)) => {
                if pair.is_empty() || kv.is_empty() {
                    return Err("parse-kv: a delimiter cannot be empty".to_string());
                }
                Mode::Delimited {
                    pair: pair.to_string(),
                    kv: kv.to_string(),
                    greedy: greedy.unwrap_or(false),
                }
            }
            (None, None, None) => {
                if greedy.is_some() {
                    return Err(
                        "parse-kv: greedy needs pair_delimiter and kv_delimiter".to_string()
                    );
                }
                Mode::Words
            }
            (None, _, _) => {
                return Err(
                    "parse-kv: pair_delimiter and kv_delimiter must be given together".to_string(),
                );
            }
        };
        Ok(KvSpec {
            keys,
            mode,
            quotes,
            escapes,
        })
    }

    /// The listed keys found in `text`, each with its (first) value.
    pub fn extract(&self, text: &str) -> Map<String, Value> {
        let mut out = Map::new();
        let mut found = |key: &str, value: String| {
            if !out.contains_key(key) && self.keys.iter().any(|k| k == key) {
                out.insert(key.to_string(), Value::String(value));
            }
        };
        match &self.mode {
            Mode::Delimited { pair, kv, greedy } => {
                self.delimited(text, pair, kv, *greedy, &mut found);
            }
            Mode::Words => self.words(text, &mut found),
            Mode::Regex(re) => {
                for caps in re.captures_iter(text) {
                    let key = caps.get(1).map_or("", |m| m.as_str()).trim();
                    let value = caps.get(2).map_or("", |m| m.as_str()).trim();
                    found(key, value.to_string());
                }
            }
        }
        out
    }

    /// The closing quote of `c` when it opens a quoted text.
    fn closing(&self, c: char) -> Option<char> {
        self.quotes
            .iter()
            .find(|(open, _)| *open == c)
            .map(|(_, close)| *close)
    }

    /// Whether `c` may follow an escape character to stand for itself.
    fn escapable(&self, c: char) -> bool {
        self.escapes.contains(&c) || self.quotes.iter().any(|(o, e)| *o == c || *e == c)
    }

    /// Reads a quoted text from `pos` (just after its opening quote) up to `close`: its
    /// unescaped content and the position after the closing quote (the end of the text
    /// when it is not closed).
    fn quoted(&self, text: &str, pos: usize, close: char) -> (String, usize) {
        let mut out = String::new();
        let mut chars = text[pos..].char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if self.escapes.contains(&c)
                && let Some(&(_, n)) = chars.peek()
                && self.escapable(n)
            {
                out.push(n);
                chars.next();
                continue;
            }
            if c == close {
                return (out, pos + i + c.len_utf8());
            }
            out.push(c);
        }
        (out, text.len())
    }

    /// The delimited mode (see the module docs).
    fn delimited(
        &self,
        text: &str,
        pair: &str,
        kv: &str,
        greedy: bool,
        found: &mut impl FnMut(&str, String),
    ) {
        let mut pos = 0;
        while pos < text.len() {
            pos = skip_space(text, pos, pair);
            // The key.
            let key = match self.open_quote(text, pos) {
                Some((close, after)) => {
                    let (key, end) = self.quoted(text, after, close);
                    let at = skip_space(text, end, pair);
                    if !text[at..].starts_with(kv) {
                        // A quoted word without a value: no pair.
                        pos = after_delimiter(text, at, pair);
                        continue;
                    }
                    pos = at + kv.len();
                    key
                }
                None => {
                    let kv_at = text[pos..].find(kv);
                    let pair_at = text[pos..].find(pair);
                    match (kv_at, pair_at) {
                        (Some(k), p) if p.is_none_or(|p| k < p) => {
                            let key = text[pos..pos + k].trim().to_string();
                            pos += k + kv.len();
                            key
                        }
                        // A piece without a key/value delimiter: no pair.
                        (_, Some(p)) => {
                            pos += p + pair.len();
                            continue;
                        }
                        (_, None) => break,
                    }
                }
            };
            // The value.
            pos = skip_space(text, pos, pair);
            if let Some((close, after)) = self.open_quote(text, pos) {
                let (value, end) = self.quoted(text, after, close);
                found(&key, value);
                pos = after_delimiter(text, end, pair);
                continue;
            }
            let start = pos;
            let mut end = text[pos..].find(pair).map_or(text.len(), |p| pos + p);
            if greedy {
                while end < text.len() && !self.starts_key(text, end + pair.len(), pair, kv) {
                    end = text[end + pair.len()..]
                        .find(pair)
                        .map_or(text.len(), |p| end + pair.len() + p);
                }
            }
            found(&key, text[start..end].trim().to_string());
            pos = if end < text.len() {
                end + pair.len()
            } else {
                end
            };
        }
    }

    /// The closing quote and the position after the opening one, when a quote opens at
    /// `pos`.
    fn open_quote(&self, text: &str, pos: usize) -> Option<(char, usize)> {
        let c = text[pos..].chars().next()?;
        Some((self.closing(c)?, pos + c.len_utf8()))
    }

    /// Whether the piece from `pos` to the next pair delimiter starts with a key: it
    /// holds the key/value delimiter (after a quoted key, right after it).
    fn starts_key(&self, text: &str, pos: usize, pair: &str, kv: &str) -> bool {
        let pos = skip_space(text, pos.min(text.len()), pair);
        if let Some((close, after)) = self.open_quote(text, pos) {
            let (_, end) = self.quoted(text, after, close);
            return text[skip_space(text, end, pair)..].starts_with(kv);
        }
        let piece = &text[pos..];
        match (piece.find(kv), piece.find(pair)) {
            (Some(k), p) => p.is_none_or(|p| k < p),
            (None, _) => false,
        }
    }

    /// The mode without delimiters (see the module docs).
    fn words(&self, text: &str, found: &mut impl FnMut(&str, String)) {
        let mut words: Vec<String> = Vec::new();
        let mut pos = 0;
        while let Some(c) = text[pos..].chars().next() {
            if let Some(close) = self.closing(c) {
                let (word, end) = self.quoted(text, pos + c.len_utf8(), close);
                words.push(word);
                pos = end;
            } else if is_word_char(c) {
                let len = text[pos..]
                    .find(|c: char| !is_word_char(c))
                    .unwrap_or(text.len() - pos);
                words.push(text[pos..pos + len].to_string());
                pos += len;
            } else {
                pos += c.len_utf8();
            }
        }
        let mut i = 0;
        while i < words.len() {
            let key = words[i].trim();
            if self.keys.iter().any(|k| k == key)
                && let Some(value) = words.get(i + 1)
            {
                found(key, value.clone());
                i += 2;
            } else {
                i += 1;
            }
        }
    }
}

/// A character of a word in the mode without delimiters.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `pos` moved past white space, stopping at a pair delimiter (which may be white space).
fn skip_space(text: &str, mut pos: usize, pair: &str) -> usize {
    while let Some(c) = text[pos..].chars().next() {
        if !c.is_whitespace() || text[pos..].starts_with(pair) {
            break;
        }
        pos += c.len_utf8();
    }
    pos
}

/// The position after the next pair delimiter at or after `pos` (the end when none).
fn after_delimiter(text: &str, pos: usize, pair: &str) -> usize {
    text[pos..]
        .find(pair)
        .map_or(text.len(), |p| pos + p + pair.len())
}

/// `__parse_kv(text, keys, options)`: a property bag of the listed keys found.
fn eval_parse_kv(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let text = str_col(&args[0]);
    let keys = str_col(&args[1]);
    let options = str_col(&args[2]);
    let mut spec: Option<(String, String, KvSpec)> = None;
    let mut out: Vec<Option<String>> = Vec::with_capacity(rows);
    for i in 0..rows {
        let (k, o) = (keys.get(i), options.get(i));
        let current = match spec.take() {
            Some((sk, so, s)) if sk == k && so == o => (sk, so, s),
            _ => {
                let s = KvSpec::from_json(k, o)
                    .map_err(|e| crate::FunctionError::Runtime(e).into_datafusion())?;
                (k.to_string(), o.to_string(), s)
            }
        };
        let bag = Value::Object(current.2.extract(text.get(i)));
        out.push(Some(bag.to_string()));
        spec = Some(current);
    }
    Ok(Arc::new(LargeStringArray::from(out)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::convert::kernel::testing::{call, call_scalars, dynamic, s};
    use arrow::array::{Array, AsArray, StringArray};
    use datafusion_expr::ColumnarValue;

    fn spec(keys: &[&str], options: &str) -> KvSpec {
        let keys = serde_json::to_string(keys).unwrap();
        KvSpec::from_json(&keys, options).unwrap()
    }

    /// The values of `keys` found in `text` (`None`: missing).
    fn kv(text: &str, keys: &[&str], options: &str) -> Vec<Option<String>> {
        let bag = spec(keys, options).extract(text);
        keys.iter()
            .map(|k| bag.get(*k).and_then(Value::as_str).map(str::to_string))
            .collect()
    }

    fn some(v: &[&str]) -> Vec<Option<String>> {
        v.iter().map(|s| Some(s.to_string())).collect()
    }

    #[test]
    fn well_defined_delimiters() {
        let text = "ThreadId:458745723, Machine:Node001, Text: The service is up, Level: Info";
        let got = kv(
            text,
            &["Text", "ThreadId", "Machine", "Nope"],
            r#"{"pair_delimiter":",","kv_delimiter":":"}"#,
        );
        let mut want = some(&["The service is up", "458745723", "Node001"]);
        want.push(None);
        assert_eq!(got, want);
    }

    #[test]
    fn quoted_keys_and_values() {
        let opts = r#"{"pair_delimiter":" ","kv_delimiter":"=","quote":["\""]}"#;
        let text = r#"src=10.1.1.123 dst=10.1.1.124 bytes=125 failure="connection aborted" "event time"=2021-01-01T10:00:54"#;
        let keys = ["event time", "src", "dst", "bytes", "failure"];
        assert_eq!(
            kv(text, &keys, opts),
            some(&[
                "2021-01-01T10:00:54",
                "10.1.1.123",
                "10.1.1.124",
                "125",
                "connection aborted"
            ])
        );
        // Different opening and closing quotes.
        let opts = r#"{"pair_delimiter":" ","kv_delimiter":"=","quote":["()"]}"#;
        let text = "src=10.1.1.123 dst=10.1.1.124 bytes=125 failure=(connection aborted) (event time)=(2021-01-01 10:00:54)";
        assert_eq!(
            kv(text, &keys, opts),
            some(&[
                "2021-01-01 10:00:54",
                "10.1.1.123",
                "10.1.1.124",
                "125",
                "connection aborted"
            ])
        );
        // Several quote pairs; an unclosed quote runs to the end.
        let opts = r#"{"pair_delimiter":",","kv_delimiter":"=","quote":["'","[]"]}"#;
        assert_eq!(
            kv("a='x,y', b=[1,2], c='open", &["a", "b", "c"], opts),
            some(&["x,y", "1,2", "open"])
        );
    }

    #[test]
    fn escapes_in_quoted_values() {
        let opts = r#"{"pair_delimiter":" ","kv_delimiter":"=","quote":["\""],"escape":["\\"]}"#;
        let text =
            r#"src=10.1.1.123 failure="the remote host sent \"bye!\"" time=2021-01-01T10:00:54"#;
        assert_eq!(
            kv(text, &["failure", "time", "src"], opts),
            some(&[
                r#"the remote host sent "bye!""#,
                "2021-01-01T10:00:54",
                "10.1.1.123"
            ])
        );
        // An escape before another character is kept; an escaped escape is one.
        assert_eq!(kv(r#"p="C:\temp\\x""#, &["p"], opts), some(&[r"C:\temp\x"]));
        // Without escape characters a backslash does not escape.
        let plain = r#"{"pair_delimiter":" ","kv_delimiter":"=","quote":["\""]}"#;
        assert_eq!(
            kv(r#"a="x\"y b=1"#, &["a", "b"], plain),
            some(&[r"x\", "1"])
        );
    }

    #[test]
    fn greedy_mode() {
        let text = "name=John Doe phone=555 5555 city=New York";
        let keys = ["name", "phone", "city"];
        let plain = r#"{"pair_delimiter":" ","kv_delimiter":"="}"#;
        assert_eq!(kv(text, &keys, plain), some(&["John", "555", "New"]));
        let greedy = r#"{"pair_delimiter":" ","kv_delimiter":"=","greedy":true}"#;
        assert_eq!(
            kv(text, &keys, greedy),
            some(&["John Doe", "555 5555", "New York"])
        );
        let greedy = r#"{"pair_delimiter":",","kv_delimiter":"=","greedy":true}"#;
        assert_eq!(
            kv("a=1,2,3, b=4,c=", &["a", "b", "c"], greedy),
            some(&["1,2,3", "4", ""])
        );
    }

    #[test]
    fn without_delimiters() {
        let text = "2021-01-01T10:00:34 [INFO] ThreadId:458745723, Machine:Node001, Text: Started";
        assert_eq!(
            kv(text, &["Text", "ThreadId", "Machine"], "{}"),
            some(&["Started", "458745723", "Node001"])
        );
        let text = r"2021-01-01T10:00:34 [INFO] ThreadId:458745723, Machine:Node001, Text: 'The service \' is up'";
        assert_eq!(
            kv(
                text,
                &["Text", "ThreadId", "Machine"],
                r#"{"quote":["'"],"escape":["\\"]}"#
            ),
            some(&["The service ' is up", "458745723", "Node001"])
        );
        // A key at the end has no value; the first appearance wins.
        assert_eq!(
            kv("a=1 a=2 b", &["a", "b"], "{}"),
            vec![Some("1".to_string()), None]
        );
    }

    #[test]
    fn regex_mode() {
        let text = r#"["referer url: https://hostname.com/redirect?dest=/?h=1234", "request url: https://hostname.com/?h=1234", "advertiser id: 24fefbca-cf27-4d62-a623-249c2ad30c73"]"#;
        let opts = serde_json::json!({"regex": r#""([\w ]+)\s*:\s*([^"]*)""#}).to_string();
        assert_eq!(
            kv(
                text,
                &["referer url", "request url", "advertiser id"],
                &opts
            ),
            some(&[
                "https://hostname.com/redirect?dest=/?h=1234",
                "https://hostname.com/?h=1234",
                "24fefbca-cf27-4d62-a623-249c2ad30c73"
            ])
        );
    }

    #[test]
    fn invalid_specifications() {
        let bad = |o: &str| KvSpec::from_json(r#"["a"]"#, o).is_err();
        assert!(bad(r#"{"regex":"(a)"}"#));
        assert!(bad(r#"{"regex":"(a"}"#));
        assert!(bad(r#"{"regex":"(a)=(b)","pair_delimiter":","}"#));
        assert!(bad(r#"{"pair_delimiter":","}"#));
        assert!(bad(r#"{"pair_delimiter":"","kv_delimiter":"="}"#));
        assert!(bad(r#"{"quote":["abc"]}"#));
        assert!(bad(r#"{"escape":["ab"]}"#));
        assert!(bad(r#"{"greedy":true}"#));
        assert!(bad(r#"{"other":1}"#));
        assert!(bad("[]"));
        assert!(KvSpec::from_json("{}", "{}").is_err());
        assert!(KvSpec::from_json(r#"["a"]"#, r#"{"regex":"(a)=(b)"}"#).is_ok());
    }

    #[test]
    fn the_udf() {
        let f = Registry::global().scalar("__parse_kv").unwrap();
        let out = call_scalars(
            &f,
            vec![
                s("a=1;b=x"),
                s(r#"["a","c"]"#),
                s(r#"{"pair_delimiter":";","kv_delimiter":"="}"#),
            ],
        );
        assert_eq!(out, dynamic(r#"{"a":"1"}"#));
        let col: ArrayRef = Arc::new(StringArray::from(vec![Some("a=1"), None, Some("a=2")]));
        let out = call(
            &f,
            vec![
                ColumnarValue::Array(col),
                ColumnarValue::Scalar(s(r#"["a"]"#)),
                ColumnarValue::Scalar(s("{}")),
            ],
        )
        .unwrap();
        let ColumnarValue::Array(a) = out else {
            panic!("expected array")
        };
        let a = a.as_string::<i64>();
        assert_eq!(a.len(), 3);
        assert_eq!(
            (a.value(0), a.value(1), a.value(2)),
            (r#"{"a":"1"}"#, "{}", r#"{"a":"2"}"#)
        );
        let bad = call(
            &f,
            vec![
                ColumnarValue::Scalar(s("a")),
                ColumnarValue::Scalar(s(r#"["a"]"#)),
                ColumnarValue::Scalar(s(r#"{"quote":["abc"]}"#)),
            ],
        );
        assert!(bad.is_err());
    }
}
