//! Pure helpers of the array and set functions (`set_union`, `array_sort_asc`,
//! `array_shift_left`, `strcat_array`, `bag_set_key`, ...).

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::{Map, Value};

use super::json::json_equal;

/// Distinct values (first seen first) of all arrays, or `None` if one is not an array.
pub fn set_union(sets: &[&Value]) -> Option<Value> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for s in sets {
        for v in s.as_array()? {
            if seen.insert(canonical(v)) {
                out.push(v.clone());
            }
        }
    }
    Some(Value::Array(out))
}

/// Distinct values of the first array present in every other array.
pub fn set_intersect(sets: &[&Value]) -> Option<Value> {
    set_filter(sets, true)
}

/// Distinct values of the first array absent from every other array.
pub fn set_difference(sets: &[&Value]) -> Option<Value> {
    set_filter(sets, false)
}

fn set_filter(sets: &[&Value], keep_common: bool) -> Option<Value> {
    let (first, rest) = sets.split_first()?;
    let rest: Vec<&Vec<Value>> = rest.iter().map(|s| s.as_array()).collect::<Option<_>>()?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for v in first.as_array()? {
        if !seen.insert(canonical(v)) {
            continue;
        }
        let keep = if keep_common {
            rest.iter().all(|r| r.iter().any(|x| json_equal(x, v)))
        } else {
            !rest.iter().any(|r| r.iter().any(|x| json_equal(x, v)))
        };
        if keep {
            out.push(v.clone());
        }
    }
    Some(Value::Array(out))
}

/// A key for set membership in which `1` and `1.0` coincide.
fn canonical(v: &Value) -> String {
    match v {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => (f as i64).to_string(),
            _ => n.to_string(),
        },
        v => v.to_string(),
    }
}

/// The text of a dynamic element as `strcat` would print it (strings unquoted).
pub fn element_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// `strcat_array(array, delimiter)`.
pub fn strcat_array(a: &Value, delimiter: &str) -> String {
    match a {
        Value::Array(items) => items
            .iter()
            .map(element_text)
            .collect::<Vec<_>>()
            .join(delimiter),
        _ => String::new(),
    }
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

/// Ascending order of dynamic elements: numbers, then strings, then everything else.
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x.total_cmp(&y)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => type_rank(a)
            .cmp(&type_rank(b))
            .then_with(|| a.to_string().cmp(&b.to_string())),
    }
}

/// `array_sort_asc` / `array_sort_desc` of one array; nulls go last unless
/// `nulls_last` is false.
pub fn sort_array(a: &Value, descending: bool, nulls_last: bool) -> Option<Value> {
    let items = a.as_array()?;
    let (nulls, mut values): (Vec<&Value>, Vec<&Value>) = items.iter().partition(|v| v.is_null());
    values.sort_by(|x, y| {
        if descending {
            compare(y, x)
        } else {
            compare(x, y)
        }
    });
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    if !nulls_last {
        out.extend(nulls.iter().map(|_| Value::Null));
    }
    out.extend(values.into_iter().cloned());
    if nulls_last {
        out.extend(nulls.iter().map(|_| Value::Null));
    }
    Some(Value::Array(out))
}

/// `array_rotate_left(a, n)` (negative `n` rotates right).
pub fn rotate_left(a: &Value, n: i64) -> Option<Value> {
    let items = a.as_array()?;
    if items.is_empty() {
        return Some(Value::Array(Vec::new()));
    }
    let len = items.len() as i64;
    let k = n.rem_euclid(len) as usize;
    let mut out = items.clone();
    out.rotate_left(k);
    Some(Value::Array(out))
}

/// `array_shift_left(a, n[, fill])` (negative `n` shifts right). Without `fill` the
/// vacated slots get `""` for arrays of strings and `null` otherwise.
pub fn shift_left(a: &Value, n: i64, fill: Option<&Value>) -> Option<Value> {
    let items = a.as_array()?;
    let len = items.len() as i64;
    let fill = match fill {
        Some(f) => f.clone(),
        None if !items.is_empty() && items.iter().all(|v| v.is_string() || v.is_null()) => {
            Value::String(String::new())
        }
        None => Value::Null,
    };
    let out = (0..len)
        .map(|i| {
            let src = i.checked_add(n)?;
            if (0..len).contains(&src) {
                items.get(src as usize).cloned()
            } else {
                None
            }
        })
        .map(|v| v.unwrap_or_else(|| fill.clone()))
        .collect();
    Some(Value::Array(out))
}

