//! `buildschema(DynamicExpr)`: the minimal schema that admits every value of the group.
//!
//! Kusto's schema model (docs, `buildschema()`):
//!
//! ```text
//! Container ::= '{' Named-type* '}'
//! Named-type ::= (name | '"`indexer`"') ':' Type
//! Type ::= Primitive-type | Union-type | Container
//! Union-type ::= '[' Type* ']'
//! ```
//!
//! An object is a container of its properties, an array a container whose `` `indexer` ``
//! holds its elements' type; containers met at the same place are merged (so arrays and
//! objects there share one container), and a place that held several kinds of value is a
//! union, in the order they were first seen. Primitives are named as the docs' example
//! names them: `long` (integral numbers), `double`, `string`, `bool`. Nulls add nothing;
//! a group without a value gives null.
//!
//! The partial state is the schema built so far, as its JSON text: a schema reads back
//! unambiguously (a string is a primitive, an object a container, an array a union).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion_common::{Result, ScalarValue, exec_err, plan_err};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::utils::format_state_name;
use datafusion_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use serde_json::{Map, Value};

use crate::Registry;
use crate::catalog::{Arity, Naming};
use crate::dynamic::{dynamic_to_json, parse_dynamic_text};

/// The property name of an array's elements.
pub const INDEXER: &str = "`indexer`";

/// Registers `buildschema` (results named `schema_<argument>`).
pub(crate) fn register(r: &mut Registry) {
    r.add_aggregate(
        "buildschema",
        AggregateUDF::new_from_impl(BuildSchema::new()),
        Arity::exactly(1),
        Naming::Prefix("schema"),
    );
}

/// One kind of value a place of the schema held (the container itself is kept apart).
#[derive(Debug, Clone, PartialEq)]
enum Member {
    Primitive(String),
    Container,
}

/// An object or array: its properties (`` `indexer` `` for elements) in first-seen order.
#[derive(Debug, Clone, PartialEq, Default)]
struct Container {
    fields: Vec<(String, Schema)>,
    index: HashMap<String, usize>,
}

impl Container {
    fn field(&mut self, name: &str) -> &mut Schema {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.fields.push((name.to_string(), Schema::default()));
                self.index.insert(name.to_string(), self.fields.len() - 1);
                self.fields.len() - 1
            }
        };
        &mut self.fields[i].1
    }

    fn merge(&mut self, other: &Container) {
        for (name, t) in &other.fields {
            self.field(name).merge(t);
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (name, t) in &self.fields {
            m.insert(name.clone(), t.to_json());
        }
        Value::Object(m)
    }
}

/// The schema of one place: a union of primitives and at most one container.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    members: Vec<Member>,
    container: Option<Box<Container>>,
}

impl Schema {
    /// Whether no value was seen.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn add_primitive(&mut self, name: &str) {
        let known = self
            .members
            .iter()
            .any(|m| matches!(m, Member::Primitive(p) if p == name));
        if !known {
            self.members.push(Member::Primitive(name.to_string()));
        }
    }

    fn container(&mut self) -> &mut Container {
        if self.container.is_none() {
            self.members.push(Member::Container);
        }
        self.container.get_or_insert_with(Box::default)
    }

    /// Adds one value.
    pub fn add_value(&mut self, v: &Value) {
        match v {
            Value::Null => {}
            Value::Bool(_) => self.add_primitive("bool"),
            Value::Number(n) if n.is_i64() || n.is_u64() => self.add_primitive("long"),
            Value::Number(_) => self.add_primitive("double"),
            Value::String(_) => self.add_primitive("string"),
            Value::Object(m) => {
                let c = self.container();
                for (k, x) in m {
                    if !x.is_null() {
                        c.field(k).add_value(x);
                    }
                }
            }
            Value::Array(items) => {
                let c = self.container();
                for x in items {
                    if !x.is_null() {
                        c.field(INDEXER).add_value(x);
                    }
                }
            }
        }
    }

    /// Merges another schema into this one.
    pub fn merge(&mut self, other: &Schema) {
        for m in &other.members {
            match m {
                Member::Primitive(p) => self.add_primitive(p),
                Member::Container => {
                    if let Some(c) = &other.container {
                        self.container().merge(c);
                    }
                }
            }
        }
    }

    /// The schema as Kusto writes it: a single member alone, several as an array.
    pub fn to_json(&self) -> Value {
        let member = |m: &Member| match (m, &self.container) {
            (Member::Primitive(p), _) => Value::String(p.clone()),
            (Member::Container, Some(c)) => c.to_json(),
            (Member::Container, None) => Value::Object(Map::new()),
        };
        match self.members.as_slice() {
            [] => Value::Null,
            [m] => member(m),
            ms => Value::Array(ms.iter().map(member).collect()),
        }
    }

    /// Reads back a schema written by [`Schema::to_json`].
    pub fn from_json(v: &Value) -> Schema {
        let mut s = Schema::default();
        s.read(v);
        s
    }

    fn read(&mut self, v: &Value) {
        match v {
            Value::String(p) => self.add_primitive(p),
            Value::Object(m) => {
                let c = self.container();
                for (k, t) in m {
                    let t = Schema::from_json(t);
                    c.field(k).merge(&t);
                }
            }
            Value::Array(items) => items.iter().for_each(|x| self.read(x)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// The `buildschema` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BuildSchema {
    signature: Signature,
}

impl BuildSchema {
    /// The aggregate.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for BuildSchema {
    fn default() -> Self {
        Self::new()
    }
}

impl AggregateUDFImpl for BuildSchema {
    fn name(&self) -> &str {
        "buildschema"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 1 {
            return plan_err!(
                "buildschema(): expected 1 argument, got {}",
                arg_types.len()
            );
        }
        Ok(arg_types.to_vec())
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::LargeUtf8)
    }
    fn accumulator(&self, _acc_args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(BuildSchemaAcc::default()))
    }
    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "schema"),
            DataType::LargeUtf8,
            true,
        ))])
    }
}

