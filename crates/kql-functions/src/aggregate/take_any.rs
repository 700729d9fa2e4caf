//! `take_any(x)` (alias `any`): an arbitrary non-null value of the group.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion_common::{Result, ScalarValue, plan_err};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::utils::format_state_name;
use datafusion_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

/// `take_any(x)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TakeAny {
    name: &'static str,
    signature: Signature,
}

impl TakeAny {
    /// The aggregate under `name`.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for TakeAny {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 1 {
            return plan_err!(
                "{}(): expected 1 argument, got {}",
                self.name,
                arg_types.len()
            );
        }
        Ok(arg_types.to_vec())
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.first().cloned().unwrap_or(DataType::Null))
    }
    fn accumulator(&self, acc_args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(TakeAnyAcc::new(acc_args.return_type().clone())))
    }
    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "value"),
            args.return_type().clone(),
            true,
        ))])
    }
}

/// Keeps the first non-null value seen; for strings a non-empty value is preferred.
#[derive(Debug)]
pub struct TakeAnyAcc {
    data_type: DataType,
    value: Option<ScalarValue>,
}

fn is_empty_string(v: &ScalarValue) -> bool {
    matches!(
        v,
        ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)) if s.is_empty()
    )
}

impl TakeAnyAcc {
    /// An empty accumulator for values of `data_type`.
    pub fn new(data_type: DataType) -> Self {
        Self {
            data_type,
            value: None,
        }
    }

    fn settled(&self) -> bool {
        self.value.as_ref().is_some_and(|v| !is_empty_string(v))
    }

    fn consider(&mut self, a: &ArrayRef) -> Result<()> {
        for i in 0..a.len() {
            if self.settled() {
                break;
            }
            if a.is_valid(i) {
                let v = ScalarValue::try_from_array(a, i)?;
                if self.value.is_none() || !is_empty_string(&v) {
                    self.value = Some(v);
                }
            }
        }
        Ok(())
    }
}

impl Accumulator for TakeAnyAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        match values.first() {
            Some(a) => self.consider(a),
            None => Ok(()),
        }
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        match &self.value {
            Some(v) => Ok(v.clone()),
            None => ScalarValue::try_from(&self.data_type),
        }
    }
    fn size(&self) -> usize {
        size_of::<Self>() + self.value.as_ref().map_or(0, ScalarValue::size)
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        match states.first() {
            Some(a) => self.consider(a),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};

    #[test]
    fn picks_non_null() {
        let mut a = TakeAnyAcc::new(DataType::Int64);
        a.update_batch(&[Arc::new(Int64Array::from(vec![None, Some(4), Some(5)])) as ArrayRef])
            .expect("update");
        assert_eq!(a.evaluate().expect("eval"), ScalarValue::Int64(Some(4)));
        let mut e = TakeAnyAcc::new(DataType::Int64);
        assert_eq!(e.evaluate().expect("eval"), ScalarValue::Int64(None));
        let mut s = TakeAnyAcc::new(DataType::Utf8);
        s.update_batch(&[Arc::new(StringArray::from(vec!["", "x"])) as ArrayRef])
            .expect("update");
        assert_eq!(
            s.evaluate().expect("eval"),
            ScalarValue::Utf8(Some("x".into()))
        );
    }
}
