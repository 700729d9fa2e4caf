//! KQL string functions.
//!
//! Arguments that should be strings accept any KQL type and are converted with
//! `tostring()` semantics, as Kusto does ("forcibly converted to string"). Positions and
//! lengths count Unicode characters (code points).
//!
//! * this file: `strlen`, `tolower`, `toupper`, `substring`, `strcat`, `strcat_delim`,
//!   `replace_string`, `indexof`, `reverse`, `countof`, `strrep`, `split`
//! * [`regex_fns`]: `replace_regex`, `extract`, `extract_all`, `trim*`, regex `countof`,
//!   `__matches_regex`
//! * [`predicates`]: the operator UDFs (`__has`, `__contains`, `__startswith`, ...)
//! * [`parse_kv`]: `__parse_kv`, the extraction behind the `parse-kv` operator

pub mod parse_kv;
mod predicates;
mod regex_fns;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, LargeStringArray, StringArray};
use arrow::datatypes::DataType;
use datafusion_common::Result;

use crate::Registry;
use crate::convert::kernel::{KqlFn, StrCol, i64_col, str_col};

pub use predicates::{has_term, has_term_prefix, has_term_suffix, is_term_char};

/// Largest `strrep` multiplier Kusto accepts.
const STRREP_MAX: i64 = 67_108_864;

/// Registers this family's functions.
pub(crate) fn register(r: &mut Registry) {
    let fns = [
        KqlFn::new("strlen", 1, 1, DataType::Int64, eval_strlen),
        KqlFn::new("tolower", 1, 1, DataType::Utf8, eval_tolower),
        KqlFn::new("toupper", 1, 1, DataType::Utf8, eval_toupper),
        KqlFn::new("substring", 2, 3, DataType::Utf8, eval_substring),
        KqlFn::new("strcat", 1, 64, DataType::Utf8, eval_strcat),
        KqlFn::new("strcat_delim", 3, 65, DataType::Utf8, eval_strcat_delim),
        KqlFn::new("replace_string", 3, 3, DataType::Utf8, eval_replace_string),
        KqlFn::new("indexof", 2, 5, DataType::Int64, eval_indexof),
        KqlFn::new("reverse", 1, 1, DataType::Utf8, eval_reverse),
        KqlFn::new("countof", 2, 3, DataType::Int64, eval_countof),
        KqlFn::new("strrep", 2, 3, DataType::Utf8, eval_strrep),
        KqlFn::new("split", 2, 3, DataType::LargeUtf8, eval_split),
    ];
    for f in fns {
        let name = f.name_static();
        r.add_scalar(name, f.udf());
    }
    regex_fns::register(r);
    predicates::register(r);
    parse_kv::register(r);
}

/// Maps every row of one string argument to a string.
fn map_str(args: &[ArrayRef], f: impl Fn(&str) -> String) -> ArrayRef {
    let s = str_col(&args[0]);
    let out: StringArray = (0..args[0].len()).map(|i| Some(f(s.get(i)))).collect();
    Arc::new(out)
}

/// `strlen(s)`: the number of Unicode code points.
fn eval_strlen(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let s = str_col(&args[0]);
    let out: Int64Array = (0..args[0].len())
        .map(|i| Some(s.get(i).chars().count() as i64))
        .collect();
    Ok(Arc::new(out))
}

/// `tolower(s)` (Unicode lower case).
fn eval_tolower(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(map_str(args, str::to_lowercase))
}

/// `toupper(s)` (Unicode upper case).
fn eval_toupper(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(map_str(args, str::to_uppercase))
}

/// `reverse(s)`: the characters in reverse order.
fn eval_reverse(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(map_str(args, |s| s.chars().rev().collect()))
}

/// Byte offset of character `k` of `s` (`s.len()` when `k` is the character count).
fn char_to_byte(s: &str, k: usize) -> usize {
    if s.is_ascii() {
        return k.min(s.len());
    }
    s.char_indices().nth(k).map_or(s.len(), |(b, _)| b)
}

/// `substring(source, start[, length])`: a negative start counts from the end; the range
/// is clamped to the string; a negative length gives `""`.
pub fn substring(s: &str, start: i64, length: Option<i64>) -> String {
    let n = s.chars().count() as i64;
    let start = if start < 0 { (n + start).max(0) } else { start };
    if start >= n {
        return String::new();
    }
    let end = match length {
        None => n,
        Some(l) if l < 0 => return String::new(),
        Some(l) => start.saturating_add(l).min(n),
    };
    let b0 = char_to_byte(s, start as usize);
    let b1 = char_to_byte(s, end as usize);
    s[b0..b1].to_string()
}

