//! `take_any(x)` (alias `any`): an arbitrary non-null value of the group; and
//! `take_anyif(x, predicate)` (deprecated alias `anyif`): one of the rows whose predicate
//! is true, null when there is none.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion_common::{Result, ScalarValue, plan_err};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::utils::format_state_name;
use datafusion_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

use super::predicate_true;
use crate::Registry;
use crate::catalog::{Arity, Naming};

/// Registers `take_anyif` and its deprecated alias `anyif` (the binder names their
/// results `x` and `anyif_x`; for an argument without a name Kusto's `ColumnN` can only
/// be approximated by a fixed `Column1`).
pub(crate) fn register_if(r: &mut Registry) {
    r.add_aggregate(
        "take_anyif",
        AggregateUDF::new_from_impl(TakeAny::new_if("take_anyif")),
        Arity::exactly(2),
        Naming::Argument,
    );
    r.add_aggregate(
        "anyif",
        AggregateUDF::new_from_impl(TakeAny::new_if("anyif")),
        Arity::exactly(2),
        Naming::FunctionArg,
    );
}

/// `take_any(x)`, or `take_anyif(x, predicate)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TakeAny {
    name: &'static str,
    conditional: bool,
    signature: Signature,
}

impl TakeAny {
    /// The aggregate under `name`.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            conditional: false,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    /// The conditional form (`take_anyif(x, predicate)`) under `name`.
    pub fn new_if(name: &'static str) -> Self {
        Self {
            conditional: true,
            ..Self::new(name)
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
        let want = if self.conditional { 2 } else { 1 };
        if arg_types.len() != want {
            return plan_err!(
                "{}(): expected {want} argument(s), got {}",
                self.name,
                arg_types.len()
            );
        }
        let mut out = arg_types.to_vec();
        if self.conditional {
            out[1] = DataType::Boolean;
        }
        Ok(out)
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.first().cloned().unwrap_or(DataType::Null))
    }
    fn accumulator(&self, acc_args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        let acc = TakeAnyAcc::new(acc_args.return_type().clone());
        Ok(Box::new(if self.conditional {
            acc.conditional()
        } else {
            acc
        }))
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
    conditional: bool,
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
            conditional: false,
            value: None,
        }
    }

    /// The accumulator of `take_anyif`: `update_batch` takes the predicate as its second
    /// column and considers only the rows where it is true.
    pub fn conditional(self) -> Self {
        Self {
            conditional: true,
            ..self
        }
    }

    fn settled(&self) -> bool {
        self.value.as_ref().is_some_and(|v| !is_empty_string(v))
    }

    fn consider(&mut self, a: &ArrayRef, pred: Option<&BooleanArray>) -> Result<()> {
        for i in 0..a.len() {
            if self.settled() {
                break;
            }
            if pred.is_some_and(|p| !predicate_true(p, i)) {
                continue;
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
        let Some(a) = values.first() else {
            return Ok(());
        };
        if !self.conditional {
            return self.consider(a, None);
        }
        match values.get(1).and_then(|p| p.as_boolean_opt()) {
            Some(p) => self.consider(a, Some(p)),
            // A predicate that is not a bool column (a null literal) is never true.
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
            Some(a) => self.consider(a, None),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};

    #[test]
    fn conditional_picks_a_row_whose_predicate_is_true() {
        let x: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "", "c"]));
        let p: ArrayRef = Arc::new(BooleanArray::from(vec![
            Some(false),
            None,
            Some(true),
            Some(true),
        ]));
        let mut a = TakeAnyAcc::new(DataType::Utf8).conditional();
        a.update_batch(&[Arc::clone(&x), Arc::clone(&p)])
            .expect("update");
        // Rows 2 and 3 qualify; a non-empty string is preferred.
        assert_eq!(
            a.evaluate().expect("eval"),
            ScalarValue::Utf8(Some("c".into()))
        );
        let none: ArrayRef = Arc::new(BooleanArray::from(vec![false, false, false, false]));
        let mut b = TakeAnyAcc::new(DataType::Utf8).conditional();
        b.update_batch(&[x, none]).expect("update");
        assert_eq!(b.evaluate().expect("eval"), ScalarValue::Utf8(None));
        // Partial states carry no predicate.
        let st = a.state().expect("state")[0].to_array().expect("array");
        b.merge_batch(&[st]).expect("merge");
        assert_eq!(
            b.evaluate().expect("eval"),
            ScalarValue::Utf8(Some("c".into()))
        );
        let f = TakeAny::new_if("take_anyif");
        assert_eq!(
            f.coerce_types(&[DataType::Int64, DataType::Null])
                .expect("ok"),
            vec![DataType::Int64, DataType::Boolean]
        );
        assert!(f.coerce_types(&[DataType::Int64]).is_err());
    }

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
