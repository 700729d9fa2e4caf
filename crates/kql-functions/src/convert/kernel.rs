//! Shared machinery of the string, convert, math and hash families: a table-driven
//! [`ScalarUDFImpl`] ([`KqlFn`]) and column accessors that accept every Arrow type a KQL
//! value may arrive in.

use std::hash::{Hash, Hasher};

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::DataType;
use datafusion_common::{Result, plan_err};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

use super::format::kql_to_string;
use crate::util::{all_scalar, args_to_arrays, finish, row_count};

/// Evaluates a function on argument columns that all have `rows` rows.
pub(crate) type EvalFn = fn(&[ArrayRef], usize) -> Result<ArrayRef>;
/// Computes the return type from the argument types (and validates them).
pub(crate) type ReturnFn = fn(&[DataType]) -> Result<DataType>;

/// How a [`KqlFn`] computes its return type.
#[derive(Debug, Clone)]
pub(crate) enum Ret {
    /// Always this type.
    Fixed(DataType),
    /// Computed from the argument types.
    Func(ReturnFn),
}

/// A KQL scalar function described by a name, an arity range, a return type and a
/// column-at-a-time evaluation function.
///
/// Arguments of any Arrow type are accepted by the signature; the evaluation function
/// converts them as Kusto does (most KQL functions forcibly convert their arguments).
#[derive(Debug)]
pub(crate) struct KqlFn {
    name: &'static str,
    min_args: usize,
    max_args: usize,
    signature: Signature,
    ret: Ret,
    eval: EvalFn,
}

impl PartialEq for KqlFn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.min_args == other.min_args
            && self.max_args == other.max_args
            && self.signature == other.signature
    }
}

impl Eq for KqlFn {}

impl Hash for KqlFn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.min_args.hash(state);
        self.max_args.hash(state);
    }
}

impl KqlFn {
    /// An immutable function taking `min..=max` arguments and returning `ret`.
    pub(crate) fn new(
        name: &'static str,
        min_args: usize,
        max_args: usize,
        ret: DataType,
        eval: EvalFn,
    ) -> Self {
        Self::build(
            name,
            min_args,
            max_args,
            Ret::Fixed(ret),
            eval,
            Volatility::Immutable,
        )
    }

    /// An immutable function whose return type depends on its argument types.
    pub(crate) fn with_ret_fn(
        name: &'static str,
        min_args: usize,
        max_args: usize,
        ret: ReturnFn,
        eval: EvalFn,
    ) -> Self {
        Self::build(
            name,
            min_args,
            max_args,
            Ret::Func(ret),
            eval,
            Volatility::Immutable,
        )
    }

    /// A volatile function (a new value for every row and every call).
    pub(crate) fn volatile(
        name: &'static str,
        min_args: usize,
        max_args: usize,
        ret: DataType,
        eval: EvalFn,
    ) -> Self {
        Self::build(
            name,
            min_args,
            max_args,
            Ret::Fixed(ret),
            eval,
            Volatility::Volatile,
        )
    }

    fn build(
        name: &'static str,
        min_args: usize,
        max_args: usize,
        ret: Ret,
        eval: EvalFn,
        volatility: Volatility,
    ) -> Self {
        let signature = if max_args == 0 {
            Signature::nullary(volatility)
        } else if min_args == 0 {
            Signature::one_of(
                vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
                volatility,
            )
        } else {
            Signature::variadic_any(volatility)
        };
        Self {
            name,
            min_args,
            max_args,
            signature,
            ret,
            eval,
        }
    }

    /// The function's name.
    pub(crate) fn name_static(&self) -> &'static str {
        self.name
    }

    /// Wraps the function into a [`ScalarUDF`].
    pub(crate) fn udf(self) -> ScalarUDF {
        ScalarUDF::new_from_impl(self)
    }
}

impl ScalarUDFImpl for KqlFn {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let n = arg_types.len();
        if n < self.min_args || n > self.max_args {
            let expected = if self.min_args == self.max_args {
                format!("{}", self.min_args)
            } else {
                format!("between {} and {}", self.min_args, self.max_args)
            };
            return plan_err!(
                "Semantic error: function '{}' expects {expected} arguments, got {n}",
                self.name
            );
        }
        match &self.ret {
            Ret::Fixed(t) => Ok(t.clone()),
            Ret::Func(f) => f(arg_types),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let volatile = self.signature.volatility == Volatility::Volatile;
        // A volatile function needs one value per row even for constant arguments;
        // an immutable one on constants (including no arguments, e.g. pi()) gives a scalar.
        let (rows, scalar) = if volatile {
            (args.number_rows, false)
        } else {
            (row_count(&args.args), all_scalar(&args.args))
        };
        let arrays = args_to_arrays(&args.args, rows)?;
        let out = (self.eval)(&arrays, rows)?;
        finish(out, scalar)
    }
}

/// Error for an argument of a type the function cannot take.
pub(crate) fn bad_type(func: &str, what: &str, t: &DataType) -> Result<DataType> {
    plan_err!("Semantic error: {func}(): argument {what} has unsupported type {t}")
}

