//! Regular-expression string functions: `replace_regex`, `extract`, `extract_all`,
//! `trim`, `trim_start`, `trim_end` and the `matches regex` operator (`__matches_regex`).
//!
//! Kusto uses RE2 syntax, which the `regex` crate follows closely. Compiled regexes are
//! cached (per call for a pattern repeated row after row, and process-wide by pattern
//! text). An invalid pattern is an error, as in Kusto.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use arrow::array::{Array, ArrayRef, BooleanArray, LargeStringArray, StringArray};
use arrow::datatypes::DataType;
use datafusion_common::{Result, exec_err};
use regex::{Captures, Regex};

use crate::Registry;
use crate::convert::kernel::{KqlFn, i64_col, str_col};

use super::json_string_array;

/// Process-wide cache of compiled regexes, by pattern text.
static CACHE: LazyLock<Mutex<HashMap<String, Regex>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
/// Entries kept before the cache is emptied.
const CACHE_MAX: usize = 512;

/// Compiles `pattern`, reusing a cached compilation.
pub(crate) fn compile(pattern: &str) -> Result<Regex> {
    if let Ok(cache) = CACHE.lock()
        && let Some(re) = cache.get(pattern)
    {
        return Ok(re.clone());
    }
    let re = Regex::new(pattern).map_err(|e| {
        crate::FunctionError::Runtime(format!(
            "Relop semantic error: '{pattern}' is not a valid regular expression: {e}"
        ))
        .into_datafusion()
    })?;
    if let Ok(mut cache) = CACHE.lock() {
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(pattern.to_string(), re.clone());
    }
    Ok(re)
}

/// Remembers the last regex compiled during one call (patterns are usually constant).
#[derive(Default)]
pub(crate) struct RegexMemo {
    last: Option<(String, Regex)>,
}

impl RegexMemo {
    /// The compiled regex for `pattern`.
    pub(crate) fn get(&mut self, pattern: &str) -> Result<&Regex> {
        self.get_derived(pattern, |p| p.to_string())
    }

    /// The compiled regex for `derive(pattern)`; `pattern` itself must be valid.
    fn get_derived(&mut self, pattern: &str, derive: impl Fn(&str) -> String) -> Result<&Regex> {
        let hit = matches!(&self.last, Some((p, _)) if p == pattern);
        if !hit {
            let derived = derive(pattern);
            if derived != pattern {
                compile(pattern)?;
            }
            self.last = Some((pattern.to_string(), compile(&derived)?));
        }
        match &self.last {
            Some((_, re)) => Ok(re),
            None => exec_err!("regex cache is empty"),
        }
    }
}

/// Registers the regex functions.
pub(crate) fn register(r: &mut Registry) {
    let fns = [
        KqlFn::new("replace_regex", 3, 3, DataType::Utf8, eval_replace_regex),
        KqlFn::new("extract", 3, 3, DataType::Utf8, eval_extract),
        KqlFn::new("extract_all", 2, 3, DataType::LargeUtf8, eval_extract_all),
        KqlFn::new("extractall", 2, 3, DataType::LargeUtf8, eval_extract_all),
        KqlFn::new("trim", 2, 2, DataType::Utf8, eval_trim),
        KqlFn::new("trim_start", 2, 2, DataType::Utf8, eval_trim_start),
        KqlFn::new("trim_end", 2, 2, DataType::Utf8, eval_trim_end),
        KqlFn::new(
            "__matches_regex",
            2,
            2,
            DataType::Boolean,
            eval_matches_regex,
        ),
    ];
    for f in fns {
        let name = f.name_static();
        r.add_scalar(name, f.udf());
    }
}

/// A piece of a `replace_regex` rewrite pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Group(usize),
}

/// Parses a rewrite pattern: `\0`..`\9` refer to capture groups, `\\` is a backslash,
/// everything else is literal.
fn parse_rewrite(rewrite: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = rewrite.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    chars.next();
                    if !lit.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                    }
                    pieces.push(Piece::Group(d as usize - '0' as usize));
                    continue;
                }
                Some('\\') => {
                    chars.next();
                    lit.push('\\');
                    continue;
                }
                _ => {}
            }
        }
        lit.push(c);
    }
    if !lit.is_empty() {
        pieces.push(Piece::Literal(lit));
    }
    pieces
}

