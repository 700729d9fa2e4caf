//! KQL string functions.

use std::any::Any;
use std::sync::Arc;

use arrow::array::{Array, Int64Array};
use arrow::datatypes::DataType;
use datafusion_common::Result;
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::Registry;
use crate::util::{all_scalar, args_to_arrays, finish, row_count, str_at};

/// Registers this family's functions.
pub(crate) fn register(r: &mut Registry) {
    r.add_scalar("strlen", ScalarUDF::new_from_impl(StrLen::new()));
}

/// `strlen(s)`: the number of Unicode code points in `s`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct StrLen {
    signature: Signature,
}

impl StrLen {
    fn new() -> Self {
        Self {
            signature: Signature::uniform(
                1,
                vec![DataType::Utf8, DataType::Utf8View, DataType::LargeUtf8],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for StrLen {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn name(&self) -> &str {
        "strlen"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = row_count(&args.args);
        let arrays = args_to_arrays(&args.args, n)?;
        let s = &arrays[0];
        let out: Int64Array = (0..s.len())
            .map(|i| Some(str_at(s.as_ref(), i).chars().count() as i64))
            .collect();
        finish(Arc::new(out), all_scalar(&args.args))
    }
}
