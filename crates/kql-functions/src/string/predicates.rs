//! String predicate UDFs behind KQL's string operators (the planner calls them):
//! `__has`, `__has_cs`, `__hasprefix[_cs]`, `__hassuffix[_cs]`, `__has_any`, `__has_all`,
//! `__contains[_cs]`, `__startswith[_cs]`, `__endswith[_cs]`, `__equals_ci` (`=~`).
//!
//! All take `(text, needle)` and return a non-null bool. Case-insensitive forms compare
//! Unicode lower case.
//!
//! Term semantics (`has` family): a term is a maximal run of alphanumeric characters
//! (ASCII letters and digits, and any non-ASCII letter or digit). `has` is true when the
//! needle occurs in the text with a term boundary on each side where the needle itself
//! begins/ends with an alphanumeric character; so an alphanumeric needle must be a whole
//! term, and a needle such as `"a-b"` must start and end on term boundaries.
//! `hasprefix` only needs the boundary at the start, `hassuffix` only at the end.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray};
use arrow::datatypes::DataType;
use datafusion_common::Result;

use crate::Registry;
use crate::convert::kernel::{KqlFn, str_col};

/// True for characters that belong to terms.
pub fn is_term_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || (!c.is_ascii() && c.is_alphanumeric())
}

/// Searches `needle` in `text`, accepting an occurrence only when it has term boundaries
/// at the start (if `start`) and at the end (if `end`). Case-sensitive.
fn find_bounded(text: &str, needle: &str, start: bool, end: bool) -> bool {
    let Some(first) = needle.chars().next() else {
        return true;
    };
    let need_start = start && is_term_char(first);
    let need_end = end && needle.chars().next_back().is_some_and(is_term_char);
    let mut from = 0;
    while let Some(p) = text[from..].find(needle) {
        let at = from + p;
        let after = at + needle.len();
        let ok_start = !need_start || !text[..at].chars().next_back().is_some_and(is_term_char);
        let ok_end = !need_end || !text[after..].chars().next().is_some_and(is_term_char);
        if ok_start && ok_end {
            return true;
        }
        from = at + text[at..].chars().next().map_or(1, char::len_utf8);
        if from > text.len() {
            break;
        }
    }
    false
}

/// `text has_cs needle` (case-sensitive term match).
pub fn has_term(text: &str, needle: &str) -> bool {
    find_bounded(text, needle, true, true)
}

/// `text hasprefix_cs needle`: some term of `text` starts with `needle`.
pub fn has_term_prefix(text: &str, needle: &str) -> bool {
    find_bounded(text, needle, true, false)
}

/// `text hassuffix_cs needle`: some term of `text` ends with `needle`.
pub fn has_term_suffix(text: &str, needle: &str) -> bool {
    find_bounded(text, needle, false, true)
}

type Pred = fn(&str, &str) -> bool;

/// Evaluates a two-string predicate, lower-casing both sides first when `ci`.
fn eval_pred(args: &[ArrayRef], rows: usize, ci: bool, pred: Pred) -> Result<ArrayRef> {
    let text = str_col(&args[0]);
    let needle = str_col(&args[1]);
    let mut last_needle: Option<(String, String)> = None;
    let out: BooleanArray = (0..rows)
        .map(|i| {
            let (t, n) = (text.get(i), needle.get(i));
            if !ci {
                return Some(pred(t, n));
            }
            // The needle is usually constant: lower-case it once.
            let lower_n = match &last_needle {
                Some((orig, lower)) if orig == n => lower.clone(),
                _ => {
                    let lower = n.to_lowercase();
                    last_needle = Some((n.to_string(), lower.clone()));
                    lower
                }
            };
            Some(pred(&t.to_lowercase(), &lower_n))
        })
        .collect();
    Ok(Arc::new(out))
}

macro_rules! predicate {
    ($fn_name:ident, $ci:expr, $pred:expr) => {
        fn $fn_name(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
            eval_pred(args, rows, $ci, $pred)
        }
    };
}

predicate!(eval_has, true, has_term);
predicate!(eval_has_cs, false, has_term);
predicate!(eval_hasprefix, true, has_term_prefix);
predicate!(eval_hasprefix_cs, false, has_term_prefix);
predicate!(eval_hassuffix, true, has_term_suffix);
predicate!(eval_hassuffix_cs, false, has_term_suffix);
predicate!(eval_contains, true, |t, n| t.contains(n));
predicate!(eval_contains_cs, false, |t, n| t.contains(n));
predicate!(eval_startswith, true, |t, n| t.starts_with(n));
predicate!(eval_startswith_cs, false, |t, n| t.starts_with(n));
predicate!(eval_endswith, true, |t, n| t.ends_with(n));
predicate!(eval_endswith_cs, false, |t, n| t.ends_with(n));
predicate!(eval_equals_ci, true, |t, n| t == n);

/// The needles of `has_any` / `has_all`: the lower-cased `tostring` of each element of a
/// JSON array (a non-array value is a single needle).
fn needles(json: &str) -> Vec<String> {
    let items = match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(serde_json::Value::Null) => Vec::new(),
        Ok(other) => vec![other],
        Err(_) => return vec![json.to_lowercase()],
    };
    items
        .into_iter()
        .filter_map(|v| match v {
            serde_json::Value::String(s) => Some(s.to_lowercase()),
            serde_json::Value::Null => None,
            other => Some(other.to_string().to_lowercase()),
        })
        .collect()
}