/// The accumulator of `buildschema`.
#[derive(Debug, Default)]
pub struct BuildSchemaAcc {
    schema: Schema,
    bytes: usize,
}

impl BuildSchemaAcc {
    fn value(&self) -> ScalarValue {
        ScalarValue::LargeUtf8(match self.schema.to_json() {
            Value::Null => None,
            v => Some(v.to_string()),
        })
    }
}

impl Accumulator for BuildSchemaAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(x) = values.first() else {
            return Ok(());
        };
        for i in 0..x.len() {
            if x.is_valid(i) {
                self.schema.add_value(&dynamic_to_json(x.as_ref(), i));
            }
        }
        self.bytes = self.schema.to_json().to_string().len();
        Ok(())
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value())
    }
    fn size(&self) -> usize {
        size_of::<Self>() + 4 * self.bytes
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.value()])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(s) = states.first() else {
            return Ok(());
        };
        let Some(texts) = s.as_string_opt::<i64>() else {
            return exec_err!("buildschema: unexpected state type {}", s.data_type());
        };
        for i in 0..texts.len() {
            if texts.is_valid(i) {
                let other = Schema::from_json(&parse_dynamic_text(texts.value(i)));
                self.schema.merge(&other);
            }
        }
        self.bytes = self.schema.to_json().to_string().len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, LargeStringArray, StringArray};

    fn run(values: Vec<Option<&str>>) -> Option<String> {
        let mut a = BuildSchemaAcc::default();
        a.update_batch(&[Arc::new(LargeStringArray::from(values)) as ArrayRef])
            .expect("update");
        match a.evaluate().expect("eval") {
            ScalarValue::LargeUtf8(v) => v,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn docs_example() {
        let out = run(vec![
            Some(r#"{"x":1, "y":3.5}"#),
            Some(r#"{"x":"somevalue", "z":[1, 2, 3]}"#),
            Some(r#"{"y":{"w":"zzz"}, "t":["aa", "bb"], "z":["foo"]}"#),
        ]);
        assert_eq!(
            out.as_deref(),
            Some(
                r#"{"x":["long","string"],"y":["double",{"w":"string"}],"z":{"`indexer`":["long","string"]},"t":{"`indexer`":"string"}}"#
            )
        );
    }

    #[test]
    fn primitives_nulls_and_empty_groups() {
        assert_eq!(run(vec![]), None);
        assert_eq!(run(vec![None, Some("null")]), None);
        assert_eq!(
            run(vec![Some("1"), Some("true"), Some("2"), Some(r#""s""#)]).as_deref(),
            Some(r#"["long","bool","string"]"#)
        );
        // A null property adds nothing; an empty array is an empty container.
        assert_eq!(
            run(vec![Some(r#"{"a":null,"b":[]}"#)]).as_deref(),
            Some(r#"{"b":{}}"#)
        );
        // Arrays and objects at one place share one container.
        assert_eq!(
            run(vec![Some("[1]"), Some(r#"{"k":1.5}"#)]).as_deref(),
            Some(r#"{"`indexer`":"long","k":"double"}"#)
        );
        // Non-dynamic arguments are their JSON values.
        let mut a = BuildSchemaAcc::default();
        a.update_batch(&[Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef])
            .expect("update");
        a.update_batch(&[Arc::new(StringArray::from(vec!["x"])) as ArrayRef])
            .expect("update");
        assert_eq!(
            a.evaluate().expect("eval"),
            ScalarValue::LargeUtf8(Some(r#"["long","string"]"#.into()))
        );
    }

    #[test]
    fn partial_states_merge_like_one_pass() {
        let mut a = BuildSchemaAcc::default();
        let mut b = BuildSchemaAcc::default();
        a.update_batch(&[
            Arc::new(LargeStringArray::from(vec![r#"{"x":1, "y":3.5}"#])) as ArrayRef,
        ])
        .expect("a");
        b.update_batch(&[Arc::new(LargeStringArray::from(vec![
            r#"{"x":"somevalue", "z":[1, 2, 3]}"#,
            r#"{"y":{"w":"zzz"}, "t":["aa", "bb"], "z":["foo"]}"#,
        ])) as ArrayRef])
            .expect("b");
        let st = b.state().expect("state")[0].to_array().expect("array");
        a.merge_batch(&[st]).expect("merge");
        assert_eq!(
            a.evaluate().expect("eval"),
            ScalarValue::LargeUtf8(Some(
                r#"{"x":["long","string"],"y":["double",{"w":"string"}],"z":{"`indexer`":["long","string"]},"t":{"`indexer`":"string"}}"#
                    .into()
            ))
        );
    }
}
