//! Argument checking and conversion shared by the datetime functions.

use arrow::array::{
    Array, ArrayRef, AsArray, DurationNanosecondArray, Float64Array, Int64Array,
    TimestampNanosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, DurationNanosecondType, Float64Type, Int64Type, TimeUnit, TimestampNanosecondType,
};
use datafusion_common::{Result, exec_err, plan_err};

/// Arrow type of KQL `datetime`.
pub fn datetime_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, None)
}

/// Arrow type of KQL `timespan`.
pub fn timespan_type() -> DataType {
    DataType::Duration(TimeUnit::Nanosecond)
}

/// True for the Arrow types that hold KQL datetimes.
pub fn is_datetime(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
    )
}

/// True for the Arrow types that hold KQL timespans.
pub fn is_timespan(t: &DataType) -> bool {
    matches!(t, DataType::Duration(_))
}

/// True for integer Arrow types (KQL int and long).
pub fn is_integer(t: &DataType) -> bool {
    t.is_integer()
}

/// True for floating point Arrow types (KQL real).
pub fn is_float(t: &DataType) -> bool {
    matches!(t, DataType::Float16 | DataType::Float32 | DataType::Float64)
}

/// True for decimal Arrow types (KQL decimal).
pub fn is_decimal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
    )
}

/// True for string Arrow types.
pub fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

/// The kind of value an argument position expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// A KQL datetime (coerced to `Timestamp(ns)`).
    DateTime,
    /// A KQL timespan (coerced to `Duration(ns)`).
    TimeSpan,
    /// A KQL int or long (coerced to `Int64`; reals are truncated).
    Long,
    /// A KQL real (coerced to `Float64`; any number accepted).
    Real,
    /// A string (left as is).
    Str,
}

impl Want {
    fn coerce(self, t: &DataType) -> Option<DataType> {
        let null = matches!(t, DataType::Null);
        match self {
            Want::DateTime if null || is_datetime(t) => Some(datetime_type()),
            Want::TimeSpan if null || is_timespan(t) => Some(timespan_type()),
            Want::Long if null || is_integer(t) || is_float(t) || is_decimal(t) => {
                Some(DataType::Int64)
            }
            Want::Real if null || is_integer(t) || is_float(t) || is_decimal(t) => {
                Some(DataType::Float64)
            }
            Want::Str if is_string(t) => Some(t.clone()),
            Want::Str if null => Some(DataType::Utf8),
            _ => None,
        }
    }

    fn kql_name(self) -> &'static str {
        match self {
            Want::DateTime => "datetime",
            Want::TimeSpan => "timespan",
            Want::Long => "long",
            Want::Real => "real",
            Want::Str => "string",
        }
    }
}

/// Checks argument types against `wants` (the first `required` are mandatory) and
/// returns the types DataFusion must cast the arguments to.
pub fn coerce_args(
    name: &str,
    arg_types: &[DataType],
    wants: &[Want],
    required: usize,
) -> Result<Vec<DataType>> {
    if arg_types.len() < required || arg_types.len() > wants.len() {
        return if required == wants.len() {
            plan_err!(
                "{name}(): expected {required} arguments, got {}",
                arg_types.len()
            )
        } else {
            plan_err!(
                "{name}(): expected {required} to {} arguments, got {}",
                wants.len(),
                arg_types.len()
            )
        };
    }
    arg_types
        .iter()
        .zip(wants)
        .enumerate()
        .map(|(i, (t, w))| match w.coerce(t) {
            Some(t) => Ok(t),
            None => plan_err!(
                "{name}(): argument {} must be of type {}, got {t}",
                i + 1,
                w.kql_name()
            ),
        })
        .collect()
}

fn cast_to(a: &ArrayRef, t: &DataType) -> Result<ArrayRef> {
    if a.data_type() == t {
        Ok(ArrayRef::clone(a))
    } else {
        Ok(cast(a, t)?)
    }
}

/// An argument as `Timestamp(ns)` values.
pub fn datetimes(a: &ArrayRef) -> Result<TimestampNanosecondArray> {
    let c = cast_to(a, &datetime_type())?;
    match c.as_primitive_opt::<TimestampNanosecondType>() {
        Some(p) => Ok(p.clone()),
        None => exec_err!("expected a datetime argument, got {}", a.data_type()),
    }
}

/// An argument as `Duration(ns)` values.
pub fn timespans(a: &ArrayRef) -> Result<DurationNanosecondArray> {
    let c = cast_to(a, &timespan_type())?;
    match c.as_primitive_opt::<DurationNanosecondType>() {
        Some(p) => Ok(p.clone()),
        None => exec_err!("expected a timespan argument, got {}", a.data_type()),
    }
}

/// An argument as `Int64` values.
pub fn longs(a: &ArrayRef) -> Result<Int64Array> {
    let c = cast_to(a, &DataType::Int64)?;
    match c.as_primitive_opt::<Int64Type>() {
        Some(p) => Ok(p.clone()),
        None => exec_err!("expected a long argument, got {}", a.data_type()),
    }
}

/// An argument as `Float64` values.
pub fn reals(a: &ArrayRef) -> Result<Float64Array> {
    let c = cast_to(a, &DataType::Float64)?;
    match c.as_primitive_opt::<Float64Type>() {
        Some(p) => Ok(p.clone()),
        None => exec_err!("expected a real argument, got {}", a.data_type()),
    }
}

/// Row `i` of a primitive array, or `None` when null.
pub fn get<T: arrow::datatypes::ArrowPrimitiveType>(
    a: &arrow::array::PrimitiveArray<T>,
    i: usize,
) -> Option<T::Native> {
    if a.is_null(i) { None } else { Some(a.value(i)) }
}

/// Memoizes the parse of a per-row string argument (usually a constant).
pub struct Memo<T> {
    last: Option<(String, T)>,
}

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo { last: None }
    }
}

impl<T: Clone> Memo<T> {
    /// The parse of `s`, recomputed only when `s` differs from the previous call.
    pub fn get(&mut self, s: &str, parse: impl FnOnce(&str) -> T) -> T {
        match &self.last {
            Some((k, v)) if k == s => v.clone(),
            _ => {
                let v = parse(s);
                self.last = Some((s.to_string(), v.clone()));
                v
            }
        }
    }
}
