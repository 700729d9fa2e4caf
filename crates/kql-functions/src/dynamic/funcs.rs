//! The dynamic scalar functions, as one `ScalarUDFImpl` parameterized by [`DynOp`].

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use datafusion_common::{Result, plan_err};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::{Map, Value};

use super::arrays;
use super::json::{
    dynamic_array, dynamic_to_json, json_equal, json_f64, json_i64, parse_json_string,
};
use crate::Registry;
use crate::util::finish;

/// Which function a [`DynFn`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DynOp {
    /// `parse_json(x)` / `todynamic(x)`.
    ParseJson,
    /// `array_length(a)`.
    ArrayLength,
    /// `bag_keys(b)`.
    BagKeys,
    /// `bag_pack(k1, v1, ...)` / `pack(...)`.
    BagPack,
    /// `pack_array(v1, ...)`.
    PackArray,
    /// `__dyn_get(d, key_or_index)`: property / element access.
    Get,
    /// `array_concat(a1, ...)`.
    ArrayConcat,
    /// `array_slice(a, start, end)`.
    ArraySlice,
    /// `array_index_of(a, v[, start[, length[, occurrence]]])`.
    ArrayIndexOf,
    /// `set_has_element(a, v)`.
    SetHasElement,
    /// `bag_has_key(b, key)`.
    BagHasKey,
    /// `array_sum(a)`.
    ArraySum,
    /// `array_reverse(a)`.
    ArrayReverse,
    /// `bag_merge(b1, ...)`.
    BagMerge,
    /// `bag_remove_keys(b, keys)`.
    BagRemoveKeys,
    /// `bag_set_key(b, key, value)`.
    BagSetKey,
    /// `set_union(a1, a2, ...)`.
    SetUnion,
    /// `set_intersect(a1, a2, ...)`.
    SetIntersect,
    /// `set_difference(a1, a2, ...)`.
    SetDifference,
    /// `strcat_array(a, delimiter)`.
    StrcatArray,
    /// `array_sort_asc(a[, nulls_last])` (single-array form).
    SortAsc,
    /// `array_sort_desc(a[, nulls_last])` (single-array form).
    SortDesc,
    /// `array_rotate_left(a, n)`.
    RotateLeft,
    /// `array_rotate_right(a, n)`.
    RotateRight,
    /// `array_shift_left(a, n[, fill])`.
    ShiftLeft,
    /// `array_shift_right(a, n[, fill])`.
    ShiftRight,
}

/// Registers the functions of this module.
pub(crate) fn register(r: &mut Registry) {
    let fns: &[(&'static str, DynOp)] = &[
        ("parse_json", DynOp::ParseJson),
        ("todynamic", DynOp::ParseJson),
        ("toobject", DynOp::ParseJson),
        ("array_length", DynOp::ArrayLength),
        ("bag_keys", DynOp::BagKeys),
        ("bag_pack", DynOp::BagPack),
        ("pack", DynOp::BagPack),
        ("pack_array", DynOp::PackArray),
        ("__dyn_get", DynOp::Get),
        ("array_concat", DynOp::ArrayConcat),
        ("array_slice", DynOp::ArraySlice),
        ("array_index_of", DynOp::ArrayIndexOf),
        ("set_has_element", DynOp::SetHasElement),
        ("bag_has_key", DynOp::BagHasKey),
        ("array_sum", DynOp::ArraySum),
        ("array_reverse", DynOp::ArrayReverse),
        ("bag_merge", DynOp::BagMerge),
        ("bag_remove_keys", DynOp::BagRemoveKeys),
        ("bag_set_key", DynOp::BagSetKey),
        ("set_union", DynOp::SetUnion),
        ("set_intersect", DynOp::SetIntersect),
        ("set_difference", DynOp::SetDifference),
        ("strcat_array", DynOp::StrcatArray),
        ("array_sort_asc", DynOp::SortAsc),
        ("array_sort_desc", DynOp::SortDesc),
        ("array_rotate_left", DynOp::RotateLeft),
        ("array_rotate_right", DynOp::RotateRight),
        ("array_shift_left", DynOp::ShiftLeft),
        ("array_shift_right", DynOp::ShiftRight),
    ];
    for &(name, op) in fns {
        r.add_scalar(name, ScalarUDF::new_from_impl(DynFn::new(name, op)));
    }
}

/// A KQL dynamic function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DynFn {
    name: &'static str,
    op: DynOp,
    signature: Signature,
}

