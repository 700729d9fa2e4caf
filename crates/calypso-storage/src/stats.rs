//! Extent statistics: computed when an extent is written, kept in the catalog as JSON,
//! and turned back into Arrow arrays to skip extents with DataFusion's
//! [`PruningPredicate`](datafusion::physical_optimizer::pruning::PruningPredicate).

use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, UInt64Array};
use arrow::compute;
use arrow::datatypes::{
    DataType, Decimal128Type, DurationNanosecondType, Float64Type, Int32Type, Int64Type,
    TimestampNanosecondType,
};
use arrow::record_batch::RecordBatch;
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::{Column as DfColumn, ScalarValue};
use kql_types::KqlType;
use kql_types::types::{DECIMAL_PRECISION, DECIMAL_SCALE};
use serde_json::Value;

use crate::catalog::{Column, ColumnStats, ExtentMeta};

/// Strings longer than this many bytes keep a truncated `min` and no `max`.
pub const MAX_STRING_STAT_BYTES: usize = 64;

/// Statistics of every column of `batches` (all with the same schema), in schema order.
pub(crate) fn compute_stats(columns: &[Column], batches: &[RecordBatch]) -> Vec<ColumnStats> {
    let Some(first) = batches.first() else {
        return Vec::new();
    };
    let schema = first.schema();
    let mut out = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        let kql_type = columns
            .iter()
            .find(|c| c.name == *field.name())
            .map(|c| c.kql_type)
            .or_else(|| KqlType::from_arrow(field.data_type()));
        let mut min: Option<ScalarValue> = None;
        let mut max: Option<ScalarValue> = None;
        let mut null_count = 0u64;
        for batch in batches {
            let array = batch.column(i);
            null_count += array.null_count() as u64;
            if let Some((lo, hi)) = array_min_max(array.as_ref()) {
                min = Some(match min {
                    Some(m) if m.partial_cmp(&lo) != Some(Ordering::Greater) => m,
                    _ => lo,
                });
                max = Some(match max {
                    Some(m) if m.partial_cmp(&hi) != Some(Ordering::Less) => m,
                    _ => hi,
                });
            }
        }
        let (min, max) = match kql_type {
            Some(t) => (
                min.and_then(|v| scalar_to_json(&v, t, false)),
                max.and_then(|v| scalar_to_json(&v, t, true)),
            ),
            None => (None, None),
        };
        out.push(ColumnStats {
            name: field.name().clone(),
            min,
            max,
            null_count,
        });
    }
    out
}

/// The smallest and largest non-null values of an array whose type has an order we keep.
fn array_min_max(array: &dyn Array) -> Option<(ScalarValue, ScalarValue)> {
    if array.null_count() == array.len() {
        return None;
    }
    let pair = match array.data_type() {
        DataType::Boolean => {
            let a = array.as_boolean();
            (
                ScalarValue::Boolean(compute::min_boolean(a)),
                ScalarValue::Boolean(compute::max_boolean(a)),
            )
        }
        DataType::Int32 => {
            let a = array.as_primitive::<Int32Type>();
            (
                ScalarValue::Int32(compute::min(a)),
                ScalarValue::Int32(compute::max(a)),
            )
        }
        DataType::Int64 => {
            let a = array.as_primitive::<Int64Type>();
            (
                ScalarValue::Int64(compute::min(a)),
                ScalarValue::Int64(compute::max(a)),
            )
        }
        DataType::Float64 => {
            let a = array.as_primitive::<Float64Type>();
            let (lo, hi) = (compute::min(a)?, compute::max(a)?);
            if !lo.is_finite() || !hi.is_finite() {
                return None;
            }
            (
                ScalarValue::Float64(Some(lo)),
                ScalarValue::Float64(Some(hi)),
            )
        }
        DataType::Decimal128(p, s) => {
            let a = array.as_primitive::<Decimal128Type>();
            (
                ScalarValue::Decimal128(compute::min(a), *p, *s),
                ScalarValue::Decimal128(compute::max(a), *p, *s),
            )
        }
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            (
                ScalarValue::Utf8(compute::min_string(a).map(str::to_string)),
                ScalarValue::Utf8(compute::max_string(a).map(str::to_string)),
            )
        }
        DataType::Timestamp(arrow::datatypes::TimeUnit::Nanosecond, None) => {
            let a = array.as_primitive::<TimestampNanosecondType>();
            (
                ScalarValue::TimestampNanosecond(compute::min(a), None),
                ScalarValue::TimestampNanosecond(compute::max(a), None),
            )
        }
        DataType::Duration(arrow::datatypes::TimeUnit::Nanosecond) => {
            let a = array.as_primitive::<DurationNanosecondType>();
            (
                ScalarValue::DurationNanosecond(compute::min(a)),
                ScalarValue::DurationNanosecond(compute::max(a)),
            )
        }
        _ => return None,
    };
    if pair.0.is_null() || pair.1.is_null() {
        return None;
    }
    Some(pair)
}

