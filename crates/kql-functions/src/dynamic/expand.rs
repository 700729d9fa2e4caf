//! The internal functions behind `mv-expand` and `mv-apply` (the planner unnests their
//! lists with DataFusion's `Unnest`, so the expansion itself is vectorised):
//!
//! * `__mv_items(value, bags_as_arrays, limit)`: the elements a dynamic value expands to,
//!   as a list of dynamic values: an array's elements; a property bag's entries as
//!   single-entry bags (`kind=bag`) or `[key, value]` arrays (`kind=array`); a null value
//!   one null element; an empty array or bag none; any other value itself. At most `limit`.
//! * `__mv_index(list, ...)`: `[0, 1, ..., n - 1]` for the longest of the lists
//!   (`with_itemindex`).
//! * `__dyn_kind(value)`: the JSON kind of a dynamic value (`null`, `bool`, `long`,
//!   `real`, `string`, `array`, `object`), for `to typeof(T)`, which keeps only elements of
//!   the declared type.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Builder, LargeStringBuilder, ListBuilder, StringBuilder,
};
use arrow::datatypes::{DataType, Field};
use datafusion_common::{Result, ScalarValue, exec_err, plan_err};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::{Map, Value};

use super::json::parse_dynamic_text;
use crate::Registry;

/// Registers the functions.
pub(crate) fn register(r: &mut Registry) {
    for op in [Op::Items, Op::Index, Op::Kind] {
        r.add_scalar(op.name(), ScalarUDF::new_from_impl(Expand::new(op)));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Items,
    Index,
    Kind,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Items => "__mv_items",
            Op::Index => "__mv_index",
            Op::Kind => "__dyn_kind",
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Expand {
    op: Op,
    signature: Signature,
}

impl Expand {
    fn new(op: Op) -> Self {
        Expand {
            op,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn list_of(dt: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", dt, true)))
}

/// A constant argument (`bags_as_arrays`, `limit`).
fn constant(args: &[ColumnarValue], i: usize) -> Option<ScalarValue> {
    match args.get(i)? {
        ColumnarValue::Scalar(s) => Some(s.clone()),
        ColumnarValue::Array(a) if !a.is_empty() => ScalarValue::try_from_array(a, 0).ok(),
        ColumnarValue::Array(_) => None,
    }
}

/// The elements `v` expands to.
fn items(v: Value, bags_as_arrays: bool, limit: usize, out: &mut Vec<Option<String>>) {
    let text = |v: &Value| match v {
        Value::Null => None,
        other => Some(other.to_string()),
    };
    match v {
        Value::Array(a) => out.extend(a.iter().take(limit).map(text)),
        Value::Object(o) => {
            for (k, val) in o.into_iter().take(limit) {
                let item = if bags_as_arrays {
                    Value::Array(vec![Value::String(k), val])
                } else {
                    let mut m = Map::new();
                    m.insert(k, val);
                    Value::Object(m)
                };
                out.push(Some(item.to_string()));
            }
        }
        other => {
            if limit > 0 {
                out.push(text(&other));
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "long",
        Value::Number(_) => "real",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Row `i` of a dynamic column as JSON (an Arrow null is JSON null).
fn value_at(a: &dyn Array, i: usize) -> Value {
    if a.is_null(i) {
        return Value::Null;
    }
    let text = match a.data_type() {
        DataType::LargeUtf8 => a.as_string::<i64>().value(i),
        DataType::Utf8 => a.as_string::<i32>().value(i),
        _ => return Value::Null,
    };
    parse_dynamic_text(text)
}

impl ScalarUDFImpl for Expand {
    fn name(&self) -> &str {
        self.op.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match self.op {
            Op::Items if arg_types.len() == 3 => Ok(vec![
                DataType::LargeUtf8,
                DataType::Boolean,
                DataType::Int64,
            ]),
            Op::Kind if arg_types.len() == 1 => Ok(vec![DataType::LargeUtf8]),
            Op::Index if !arg_types.is_empty() => Ok(arg_types.to_vec()),
            _ => plan_err!("{}(): wrong arguments {arg_types:?}", self.op.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.op {
            Op::Items => list_of(DataType::LargeUtf8),
            Op::Index => list_of(DataType::Int64),
            Op::Kind => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(n))
            .collect::<Result<_>>()?;
        let out: ArrayRef = match self.op {
            Op::Items => {
                let bags_as_arrays = matches!(
                    constant(&args.args, 1),
                    Some(ScalarValue::Boolean(Some(true)))
                );
                let limit = match constant(&args.args, 2) {
                    Some(ScalarValue::Int64(Some(l))) => usize::try_from(l).unwrap_or(0),
                    _ => usize::MAX,
                };
                let mut b = ListBuilder::new(LargeStringBuilder::new());
                let mut buf = Vec::new();
                for i in 0..n {
                    buf.clear();
                    let v = value_at(arrays[0].as_ref(), i);
                    if v.is_null() {
                        buf.push(None);
                    } else {
                        items(v, bags_as_arrays, limit, &mut buf);
                    }
                    for item in buf.drain(..) {
                        b.values().append_option(item);
                    }
                    b.append(true);
                }
                Arc::new(b.finish())
            }
            Op::Index => {
                let mut b = ListBuilder::new(Int64Builder::new());
                for i in 0..n {
                    let mut longest = 0usize;
                    for a in &arrays {
                        let len = match a.data_type() {
                            DataType::List(_) => {
                                let l = a.as_list::<i32>();
                                if l.is_null(i) {
                                    0
                                } else {
                                    l.value_length(i) as usize
                                }
                            }
                            DataType::LargeList(_) => {
                                let l = a.as_list::<i64>();
                                if l.is_null(i) {
                                    0
                                } else {
                                    l.value_length(i) as usize
                                }
                            }
                            other => return exec_err!("__mv_index(): not a list: {other}"),
                        };
                        longest = longest.max(len);
                    }
                    for k in 0..longest {
                        b.values().append_value(k as i64);
                    }
                    b.append(true);
                }
                Arc::new(b.finish())
            }
            Op::Kind => {
                let mut b = StringBuilder::new();
                for i in 0..n {
                    b.append_value(kind(&value_at(arrays[0].as_ref(), i)));
                }
                Arc::new(b.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(text: &str, arrays: bool, limit: usize) -> Vec<Option<String>> {
        let mut out = Vec::new();
        let v = parse_dynamic_text(text);
        if v.is_null() {
            return vec![None];
        }
        items(v, arrays, limit, &mut out);
        out
    }

    #[test]
    fn arrays_bags_and_scalars_expand_as_the_docs_say() {
        assert_eq!(
            expand("[10,20]", false, usize::MAX),
            vec![Some("10".into()), Some("20".into())]
        );
        assert_eq!(
            expand(r#"{"prop1":"a1","prop2":"b1"}"#, false, usize::MAX),
            vec![
                Some(r#"{"prop1":"a1"}"#.into()),
                Some(r#"{"prop2":"b1"}"#.into())
            ]
        );
        assert_eq!(
            expand(r#"{"prop1":"a1"}"#, true, usize::MAX),
            vec![Some(r#"["prop1","a1"]"#.into())]
        );
        assert!(expand("[]", false, usize::MAX).is_empty());
        assert!(expand("{}", false, usize::MAX).is_empty());
        assert_eq!(expand("null", false, usize::MAX), vec![None]);
        assert_eq!(expand("[1,null,3]", false, 2), vec![Some("1".into()), None]);
        assert_eq!(expand("5", false, usize::MAX), vec![Some("5".into())]);
    }

    #[test]
    fn kinds() {
        let k = |t: &str| kind(&parse_dynamic_text(t));
        assert_eq!(k("1"), "long");
        assert_eq!(k("1.5"), "real");
        assert_eq!(k("\"a\""), "string");
        assert_eq!(k("[1]"), "array");
        assert_eq!(k("{}"), "object");
        assert_eq!(k("true"), "bool");
    }
}
