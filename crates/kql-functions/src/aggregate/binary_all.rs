//! `binary_all_and(x)`, `binary_all_or(x)` and `binary_all_xor(x)`: the bitwise AND, OR
//! or XOR of a group's integer values.
//!
//! Null values are ignored; a group without a value gives null. The result has the
//! argument's type (`int` stays `int`, as the binder types it; every other integer is a
//! `long`). Partial states are the value folded so far.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion_common::{Result, ScalarValue, plan_err};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::utils::format_state_name;
use datafusion_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

use crate::Registry;
use crate::catalog::{Arity, Naming};

/// Registers `binary_all_and`, `binary_all_or` and `binary_all_xor`.
///
/// Kusto names the result after the argument (`binary_all_and(x)` → `x`); for an argument
/// without a name it gives `ColumnN`, which `Naming::ArgumentOr` can only approximate
/// with a fixed `Column1`.
pub(crate) fn register(r: &mut Registry) {
    for (name, op) in [
        ("binary_all_and", BitOp::And),
        ("binary_all_or", BitOp::Or),
        ("binary_all_xor", BitOp::Xor),
    ] {
        r.add_aggregate(
            name,
            AggregateUDF::new_from_impl(BinaryAll::new(name, op)),
            Arity::exactly(1),
            Naming::Argument,
        );
    }
}

/// The bitwise operation a [`BinaryAll`] folds with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BitOp {
    /// `binary_all_and`.
    And,
    /// `binary_all_or`.
    Or,
    /// `binary_all_xor`.
    Xor,
}

impl BitOp {
    fn apply(self, a: i64, b: i64) -> i64 {
        match self {
            BitOp::And => a & b,
            BitOp::Or => a | b,
            BitOp::Xor => a ^ b,
        }
    }
}

/// A `binary_all_*` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BinaryAll {
    name: &'static str,
    op: BitOp,
    signature: Signature,
}

impl BinaryAll {
    /// The aggregate `name` folding with `op`.
    pub fn new(name: &'static str, op: BitOp) -> Self {
        Self {
            name,
            op,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for BinaryAll {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [t] = arg_types else {
            return plan_err!(
                "{}(): expected 1 argument, got {}",
                self.name,
                arg_types.len()
            );
        };
        match t {
            DataType::Int32 => Ok(vec![DataType::Int32]),
            DataType::Null => Ok(vec![DataType::Int64]),
            t if t.is_integer() => Ok(vec![DataType::Int64]),
            t => plan_err!(
                "{}(): the argument must be an int or a long, not {t}",
                self.name
            ),
        }
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match arg_types.first() {
            Some(DataType::Int32) => DataType::Int32,
            _ => DataType::Int64,
        })
    }
    fn accumulator(&self, acc_args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(BinaryAllAcc::new(
            self.op,
            acc_args.return_type().clone(),
        )))
    }
    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "value"),
            args.return_type().clone(),
            true,
        ))])
    }
}

/// The accumulator of the `binary_all_*` aggregates.
#[derive(Debug)]
pub struct BinaryAllAcc {
    op: BitOp,
    data_type: DataType,
    value: Option<i64>,
}

impl BinaryAllAcc {
    /// An empty accumulator whose result is of `data_type` (Int32 or Int64).
    pub fn new(op: BitOp, data_type: DataType) -> Self {
        Self {
            op,
            data_type,
            value: None,
        }
    }

    fn fold(&mut self, values: &ArrayRef) -> Result<()> {
        let longs = cast(values, &DataType::Int64)?;
        let a = longs.as_primitive::<Int64Type>();
        for v in a.iter().flatten() {
            self.value = Some(match self.value {
                Some(acc) => self.op.apply(acc, v),
                None => v,
            });
        }
        Ok(())
    }
}

impl Accumulator for BinaryAllAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        match values.first() {
            Some(a) => self.fold(a),
            None => Ok(()),
        }
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        // Bitwise operations of sign-extended ints are the sign extension of the int
        // result, so the narrowing below is exact.
        Ok(match self.data_type {
            DataType::Int32 => ScalarValue::Int32(self.value.and_then(|v| i32::try_from(v).ok())),
            _ => ScalarValue::Int64(self.value),
        })
    }
    fn size(&self) -> usize {
        size_of::<Self>()
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        match states.first() {
            Some(a) => self.fold(a),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, Int64Array};

    fn run(op: BitOp, values: Vec<Option<i64>>) -> ScalarValue {
        let mut a = BinaryAllAcc::new(op, DataType::Int64);
        a.update_batch(&[Arc::new(Int64Array::from(values)) as ArrayRef])
            .expect("update");
        a.evaluate().expect("eval")
    }

    #[test]
    fn docs_examples_give_cafef00d() {
        let cafef00d = Some(0xCAFE_F00D_i64);
        assert_eq!(
            run(
                BitOp::And,
                vec![
                    Some(0xFFFF_FFFF),
                    Some(0xFFFF_F00F),
                    Some(0xCFFF_FFFD),
                    Some(0xFAFE_FFFF)
                ]
            ),
            ScalarValue::Int64(cafef00d)
        );
        assert_eq!(
            run(
                BitOp::Or,
                vec![
                    Some(0x8888_8008),
                    Some(0x4200_0000),
                    Some(0x0076_7000),
                    Some(0x0000_0005)
                ]
            ),
            ScalarValue::Int64(cafef00d)
        );
        assert_eq!(
            run(
                BitOp::Xor,
                vec![
                    Some(0x4440_4440),
                    Some(0x1E1E_1E1E),
                    Some(0x90AB_BA09),
                    Some(0x000B_105A)
                ]
            ),
            ScalarValue::Int64(cafef00d)
        );
    }

    #[test]
    fn nulls_ignored_and_empty_is_null() {
        assert_eq!(
            run(BitOp::And, vec![Some(6), None, Some(3)]),
            ScalarValue::Int64(Some(2))
        );
        assert_eq!(
            run(BitOp::Xor, vec![Some(5), Some(5), None]),
            ScalarValue::Int64(Some(0))
        );
        assert_eq!(run(BitOp::Or, vec![None, None]), ScalarValue::Int64(None));
        assert_eq!(run(BitOp::Or, vec![]), ScalarValue::Int64(None));
    }

    #[test]
    fn ints_and_partial_states() {
        let mut a = BinaryAllAcc::new(BitOp::Or, DataType::Int32);
        a.update_batch(&[Arc::new(Int32Array::from(vec![-8, 1])) as ArrayRef])
            .expect("update");
        assert_eq!(a.evaluate().expect("eval"), ScalarValue::Int32(Some(-7)));
        let mut b = BinaryAllAcc::new(BitOp::Or, DataType::Int32);
        b.update_batch(&[Arc::new(Int32Array::from(vec![2])) as ArrayRef])
            .expect("update");
        let st = a.state().expect("state")[0].to_array().expect("array");
        b.merge_batch(&[st]).expect("merge");
        assert_eq!(b.evaluate().expect("eval"), ScalarValue::Int32(Some(-5)));
        let f = BinaryAll::new("binary_all_and", BitOp::And);
        assert_eq!(
            f.coerce_types(&[DataType::Int32]).expect("int"),
            vec![DataType::Int32]
        );
        assert_eq!(
            f.coerce_types(&[DataType::UInt8]).expect("byte"),
            vec![DataType::Int64]
        );
        assert!(f.coerce_types(&[DataType::Utf8]).is_err());
        assert!(f.coerce_types(&[DataType::Int64, DataType::Int64]).is_err());
    }
}