/// The JSON form of a statistic (see [`ColumnStats`]); `is_max` decides what to do with
/// long strings (a prefix is a valid minimum, not a valid maximum).
fn scalar_to_json(v: &ScalarValue, t: KqlType, is_max: bool) -> Option<Value> {
    match (t, v) {
        (KqlType::Bool, ScalarValue::Boolean(Some(b))) => Some(Value::Bool(*b)),
        (KqlType::Int, ScalarValue::Int32(Some(i))) => Some(Value::from(*i)),
        (KqlType::Long, ScalarValue::Int64(Some(i))) => Some(Value::from(*i)),
        (KqlType::Real, ScalarValue::Float64(Some(f))) => {
            serde_json::Number::from_f64(*f).map(Value::Number)
        }
        (KqlType::Decimal, ScalarValue::Decimal128(Some(_), _, _)) => {
            Some(Value::String(v.to_string()))
        }
        (KqlType::String, ScalarValue::Utf8(Some(s))) => {
            if s.len() <= MAX_STRING_STAT_BYTES {
                Some(Value::String(s.clone()))
            } else if is_max {
                None
            } else {
                let mut end = MAX_STRING_STAT_BYTES;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                Some(Value::String(s[..end].to_string()))
            }
        }
        (KqlType::DateTime, ScalarValue::TimestampNanosecond(Some(ns), _)) => {
            let dt = chrono::DateTime::from_timestamp_nanos(*ns);
            Some(Value::String(
                dt.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string(),
            ))
        }
        (KqlType::TimeSpan, ScalarValue::DurationNanosecond(Some(ns))) => Some(Value::from(*ns)),
        _ => None,
    }
}

/// The scalar of a JSON statistic for a column of type `t`; `None` when it does not fit.
fn json_to_scalar(v: &Value, t: KqlType) -> Option<ScalarValue> {
    Some(match t {
        KqlType::Bool => ScalarValue::Boolean(Some(v.as_bool()?)),
        KqlType::Int => ScalarValue::Int32(Some(i32::try_from(v.as_i64()?).ok()?)),
        KqlType::Long => ScalarValue::Int64(Some(v.as_i64()?)),
        KqlType::Real => ScalarValue::Float64(Some(v.as_f64()?)),
        KqlType::Decimal => {
            let text = ScalarValue::Utf8(Some(v.as_str()?.to_string()));
            let d = text
                .cast_to(&DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE))
                .ok()?;
            if d.is_null() {
                return None;
            }
            d
        }
        KqlType::String => ScalarValue::Utf8(Some(v.as_str()?.to_string())),
        KqlType::DateTime => {
            let dt = chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok()?;
            ScalarValue::TimestampNanosecond(Some(dt.timestamp_nanos_opt()?), None)
        }
        KqlType::TimeSpan => ScalarValue::DurationNanosecond(Some(v.as_i64()?)),
        KqlType::Guid | KqlType::Dynamic => return None,
    })
}

