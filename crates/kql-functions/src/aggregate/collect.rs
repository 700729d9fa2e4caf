//! `make_list`, `make_list_if`, `make_list_with_nulls`, `make_set`, `make_set_if`,
//! `make_bag` and `make_bag_if`: aggregates that build a `dynamic` value.
//!
//! Partial states are the `dynamic` value built so far (LargeUtf8 JSON text).

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion_common::{Result, ScalarValue, exec_err, plan_err};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::utils::format_state_name;
use datafusion_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use serde_json::{Map, Value};

use super::{literal_i64, predicate_true};
use crate::dynamic::{dynamic_to_json, parse_dynamic_text};

/// Default and largest `maxSize` of the `make_*` aggregates.
pub const MAX_SIZE: usize = 1_048_576;

/// What a [`Collect`] aggregate builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An array of all non-null values.
    List,
    /// An array of all values, nulls included.
    ListWithNulls,
    /// An array of the distinct values (array inputs are expanded), first seen first.
    Set,
    /// A property bag merging all property-bag inputs (first value of a key wins).
    Bag,
}

/// A `make_*` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Collect {
    name: &'static str,
    kind: Kind,
    conditional: bool,
    signature: Signature,
}

impl Collect {
    /// The aggregate `name` building `kind`; `conditional` adds a predicate argument.
    pub fn new(name: &'static str, kind: Kind, conditional: bool) -> Self {
        Self {
            name,
            kind,
            conditional,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn max_index(&self) -> usize {
        if self.conditional { 2 } else { 1 }
    }
}

impl AggregateUDFImpl for Collect {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let min = self.max_index();
        if arg_types.len() < min || arg_types.len() > min + 1 {
            return plan_err!(
                "{}(): wrong number of arguments ({})",
                self.name,
                arg_types.len()
            );
        }
        let mut out = arg_types.to_vec();
        if self.conditional {
            out[1] = DataType::Boolean;
        }
        if let Some(t) = out.get_mut(min) {
            if !(t.is_integer() || matches!(t, DataType::Null)) {
                return plan_err!("{}(): maxSize must be an int", self.name);
            }
            *t = DataType::Int64;
        }
        Ok(out)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::LargeUtf8)
    }
    fn is_nullable(&self) -> bool {
        false
    }
    fn accumulator(&self, acc_args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        let max = literal_i64(&acc_args, self.max_index())
            .and_then(|m| usize::try_from(m).ok())
            .filter(|m| *m > 0)
            .map_or(MAX_SIZE, |m| m.min(MAX_SIZE));
        Ok(Box::new(CollectAcc::new(self.kind, self.conditional, max)))
    }
    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "dynamic"),
            DataType::LargeUtf8,
            true,
        ))])
    }
    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        let empty = if self.kind == Kind::Bag { "{}" } else { "[]" };
        Ok(ScalarValue::LargeUtf8(Some(empty.to_string())))
    }
}

/// The accumulator of the `make_*` aggregates.
#[derive(Debug)]
pub struct CollectAcc {
    kind: Kind,
    conditional: bool,
    max: usize,
    items: Vec<Value>,
    seen: HashSet<String>,
    bag: Map<String, Value>,
    bytes: usize,
}

impl CollectAcc {
    /// An empty accumulator.
    pub fn new(kind: Kind, conditional: bool, max: usize) -> Self {
        Self {
            kind,
            conditional,
            max,
            items: Vec::new(),
            seen: HashSet::new(),
            bag: Map::new(),
            bytes: 0,
        }
    }

    fn full(&self) -> bool {
        match self.kind {
            Kind::Bag => self.bag.len() >= self.max,
            _ => self.items.len() >= self.max,
        }
    }

    fn add_set_item(&mut self, v: Value) {
        if v.is_null() || self.items.len() >= self.max {
            return;
        }
        let key = v.to_string();
        if !self.seen.contains(&key) {
            self.bytes += key.len() * 2;
            self.seen.insert(key);
            self.items.push(v);
        }
    }

    /// Adds one input value (already converted to JSON).
    pub fn add(&mut self, v: Value) {
        match self.kind {
            Kind::List => {
                if !v.is_null() && !self.full() {
                    self.bytes += 16;
                    self.items.push(v);
                }
            }
            Kind::ListWithNulls => {
                if !self.full() {
                    self.bytes += 16;
                    self.items.push(v);
                }
            }
            Kind::Set => match v {
                Value::Array(items) => items.into_iter().for_each(|x| self.add_set_item(x)),
                v => self.add_set_item(v),
            },
            Kind::Bag => {
                if let Value::Object(m) = v {
                    self.add_bag(m);
                }
            }
        }
    }

    fn add_bag(&mut self, m: Map<String, Value>) {
        for (k, v) in m {
            if self.bag.len() >= self.max {
                break;
            }
            if !self.bag.contains_key(&k) {
                self.bytes += k.len() + 16;
                self.bag.insert(k, v);
            }
        }
    }

    /// The value built so far.
    pub fn value(&self) -> Value {
        match self.kind {
            Kind::Bag => Value::Object(self.bag.clone()),
            _ => Value::Array(self.items.clone()),
        }
    }
}