/// True for integer Arrow types.
pub(crate) fn is_int_type(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

/// True for numeric Arrow types (integers, floats, decimals) and `Null`.
pub(crate) fn is_numeric_type(t: &DataType) -> bool {
    is_int_type(t)
        || matches!(
            t,
            DataType::Float16
                | DataType::Float32
                | DataType::Float64
                | DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
                | DataType::Null
        )
}

/// An argument column read as KQL strings (`tostring` of each value; null is `""`).
pub(crate) enum StrCol<'a> {
    /// A Utf8 column, borrowed.
    Utf8(&'a StringArray),
    /// A Utf8View column, borrowed.
    View(&'a arrow::array::StringViewArray),
    /// Any other column, converted.
    Owned(Vec<String>),
}

impl StrCol<'_> {
    /// Row `i` as a string (`""` for null).
    pub(crate) fn get(&self, i: usize) -> &str {
        match self {
            StrCol::Utf8(a) => {
                if a.is_null(i) {
                    ""
                } else {
                    a.value(i)
                }
            }
            StrCol::View(a) => {
                if a.is_null(i) {
                    ""
                } else {
                    a.value(i)
                }
            }
            StrCol::Owned(v) => v.get(i).map(String::as_str).unwrap_or(""),
        }
    }
}

/// Reads a column as KQL strings. `LargeUtf8` is KQL `dynamic`: a JSON string value
/// becomes its unquoted text, as Kusto's implicit `tostring` does.
pub(crate) fn str_col(a: &ArrayRef) -> StrCol<'_> {
    match a.data_type() {
        DataType::Utf8 => StrCol::Utf8(a.as_string::<i32>()),
        DataType::Utf8View => StrCol::View(a.as_string_view()),
        _ => StrCol::Owned((0..a.len()).map(|i| kql_to_string(a.as_ref(), i)).collect()),
    }
}

/// Casts a numeric (or boolean, or null) column to Float64; `None` for other types.
pub(crate) fn f64_col(a: &ArrayRef) -> Option<Float64Array> {
    let t = a.data_type();
    if !(is_numeric_type(t) || matches!(t, DataType::Boolean)) {
        return None;
    }
    let c = cast_with_options(a, &DataType::Float64, &CastOptions::default()).ok()?;
    Some(c.as_primitive::<arrow::datatypes::Float64Type>().clone())
}

/// Reads an integer-valued argument (ints, reals truncated, decimals truncated, booleans,
/// numeric strings) as Int64; values that do not fit or cannot be converted are null.
pub(crate) fn i64_col(a: &ArrayRef) -> Int64Array {
    let t = a.data_type();
    if (is_int_type(t) || matches!(t, DataType::Boolean | DataType::Null))
        && let Ok(c) = cast_with_options(a, &DataType::Int64, &CastOptions::default())
    {
        return c.as_primitive::<arrow::datatypes::Int64Type>().clone();
    }
    if let Some(f) = f64_col(a) {
        return f.iter().map(|v| v.and_then(f64_to_i64)).collect();
    }
    let s = str_col(a);
    (0..a.len())
        .map(|i| {
            if a.is_null(i) {
                return None;
            }
            let v = s.get(i).trim();
            v.parse::<i64>()
                .ok()
                .or_else(|| v.parse::<f64>().ok().and_then(f64_to_i64))
        })
        .collect()
}

/// Truncates a real to a long; `None` when not finite or out of range.
pub(crate) fn f64_to_i64(v: f64) -> Option<i64> {
    let t = v.trunc();
    if t.is_finite() && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&t) {
        Some(t as i64)
    } else {
        None
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers to call UDFs in unit tests.
    use super::*;
    use arrow::datatypes::Field;
    use datafusion_common::ScalarValue;
    use datafusion_common::config::ConfigOptions;
    use std::sync::Arc;

    /// Calls `udf` on the given arguments (arrays or scalars).
    pub(crate) fn call(udf: &ScalarUDF, args: Vec<ColumnarValue>) -> Result<ColumnarValue> {
        let arg_fields: Vec<_> = args
            .iter()
            .enumerate()
            .map(|(i, a)| Arc::new(Field::new(format!("a{i}"), a.data_type(), true)))
            .collect();
        let types: Vec<DataType> = args.iter().map(|a| a.data_type()).collect();
        let ret = udf.return_type(&types)?;
        let number_rows = args
            .iter()
            .find_map(|a| match a {
                ColumnarValue::Array(a) => Some(a.len()),
                ColumnarValue::Scalar(_) => None,
            })
            .unwrap_or(1);
        udf.invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields,
            number_rows,
            return_field: Arc::new(Field::new("r", ret, true)),
            config_options: Arc::new(ConfigOptions::default()),
        })
    }

    /// Calls `udf` on scalars and returns the scalar result.
    pub(crate) fn call_scalars(udf: &ScalarUDF, args: Vec<ScalarValue>) -> ScalarValue {
        let out = call(udf, args.into_iter().map(ColumnarValue::Scalar).collect());
        match out {
            Ok(ColumnarValue::Scalar(s)) => s,
            Ok(ColumnarValue::Array(a)) => {
                ScalarValue::try_from_array(&a, 0).unwrap_or(ScalarValue::Null)
            }
            Err(e) => panic!("call failed: {e}"),
        }
    }

    /// A Utf8 scalar.
    pub(crate) fn s(v: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(v.to_string()))
    }

    /// An Int64 scalar.
    pub(crate) fn l(v: i64) -> ScalarValue {
        ScalarValue::Int64(Some(v))
    }

    /// A Float64 scalar.
    pub(crate) fn r(v: f64) -> ScalarValue {
        ScalarValue::Float64(Some(v))
    }

    /// A dynamic (LargeUtf8 JSON) scalar.
    pub(crate) fn dynamic(json: &str) -> ScalarValue {
        ScalarValue::LargeUtf8(Some(json.to_string()))
    }
}
