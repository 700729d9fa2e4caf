//! `dcount(x[, accuracy])` and `dcountif(x, predicate[, accuracy])`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Decimal128Type, Field, FieldRef, Float64Type, Int64Type, UInt64Type,
};
use datafusion_common::{Result, ScalarValue, plan_err};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::utils::format_state_name;
use datafusion_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use xxhash_rust::xxh64::xxh64;

use super::hll::Hll;
use super::{literal_i64, predicate_true};

const SEED: u64 = 0x4b51_4c5f_6463_6e74;

/// `dcount` (`conditional == false`) or `dcountif` (`conditional == true`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DCount {
    name: &'static str,
    conditional: bool,
    signature: Signature,
}

impl DCount {
    /// The aggregate `name`; `conditional` selects `dcountif`.
    pub fn new(name: &'static str, conditional: bool) -> Self {
        Self {
            name,
            conditional,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn accuracy_index(&self) -> usize {
        if self.conditional { 2 } else { 1 }
    }
}

impl AggregateUDFImpl for DCount {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let min = if self.conditional { 2 } else { 1 };
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
                return plan_err!("{}(): accuracy must be an int", self.name);
            }
            *t = DataType::Int64;
        }
        Ok(out)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn is_nullable(&self) -> bool {
        false
    }
    fn accumulator(&self, acc_args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        let accuracy = literal_i64(&acc_args, self.accuracy_index()).unwrap_or(1);
        Ok(Box::new(DCountAcc {
            hll: Hll::with_accuracy(accuracy),
            conditional: self.conditional,
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
        Ok(ScalarValue::Int64(Some(0)))
    }
}

/// The accumulator of `dcount`/`dcountif`.
#[derive(Debug)]
pub struct DCountAcc {
    hll: Hll,
    conditional: bool,
}

/// Calls `f` with the hash of every non-null row of `array` for which `keep` holds.
pub fn for_each_hash(
    array: &dyn Array,
    keep: impl Fn(usize) -> bool,
    mut f: impl FnMut(u64),
) -> Result<()> {
    let mut visit = |i: usize, bytes: &[u8]| {
        if keep(i) {
            f(xxh64(bytes, SEED));
        }
    };
    let dt = array.data_type();
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            for i in 0..array.len() {
                if array.is_valid(i) {
                    visit(i, crate::util::str_at(array, i).as_bytes());
                }
            }
        }
        DataType::FixedSizeBinary(_) => {
            let a = array.as_fixed_size_binary();
            for i in 0..a.len() {
                if a.is_valid(i) {
                    visit(i, a.value(i));
                }
            }
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let c = cast(
                &arrow::array::make_array(array.to_data()),
                &DataType::Float64,
            )?;
            let a = c.as_primitive::<Float64Type>();
            for i in 0..a.len() {
                if a.is_valid(i) {
                    let v = a.value(i);
                    let v = if v == 0.0 { 0.0 } else { v };
                    visit(i, &v.to_bits().to_le_bytes());
                }
            }
        }
        DataType::UInt64 => {
            let a = array.as_primitive::<UInt64Type>();
            for i in 0..a.len() {
                if a.is_valid(i) {
                    visit(i, &a.value(i).to_le_bytes());
                }
            }
        }
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => {
            let c = cast(
                &arrow::array::make_array(array.to_data()),
                &DataType::Decimal128(crate::types::DECIMAL_PRECISION, crate::types::DECIMAL_SCALE),
            )?;
            let a = c.as_primitive::<Decimal128Type>();
            for i in 0..a.len() {
                if a.is_valid(i) {
                    visit(i, &a.value(i).to_le_bytes());
                }
            }
        }
        DataType::Null => {}
        t if t.is_integer() || t.is_temporal() || matches!(t, DataType::Boolean) => {
            let c = cast(&arrow::array::make_array(array.to_data()), &DataType::Int64)?;
            let a = c.as_primitive::<Int64Type>();
            for i in 0..a.len() {
                if a.is_valid(i) {
                    visit(i, &a.value(i).to_le_bytes());
                }
            }
        }
        _ => {
            let opts = arrow::util::display::FormatOptions::default();
            let fmt = arrow::util::display::ArrayFormatter::try_new(array, &opts)?;
            for i in 0..array.len() {
                if array.is_valid(i) {
                    visit(i, fmt.value(i).to_string().as_bytes());
                }
            }
        }
    }
    Ok(())
}

impl Accumulator for DCountAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(x) = values.first() else {
            return Ok(());
        };
        let pred: Option<&BooleanArray> = if self.conditional {
            values.get(1).and_then(|p| p.as_boolean_opt())
        } else {
            None
        };
        let conditional = self.conditional;
        let hll = &mut self.hll;
        for_each_hash(
            x.as_ref(),
            |i| !conditional || pred.is_some_and(|p| predicate_true(p, i)),
            |h| hll.add_hash(h),
        )
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(
            i64::try_from(self.hll.estimate()).unwrap_or(i64::MAX),
        )))
    }
    fn size(&self) -> usize {
        size_of::<Self>() + self.hll.size()
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.hll.to_bytes()))])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(s) = states.first() else {
            return Ok(());
        };
        let Some(b) = s.as_binary_opt::<i32>() else {
            return datafusion_common::exec_err!("dcount: unexpected state type {}", s.data_type());
        };
        for i in 0..b.len() {
            if b.is_valid(i) {
                match Hll::from_bytes(b.value(i)) {
                    Some(other) => self.hll.merge(&other),
                    None => return datafusion_common::exec_err!("dcount: malformed partial state"),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Int32Array, Int64Array, StringArray};

    fn acc(conditional: bool, accuracy: i64) -> DCountAcc {
        DCountAcc {
            hll: Hll::with_accuracy(accuracy),
            conditional,
        }
    }

    #[test]
    fn counts_and_merges() {
        let mut a = acc(false, 1);
        let vals: ArrayRef = Arc::new(Int64Array::from_iter((0..5000).map(|i| Some(i % 700))));
        a.update_batch(&[vals]).expect("update");
        assert_eq!(a.evaluate().expect("eval"), ScalarValue::Int64(Some(700)));
        let strings: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a"),
            None,
            Some("b"),
            Some("a"),
            Some(""),
        ]));
        let mut b = acc(false, 1);
        b.update_batch(&[strings]).expect("update");
        assert_eq!(b.evaluate().expect("eval"), ScalarValue::Int64(Some(3)));
        // Partial states merge.
        let mut c = acc(false, 1);
        let st = a.state().expect("state")[0].to_array().expect("array");
        c.merge_batch(&[st]).expect("merge");
        assert_eq!(c.evaluate().expect("eval"), ScalarValue::Int64(Some(700)));
    }

    #[test]
    fn conditional() {
        let mut a = acc(true, 0);
        let vals: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3, 4, 4]));
        let pred: ArrayRef = Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            None,
            Some(true),
            Some(true),
        ]));
        a.update_batch(&[vals, pred]).expect("update");
        assert_eq!(a.evaluate().expect("eval"), ScalarValue::Int64(Some(2)));
    }

    #[test]
    fn large_within_error() {
        let mut a = acc(false, 1);
        let vals: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..10_000).map(|i| format!("user-{i}")),
        ));
        a.update_batch(&[vals]).expect("update");
        let ScalarValue::Int64(Some(est)) = a.evaluate().expect("eval") else {
            panic!("not a long")
        };
        let err = (est as f64 - 10_000.0).abs() / 10_000.0;
        assert!(err < 0.024, "estimate {est}");
    }
}
