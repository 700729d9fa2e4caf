//! KQL literals → DataFusion scalar values.

use datafusion_common::ScalarValue;
use kql_functions::KqlType;
use kql_functions::convert::{
    format_decimal, format_guid, parse_datetime, parse_guid, parse_timespan, parse_timespan_literal,
};
use kql_functions::types::{DECIMAL_PRECISION, DECIMAL_SCALE};
use kql_syntax::Span;
use kql_syntax::ast::{Dynamic, Literal};

use crate::error::{Result, semantic};

/// A typed null of a KQL type.
pub fn null_of(t: KqlType) -> ScalarValue {
    ScalarValue::try_from(t.to_arrow()).unwrap_or(ScalarValue::Null)
}

/// The KQL type of a scalar value.
pub fn scalar_type(v: &ScalarValue) -> Option<KqlType> {
    KqlType::from_arrow(&v.data_type())
}

fn datetime(ns: Option<i64>) -> ScalarValue {
    ScalarValue::TimestampNanosecond(ns, None)
}

fn timespan(ns: Option<i64>) -> ScalarValue {
    ScalarValue::DurationNanosecond(ns)
}

fn decimal(v: Option<i128>) -> ScalarValue {
    ScalarValue::Decimal128(v, DECIMAL_PRECISION, DECIMAL_SCALE)
}

/// Parses an integer literal (`42`, `0x1F`).
fn parse_long(s: &str) -> Option<i64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16)
            .ok()
            .or_else(|| u64::from_str_radix(h, 16).ok().map(|v| v as i64));
    }
    s.parse().ok()
}

/// Parses a real literal, including `nan`, `+inf`, `-inf`.
fn parse_real(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" | "+nan" | "-nan" => Some(f64::NAN),
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// Converts an AST literal to a scalar value.
pub fn literal_to_scalar(lit: &Literal, span: Span) -> Result<ScalarValue> {
    let bad = |what: &str, text: &str| semantic(span, format!("Invalid {what} literal: '{text}'"));
    Ok(match lit {
        Literal::Bool(b) => ScalarValue::Boolean(Some(*b)),
        Literal::Long(s) => ScalarValue::Int64(Some(parse_long(s).ok_or_else(|| bad("long", s))?)),
        Literal::Real(s) => {
            ScalarValue::Float64(Some(parse_real(s).ok_or_else(|| bad("real", s))?))
        }
        Literal::String { value, .. } => ScalarValue::Utf8(Some(value.clone())),
        Literal::TimeSpan(s) => timespan(Some(
            parse_timespan_literal(s).ok_or_else(|| bad("timespan", s))?,
        )),
        Literal::TypedRaw { ty, raw } => {
            let is_null = raw.eq_ignore_ascii_case("null");
            match ty.as_str() {
                "datetime" | "date" => {
                    if is_null {
                        datetime(None)
                    } else {
                        datetime(Some(parse_datetime(raw).ok_or_else(|| {
                            if kql_functions::convert::is_datetime_beyond_range(raw) {
                                let (first, last) = kql_functions::convert::DATETIME_RANGE;
                                semantic(
                                    span,
                                    format!(
                                        "datetime({raw}) is outside the datetime range Calypso supports, {first} to {last} (nanoseconds since 1970); ADX's reaches 9999-12-31"
                                    ),
                                )
                            } else {
                                bad("datetime", raw)
                            }
                        })?))
                    }
                }
                "timespan" | "time" => {
                    if is_null {
                        timespan(None)
                    } else {
                        let v = parse_timespan_literal(raw)
                            .or_else(|| parse_timespan(raw))
                            .ok_or_else(|| bad("timespan", raw))?;
                        timespan(Some(v))
                    }
                }
                "guid" => {
                    if is_null {
                        ScalarValue::FixedSizeBinary(16, None)
                    } else {
                        let g = parse_guid(raw).ok_or_else(|| bad("guid", raw))?;
                        ScalarValue::FixedSizeBinary(16, Some(g.to_vec()))
                    }
                }
                other => return Err(bad(other, raw)),
            }
        }
        Literal::Typed { ty, value } => {
            let t = KqlType::from_name(ty).ok_or_else(|| bad(ty, value))?;
            if value.eq_ignore_ascii_case("null") {
                return Ok(null_of(t));
            }
            parse_value_text(value, t).map_err(|_| bad(ty, value))?
        }
        Literal::Dynamic(Dynamic::Null) => ScalarValue::LargeUtf8(None),
        Literal::Dynamic(d) => ScalarValue::LargeUtf8(Some(dynamic_json(d, span)?.to_string())),
        Literal::Null => ScalarValue::LargeUtf8(None),
    })
}

/// Converts a dynamic literal to JSON.
pub fn dynamic_json(d: &Dynamic, span: Span) -> Result<serde_json::Value> {
    use serde_json::Value;
    Ok(match d {
        Dynamic::Null => Value::Null,
        Dynamic::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| dynamic_json(i, span))
                .collect::<Result<Vec<_>>>()?,
        ),
        Dynamic::Object(items) => {
            let mut m = serde_json::Map::new();
            for (k, v) in items {
                m.insert(k.clone(), dynamic_json(v, span)?);
            }
            Value::Object(m)
        }
        Dynamic::Neg(inner) => match dynamic_json(inner, span)? {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::from(-i)
                } else {
                    Value::from(-n.as_f64().unwrap_or(0.0))
                }
            }
            _ => return Err(semantic(span, "Only numbers can be negated in dynamic()")),
        },
        Dynamic::Scalar(l) => {
            let v = literal_to_scalar(l, span)?;
            scalar_to_json(&v)
        }
    })
}