fn eval_has_set(args: &[ArrayRef], rows: usize, all: bool) -> Result<ArrayRef> {
    let text = str_col(&args[0]);
    let set = str_col(&args[1]);
    let mut last: Option<(String, Vec<String>)> = None;
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let spec = set.get(i);
        if !matches!(&last, Some((s, _)) if s == spec) {
            last = Some((spec.to_string(), needles(spec)));
        }
        let list: &[String] = last.as_ref().map_or(&[], |(_, n)| n.as_slice());
        let t = text.get(i).to_lowercase();
        let v = if all {
            list.iter().all(|n| has_term(&t, n))
        } else {
            list.iter().any(|n| has_term(&t, n))
        };
        out.push(Some(v));
    }
    Ok(Arc::new(BooleanArray::from(out)))
}

fn eval_has_any(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    eval_has_set(args, rows, false)
}

fn eval_has_all(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    eval_has_set(args, rows, true)
}

/// Registers the predicate UDFs.
pub(crate) fn register(r: &mut Registry) {
    let fns: [(&'static str, crate::convert::kernel::EvalFn); 15] = [
        ("__has", eval_has),
        ("__has_cs", eval_has_cs),
        ("__hasprefix", eval_hasprefix),
        ("__hasprefix_cs", eval_hasprefix_cs),
        ("__hassuffix", eval_hassuffix),
        ("__hassuffix_cs", eval_hassuffix_cs),
        ("__has_any", eval_has_any),
        ("__has_all", eval_has_all),
        ("__contains", eval_contains),
        ("__contains_cs", eval_contains_cs),
        ("__startswith", eval_startswith),
        ("__startswith_cs", eval_startswith_cs),
        ("__endswith", eval_endswith),
        ("__endswith_cs", eval_endswith_cs),
        ("__equals_ci", eval_equals_ci),
    ];
    for (name, eval) in fns {
        r.add_scalar(name, KqlFn::new(name, 2, 2, DataType::Boolean, eval).udf());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::convert::kernel::testing::{call_scalars, dynamic, s};
    use datafusion_common::ScalarValue;

    fn check(name: &str, text: &str, needle: &str) -> bool {
        let udf = Registry::global().scalar(name).unwrap();
        match call_scalars(&udf, vec![s(text), s(needle)]) {
            ScalarValue::Boolean(Some(b)) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn has_terms() {
        assert!(check("__has", "North America", "america"));
        assert!(!check("__has", "North America", "amer"));
        assert!(!check("__has", "KustoExplorerQueryRun", "Explorer"));
        let id = "Kusto: ad67d136-c1db-4f9f-88ef-d94f3b6b0b5a;KustoExplorerQueryRun";
        assert!(check("__has", id, "c1db"));
        assert!(check("__has", id, "kustoexplorerqueryrun"));
        assert!(check("__has", id, "c1db-4f9f"));
        assert!(!check("__has", id, "1db-4f9f"));
        assert!(!check("__has", id, ";Kusto"));
        assert!(check("__has", id, ";KustoExplorerQueryRun"));
        assert!(check("__has", "a.b", "."));
        assert!(check("__has", "aab ab", "ab"));
        assert!(check("__has_cs", "North America", "America"));
        assert!(!check("__has_cs", "North America", "america"));
        assert!(check("__has", "Ünïcode wörds", "WÖRDS"));
        assert!(!check("__has", "wörds", "rds"));
    }

    #[test]
    fn prefix_suffix() {
        assert!(check("__hasprefix", "North America", "ame"));
        assert!(!check("__hasprefix", "North America", "mer"));
        assert!(check("__hasprefix_cs", "North America", "Ame"));
        assert!(!check("__hasprefix_cs", "North America", "CA"));
        assert!(check("__hassuffix", "North America", "ica"));
        assert!(!check("__hassuffix", "North America", "americ"));
        assert!(check("__hassuffix_cs", "North America", "ica"));
        assert!(!check("__hassuffix_cs", "North America", "icA"));
    }

    #[test]
    fn contains_starts_ends_equals() {
        assert!(check("__contains", "FabriKam", "BRik"));
        assert!(!check("__contains", "Fabrikam", "xyz"));
        assert!(check("__contains_cs", "FabriKam", "Kam"));
        assert!(!check("__contains_cs", "Fabrikam", "Kam"));
        assert!(check("__endswith", "Fabrikam", "Kam"));
        assert!(check("__endswith_cs", "Fabrikam", "kam"));
        assert!(!check("__endswith_cs", "Fabrikam", "Kam"));
        assert!(check("__startswith", "Fabrikam", "fab"));
        assert!(check("__startswith_cs", "Fabrikam", "Fab"));
        assert!(!check("__startswith_cs", "Fabrikam", "fab"));
        assert!(check("__equals_ci", "abc", "ABC"));
        assert!(!check("__equals_ci", "abc", "ABD"));
    }

    #[test]
    fn has_any_all() {
        let any = Registry::global().scalar("__has_any").unwrap();
        let all = Registry::global().scalar("__has_all").unwrap();
        let t = ScalarValue::Boolean(Some(true));
        let f = ScalarValue::Boolean(Some(false));
        assert_eq!(
            call_scalars(
                &any,
                vec![s("North America"), dynamic(r#"["south","north"]"#)]
            ),
            t
        );
        assert_eq!(
            call_scalars(
                &any,
                vec![s("North America"), dynamic(r#"["south","east"]"#)]
            ),
            f
        );
        assert_eq!(
            call_scalars(
                &all,
                vec![
                    s("North and South America"),
                    dynamic(r#"["south","north"]"#)
                ]
            ),
            t
        );
        assert_eq!(
            call_scalars(
                &all,
                vec![s("North America"), dynamic(r#"["south","north"]"#)]
            ),
            f
        );
        assert_eq!(
            call_scalars(&any, vec![s("error 404"), dynamic("[404]")]),
            t
        );
        assert_eq!(call_scalars(&any, vec![s("x"), dynamic("[]")]), f);
    }
}
