//! Kusto's division and modulo of whole numbers (`__long_div`, `__long_mod`), which the
//! planner emits for `long`/`int` operands. numerical-operators.md: the result of `N % D` is
//! never negative, `0 <= N % D < abs(D)`. Where the result does not exist — division or
//! modulo by zero, and `-9223372036854775808 / -1`, whose quotient is not a long — the value
//! is null, as KQL's functions give for invalid input, never an error.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use arrow::datatypes::{DataType, Int64Type};
use datafusion_common::Result;
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::Registry;
use crate::util::{all_scalar, args_to_arrays, finish, row_count};

/// Registers `__long_div` and `__long_mod`.
pub(crate) fn register(r: &mut Registry) {
    for (name, f) in [
        ("__long_div", div as Kernel),
        ("__long_mod", modulo as Kernel),
    ] {
        r.add_scalar(name, ScalarUDF::new_from_impl(LongOp::new(name, f)));
    }
}

type Kernel = fn(i64, i64) -> Option<i64>;

/// `n / d` truncated toward zero, or null.
fn div(n: i64, d: i64) -> Option<i64> {
    n.checked_div(d)
}

/// The non-negative remainder, `0 <= r < abs(d)`, or null for `d == 0`.
fn modulo(n: i64, d: i64) -> Option<i64> {
    if d == 0 {
        return None;
    }
    let m = i128::from(d).abs();
    i64::try_from(i128::from(n).rem_euclid(m)).ok()
}

#[derive(Debug)]
struct LongOp {
    name: &'static str,
    kernel: Kernel,
    signature: Signature,
}

impl PartialEq for LongOp {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for LongOp {}
impl std::hash::Hash for LongOp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl LongOp {
    fn new(name: &'static str, kernel: Kernel) -> LongOp {
        LongOp {
            name,
            kernel,
            signature: Signature::exact(
                vec![DataType::Int64, DataType::Int64],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for LongOp {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let n = row_count(&args.args);
        let arrays = args_to_arrays(&args.args, n)?;
        let (a, b) = (
            arrays[0].as_primitive::<Int64Type>(),
            arrays[1].as_primitive::<Int64Type>(),
        );
        let out: Int64Array = (0..n)
            .map(|i| {
                if a.is_null(i) || b.is_null(i) {
                    None
                } else {
                    (self.kernel)(a.value(i), b.value(i))
                }
            })
            .collect();
        finish(Arc::new(out) as ArrayRef, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_and_modulo_follow_kusto() {
        assert_eq!(div(7, 2), Some(3));
        assert_eq!(div(-7, 2), Some(-3));
        assert_eq!(div(1, 0), None);
        assert_eq!(div(i64::MIN, -1), None);
        // numerical-operators.md's example: 14 % 12, -14 % 12, 14 % -12, -14 % -12.
        assert_eq!(
            [
                modulo(14, 12),
                modulo(-14, 12),
                modulo(14, -12),
                modulo(-14, -12)
            ],
            [Some(2), Some(10), Some(2), Some(10)]
        );
        assert_eq!(modulo(1, i64::MIN), Some(1));
        assert_eq!(modulo(i64::MIN, i64::MIN), Some(0));
        assert_eq!(modulo(-1, i64::MIN), Some(i64::MAX));
        assert_eq!(modulo(5, 0), None);
    }
}
