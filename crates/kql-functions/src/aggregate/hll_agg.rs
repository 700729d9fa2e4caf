//! `hll(x [, accuracy])`, `hll_if(x, predicate [, accuracy])`, `hll_merge(hll)` and the
//! scalar `dcount_hll(hll)`: `dcount`'s HyperLogLog sketch ([`Hll`]) as a `dynamic` value
//! that can be stored, merged and counted later.
//!
//! The `dynamic` value is `[[1024, <precision>], "<base64 of Hll::to_bytes>"]`: the
//! header is Kusto's (`[[1024,14], ...]`), the payload Calypso's own — the docs warn that
//! the representation is not stable, so only Calypso reads its sketches back. Kusto's
//! sparse form, `[[1024,14],["<signed hash>", ...],[]]`, is read too (its hashes are
//! counted as they are). Values hash exactly as `dcount` hashes them, so
//! `dcount_hll(hll(x, a)) == dcount(x, a)`.
//!
//! `hll_merge` of sketches of different accuracies folds them to the lowest (Kusto refuses
//! the merge). A value that is not a sketch is ignored by `hll_merge` and gives null in
//! `dcount_hll`, as invalid input does elsewhere.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion_common::{Result, ScalarValue, exec_err, plan_err};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::utils::format_state_name;
use datafusion_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;

use super::dcount::for_each_hash;
use super::hll::Hll;
use super::{literal_i64, predicate_true};
use crate::Registry;
use crate::catalog::{Arity, Naming};
use crate::dynamic::dynamic_to_json;
use crate::util::{all_scalar, finish};

/// Registers `hll`, `hll_if`, `hll_merge` (results named `<function>_<argument>`) and
/// `dcount_hll`. Kusto's scalar `hll_merge(hll1, hll2, ...)` shares its name with the
/// aggregate, and a name holds one function, so only the aggregate is registered.
pub(crate) fn register(r: &mut Registry) {
    r.add_aggregate(
        "hll",
        AggregateUDF::new_from_impl(HllAgg::new("hll", HllKind::Build { conditional: false })),
        Arity::between(1, 2),
        Naming::FunctionArg,
    );
    r.add_aggregate(
        "hll_if",
        AggregateUDF::new_from_impl(HllAgg::new("hll_if", HllKind::Build { conditional: true })),
        Arity::between(2, 3),
        Naming::FunctionArg,
    );
    r.add_aggregate(
        "hll_merge",
        AggregateUDF::new_from_impl(HllAgg::new("hll_merge", HllKind::Merge)),
        Arity::exactly(1),
        Naming::FunctionArg,
    );
    r.add_scalar("dcount_hll", ScalarUDF::new_from_impl(DcountHll::new()));
}

/// Kusto's first header number of an `hll` value.
const HEADER: i64 = 1024;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if k <= chunk.len() {
                out.push(char::from(B64[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let t = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(t.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &c in t {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xFF) as u8);
        }
    }
    Some(out)
}

/// The `dynamic` JSON text of a sketch.
pub fn hll_to_dynamic(h: &Hll) -> String {
    Value::Array(vec![
        Value::Array(vec![Value::from(HEADER), Value::from(h.precision())]),
        Value::String(base64_encode(&h.to_bytes())),
    ])
    .to_string()
}

/// The sketch a `dynamic` value holds, if it is one.
pub fn hll_from_dynamic(v: &Value) -> Option<Hll> {
    let Value::Array(parts) = v else {
        return None;
    };
    match parts.as_slice() {
        [Value::Array(_), Value::String(b64)] => Hll::from_bytes(&base64_decode(b64)?),
        [
            Value::Array(header),
            Value::Array(hashes),
            Value::Array(dense),
        ] if dense.is_empty() => {
            let p = header.get(1)?.as_u64().and_then(|p| u8::try_from(p).ok())?;
            let mut h = Hll::new(p);
            for x in hashes {
                let hash: i64 = match x {
                    Value::String(s) => s.parse().ok()?,
                    Value::Number(n) => n.as_i64()?,
                    _ => return None,
                };
                h.add_hash(hash as u64);
            }
            Some(h)
        }
        _ => None,
    }
}

/// What an [`HllAgg`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HllKind {
    /// `hll` / `hll_if`: sketches the values.
    Build {
        /// `hll_if`: a predicate follows the value.
        conditional: bool,
    },
    /// `hll_merge`: merges sketches.
    Merge,
}

/// The `hll`, `hll_if` and `hll_merge` aggregates.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HllAgg {
    name: &'static str,
    kind: HllKind,
    signature: Signature,
}