/// `bag_set_key(bag, key, value)`: sets a root key or a JSONPath (`$.a.b`), creating
/// intermediate bags; `None` when `bag` is not a bag or the path is invalid.
pub fn bag_set_key(bag: &Value, steps: &[String], value: Value) -> Option<Value> {
    let Value::Object(m) = bag else { return None };
    let mut root = m.clone();
    let (last, init) = steps.split_last()?;
    let mut cur: &mut Map<String, Value> = &mut root;
    for s in init {
        let entry = cur
            .entry(s.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        cur = entry.as_object_mut()?;
    }
    cur.insert(last.clone(), value);
    Some(Value::Object(root))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sets() {
        let a1 = json!([1, 2, 1, 4]);
        let a2 = json!([1, 2]);
        let a3 = json!([8]);
        assert_eq!(set_union(&[&a1, &a2, &a3]), Some(json!([1, 2, 4, 8])));
        assert_eq!(set_intersect(&[&a1, &a2, &json!([8, 1])]), Some(json!([1])));
        assert_eq!(
            set_difference(&[&a1, &a2, &json!([1, 2, 8])]),
            Some(json!([4]))
        );
        assert_eq!(
            set_intersect(&[&json!([1, 2, 3]), &json!([4, 5])]),
            Some(json!([]))
        );
        assert_eq!(set_union(&[&a1, &json!("x")]), None);
        assert_eq!(set_union(&[&json!([1, 1.0])]), Some(json!([1])));
    }

    #[test]
    fn text_sort_shift_rotate() {
        assert_eq!(strcat_array(&json!([1, 2, 3]), "->"), "1->2->3");
        assert_eq!(
            strcat_array(&json!(["a", null, {"b": 1}]), ","),
            "a,,{\"b\":1}"
        );
        assert_eq!(
            sort_array(&json!([1, 3, null, 4, 5, 2]), false, true),
            Some(json!([1, 2, 3, 4, 5, null]))
        );
        assert_eq!(
            sort_array(&json!(["b", 2, "a", 1]), true, false),
            Some(json!(["b", "a", 2, 1]))
        );
        assert_eq!(
            sort_array(&json!(["Paul", "Jane", "John"]), false, true),
            Some(json!(["Jane", "John", "Paul"]))
        );
        let arr = json!([1, 2, 3, 4, 5]);
        assert_eq!(rotate_left(&arr, 2), Some(json!([3, 4, 5, 1, 2])));
        assert_eq!(rotate_left(&arr, -2), Some(json!([4, 5, 1, 2, 3])));
        assert_eq!(
            shift_left(&arr, 2, None),
            Some(json!([3, 4, 5, null, null]))
        );
        assert_eq!(
            shift_left(&arr, 2, Some(&json!(-1))),
            Some(json!([3, 4, 5, -1, -1]))
        );
        assert_eq!(
            shift_left(&arr, -2, Some(&json!(-1))),
            Some(json!([-1, -1, 1, 2, 3]))
        );
        assert_eq!(
            shift_left(&json!(["a", "b"]), 1, None),
            Some(json!(["b", ""]))
        );
    }

    #[test]
    fn set_key() {
        let b = json!({"key1": 123, "key2": {"prop1": 123, "prop2": "xyz"}});
        let steps = vec!["key2".to_string(), "prop1".to_string()];
        assert_eq!(
            bag_set_key(&b, &steps, json!("abc")),
            Some(json!({"key1": 123, "key2": {"prop1": "abc", "prop2": "xyz"}}))
        );
        assert_eq!(
            bag_set_key(&json!({"key1": 123}), &steps, json!("abc")),
            Some(json!({"key1": 123, "key2": {"prop1": "abc"}}))
        );
        assert_eq!(bag_set_key(&json!([1]), &steps, json!(1)), None);
    }
}