impl DynFn {
    /// The function `name` computing `op`.
    pub fn new(name: &'static str, op: DynOp) -> Self {
        Self {
            name,
            op,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn arity(&self) -> (usize, Option<usize>) {
        match self.op {
            DynOp::ParseJson
            | DynOp::ArrayLength
            | DynOp::BagKeys
            | DynOp::ArraySum
            | DynOp::ArrayReverse => (1, Some(1)),
            DynOp::BagPack | DynOp::PackArray => (0, None),
            DynOp::ArrayConcat | DynOp::BagMerge => (1, None),
            DynOp::Get | DynOp::SetHasElement | DynOp::BagHasKey | DynOp::BagRemoveKeys => {
                (2, Some(2))
            }
            DynOp::ArraySlice => (3, Some(3)),
            DynOp::ArrayIndexOf => (2, Some(5)),
            DynOp::BagSetKey => (3, Some(3)),
            DynOp::SetUnion | DynOp::SetIntersect | DynOp::SetDifference => (2, None),
            DynOp::StrcatArray | DynOp::RotateLeft | DynOp::RotateRight => (2, Some(2)),
            DynOp::SortAsc | DynOp::SortDesc => (1, Some(2)),
            DynOp::ShiftLeft | DynOp::ShiftRight => (2, Some(3)),
        }
    }
}

impl ScalarUDFImpl for DynFn {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (min, max) = self.arity();
        let n = arg_types.len();
        if n < min || max.is_some_and(|m| n > m) {
            return plan_err!("{}(): wrong number of arguments ({n})", self.name);
        }
        if self.op == DynOp::BagPack && !n.is_multiple_of(2) {
            return plan_err!(
                "{}(): expects an even number of arguments (key, value, ...)",
                self.name
            );
        }
        Ok(arg_types.to_vec())
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.op {
            DynOp::ArrayLength | DynOp::ArrayIndexOf => DataType::Int64,
            DynOp::SetHasElement | DynOp::BagHasKey => DataType::Boolean,
            DynOp::ArraySum => DataType::Float64,
            DynOp::StrcatArray => DataType::Utf8,
            _ => DataType::LargeUtf8,
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let n = if scalar { 1 } else { args.number_rows };
        let vals = args
            .args
            .iter()
            .map(ArgValues::new)
            .collect::<Result<Vec<_>>>()?;
        let out = self.compute(&vals, n);
        finish(out, scalar)
    }
}

/// An argument's values as JSON: a constant is converted once.
struct ArgValues {
    data: ArgData,
    /// True when the argument is a KQL string (`parse_json` parses those).
    is_string: bool,
}

enum ArgData {
    Const(Value),
    Col(ArrayRef),
}

impl ArgValues {
    fn new(c: &ColumnarValue) -> Result<Self> {
        let is_string = matches!(c.data_type(), DataType::Utf8 | DataType::Utf8View);
        let data = match c {
            ColumnarValue::Scalar(s) => {
                let a = s.to_array_of_size(1)?;
                ArgData::Const(dynamic_to_json(a.as_ref(), 0))
            }
            ColumnarValue::Array(a) => ArgData::Col(Arc::clone(a)),
        };
        Ok(ArgValues { data, is_string })
    }

    fn at(&self, i: usize) -> Cow<'_, Value> {
        match &self.data {
            ArgData::Const(v) => Cow::Borrowed(v),
            ArgData::Col(a) => Cow::Owned(dynamic_to_json(a.as_ref(), i)),
        }
    }

    /// The value for `parse_json`: strings are parsed, dynamics pass through.
    fn parsed_at(&self, i: usize) -> Value {
        match (self.is_string, self.at(i).into_owned()) {
            (true, Value::String(s)) => parse_json_string(&s),
            (_, v) => v,
        }
    }
}

/// Resolves a possibly negative index against a length (`-1` is the last element).
fn resolve_index(i: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { len + i } else { i };
    if (0..len).contains(&i) {
        usize::try_from(i).ok()
    } else {
        None
    }
}

/// `__dyn_get(d, key)`: object member by string key, array element by (negative) index.
pub fn dyn_get(d: &Value, key: &Value) -> Value {
    match (d, key) {
        (Value::Object(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Null),
        (Value::Array(a), k) => match json_i64(k).and_then(|i| resolve_index(i, a.len())) {
            Some(i) if !matches!(k, Value::String(_)) => a[i].clone(),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

/// `array_slice(a, start, end)` with inclusive, possibly negative bounds.
pub fn array_slice(a: &[Value], start: i64, end: i64) -> Value {
    let len = a.len() as i64;
    let s = if start < 0 { len + start } else { start }.max(0);
    let e = if end < 0 { len + end } else { end }.min(len - 1);
    if s > e || s >= len {
        return Value::Array(Vec::new());
    }
    Value::Array(a[s as usize..=e as usize].to_vec())
}

/// `array_index_of(a, v, start, length, occurrence)`; `None` for invalid arguments.
pub fn array_index_of(
    a: &[Value],
    v: &Value,
    start: i64,
    length: i64,
    occurrence: i64,
) -> Option<i64> {
    if occurrence < 0 || length < -1 {
        return None;
    }
    let len = a.len() as i64;
    let s = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    if s >= len {
        return Some(-1);
    }
    let end = if length == -1 {
        len
    } else {
        s.saturating_add(length).min(len)
    };
    let want = occurrence.max(1);
    let mut seen = 0;
    for i in s..end {
        if json_equal(&a[i as usize], v) {
            seen += 1;
            if seen == want {
                return Some(i);
            }
        }
    }
    Some(-1)
}

/// Splits a `bag_has_key` key (`name` or JSONPath `$.a.b` / `$['a']`) into its steps.
fn json_path(key: &str) -> Option<Vec<String>> {
    let Some(rest) = key.strip_prefix('$') else {
        return Some(vec![key.to_string()]);
    };
    let mut steps = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if c == '.' || c == '[' {
                        break;
                    }
                    name.push(c);
                    chars.next();
                }
                steps.push(name);
            }
            '[' => {
                let q = chars.next()?;
                if q != '\'' && q != '"' {
                    return None;
                }
                let mut name = String::new();
                for c in chars.by_ref() {
                    if c == q {
                        break;
                    }
                    name.push(c);
                }
                if chars.next()? != ']' {
                    return None;
                }
                steps.push(name);
            }
            _ => return None,
        }
    }
    Some(steps)
}

/// `bag_has_key(bag, key)`; `None` when `bag` is not a property bag.
pub fn bag_has_key(bag: &Value, key: &str) -> Option<bool> {
    let Value::Object(_) = bag else { return None };
    let steps = json_path(key)?;
    let mut cur = bag;
    for s in &steps {
        match cur {
            Value::Object(m) => match m.get(s) {
                Some(v) => cur = v,
                None => return Some(false),
            },
            _ => return Some(false),
        }
    }
    Some(true)
}

fn key_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        v => Some(v.to_string()),
    }
}