/// A scalar value as JSON (datetimes, timespans and guids as their Kusto strings).
pub fn scalar_to_json(v: &ScalarValue) -> serde_json::Value {
    use serde_json::Value;
    match v {
        ScalarValue::Boolean(Some(b)) => Value::Bool(*b),
        ScalarValue::Int32(Some(i)) => Value::from(*i),
        ScalarValue::Int64(Some(i)) => Value::from(*i),
        ScalarValue::Float64(Some(f)) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        ScalarValue::Utf8(Some(s)) => Value::String(s.clone()),
        ScalarValue::LargeUtf8(Some(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        ScalarValue::TimestampNanosecond(Some(ns), _) => {
            Value::String(kql_functions::convert::format_datetime_kusto(*ns))
        }
        ScalarValue::DurationNanosecond(Some(ns)) => {
            Value::String(kql_functions::convert::format_timespan_kusto(*ns))
        }
        ScalarValue::Decimal128(Some(v), _, s) => {
            let text = format_decimal(*v, *s);
            text.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::String(text), Value::Number)
        }
        ScalarValue::FixedSizeBinary(16, Some(b)) => Value::String(format_guid(b)),
        _ => Value::Null,
    }
}

/// Parses the text of a value of type `t`: the inside of `t(...)` literals, or a request
/// parameter (which may also be written as a full KQL literal such as `datetime(2020-01-01)`).
pub fn parse_value_text(text: &str, t: KqlType) -> Result<ScalarValue> {
    let text = text.trim();
    let bad = || semantic(None, format!("Cannot convert '{text}' to {t}"));
    // A full literal such as `datetime(2020-01-01)` or `long(5)`.
    if let Some(open) = text.find('(')
        && text.ends_with(')')
        && text[..open].chars().all(|c| c.is_ascii_alphabetic())
        && open > 0
        && KqlType::from_name(&text[..open]).is_some()
    {
        let inner = &text[open + 1..text.len() - 1];
        if t == KqlType::Dynamic {
            let parsed = kql_syntax::parse(&format!("print {text}"));
            if let Some(v) = single_print_literal(&parsed) {
                return Ok(v);
            }
            return Err(bad());
        }
        return parse_value_text(inner, t);
    }
    if text.eq_ignore_ascii_case("null") {
        return Ok(null_of(t));
    }
    let unquoted = || {
        let q = text.len() >= 2
            && ((text.starts_with('"') && text.ends_with('"'))
                || (text.starts_with('\'') && text.ends_with('\'')));
        if q {
            // decode escapes through the KQL lexer
            let parsed = kql_syntax::parse(&format!("print {text}"));
            if let Some(ScalarValue::Utf8(Some(s))) = single_print_literal(&parsed) {
                return s;
            }
            text[1..text.len() - 1].to_string()
        } else {
            text.to_string()
        }
    };
    Ok(match t {
        KqlType::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "1" => ScalarValue::Boolean(Some(true)),
            "false" | "0" => ScalarValue::Boolean(Some(false)),
            _ => return Err(bad()),
        },
        KqlType::Int => ScalarValue::Int32(Some(text.parse().map_err(|_| bad())?)),
        KqlType::Long => ScalarValue::Int64(Some(parse_long(text).ok_or_else(bad)?)),
        KqlType::Real => ScalarValue::Float64(Some(parse_real(text).ok_or_else(bad)?)),
        KqlType::Decimal => decimal(Some(
            kql_functions::convert::parse_decimal(text, DECIMAL_SCALE).ok_or_else(bad)?,
        )),
        KqlType::String => ScalarValue::Utf8(Some(unquoted())),
        KqlType::DateTime => datetime(Some(parse_datetime(&unquoted()).ok_or_else(bad)?)),
        KqlType::TimeSpan => {
            let u = unquoted();
            timespan(Some(
                parse_timespan_literal(&u)
                    .or_else(|| parse_timespan(&u))
                    .ok_or_else(bad)?,
            ))
        }
        KqlType::Guid => ScalarValue::FixedSizeBinary(
            16,
            Some(parse_guid(&unquoted()).ok_or_else(bad)?.to_vec()),
        ),
        KqlType::Dynamic => {
            let v: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
            ScalarValue::LargeUtf8(Some(v.to_string()))
        }
    })
}

fn single_print_literal(parsed: &kql_syntax::Parsed) -> Option<ScalarValue> {
    use kql_syntax::ast::{ExprKind, OperatorKind, StatementKind};
    if !parsed.is_ok() {
        return None;
    }
    let st = parsed.query.statements.first()?;
    let StatementKind::Expr(e) = &st.kind else {
        return None;
    };
    let ExprKind::Source(op) = &e.kind else {
        return None;
    };
    let OperatorKind::Print(items) = &op.kind else {
        return None;
    };
    let ExprKind::Literal(l) = &items.first()?.expr.kind else {
        return None;
    };
    literal_to_scalar(l, e.span()).ok()
}