fn expand(pieces: &[Piece], caps: &Captures<'_>, out: &mut String) {
    for p in pieces {
        match p {
            Piece::Literal(s) => out.push_str(s),
            Piece::Group(g) => out.push_str(caps.get(*g).map_or("", |m| m.as_str())),
        }
    }
}

/// Replaces every non-overlapping match of `re` in `text` by the expanded rewrite; `None`
/// when the result would grow past [`crate::util::MAX_STRING_BYTES`].
pub(crate) fn replace_all(re: &Regex, text: &str, rewrite: &str) -> Option<String> {
    let pieces = parse_rewrite(rewrite);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        expand(&pieces, &caps, &mut out);
        last = m.end();
        if out.len() > crate::util::MAX_STRING_BYTES {
            return None;
        }
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// `replace_regex(source, lookup_regex, rewrite_pattern)`.
fn eval_replace_regex(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let text = str_col(&args[0]);
    let pattern = str_col(&args[1]);
    let rewrite = str_col(&args[2]);
    let mut memo = RegexMemo::default();
    let mut out = Vec::with_capacity(rows);
    let mut budget = crate::util::StringBudget::new("replace_regex");
    for i in 0..rows {
        let re = memo.get(pattern.get(i))?;
        let replaced = replace_all(re, text.get(i), rewrite.get(i));
        budget.take(replaced.as_ref().map(String::len))?;
        out.push(replaced);
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// `extract(regex, captureGroup, source)`: the text of the group in the first match;
/// `""` when there is no match or the group does not exist or did not participate.
fn eval_extract(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let pattern = str_col(&args[0]);
    let group = i64_col(&args[1]);
    let text = str_col(&args[2]);
    let mut memo = RegexMemo::default();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let re = memo.get(pattern.get(i))?;
        let value = if group.is_null(i) {
            ""
        } else {
            usize::try_from(group.value(i))
                .ok()
                .and_then(|g| re.captures(text.get(i)).and_then(|c| c.get(g)))
                .map_or("", |m| m.as_str())
        };
        out.push(Some(value.to_string()));
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// Resolves `extract_all`'s captureGroups (JSON array of group numbers or names).
fn selected_groups(re: &Regex, spec: &str) -> Option<Vec<usize>> {
    let v: serde_json::Value = serde_json::from_str(spec).ok()?;
    let items = match v {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    let n = re.captures_len();
    let mut groups = Vec::with_capacity(items.len());
    for item in items {
        let g = match item {
            serde_json::Value::Number(num) => usize::try_from(num.as_i64()?).ok()?,
            serde_json::Value::String(name) => {
                re.capture_names().position(|c| c == Some(name.as_str()))?
            }
            _ => return None,
        };
        if g == 0 || g >= n {
            return None;
        }
        groups.push(g);
    }
    (!groups.is_empty()).then_some(groups)
}

/// All matches of `re` in `text` as a JSON array: one string per match when one group is
/// selected, else one array of group texts per match. `None` when nothing matches.
pub(crate) fn extract_all(re: &Regex, groups: &[usize], text: &str) -> Option<String> {
    let mut matches: Vec<Vec<String>> = Vec::new();
    for caps in re.captures_iter(text) {
        matches.push(
            groups
                .iter()
                .map(|&g| caps.get(g).map_or("", |m| m.as_str()).to_string())
                .collect(),
        );
    }
    if matches.is_empty() {
        return None;
    }
    if groups.len() == 1 {
        let flat: Vec<&str> = matches
            .iter()
            .map(|m| m.first().map_or("", String::as_str))
            .collect();
        Some(json_string_array(&flat))
    } else {
        serde_json::to_string(&matches).ok()
    }
}

/// `extract_all(regex, [captureGroups,] source)`.
fn eval_extract_all(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let pattern = str_col(&args[0]);
    let spec = (args.len() == 3).then(|| str_col(&args[1]));
    let text = str_col(&args[args.len() - 1]);
    let mut memo = RegexMemo::default();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let re = memo.get(pattern.get(i))?;
        let groups = match &spec {
            Some(s) => match selected_groups(re, s.get(i)) {
                Some(g) => g,
                None => {
                    out.push(None);
                    continue;
                }
            },
            // All capture groups; the whole match when the regex has none.
            None if re.captures_len() > 1 => (1..re.captures_len()).collect(),
            None => vec![0],
        };
        out.push(extract_all(re, &groups, text.get(i)));
    }
    Ok(Arc::new(LargeStringArray::from(out)))
}

/// Which ends `trim` works on.
#[derive(Clone, Copy)]
enum Ends {
    Start,
    End,
    Both,
}

fn trim_impl(args: &[ArrayRef], rows: usize, ends: Ends) -> Result<ArrayRef> {
    let pattern = str_col(&args[0]);
    let text = str_col(&args[1]);
    let mut lead = RegexMemo::default();
    let mut trail = RegexMemo::default();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let p = pattern.get(i);
        let mut t = text.get(i);
        if matches!(ends, Ends::Start | Ends::Both) {
            let re = lead.get_derived(p, |p| format!("^(?:{p})+"))?;
            if let Some(m) = re.find(t) {
                t = &t[m.end()..];
            }
        }
        if matches!(ends, Ends::End | Ends::Both) {
            let re = trail.get_derived(p, |p| format!("(?:{p})+$"))?;
            if let Some(m) = re.find(t) {
                t = &t[..m.start()];
            }
        }
        out.push(Some(t.to_string()));
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// `trim(regex, source)`: removes leading and trailing matches.
fn eval_trim(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    trim_impl(args, rows, Ends::Both)
}

/// `trim_start(regex, source)`.
fn eval_trim_start(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    trim_impl(args, rows, Ends::Start)
}

/// `trim_end(regex, source)`.
fn eval_trim_end(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    trim_impl(args, rows, Ends::End)
}

/// `text matches regex pattern`: true when the regex matches anywhere in the text.
fn eval_matches_regex(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let text = str_col(&args[0]);
    let pattern = str_col(&args[1]);
    let mut memo = RegexMemo::default();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let re = memo.get(pattern.get(i))?;
        out.push(Some(re.is_match(text.get(i))));
    }
    let out = BooleanArray::from(out);
    debug_assert_eq!(out.len(), rows);
    Ok(Arc::new(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::convert::kernel::testing::{call, call_scalars, dynamic, l, s};
    use datafusion_common::ScalarValue;
    use datafusion_expr::ColumnarValue;

    fn f(name: &str) -> Arc<datafusion_expr::ScalarUDF> {
        Registry::global().scalar(name).unwrap()
    }

    fn dynv(v: &str) -> ScalarValue {
        ScalarValue::LargeUtf8(Some(v.to_string()))
    }

    #[test]
    fn rewrite_parsing() {
        assert_eq!(
            parse_rewrite(r"was: \1 $1 \\ \x"),
            vec![
                Piece::Literal("was: ".into()),
                Piece::Group(1),
                Piece::Literal(r" $1 \ \x".into())
            ]
        );
    }

    #[test]
    fn replace_regex_cases() {
        let udf = f("replace_regex");
        assert_eq!(
            call_scalars(&udf, vec![s("Number is 1"), s(r"is (\d+)"), s(r"was: \1")]),
            s("Number was: 1")
        );
        assert_eq!(
            call_scalars(&udf, vec![s("abc"), s("b"), s(r"[\0\0]")]),
            s("a[bb]c")
        );
        assert_eq!(call_scalars(&udf, vec![s("aaa"), s("a"), s("$")]), s("$$$"));
        assert_eq!(
            call_scalars(&udf, vec![s("abc"), s("x*"), s("-")]),
            s("-a-b-c-")
        );
        let bad = call(
            &udf,
            vec![
                ColumnarValue::Scalar(s("a")),
                ColumnarValue::Scalar(s("(")),
                ColumnarValue::Scalar(s("")),
            ],
        );
        assert!(bad.is_err());
    }

    #[test]
    fn extract_cases() {
        let udf = f("extract");
        let text = s("User: James, Email: James@example.com, Age: 29");
        assert_eq!(
            call_scalars(&udf, vec![s("User: ([^,]+)"), l(1), text.clone()]),
            s("James")
        );
        assert_eq!(
            call_scalars(&udf, vec![s(r"Email: (\S+),"), l(1), text.clone()]),
            s("James@example.com")
        );
        assert_eq!(
            call_scalars(&udf, vec![s(r"\d+"), l(0), text.clone()]),
            s("29")
        );
        assert_eq!(
            call_scalars(
                &udf,
                vec![s(r"Email: (\S+),"), l(1), s("User: David, Age: 35")]
            ),
            s("")
        );
        assert_eq!(call_scalars(&udf, vec![s(r"(\d+)"), l(5), text]), s(""));
    }

    #[test]
    fn extract_all_doc_examples() {
        let udf = f("extract_all");
        let id = s("82b8be2d-dfa7-4bd1-8f63-24ad26d31449");
        assert_eq!(
            call_scalars(
                &udf,
                vec![s(r"(\d+)"), s("a set of numbers: 123, 567 and 789")]
            ),
            dynv(r#"["123","567","789"]"#)
        );
        assert_eq!(
            call_scalars(&udf, vec![s(r"([\da-f]{2})"), id.clone()]),
            dynv(
                r#"["82","b8","be","2d","df","a7","4b","d1","8f","63","24","ad","26","d3","14","49"]"#
            )
        );
        assert_eq!(
            call_scalars(&udf, vec![s(r"(\w)(\w+)(\w)"), id.clone()]),
            dynv(
                r#"[["8","2b8be2","d"],["d","fa","7"],["4","bd","1"],["8","f6","3"],["2","4ad26d3144","9"]]"#
            )
        );
        assert_eq!(
            call_scalars(
                &udf,
                vec![s(r"(\w)(\w+)(\w)"), dynamic("[1,3]"), id.clone()]
            ),
            dynv(r#"[["8","d"],["d","7"],["4","1"],["8","3"],["2","9"]]"#)
        );
        assert_eq!(
            call_scalars(
                &udf,
                vec![
                    s(r"(?P<first>\w)(?P<middle>\w+)(?P<last>\w)"),
                    dynamic(r#"["first",2,"last"]"#),
                    id
                ]
            ),
            dynv(
                r#"[["8","2b8be2","d"],["d","fa","7"],["4","bd","1"],["8","f6","3"],["2","4ad26d3144","9"]]"#
            )
        );
        assert_eq!(
            call_scalars(&udf, vec![s(r"(\d+)"), s("none")]),
            ScalarValue::LargeUtf8(None)
        );
    }

    #[test]
    fn trim_cases() {
        let t = f("trim");
        assert_eq!(
            call_scalars(&t, vec![s("--"), s("--https://bing.com--")]),
            s("https://bing.com")
        );
        assert_eq!(
            call_scalars(&t, vec![s(r"[^\w]+"), s("-  Te st1// $")]),
            s("Te st1")
        );
        assert_eq!(
            call_scalars(&t, vec![s(r"\s+"), s("    Hello, world!    ")]),
            s("Hello, world!")
        );
        assert_eq!(call_scalars(&t, vec![s("ab"), s("ababxab")]), s("x"));
        let ts = f("trim_start");
        assert_eq!(
            call_scalars(&ts, vec![s("https://"), s("https://bing.com")]),
            s("bing.com")
        );
        assert_eq!(
            call_scalars(&ts, vec![s(r"[^\w]+"), s("-  Te st1// $")]),
            s("Te st1// $")
        );
        let te = f("trim_end");
        assert_eq!(call_scalars(&te, vec![s(".com"), s("bing.com")]), s("bing"));
        assert_eq!(
            call_scalars(&te, vec![s(r"[^\w]+"), s("-  Te st1// $")]),
            s("-  Te st1")
        );
        assert_eq!(
            call_scalars(&te, vec![s(r"\s+"), s("    Hello, world!    ")]),
            s("    Hello, world!")
        );
    }

    #[test]
    fn matches_regex() {
        let udf = f("__matches_regex");
        assert_eq!(
            call_scalars(&udf, vec![s("Fabrikam"), s("b.*k")]),
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            call_scalars(&udf, vec![s("Fabrikam"), s("^k")]),
            ScalarValue::Boolean(Some(false))
        );
    }
}