impl DynFn {
    fn compute(&self, a: &[ArgValues], n: usize) -> ArrayRef {
        match self.op {
            DynOp::ParseJson => dynamic_array((0..n).map(|i| Some(a[0].parsed_at(i)))),
            DynOp::ArrayLength => {
                let out: Int64Array = (0..n)
                    .map(|i| match &*a[0].at(i) {
                        Value::Array(v) => Some(v.len() as i64),
                        _ => None,
                    })
                    .collect();
                Arc::new(out)
            }
            DynOp::BagKeys => dynamic_array((0..n).map(|i| match &*a[0].at(i) {
                Value::Object(m) => Some(Value::Array(
                    m.keys().map(|k| Value::String(k.clone())).collect(),
                )),
                _ => None,
            })),
            DynOp::BagPack => dynamic_array((0..n).map(|i| {
                let mut m = Map::new();
                for pair in a.chunks(2) {
                    if let [k, v] = pair
                        && let Some(k) = key_string(&k.at(i))
                    {
                        m.insert(k, v.at(i).into_owned());
                    }
                }
                Some(Value::Object(m))
            })),
            DynOp::PackArray => dynamic_array((0..n).map(|i| {
                Some(Value::Array(
                    a.iter().map(|v| v.at(i).into_owned()).collect(),
                ))
            })),
            DynOp::Get => dynamic_array((0..n).map(|i| Some(dyn_get(&a[0].at(i), &a[1].at(i))))),
            DynOp::ArrayConcat => dynamic_array((0..n).map(|i| {
                let mut out = Vec::new();
                for v in a {
                    match v.at(i).into_owned() {
                        Value::Array(items) => out.extend(items),
                        _ => return None,
                    }
                }
                Some(Value::Array(out))
            })),
            DynOp::ArraySlice => dynamic_array((0..n).map(|i| match &*a[0].at(i) {
                Value::Array(v) => Some(array_slice(
                    v,
                    json_i64(&a[1].at(i))?,
                    json_i64(&a[2].at(i))?,
                )),
                _ => None,
            })),
            DynOp::ArrayIndexOf => {
                let out: Int64Array = (0..n)
                    .map(|i| {
                        let arr = a[0].at(i);
                        let Value::Array(items) = &*arr else {
                            return None;
                        };
                        let opt = |k: usize, default: i64| match a.get(k) {
                            Some(v) => json_i64(&v.at(i)),
                            None => Some(default),
                        };
                        array_index_of(items, &a[1].at(i), opt(2, 0)?, opt(3, -1)?, opt(4, 1)?)
                    })
                    .collect();
                Arc::new(out)
            }
            DynOp::SetHasElement => {
                let out: BooleanArray = (0..n)
                    .map(|i| match &*a[0].at(i) {
                        Value::Array(items) => {
                            let v = a[1].at(i);
                            Some(items.iter().any(|x| json_equal(x, &v)))
                        }
                        _ => None,
                    })
                    .collect();
                Arc::new(out)
            }
            DynOp::BagHasKey => {
                let out: BooleanArray = (0..n)
                    .map(|i| {
                        let k = a[1].at(i);
                        bag_has_key(&a[0].at(i), &key_string(&k)?)
                    })
                    .collect();
                Arc::new(out)
            }
            DynOp::ArraySum => {
                let out: Float64Array = (0..n)
                    .map(|i| match &*a[0].at(i) {
                        Value::Array(items) => items.iter().map(json_f64).sum::<Option<f64>>(),
                        _ => None,
                    })
                    .collect();
                Arc::new(out)
            }
            DynOp::ArrayReverse => dynamic_array((0..n).map(|i| match a[0].at(i).into_owned() {
                Value::Array(mut v) => {
                    v.reverse();
                    Some(Value::Array(v))
                }
                _ => None,
            })),
            DynOp::BagMerge => dynamic_array((0..n).map(|i| {
                let mut m = Map::new();
                for v in a {
                    if let Value::Object(o) = v.at(i).into_owned() {
                        for (k, v) in o {
                            m.entry(k).or_insert(v);
                        }
                    }
                }
                Some(Value::Object(m))
            })),
            DynOp::BagRemoveKeys => dynamic_array((0..n).map(|i| match a[0].at(i).into_owned() {
                Value::Object(mut m) => {
                    if let Value::Array(keys) = &*a[1].at(i) {
                        for k in keys.iter().filter_map(key_string) {
                            remove_path(&mut m, &k);
                        }
                    }
                    Some(Value::Object(m))
                }
                _ => None,
            })),
            DynOp::BagSetKey => dynamic_array((0..n).map(|i| {
                let key = key_string(&a[1].at(i))?;
                let steps = json_path(&key)?;
                arrays::bag_set_key(&a[0].at(i), &steps, a[2].at(i).into_owned())
            })),
            DynOp::SetUnion | DynOp::SetIntersect | DynOp::SetDifference => {
                let f = match self.op {
                    DynOp::SetUnion => arrays::set_union,
                    DynOp::SetIntersect => arrays::set_intersect,
                    _ => arrays::set_difference,
                };
                dynamic_array((0..n).map(|i| {
                    let vals: Vec<Cow<'_, Value>> = a.iter().map(|v| v.at(i)).collect();
                    let refs: Vec<&Value> = vals.iter().map(|v| v.as_ref()).collect();
                    f(&refs)
                }))
            }
            DynOp::StrcatArray => {
                let out: StringArray = (0..n)
                    .map(|i| {
                        let d = arrays::element_text(&a[1].at(i));
                        Some(arrays::strcat_array(&a[0].at(i), &d))
                    })
                    .collect();
                Arc::new(out)
            }
            DynOp::SortAsc | DynOp::SortDesc => dynamic_array((0..n).map(|i| {
                let nulls_last = match a.get(1) {
                    Some(v) => v.at(i).as_bool().unwrap_or(true),
                    None => true,
                };
                arrays::sort_array(&a[0].at(i), self.op == DynOp::SortDesc, nulls_last)
            })),
            DynOp::RotateLeft | DynOp::RotateRight => dynamic_array((0..n).map(|i| {
                let k = json_i64(&a[1].at(i))?;
                let k = if self.op == DynOp::RotateRight {
                    k.checked_neg()?
                } else {
                    k
                };
                arrays::rotate_left(&a[0].at(i), k)
            })),
            DynOp::ShiftLeft | DynOp::ShiftRight => dynamic_array((0..n).map(|i| {
                let k = json_i64(&a[1].at(i))?;
                let k = if self.op == DynOp::ShiftRight {
                    k.checked_neg()?
                } else {
                    k
                };
                let fill = a.get(2).map(|f| f.at(i));
                arrays::shift_left(&a[0].at(i), k, fill.as_deref())
            })),
        }
    }
}