fn eval_substring(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let s = str_col(&args[0]);
    let start = i64_col(&args[1]);
    let length = args.get(2).map(i64_col);
    let out: StringArray = (0..rows)
        .map(|i| {
            let st = if start.is_null(i) {
                None
            } else {
                Some(start.value(i))
            };
            let len = match &length {
                Some(l) if l.is_null(i) => return Some(String::new()),
                Some(l) => Some(l.value(i)),
                None => None,
            };
            Some(
                st.map(|st| substring(s.get(i), st, len))
                    .unwrap_or_default(),
            )
        })
        .collect();
    Ok(Arc::new(out))
}

/// Concatenates the `tostring()` of each argument column, separated by `delim`.
fn concat(cols: &[StrCol<'_>], delim: Option<&StrCol<'_>>, rows: usize) -> ArrayRef {
    let out: StringArray = (0..rows)
        .map(|i| {
            let mut acc = String::new();
            for (k, c) in cols.iter().enumerate() {
                if k > 0
                    && let Some(d) = delim
                {
                    acc.push_str(d.get(i));
                }
                acc.push_str(c.get(i));
            }
            Some(acc)
        })
        .collect();
    Arc::new(out)
}

/// `strcat(a1, ..., aN)`.
fn eval_strcat(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let cols: Vec<StrCol<'_>> = args.iter().map(str_col).collect();
    Ok(concat(&cols, None, rows))
}

/// `strcat_delim(delim, a1, ..., aN)`.
fn eval_strcat_delim(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let delim = str_col(&args[0]);
    let cols: Vec<StrCol<'_>> = args[1..].iter().map(str_col).collect();
    Ok(concat(&cols, Some(&delim), rows))
}

/// `replace_string(text, lookup, rewrite)`: replaces all non-overlapping occurrences.
fn eval_replace_string(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let text = str_col(&args[0]);
    let lookup = str_col(&args[1]);
    let rewrite = str_col(&args[2]);
    let mut budget = crate::util::StringBudget::new("replace_string");
    let out: StringArray = (0..rows)
        .map(|i| {
            let (t, l, r) = (text.get(i), lookup.get(i), rewrite.get(i));
            if l.is_empty() {
                return Ok(Some(t.to_string()));
            }
            // The output's size, counted before it is built when it can grow.
            let len = if r.len() > l.len() {
                t.matches(l)
                    .count()
                    .checked_mul(r.len() - l.len())
                    .and_then(|grow| grow.checked_add(t.len()))
            } else {
                Some(t.len())
            };
            budget.take(len)?;
            Ok(Some(t.replace(l, r)))
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(out))
}

/// `indexof(source, lookup[, start[, length[, occurrence]]])`: the character index of the
/// `occurrence`-th match, searching `length` characters (-1: to the end) from `start`
/// (negative: from the end). The search window keeps its length and moves just past each
/// earlier match. -1 when not found; `None` (null) when start resolves below 0,
/// `length < -1` or `occurrence < 0`.
pub fn indexof(s: &str, lookup: &str, start: i64, length: i64, occurrence: i64) -> Option<i64> {
    if occurrence < 0 || length < -1 {
        return None;
    }
    let n = s.chars().count() as i64;
    let start = if start < 0 { n + start } else { start };
    if start < 0 {
        return None;
    }
    if start > n {
        return Some(-1);
    }
    let occurrence = occurrence.max(1);
    let mut pos = start;
    for k in 1..=occurrence {
        if pos > n {
            return Some(-1);
        }
        let end = if length == -1 {
            n
        } else {
            pos.saturating_add(length).min(n)
        };
        let b0 = char_to_byte(s, pos as usize);
        let b1 = char_to_byte(s, end as usize);
        let window = &s[b0..b1];
        let Some(found) = window.find(lookup) else {
            return Some(-1);
        };
        let idx = pos + window[..found].chars().count() as i64;
        if k == occurrence {
            return Some(idx);
        }
        pos = idx + 1;
    }
    Some(-1)
}

fn eval_indexof(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let s = str_col(&args[0]);
    let lookup = str_col(&args[1]);
    let ints: Vec<Int64Array> = args[2..].iter().map(i64_col).collect();
    let defaults = [0_i64, -1, 1];
    let out: Int64Array = (0..rows)
        .map(|i| {
            let mut vals = defaults;
            for (k, col) in ints.iter().enumerate() {
                if col.is_null(i) {
                    return None;
                }
                vals[k] = col.value(i);
            }
            indexof(s.get(i), lookup.get(i), vals[0], vals[1], vals[2])
        })
        .collect();
    Ok(Arc::new(out))
}

/// Counts possibly overlapping occurrences of `search` in `text` (0 for an empty search).
pub fn countof_plain(text: &str, search: &str) -> i64 {
    if search.is_empty() {
        return 0;
    }
    let mut count = 0;
    let mut from = 0;
    while let Some(p) = text[from..].find(search) {
        count += 1;
        let at = from + p;
        // Advance one character past the start of this match (matches may overlap).
        from = at + text[at..].chars().next().map_or(1, char::len_utf8);
        if from > text.len() {
            break;
        }
    }
    count
}

/// `countof(text, search[, kind])` with kind `normal` (default) or `regex`.
fn eval_countof(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let text = str_col(&args[0]);
    let search = str_col(&args[1]);
    let kind = args.get(2).map(str_col);
    let mut regexes = regex_fns::RegexMemo::default();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let k = kind.as_ref().map_or("normal", |k| k.get(i));
        if k.is_empty() || k.eq_ignore_ascii_case("normal") {
            out.push(Some(countof_plain(text.get(i), search.get(i))));
        } else if k.eq_ignore_ascii_case("regex") {
            let re = regexes.get(search.get(i))?;
            out.push(Some(re.find_iter(text.get(i)).count() as i64));
        } else {
            return Err(crate::FunctionError::Runtime(format!(
                "countof(): kind must be 'normal' or 'regex', got '{k}'"
            ))
            .into_datafusion());
        }
    }
    Ok(Arc::new(Int64Array::from(out)))
}

/// The length in bytes of `strrep(value, multiplier, delimiter)`, `None` on overflow.
pub fn strrep_len(value: &str, multiplier: i64, delimiter: &str) -> Option<usize> {
    if multiplier < 1 {
        return Some(0);
    }
    let m = usize::try_from(multiplier.min(STRREP_MAX)).ok()?;
    value
        .len()
        .checked_mul(m)?
        .checked_add(delimiter.len().checked_mul(m - 1)?)
}

/// `strrep(value, multiplier[, delimiter])`: `value` repeated `multiplier` times
/// (clamped to 1..=67108864; below 1 gives `""`), joined by `delimiter`. Callers check
/// [`strrep_len`] against their limit first.
pub fn strrep(value: &str, multiplier: i64, delimiter: &str) -> String {
    if multiplier < 1 {
        return String::new();
    }
    let m = multiplier.min(STRREP_MAX) as usize;
    let mut out = String::with_capacity(strrep_len(value, multiplier, delimiter).unwrap_or(0));
    for k in 0..m {
        if k > 0 {
            out.push_str(delimiter);
        }
        out.push_str(value);
    }
    out
}

fn eval_strrep(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let value = str_col(&args[0]);
    let mult = i64_col(&args[1]);
    let delim = args.get(2).map(str_col);
    let mut budget = crate::util::StringBudget::new("strrep");
    let out: StringArray = (0..rows)
        .map(|i| {
            if mult.is_null(i) {
                return Ok(Some(String::new()));
            }
            let d = delim.as_ref().map_or("", |d| d.get(i));
            budget.take(strrep_len(value.get(i), mult.value(i), d))?;
            Ok(Some(strrep(value.get(i), mult.value(i), d)))
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(out))
}

/// JSON array text of strings (KQL dynamic).
pub(crate) fn json_string_array<S: AsRef<str>>(items: &[S]) -> String {
    let v: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".to_string())
}

/// `split(source, delimiter[, index])` as a JSON array: all parts, or only the part at
/// `index` (`[]` when there is none). An empty delimiter gives `[source]`.
pub fn split(source: &str, delimiter: &str, index: Option<i64>) -> String {
    let parts: Vec<&str> = if delimiter.is_empty() {
        vec![source]
    } else {
        source.split(delimiter).collect()
    };
    match index {
        None => json_string_array(&parts),
        Some(k) => {
            let part = usize::try_from(k).ok().and_then(|k| parts.get(k));
            match part {
                Some(p) => json_string_array(&[p]),
                None => "[]".to_string(),
            }
        }
    }
}

fn eval_split(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let source = str_col(&args[0]);
    let delim = str_col(&args[1]);
    let index = args.get(2).map(i64_col);
    let out: LargeStringArray = (0..rows)
        .map(|i| {
            let idx = match &index {
                Some(c) if c.is_null(i) => return None,
                Some(c) => Some(c.value(i)),
                None => None,
            };
            Some(split(source.get(i), delim.get(i), idx))
        })
        .collect();
    Ok(Arc::new(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::convert::kernel::testing::{call, call_scalars, l, r, s};
    use arrow::array::AsArray;
    use datafusion_common::ScalarValue;
    use datafusion_expr::ColumnarValue;

    fn f(name: &str) -> Arc<datafusion_expr::ScalarUDF> {
        Registry::global().scalar(name).unwrap()
    }

    #[test]
    fn strlen_and_case() {
        assert_eq!(call_scalars(&f("strlen"), vec![s("héllo")]), l(5));
        assert_eq!(call_scalars(&f("strlen"), vec![l(1234)]), l(4));
        assert_eq!(call_scalars(&f("tolower"), vec![s("ÀBC")]), s("àbc"));
        assert_eq!(call_scalars(&f("toupper"), vec![s("straße")]), s("STRASSE"));
        assert_eq!(
            call_scalars(&f("toupper"), vec![ScalarValue::Utf8(None)]),
            s("")
        );
    }

    #[test]
    fn substring_cases() {
        assert_eq!(substring("123456", 1, None), "23456");
        assert_eq!(substring("123456", 2, Some(2)), "34");
        assert_eq!(substring("ABCD", 0, Some(2)), "AB");
        assert_eq!(substring("123456", -2, Some(2)), "56");
        assert_eq!(substring("123456", -10, Some(2)), "12");
        assert_eq!(substring("123456", 10, None), "");
        assert_eq!(substring("123456", 4, Some(100)), "56");
        assert_eq!(substring("123456", 1, Some(-1)), "");
        assert_eq!(substring("héllo", 1, Some(3)), "éll");
        let out = call_scalars(
            &f("substring"),
            vec![s("123456"), ScalarValue::Int32(Some(2)), l(2)],
        );
        assert_eq!(out, s("34"));
    }

    #[test]
    fn strcat_family() {
        let out = call_scalars(
            &f("strcat_delim"),
            vec![
                s("-"),
                l(1),
                s("2"),
                s("A"),
                ScalarValue::DurationNanosecond(Some(1_000_000_000)),
            ],
        );
        assert_eq!(out, s("1-2-A-00:00:01"));
        let out = call_scalars(&f("strcat"), vec![s("hello"), s(" "), s("world"), r(1.5)]);
        assert_eq!(out, s("hello world1.5"));
        // A column argument mixed with scalars.
        let col: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None]));
        let out = call(
            &f("strcat"),
            vec![ColumnarValue::Array(col), ColumnarValue::Scalar(s("!"))],
        )
        .unwrap();
        let ColumnarValue::Array(a) = out else {
            panic!("expected array")
        };
        let a = a.as_string::<i32>();
        assert_eq!((a.value(0), a.value(1)), ("a!", "!"));
        assert!(
            f("strcat_delim")
                .return_type(&[DataType::Utf8, DataType::Utf8])
                .is_err()
        );
    }

    #[test]
    fn replace_string_cases() {
        let udf = f("replace_string");
        assert_eq!(
            call_scalars(
                &udf,
                vec![
                    s("A magic trick can turn a cat into a dog"),
                    s("cat"),
                    s("hamster")
                ]
            ),
            s("A magic trick can turn a hamster into a dog")
        );
        assert_eq!(call_scalars(&udf, vec![s("aaa"), s("aa"), s("b")]), s("ba"));
        assert_eq!(call_scalars(&udf, vec![s("abc"), s(""), s("x")]), s("abc"));
    }

    #[test]
    fn indexof_doc_examples() {
        assert_eq!(indexof("abcdefg", "cde", 0, -1, 1), Some(2));
        assert_eq!(indexof("abcdefg", "cde", 1, 4, 1), Some(2));
        assert_eq!(indexof("abcdefg", "cde", 1, 2, 1), Some(-1));
        assert_eq!(indexof("abcdefg", "cde", 3, 4, 1), Some(-1));
        assert_eq!(indexof("abcdefg", "cde", -5, -1, 1), Some(2));
        assert_eq!(indexof("1234567", "5", 1, 4, 1), Some(4));
        assert_eq!(indexof("abcdefg", "cde", 2, -1, 1), Some(2));
        assert_eq!(indexof("abcdefgabcdefg", "cde", 1, 10, 2), Some(9));
        assert_eq!(indexof("abcdefgabcdefg", "cde", 1, -1, 3), Some(-1));
        assert_eq!(indexof("abc", "b", -10, -1, 1), None);
        assert_eq!(indexof("abc", "b", 0, -2, 1), None);
        assert_eq!(indexof("abc", "b", 0, -1, -1), None);
        assert_eq!(indexof("héllo", "l", 0, -1, 1), Some(2));
        assert_eq!(indexof("abc", "", 0, -1, 1), Some(0));
        let out = call_scalars(&f("indexof"), vec![l(1234567), l(5), l(1), l(4)]);
        assert_eq!(out, l(4));
        let out = call_scalars(
            &f("indexof"),
            vec![s("abc"), s("c"), ScalarValue::Int64(None)],
        );
        assert_eq!(out, ScalarValue::Int64(None));
    }

    #[test]
    fn reverse_cases() {
        let udf = f("reverse");
        assert_eq!(call_scalars(&udf, vec![s("ABC")]), s("CBA"));
        assert_eq!(call_scalars(&udf, vec![l(12345)]), s("54321"));
        assert_eq!(call_scalars(&udf, vec![r(123.45)]), s("54.321"));
        assert_eq!(
            call_scalars(
                &udf,
                vec![ScalarValue::DurationNanosecond(Some(3 * 3_600_000_000_000))]
            ),
            s("00:00:30")
        );
    }

    #[test]
    fn countof_doc_examples() {
        let udf = f("countof");
        assert_eq!(call_scalars(&udf, vec![s("aaa"), s("a")]), l(3));
        assert_eq!(call_scalars(&udf, vec![s("aaaa"), s("aa")]), l(3));
        assert_eq!(
            call_scalars(&udf, vec![s("ababa"), s("ab"), s("normal")]),
            l(2)
        );
        assert_eq!(call_scalars(&udf, vec![s("ababa"), s("aba")]), l(2));
        assert_eq!(
            call_scalars(&udf, vec![s("ababa"), s("aba"), s("regex")]),
            l(1)
        );
        assert_eq!(
            call_scalars(&udf, vec![s("abcabc"), s("a.c"), s("regex")]),
            l(2)
        );
        assert_eq!(call_scalars(&udf, vec![s("abc"), s("")]), l(0));
        let bad = call(
            &udf,
            vec![
                ColumnarValue::Scalar(s("a")),
                ColumnarValue::Scalar(s("a")),
                ColumnarValue::Scalar(s("x")),
            ],
        );
        assert!(bad.is_err());
    }

    #[test]
    fn strrep_cases() {
        let udf = f("strrep");
        assert_eq!(call_scalars(&udf, vec![s("ABC"), l(2)]), s("ABCABC"));
        assert_eq!(
            call_scalars(&udf, vec![l(123), l(3), s(".")]),
            s("123.123.123")
        );
        assert_eq!(
            call_scalars(
                &udf,
                vec![
                    ScalarValue::DurationNanosecond(Some(3_000_000_000)),
                    l(2),
                    s(" ")
                ]
            ),
            s("00:00:03 00:00:03")
        );
        assert_eq!(call_scalars(&udf, vec![s("a"), l(0)]), s(""));
    }

    #[test]
    fn split_doc_examples() {
        assert_eq!(split("aa_bb", "_", None), r#"["aa","bb"]"#);
        assert_eq!(split("aaa_bbb_ccc", "_", Some(1)), r#"["bbb"]"#);
        assert_eq!(split("", "_", None), r#"[""]"#);
        assert_eq!(split("a__b", "_", None), r#"["a","","b"]"#);
        assert_eq!(split("aabbcc", "bb", None), r#"["aa","cc"]"#);
        assert_eq!(split("a_b", "_", Some(5)), "[]");
        assert_eq!(split("a\"b", ",", None), r#"["a\"b"]"#);
        let out = call_scalars(&f("split"), vec![s("a,b"), s(",")]);
        assert_eq!(
            out,
            ScalarValue::LargeUtf8(Some(r#"["a","b"]"#.to_string()))
        );
        let col: ArrayRef = Arc::new(StringArray::from(vec!["x y", "z"]));
        let out = call(
            &f("split"),
            vec![ColumnarValue::Array(col), ColumnarValue::Scalar(s(" "))],
        )
        .unwrap();
        let ColumnarValue::Array(a) = out else {
            panic!("expected array")
        };
        assert_eq!(a.len(), 2);
        assert_eq!(a.as_string::<i64>().value(0), r#"["x","y"]"#);
    }
}
