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
            kql_planner_free_decimal(arr.value(i), arr.scale())
        }
        KqlType::String => a.as_string::<i32>().value(i).to_string(),
        KqlType::Dynamic => a.as_string::<i64>().value(i).to_string(),
        KqlType::DateTime => {
            format_datetime_kusto(a.as_primitive::<TimestampNanosecondType>().value(i))
        }
        KqlType::TimeSpan => {
            format_timespan_kusto(a.as_primitive::<DurationNanosecondType>().value(i))
        }
        KqlType::Guid => {
            let b = a.as_fixed_size_binary().value(i);
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            if h.len() == 32 {
                format!(
                    "{}-{}-{}-{}-{}",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                )
            } else {
                h
            }
        }
    })
}

fn kql_planner_free_decimal(v: i128, scale: i8) -> String {
    let neg = v < 0;
    let digits = v.unsigned_abs().to_string();
    let scale = scale.max(0) as usize;
    let (int, frac) = if digits.len() > scale {
        (
            digits[..digits.len() - scale].to_string(),
            digits[digits.len() - scale..].to_string(),
        )
    } else {
        (
            "0".to_string(),
            format!("{}{}", "0".repeat(scale - digits.len()), digits),
        )
    };
    let frac = frac.trim_end_matches('0');
    let mut s = if neg { "-".to_string() } else { String::new() };
    s.push_str(&int);
    if !frac.is_empty() {
        s.push('.');
        s.push_str(frac);
    }
    s
}