/// Removes a key (or JSONPath) from a bag.
fn remove_path(m: &mut Map<String, Value>, key: &str) {
    let Some(steps) = json_path(key) else { return };
    let Some((last, init)) = steps.split_last() else {
        return;
    };
    let mut cur = m;
    for s in init {
        match cur.get_mut(s) {
            Some(Value::Object(next)) => cur = next,
            _ => return,
        }
    }
    cur.shift_remove(last);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn helpers() {
        let arr = json!([1, 2, 3, 4, 5]);
        let Value::Array(items) = &arr else { panic!() };
        assert_eq!(array_slice(&items[..3], 1, 2), json!([2, 3]));
        assert_eq!(array_slice(items, 2, -1), json!([3, 4, 5]));
        assert_eq!(array_slice(items, -3, -2), json!([3, 4]));
        assert_eq!(array_slice(items, 3, 1), json!([]));
        assert_eq!(array_slice(items, 3, 100), json!([4, 5]));
        assert_eq!(dyn_get(&arr, &json!(-1)), json!(5));
        assert_eq!(dyn_get(&arr, &json!(9)), Value::Null);
        assert_eq!(
            dyn_get(&json!({"a": {"b": 1}}), &json!("a")),
            json!({"b": 1})
        );
        assert_eq!(dyn_get(&json!({"a": 1}), &json!(0)), Value::Null);
    }

    #[test]
    fn index_of_doc_examples() {
        let arr = json!(["this", "is", "an", "example", "an", "example"]);
        let Value::Array(a) = &arr else { panic!() };
        let s = |x: &str| json!(x);
        assert_eq!(array_index_of(a, &s("an"), 0, -1, 1), Some(2));
        assert_eq!(array_index_of(a, &s("example"), 1, 3, 1), Some(3));
        assert_eq!(array_index_of(a, &s("example"), 1, 2, 1), Some(-1));
        assert_eq!(array_index_of(a, &s("is"), 2, 4, 1), Some(-1));
        assert_eq!(array_index_of(a, &s("example"), 2, -1, 1), Some(3));
        assert_eq!(array_index_of(a, &s("an"), 1, -1, 2), Some(4));
        assert_eq!(array_index_of(a, &s("an"), 1, -1, 3), Some(-1));
        assert_eq!(array_index_of(a, &s("an"), -3, -1, 1), Some(4));
        assert_eq!(array_index_of(a, &s("is"), -4, -1, 1), Some(-1));
        assert_eq!(array_index_of(a, &s("is"), 0, -2, 1), None);
    }

    #[test]
    fn bag_keys_and_paths() {
        let b = json!({"key1": 123, "key2": {"prop1": "abc"}, "key3": [100, 200]});
        assert_eq!(bag_has_key(&b, "key2"), Some(true));
        assert_eq!(bag_has_key(&b, "key4"), Some(false));
        assert_eq!(bag_has_key(&b, "$.key2.prop1"), Some(true));
        assert_eq!(bag_has_key(&b, "$['key2']['prop2']"), Some(false));
        assert_eq!(bag_has_key(&json!([1]), "a"), None);
        let Value::Object(mut m) = b else { panic!() };
        remove_path(&mut m, "$.key2.prop1");
        remove_path(&mut m, "key1");
        assert_eq!(Value::Object(m), json!({"key2": {}, "key3": [100, 200]}));
    }
}
