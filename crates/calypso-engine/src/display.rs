//! Kusto's text forms of values (used by the CLI and the conformance runner).

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    Decimal128Type, DurationNanosecondType, Float64Type, Int32Type, Int64Type,
    TimestampNanosecondType,
};
use kql_functions::KqlType;
use kql_functions::convert::{format_datetime_kusto, format_timespan_kusto};

/// A real as Kusto prints it: shortest round trip, `NaN`, `Infinity`, `-Infinity`.
pub fn format_real(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "Infinity".into()
    } else if v == f64::NEG_INFINITY {
        "-Infinity".into()
    } else {
        format!("{v}")
    }
}

/// Formats row `i` of a result column of KQL type `t`; `None` for null.
pub fn format_value(a: &dyn Array, i: usize, t: KqlType) -> Option<String> {
    if a.is_null(i) {
        return if t == KqlType::String {
            Some(String::new())
        } else {
            None
        };
    }
    Some(match t {
        KqlType::Bool => a.as_boolean().value(i).to_string(),
        KqlType::Int => a.as_primitive::<Int32Type>().value(i).to_string(),
        KqlType::Long => a.as_primitive::<Int64Type>().value(i).to_string(),
        KqlType::Real => format_real(a.as_primitive::<Float64Type>().value(i)),
        KqlType::Decimal => {
            let arr = a.as_primitive::<Decimal128Type>();
            kql_functions::convert::format_decimal(arr.value(i), arr.scale())
        }
        KqlType::String => a.as_string::<i32>().value(i).to_string(),
        KqlType::Dynamic => a.as_string::<i64>().value(i).to_string(),
        KqlType::DateTime => {
            format_datetime_kusto(a.as_primitive::<TimestampNanosecondType>().value(i))
        }
        KqlType::TimeSpan => {
            format_timespan_kusto(a.as_primitive::<DurationNanosecondType>().value(i))
        }
        KqlType::Guid => kql_functions::convert::format_guid(a.as_fixed_size_binary().value(i)),
    })
}