/// The catalog statistics of a list of extents, seen by DataFusion's pruning.
pub(crate) struct ExtentStatistics<'a> {
    /// The table's columns.
    pub columns: &'a [Column],
    /// One container per extent.
    pub extents: Vec<&'a ExtentMeta>,
}

impl ExtentStatistics<'_> {
    fn column(&self, column: &DfColumn) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == column.name)
    }

    /// One value per extent: `None` (null) when unknown.
    fn bound(&self, column: &DfColumn, is_max: bool) -> Option<ArrayRef> {
        let col = self.column(column)?;
        let data_type = col.kql_type.to_arrow();
        let null = ScalarValue::try_from(&data_type).ok()?;
        let values = self.extents.iter().map(|e| {
            e.stats(&col.name)
                .and_then(|s| {
                    if is_max {
                        s.max.as_ref()
                    } else {
                        s.min.as_ref()
                    }
                })
                .and_then(|v| json_to_scalar(v, col.kql_type))
                .unwrap_or_else(|| null.clone())
        });
        ScalarValue::iter_to_array(values).ok()
    }
}

impl PruningStatistics for ExtentStatistics<'_> {
    fn min_values(&self, column: &DfColumn) -> Option<ArrayRef> {
        self.bound(column, false)
    }

    fn max_values(&self, column: &DfColumn) -> Option<ArrayRef> {
        self.bound(column, true)
    }

    fn num_containers(&self) -> usize {
        self.extents.len()
    }

    fn null_counts(&self, column: &DfColumn) -> Option<ArrayRef> {
        let col = self.column(column)?;
        let counts = self.extents.iter().map(|e| {
            if e.column_stats.is_empty() {
                // No statistics at all (an old catalog): unknown.
                None
            } else {
                // A column without statistics was added after the extent was written:
                // all its values are null.
                Some(e.stats(&col.name).map_or(e.rows, |s| s.null_count))
            }
        });
        Some(Arc::new(counts.collect::<UInt64Array>()))
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        Some(Arc::new(
            self.extents
                .iter()
                .map(|e| Some(e.rows))
                .collect::<UInt64Array>(),
        ))
    }

    fn contained(
        &self,
        _column: &DfColumn,
        _values: &HashSet<ScalarValue>,
    ) -> Option<BooleanArray> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_of_every_ordered_type() {
        let cases = [
            (KqlType::Bool, ScalarValue::Boolean(Some(true))),
            (KqlType::Int, ScalarValue::Int32(Some(-7))),
            (KqlType::Long, ScalarValue::Int64(Some(i64::MAX))),
            (KqlType::Real, ScalarValue::Float64(Some(1.5))),
            (
                KqlType::Decimal,
                ScalarValue::Decimal128(Some(1_500_000_000_000_000_000), 38, 18),
            ),
            (KqlType::String, ScalarValue::Utf8(Some("abc".into()))),
            (
                KqlType::DateTime,
                ScalarValue::TimestampNanosecond(Some(1_600_000_000_123_456_789), None),
            ),
            (KqlType::TimeSpan, ScalarValue::DurationNanosecond(Some(-5))),
        ];
        for (t, v) in cases {
            let json = scalar_to_json(&v, t, false).expect("json");
            assert_eq!(json_to_scalar(&json, t), Some(v), "{t:?} via {json}");
        }
    }

    #[test]
    fn long_strings_keep_a_prefix_as_min_and_no_max() {
        let s = "é".repeat(40); // 80 bytes
        let v = ScalarValue::Utf8(Some(s.clone()));
        let min = scalar_to_json(&v, KqlType::String, false).expect("min");
        let min = min.as_str().expect("string");
        assert!(min.len() <= MAX_STRING_STAT_BYTES && s.starts_with(min));
        assert_eq!(scalar_to_json(&v, KqlType::String, true), None);
    }

    #[test]
    fn non_finite_reals_have_no_bounds() {
        let a = arrow::array::Float64Array::from(vec![1.0, f64::NAN]);
        assert!(array_min_max(&a).is_none());
    }
}