impl HllAgg {
    /// The aggregate `name` doing `kind`.
    pub fn new(name: &'static str, kind: HllKind) -> Self {
        Self {
            name,
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for HllAgg {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let n = arg_types.len();
        let HllKind::Build { conditional } = self.kind else {
            if n != 1 {
                return plan_err!("{}(): expected 1 argument, got {n}", self.name);
            }
            return Ok(arg_types.to_vec());
        };
        let min = if conditional { 2 } else { 1 };
        if n < min || n > min + 1 {
            return plan_err!("{}(): wrong number of arguments ({n})", self.name);
        }
        let mut out = arg_types.to_vec();
        if conditional {
            out[1] = DataType::Boolean;
        }
        if let Some(t) = out.get_mut(min) {
            if !(t.is_integer() || matches!(t, DataType::Null)) {
                return plan_err!("{}(): accuracy must be an int", self.name);
            }
            *t = DataType::Int64;
        }
        Ok(out)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::LargeUtf8)
    }
    fn is_nullable(&self) -> bool {
        self.kind == HllKind::Merge
    }
    fn accumulator(&self, acc_args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(match self.kind {
            HllKind::Build { conditional } => {
                let accuracy_index = if conditional { 2 } else { 1 };
                let accuracy = literal_i64(&acc_args, accuracy_index).unwrap_or(1);
                HllAcc::build(accuracy, conditional)
            }
            HllKind::Merge => HllAcc::merge(),
        }))
    }
    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "hll"),
            DataType::Binary,
            true,
        ))])
    }
    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::LargeUtf8(match self.kind {
            HllKind::Build { .. } => Some(hll_to_dynamic(&Hll::with_accuracy(1))),
            HllKind::Merge => None,
        }))
    }
}

/// The accumulator of the `hll*` aggregates.
#[derive(Debug)]
pub struct HllAcc {
    /// The sketch so far; `None` for `hll_merge` before its first sketch.
    hll: Option<Hll>,
    /// `None`: merging sketches; `Some(conditional)`: sketching values.
    build: Option<bool>,
}

impl HllAcc {
    /// The accumulator of `hll` (`conditional`: `hll_if`) at a Kusto accuracy level.
    pub fn build(accuracy: i64, conditional: bool) -> Self {
        Self {
            hll: Some(Hll::with_accuracy(accuracy)),
            build: Some(conditional),
        }
    }

    /// The accumulator of `hll_merge`.
    pub fn merge() -> Self {
        Self {
            hll: None,
            build: None,
        }
    }

    fn absorb(&mut self, other: &Hll) {
        match &mut self.hll {
            Some(h) => h.merge(other),
            None => self.hll = Some(other.clone()),
        }
    }
}

impl Accumulator for HllAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(x) = values.first() else {
            return Ok(());
        };
        match self.build {
            Some(conditional) => {
                let pred: Option<&BooleanArray> = if conditional {
                    values.get(1).and_then(|p| p.as_boolean_opt())
                } else {
                    None
                };
                let Some(hll) = &mut self.hll else {
                    return Ok(());
                };
                for_each_hash(
                    x.as_ref(),
                    |i| !conditional || pred.is_some_and(|p| predicate_true(p, i)),
                    |h| hll.add_hash(h),
                )
            }
            None => {
                for i in 0..x.len() {
                    if x.is_valid(i)
                        && let Some(other) = hll_from_dynamic(&dynamic_to_json(x.as_ref(), i))
                    {
                        self.absorb(&other);
                    }
                }
                Ok(())
            }
        }
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::LargeUtf8(
            self.hll.as_ref().map(hll_to_dynamic),
        ))
    }
    fn size(&self) -> usize {
        size_of::<Self>() + self.hll.as_ref().map_or(0, Hll::size)
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(
            self.hll.as_ref().map(Hll::to_bytes),
        )])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(s) = states.first() else {
            return Ok(());
        };
        let Some(b) = s.as_binary_opt::<i32>() else {
            return exec_err!("hll: unexpected state type {}", s.data_type());
        };
        for i in 0..b.len() {
            if b.is_valid(i) {
                match Hll::from_bytes(b.value(i)) {
                    Some(other) => self.absorb(&other),
                    None => return exec_err!("hll: malformed partial state"),
                }
            }
        }
        Ok(())
    }
}

/// `dcount_hll(hll)`: the distinct count a sketch estimates.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DcountHll {
    signature: Signature,
}