impl Accumulator for CollectAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(x) = values.first() else {
            return Ok(());
        };
        let pred: Option<&BooleanArray> = if self.conditional {
            values.get(1).and_then(|p| p.as_boolean_opt())
        } else {
            None
        };
        for i in 0..x.len() {
            if self.full() {
                break;
            }
            if self.conditional && !pred.is_some_and(|p| predicate_true(p, i)) {
                continue;
            }
            if x.is_null(i) && self.kind != Kind::ListWithNulls {
                continue;
            }
            self.add(dynamic_to_json(x.as_ref(), i));
        }
        Ok(())
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::LargeUtf8(Some(self.value().to_string())))
    }
    fn size(&self) -> usize {
        size_of::<Self>() + self.bytes + self.items.capacity() * size_of::<Value>()
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::LargeUtf8(Some(self.value().to_string()))])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(s) = states.first() else {
            return Ok(());
        };
        let Some(texts) = s.as_string_opt::<i64>() else {
            return exec_err!("make_*: unexpected state type {}", s.data_type());
        };
        for i in 0..texts.len() {
            if texts.is_null(i) {
                continue;
            }
            match (self.kind, parse_dynamic_text(texts.value(i))) {
                (Kind::Bag, Value::Object(m)) => self.add_bag(m),
                (Kind::Set, Value::Array(items)) => {
                    items.into_iter().for_each(|x| self.add_set_item(x))
                }
                (Kind::List | Kind::ListWithNulls, Value::Array(items)) => {
                    let room = self.max.saturating_sub(self.items.len());
                    self.items.extend(items.into_iter().take(room));
                }
                _ => return exec_err!("make_*: malformed partial state"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, LargeStringArray, StringArray};
    use serde_json::json;

    fn run(kind: Kind, max: usize, batches: Vec<Vec<ArrayRef>>) -> Value {
        let mut a = CollectAcc::new(kind, batches.first().is_some_and(|b| b.len() > 1), max);
        for b in batches {
            a.update_batch(&b).expect("update");
        }
        match a.evaluate().expect("eval") {
            ScalarValue::LargeUtf8(Some(s)) => parse_dynamic_text(&s),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn lists() {
        let x: ArrayRef = Arc::new(StringArray::from(vec![
            Some("triangle"),
            None,
            Some("square"),
            Some("triangle"),
        ]));
        assert_eq!(
            run(Kind::List, MAX_SIZE, vec![vec![Arc::clone(&x)]]),
            json!(["triangle", "square", "triangle"])
        );
        assert_eq!(
            run(Kind::List, 2, vec![vec![Arc::clone(&x)]]),
            json!(["triangle", "square"])
        );
        assert_eq!(
            run(Kind::ListWithNulls, MAX_SIZE, vec![vec![Arc::clone(&x)]]),
            json!(["triangle", null, "square", "triangle"])
        );
        let pred: ArrayRef = Arc::new(BooleanArray::from(vec![false, true, true, true]));
        assert_eq!(
            run(Kind::List, MAX_SIZE, vec![vec![x, pred]]),
            json!(["square", "triangle"])
        );
    }

    #[test]
    fn sets_keep_first_seen_order() {
        let v: ArrayRef = Arc::new(Int64Array::from(vec![5, 1, 5, 7, 1]));
        assert_eq!(run(Kind::Set, MAX_SIZE, vec![vec![v]]), json!([5, 1, 7]));
        let arrs: ArrayRef = Arc::new(LargeStringArray::from(vec![
            r#"["A1","A2","A3"]"#,
            r#"["A2","C1"]"#,
            r#"["C2","A3"]"#,
            r#"["C2","A1"]"#,
        ]));
        assert_eq!(
            run(Kind::Set, MAX_SIZE, vec![vec![arrs]]),
            json!(["A1", "A2", "A3", "C1", "C2"])
        );
    }

    #[test]
    fn bags() {
        let b: ArrayRef = Arc::new(LargeStringArray::from(vec![
            Some(r#"{"prop01":"val_a"}"#),
            Some(r#"{"prop02":"val_b","prop01":"other"}"#),
            Some("[1]"),
            None,
            Some(r#"{"prop03":"val_c"}"#),
        ]));
        assert_eq!(
            run(Kind::Bag, MAX_SIZE, vec![vec![b]]),
            json!({"prop01": "val_a", "prop02": "val_b", "prop03": "val_c"})
        );
    }

    #[test]
    fn merge_states() {
        let mut a = CollectAcc::new(Kind::Set, false, MAX_SIZE);
        let mut b = CollectAcc::new(Kind::Set, false, MAX_SIZE);
        a.update_batch(&[Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef])
            .expect("a");
        b.update_batch(&[Arc::new(Int64Array::from(vec![2, 3])) as ArrayRef])
            .expect("b");
        let st = b.state().expect("state")[0].to_array().expect("array");
        a.merge_batch(&[st]).expect("merge");
        assert_eq!(a.value(), json!([1, 2, 3]));
        let mut l = CollectAcc::new(Kind::List, false, 3);
        let st: ArrayRef = Arc::new(LargeStringArray::from(vec!["[1,2]", "[3,4]"]));
        l.merge_batch(&[st]).expect("merge");
        assert_eq!(l.value(), json!([1, 2, 3]));
    }
}
