//! Helpers shared by the function families.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use datafusion_common::{Result, ScalarValue};
use datafusion_expr::ColumnarValue;

/// Turns every argument into an array of `len` rows (scalars are repeated).
pub fn args_to_arrays(args: &[ColumnarValue], len: usize) -> Result<Vec<ArrayRef>> {
    args.iter()
        .map(|a| match a {
            ColumnarValue::Array(a) => Ok(Arc::clone(a)),
            ColumnarValue::Scalar(s) => s.to_array_of_size(len),
        })
        .collect()
}

/// The number of rows a call produces: the length of the first array argument, or 1.
pub fn row_count(args: &[ColumnarValue]) -> usize {
    args.iter()
        .find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            ColumnarValue::Scalar(_) => None,
        })
        .unwrap_or(1)
}

/// True when every argument is a scalar (the result should then be a scalar too).
pub fn all_scalar(args: &[ColumnarValue]) -> bool {
    args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)))
}

/// Wraps an array result, turning a one-row result of scalar inputs back into a scalar.
pub fn finish(array: ArrayRef, scalar_inputs: bool) -> Result<ColumnarValue> {
    if scalar_inputs && array.len() == 1 {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}

/// Reads row `i` of a string-typed array (Utf8, Utf8View or LargeUtf8) as `&str`; null is `""`.
pub fn str_at(array: &dyn Array, i: usize) -> &str {
    use arrow::array::AsArray;
    use arrow::datatypes::DataType;
    if array.is_null(i) {
        return "";
    }
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(i),
        DataType::LargeUtf8 => array.as_string::<i64>().value(i),
        DataType::Utf8View => array.as_string_view().value(i),
        _ => "",
    }
}

/// Builds a KQL string column (never null) from per-row values.
pub fn string_array<I: IntoIterator<Item = Option<String>>>(values: I) -> ArrayRef {
    Arc::new(
        values
            .into_iter()
            .map(|v| Some(v.unwrap_or_default()))
            .collect::<StringArray>(),
    )
}

/// The largest string one function call may produce: 64 MiB, Kusto's default result size
/// limit (`truncationmaxsize`). Beyond it the query fails with `E_RUNAWAY_QUERY` instead of
/// allocating (`strrep(strrep('a', 67108864), 67108864)` would ask for 4 PiB).
pub const MAX_STRING_BYTES: usize = 64 << 20;

/// The largest total a string function may produce for one batch of rows (256 MiB).
pub const MAX_BATCH_STRING_BYTES: usize = 256 << 20;

/// Counts the bytes a string function produces and refuses values and batches over the
/// limits, before they are allocated.
#[derive(Debug)]
pub struct StringBudget {
    function: &'static str,
    used: usize,
}

impl StringBudget {
    /// A budget for one batch of `function`.
    pub fn new(function: &'static str) -> StringBudget {
        StringBudget { function, used: 0 }
    }

    /// Takes `bytes` (`None`: the size overflowed) for one value.
    pub fn take(&mut self, bytes: Option<usize>) -> Result<()> {
        let too_big = |what: String| {
            crate::FunctionError::LimitExceeded(format!(
                "{}() would produce {what}, over the limit of {} bytes per value and {} per batch (E_RUNAWAY_QUERY)",
                self.function, MAX_STRING_BYTES, MAX_BATCH_STRING_BYTES
            ))
            .into_datafusion()
        };
        let Some(n) = bytes else {
            return Err(too_big("a string too long to count".into()));
        };
        if n > MAX_STRING_BYTES {
            return Err(too_big(format!("a {n}-byte string")));
        }
        self.used = self.used.saturating_add(n);
        if self.used > MAX_BATCH_STRING_BYTES {
            return Err(too_big(format!("{} bytes for one batch", self.used)));
        }
        Ok(())
    }
}