impl DcountHll {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for DcountHll {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for DcountHll {
    fn name(&self) -> &str {
        "dcount_hll"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 1 {
            return plan_err!("dcount_hll(): expected 1 argument, got {}", arg_types.len());
        }
        Ok(arg_types.to_vec())
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let Some(arg) = args.args.first() else {
            return exec_err!("dcount_hll(): expected 1 argument");
        };
        let a = arg.to_array(if scalar { 1 } else { args.number_rows })?;
        let out: Int64Array = (0..a.len())
            .map(|i| {
                hll_from_dynamic(&dynamic_to_json(a.as_ref(), i))
                    .map(|h| i64::try_from(h.estimate()).unwrap_or(i64::MAX))
            })
            .collect();
        finish(Arc::new(out), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::kernel::testing::call;
    use arrow::array::{LargeStringArray, StringArray};
    use arrow::datatypes::Int64Type;

    fn text(v: ScalarValue) -> String {
        match v {
            ScalarValue::LargeUtf8(Some(s)) => s,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn dcount_hll(texts: Vec<Option<String>>) -> Vec<Option<i64>> {
        let arr: ArrayRef = Arc::new(LargeStringArray::from(texts));
        let udf = ScalarUDF::new_from_impl(DcountHll::new());
        match call(&udf, vec![ColumnarValue::Array(arr)]).expect("invoke") {
            ColumnarValue::Array(a) => a.as_primitive::<Int64Type>().iter().collect(),
            ColumnarValue::Scalar(s) => panic!("unexpected scalar {s:?}"),
        }
    }

    #[test]
    fn base64_round_trips() {
        for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            let e = base64_encode(bytes);
            assert_eq!(base64_decode(&e).as_deref(), Some(bytes), "{e}");
        }
        // RFC 4648's test vectors.
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64_encode(b"foob"), "Zm9vYg==");
        assert!(base64_decode("not base64!").is_none());
    }

    #[test]
    fn hll_counts_what_dcount_counts() {
        // Three distinct non-null strings; a false or null predicate drops a row.
        let x: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a"),
            Some("b"),
            None,
            Some("a"),
            Some("c"),
        ]));
        let mut all = HllAcc::build(1, false);
        all.update_batch(&[Arc::clone(&x)]).expect("update");
        let p: ArrayRef = Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            Some(true),
            Some(true),
            None,
        ]));
        let mut some = HllAcc::build(1, true);
        some.update_batch(&[x, p]).expect("update");
        let (all, some) = (
            text(all.evaluate().expect("eval")),
            text(some.evaluate().expect("eval")),
        );
        assert!(all.starts_with("[[1024,14],"), "{all}");
        assert_eq!(
            dcount_hll(vec![Some(all.clone()), Some(some.clone()), None]),
            vec![Some(3), Some(1), None]
        );
        // hll_merge of both: {a, b, c} ∪ {a}.
        let mut m = HllAcc::merge();
        m.update_batch(&[Arc::new(LargeStringArray::from(vec![
            Some(all),
            None,
            Some("[1,2]".to_string()),
            Some(some),
        ])) as ArrayRef])
            .expect("merge");
        let merged = text(m.evaluate().expect("eval"));
        assert_eq!(dcount_hll(vec![Some(merged)]), vec![Some(3)]);
        // Nothing to merge gives null.
        let mut e = HllAcc::merge();
        assert_eq!(e.evaluate().expect("eval"), ScalarValue::LargeUtf8(None));
    }

    #[test]
    fn large_sketches_round_trip_and_match_dcount() {
        let x: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..5000).map(|i| format!("user-{}", i % 3000)),
        ));
        for accuracy in [0, 1, 2, 4] {
            let mut h = HllAcc::build(accuracy, false);
            h.update_batch(&[Arc::clone(&x)]).expect("update");
            // What dcount computes: the same hashes into the same sketch.
            let mut d = Hll::with_accuracy(accuracy);
            for_each_hash(x.as_ref(), |_| true, |h| d.add_hash(h)).expect("hash");
            let want = i64::try_from(d.estimate()).expect("fits");
            let got = dcount_hll(vec![Some(text(h.evaluate().expect("eval")))]);
            assert_eq!(got, vec![Some(want)], "accuracy {accuracy}");
            // Accuracy 2 and more count 3000 values exactly (sparse up to 8000).
            if accuracy >= 2 {
                assert_eq!(want, 3000);
            }
        }
    }

    #[test]
    fn kusto_sparse_form_is_read() {
        let v: Value = serde_json::from_str(
            r#"[[1024,14],["7755241107725382121","-5665157283053373866","3803688792395291579"],[]]"#,
        )
        .expect("json");
        assert_eq!(hll_from_dynamic(&v).map(|h| h.estimate()), Some(3));
        assert!(hll_from_dynamic(&Value::from(3)).is_none());
    }

    #[test]
    fn partial_states_merge() {
        let mut a = HllAcc::build(1, false);
        let mut b = HllAcc::build(1, false);
        a.update_batch(&[Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef])
            .expect("a");
        b.update_batch(&[Arc::new(Int64Array::from(vec![3, 4])) as ArrayRef])
            .expect("b");
        let st = b.state().expect("state")[0].to_array().expect("array");
        a.merge_batch(&[st]).expect("merge");
        assert_eq!(
            dcount_hll(vec![Some(text(a.evaluate().expect("eval")))]),
            vec![Some(4)]
        );
    }
}
