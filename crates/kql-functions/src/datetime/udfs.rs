//! The datetime scalar functions other than `bin`/`bin_at`, as one `ScalarUDFImpl`
//! parameterized by [`Op`].

use std::sync::Arc;

use arrow::array::{
    ArrayRef, DurationNanosecondArray, Int32Array, Int64Array, StringArray,
    TimestampNanosecondArray,
};
use arrow::datatypes::DataType;
use datafusion_common::Result;
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{
    Memo, Want, coerce_args, datetime_type, datetimes, get, longs, reals, timespan_type, timespans,
};
use super::calendar::{
    self, Civil, NANOS_PER_DAY, NANOS_PER_HOUR, NANOS_PER_MINUTE, NANOS_PER_SEC, NANOS_PER_TICK,
    Part, Period,
};
use super::format::{Token, format_datetime, format_timespan, parse_format};
use crate::Registry;
use crate::util::{all_scalar, args_to_arrays, row_count, str_at};

/// Calendar units of `startof*` / `endof*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Day.
    Day,
    /// Week (Sunday to Saturday).
    Week,
    /// Month.
    Month,
    /// Year.
    Year,
}

/// Which function a [`DateFn`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `startofday` etc.: `(datetime[, offset])`.
    Start(Unit),
    /// `endofday` etc.: `(datetime[, offset])`.
    End(Unit),
    /// `dayofweek(dt)`: timespan of whole days since Sunday.
    DayOfWeek,
    /// Integer-valued extractors (`getyear`, `dayofmonth`, ...) returning `int`.
    IntPart(Part),
    /// `datetime_part(part, dt)`.
    DatetimePart,
    /// `datetime_add(period, amount, dt)`.
    DatetimeAdd,
    /// `datetime_diff(period, dt1, dt2)`.
    DatetimeDiff,
    /// `make_datetime(y, m, d[, h, mi[, s]])`.
    MakeDatetime,
    /// `make_timespan(...)`.
    MakeTimespan,
    /// `unixtime_*_todatetime(x)`, with the unit length in nanoseconds.
    UnixTo(i64),
    /// `format_datetime(dt, format)`.
    FormatDatetime,
    /// `format_timespan(ts, format)`.
    FormatTimespan,
}

/// Registers the functions of this module.
pub(crate) fn register(r: &mut Registry) {
    let fns: &[(&'static str, Op)] = &[
        ("startofday", Op::Start(Unit::Day)),
        ("startofweek", Op::Start(Unit::Week)),
        ("startofmonth", Op::Start(Unit::Month)),
        ("startofyear", Op::Start(Unit::Year)),
        ("endofday", Op::End(Unit::Day)),
        ("endofweek", Op::End(Unit::Week)),
        ("endofmonth", Op::End(Unit::Month)),
        ("endofyear", Op::End(Unit::Year)),
        ("dayofweek", Op::DayOfWeek),
        ("dayofmonth", Op::IntPart(Part::Day)),
        ("dayofyear", Op::IntPart(Part::DayOfYear)),
        ("hourofday", Op::IntPart(Part::Hour)),
        ("getyear", Op::IntPart(Part::Year)),
        ("getmonth", Op::IntPart(Part::Month)),
        ("monthofyear", Op::IntPart(Part::Month)),
        ("week_of_year", Op::IntPart(Part::WeekOfYear)),
        ("datetime_part", Op::DatetimePart),
        ("datepart", Op::DatetimePart),
        ("datetime_add", Op::DatetimeAdd),
        ("datetime_diff", Op::DatetimeDiff),
        ("make_datetime", Op::MakeDatetime),
        ("make_timespan", Op::MakeTimespan),
        ("unixtime_seconds_todatetime", Op::UnixTo(NANOS_PER_SEC)),
        ("unixtime_milliseconds_todatetime", Op::UnixTo(1_000_000)),
        ("unixtime_microseconds_todatetime", Op::UnixTo(1_000)),
        ("unixtime_nanoseconds_todatetime", Op::UnixTo(1)),
        ("format_datetime", Op::FormatDatetime),
        ("format_timespan", Op::FormatTimespan),
    ];
    for &(name, op) in fns {
        r.add_scalar(name, ScalarUDF::new_from_impl(DateFn::new(name, op)));
    }
}

/// A KQL datetime function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateFn {
    name: &'static str,
    op: Op,
    signature: Signature,
}

impl DateFn {
    /// The function `name` computing `op`.
    pub fn new(name: &'static str, op: Op) -> Self {
        Self {
            name,
            op,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateFn {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        use Want::*;
        let (wants, required): (&[Want], usize) = match self.op {
            Op::Start(_) | Op::End(_) => (&[DateTime, Long], 1),
            Op::DayOfWeek | Op::IntPart(_) => (&[DateTime], 1),
            Op::DatetimePart => (&[Str, DateTime], 2),
            Op::DatetimeAdd => (&[Str, Long, DateTime], 3),
            Op::DatetimeDiff => (&[Str, DateTime, DateTime], 3),
            Op::MakeDatetime => (&[Long, Long, Long, Long, Long, Real], 3),
            Op::MakeTimespan => (&[Real, Real, Real, Real], 2),
            Op::UnixTo(_) => {
                // Integers stay exact (long); everything else is a real.
                if arg_types.len() == 1 && arg_types[0].is_integer() {
                    (&[Long], 1)
                } else {
                    (&[Real], 1)
                }
            }
            Op::FormatDatetime => (&[DateTime, Str], 2),
            Op::FormatTimespan => (&[TimeSpan, Str], 2),
        };
        coerce_args(self.name, arg_types, wants, required)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.op {
            Op::Start(_) | Op::End(_) | Op::DatetimeAdd | Op::MakeDatetime | Op::UnixTo(_) => {
                datetime_type()
            }
            Op::DayOfWeek | Op::MakeTimespan => timespan_type(),
            Op::IntPart(_) | Op::DatetimePart => DataType::Int32,
            Op::DatetimeDiff => DataType::Int64,
            Op::FormatDatetime | Op::FormatTimespan => DataType::Utf8,
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let n = if scalar { 1 } else { row_count(&args.args) };
        let arrays = args_to_arrays(&args.args, n)?;
        let out = self.compute(&arrays, n)?;
        crate::util::finish(out, scalar)
    }
}

fn ts_array(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(values.collect::<TimestampNanosecondArray>())
}

fn dur_array(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(values.collect::<DurationNanosecondArray>())
}

fn int_array(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(
        values
            .map(|v| v.and_then(|v| i32::try_from(v).ok()))
            .collect::<Int32Array>(),
    )
}

/// `make_datetime` on validated fields; seconds may carry a fraction (rounded to ticks).
pub fn make_datetime(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: f64) -> Option<i64> {
    if !(0..=23).contains(&h) || !(0..=59).contains(&mi) || !(0.0..60.0).contains(&s) {
        return None;
    }
    let mo = u32::try_from(mo).ok()?;
    let d = u32::try_from(d).ok()?;
    if !(1..=9999).contains(&y) {
        return None;
    }
    let s_nanos = seconds_to_nanos(s)?;
    calendar::from_civil(
        y,
        mo,
        d,
        h * NANOS_PER_HOUR + mi * NANOS_PER_MINUTE + s_nanos,
    )
}

/// Seconds (with fraction) to nanoseconds, rounded to the nearest 100 ns tick.
fn seconds_to_nanos(s: f64) -> Option<i64> {
    let ticks = (s * 1e7).round();
    if !ticks.is_finite() || ticks.abs() > (i64::MAX / NANOS_PER_TICK) as f64 {
        return None;
    }
    Some(ticks as i64 * NANOS_PER_TICK)
}

/// `make_timespan`: `(hour, minute)`, `(hour, minute, second)` or
/// `(day, hour, minute, second)`.
pub fn make_timespan(fields: &[f64]) -> Option<i64> {
    let (d, h, mi, s) = match *fields {
        [h, mi] => (0.0, h, mi, 0.0),
        [h, mi, s] => (0.0, h, mi, s),
        [d, h, mi, s] => (d, h, mi, s),
        _ => return None,
    };
    let whole = |v: f64| v.is_finite() && v.fract() == 0.0;
    if !whole(d) || !whole(h) || !whole(mi) || !s.is_finite() {
        return None;
    }
    if !(0.0..=23.0).contains(&h) || !(0.0..=59.0).contains(&mi) || !(0.0..60.0).contains(&s) {
        return None;
    }
    if d.abs() > (i64::MAX / NANOS_PER_DAY) as f64 {
        return None;
    }
    let base = (d as i64).checked_mul(NANOS_PER_DAY)?;
    let rest = h as i64 * NANOS_PER_HOUR + mi as i64 * NANOS_PER_MINUTE + seconds_to_nanos(s)?;
    if d < 0.0 {
        base.checked_sub(rest)
    } else {
        base.checked_add(rest)
    }
}

/// `unixtime_*_todatetime` of a real number of `unit`-nanosecond units.
fn unix_real_to_nanos(v: f64, unit: i64) -> Option<i64> {
    let nanos = v * unit as f64;
    if !nanos.is_finite() || nanos.abs() >= i64::MAX as f64 {
        return None;
    }
    // Round to ticks (Kusto's resolution) to absorb binary floating point noise.
    let ticks = (nanos / NANOS_PER_TICK as f64).round() as i64;
    ticks.checked_mul(NANOS_PER_TICK)
}

impl DateFn {
    fn compute(&self, a: &[ArrayRef], n: usize) -> Result<ArrayRef> {
        Ok(match self.op {
            Op::Start(unit) | Op::End(unit) => {
                let dt = datetimes(&a[0])?;
                let off = match a.get(1) {
                    Some(o) => Some(longs(o)?),
                    None => None,
                };
                let f: fn(i64, i64) -> Option<i64> = match (self.op, unit) {
                    (Op::Start(_), Unit::Day) => calendar::start_of_day,
                    (Op::Start(_), Unit::Week) => calendar::start_of_week,
                    (Op::Start(_), Unit::Month) => calendar::start_of_month,
                    (Op::Start(_), Unit::Year) => calendar::start_of_year,
                    (_, Unit::Day) => calendar::end_of_day,
                    (_, Unit::Week) => calendar::end_of_week,
                    (_, Unit::Month) => calendar::end_of_month,
                    (_, Unit::Year) => calendar::end_of_year,
                };
                ts_array((0..n).map(|i| {
                    let o = match &off {
                        Some(o) => get(o, i)?,
                        None => 0,
                    };
                    f(get(&dt, i)?, o)
                }))
            }
            Op::DayOfWeek => {
                let dt = datetimes(&a[0])?;
                dur_array((0..n).map(|i| {
                    let c = Civil::from_nanos(get(&dt, i)?);
                    Some(i64::from(c.weekday()) * NANOS_PER_DAY)
                }))
            }
            Op::IntPart(part) => {
                let dt = datetimes(&a[0])?;
                int_array((0..n).map(|i| Some(calendar::datetime_part(part, get(&dt, i)?))))
            }
            Op::DatetimePart => {
                let dt = datetimes(&a[1])?;
                let mut memo = Memo::default();
                int_array((0..n).map(|i| {
                    let part = memo.get(str_at(a[0].as_ref(), i), Part::parse)?;
                    Some(calendar::datetime_part(part, get(&dt, i)?))
                }))
            }
            Op::DatetimeAdd => {
                let amount = longs(&a[1])?;
                let dt = datetimes(&a[2])?;
                let mut memo = Memo::default();
                ts_array((0..n).map(|i| {
                    let p = memo.get(str_at(a[0].as_ref(), i), Period::parse)?;
                    calendar::datetime_add(p, get(&amount, i)?, get(&dt, i)?)
                }))
            }
            Op::DatetimeDiff => {
                let d1 = datetimes(&a[1])?;
                let d2 = datetimes(&a[2])?;
                let mut memo = Memo::default();
                let out: Int64Array = (0..n)
                    .map(|i| {
                        let p = memo.get(str_at(a[0].as_ref(), i), Period::parse)?;
                        calendar::datetime_diff(p, get(&d1, i)?, get(&d2, i)?)
                    })
                    .collect();
                Arc::new(out)
            }
            Op::MakeDatetime => {
                let ints = a.iter().take(5).map(longs).collect::<Result<Vec<_>>>()?;
                let secs = match a.get(5) {
                    Some(s) => Some(reals(s)?),
                    None => None,
                };
                ts_array((0..n).map(|i| {
                    let mut f = [0i64; 5];
                    for (k, arr) in ints.iter().enumerate() {
                        f[k] = get(arr, i)?;
                    }
                    let s = match &secs {
                        Some(s) => get(s, i)?,
                        None => 0.0,
                    };
                    make_datetime(f[0], f[1], f[2], f[3], f[4], s)
                }))
            }
            Op::MakeTimespan => {
                let vals = a.iter().map(reals).collect::<Result<Vec<_>>>()?;
                dur_array((0..n).map(|i| {
                    let fields = vals
                        .iter()
                        .map(|v| get(v, i))
                        .collect::<Option<Vec<f64>>>()?;
                    make_timespan(&fields)
                }))
            }
            Op::UnixTo(unit) => {
                if a[0].data_type() == &DataType::Int64 {
                    let v = longs(&a[0])?;
                    ts_array((0..n).map(|i| get(&v, i)?.checked_mul(unit)))
                } else {
                    let v = reals(&a[0])?;
                    ts_array((0..n).map(|i| unix_real_to_nanos(get(&v, i)?, unit)))
                }
            }
            Op::FormatDatetime | Op::FormatTimespan => {
                let is_dt = self.op == Op::FormatDatetime;
                let values = if is_dt {
                    datetimes(&a[0])?
                } else {
                    // Same i64 layout; reuse the timestamp array type for uniform access.
                    let t = timespans(&a[0])?;
                    t.iter().collect::<TimestampNanosecondArray>()
                };
                let mut memo: Memo<Arc<Vec<Token>>> = Memo::default();
                let out: StringArray = (0..n)
                    .map(|i| {
                        let toks =
                            memo.get(str_at(a[1].as_ref(), i), |s| Arc::new(parse_format(s)));
                        Some(match get(&values, i) {
                            Some(v) if is_dt => format_datetime(v, &toks),
                            Some(v) => format_timespan(v, &toks),
                            None => String::new(),
                        })
                    })
                    .collect();
                Arc::new(out)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;
    use arrow::datatypes::Field;
    use datafusion_common::ScalarValue;
    use datafusion_common::config::ConfigOptions;

    fn call(name: &'static str, op: Op, args: Vec<ColumnarValue>) -> ColumnarValue {
        let f = DateFn::new(name, op);
        let types: Vec<DataType> = args.iter().map(|a| a.data_type()).collect();
        let coerced = f.coerce_types(&types).expect("coerce");
        let args: Vec<ColumnarValue> = args
            .into_iter()
            .zip(&coerced)
            .map(|(a, t)| a.cast_to(t, None).expect("cast"))
            .collect();
        let ret = f.return_type(&coerced).expect("return type");
        let arg_fields = coerced
            .iter()
            .map(|t| Arc::new(Field::new("a", t.clone(), true)))
            .collect();
        f.invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields,
            number_rows: 1,
            return_field: Arc::new(Field::new("r", ret, true)),
            config_options: Arc::new(ConfigOptions::default()),
        })
        .expect("invoke")
    }

    fn scalar(v: ColumnarValue) -> ScalarValue {
        match v {
            ColumnarValue::Scalar(s) => s,
            ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0).expect("row 0"),
        }
    }

    fn ts(ns: i64) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::TimestampNanosecond(Some(ns), None))
    }
    fn s(v: &str) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(v.to_string())))
    }
    fn long(v: i64) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(v)))
    }
    fn real(v: f64) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Float64(Some(v)))
    }
    fn date(y: i64, m: u32, d: u32) -> i64 {
        calendar::from_civil(y, m, d, 0).expect("date")
    }

    #[test]
    fn make_datetime_and_timespan() {
        assert_eq!(
            make_datetime(2017, 10, 1, 0, 0, 0.0),
            Some(date(2017, 10, 1))
        );
        assert_eq!(
            make_datetime(2017, 10, 1, 12, 11, 0.1234567),
            Some(date(2017, 10, 1) + 12 * NANOS_PER_HOUR + 11 * NANOS_PER_MINUTE + 123_456_700)
        );
        assert_eq!(make_datetime(2017, 2, 29, 0, 0, 0.0), None);
        assert_eq!(make_datetime(2017, 13, 1, 0, 0, 0.0), None);
        assert_eq!(make_datetime(2017, 1, 1, 24, 0, 0.0), None);
        assert_eq!(
            make_timespan(&[1.0, 12.0, 30.0, 55.123]),
            Some(NANOS_PER_DAY + 12 * NANOS_PER_HOUR + 30 * NANOS_PER_MINUTE + 55_123_000_000)
        );
        assert_eq!(
            make_timespan(&[2.0, 30.0]),
            Some(2 * NANOS_PER_HOUR + 30 * NANOS_PER_MINUTE)
        );
        assert_eq!(make_timespan(&[25.0, 0.0]), None);
    }

    #[test]
    fn unix_conversions() {
        let r = scalar(call(
            "u",
            Op::UnixTo(NANOS_PER_SEC),
            vec![long(1_546_300_800)],
        ));
        assert_eq!(
            r,
            ScalarValue::TimestampNanosecond(Some(date(2019, 1, 1)), None)
        );
        let r = scalar(call(
            "u",
            Op::UnixTo(1_000_000),
            vec![real(1_546_300_800_000.0)],
        ));
        assert_eq!(
            r,
            ScalarValue::TimestampNanosecond(Some(date(2019, 1, 1)), None)
        );
        let r = scalar(call("u", Op::UnixTo(NANOS_PER_SEC), vec![real(1.1234567)]));
        assert_eq!(
            r,
            ScalarValue::TimestampNanosecond(Some(1_123_456_700), None)
        );
    }

    #[test]
    fn udf_calls() {
        let x = date(2017, 1, 1) + 10 * NANOS_PER_HOUR;
        let r = scalar(call(
            "startofweek",
            Op::Start(Unit::Week),
            vec![ts(x), long(-1)],
        ));
        assert_eq!(
            r,
            ScalarValue::TimestampNanosecond(Some(date(2016, 12, 25)), None)
        );
        let r = scalar(call("endofday", Op::End(Unit::Day), vec![ts(x)]));
        assert_eq!(
            r,
            ScalarValue::TimestampNanosecond(Some(date(2017, 1, 2) - NANOS_PER_TICK), None)
        );
        let r = scalar(call(
            "dayofweek",
            Op::DayOfWeek,
            vec![ts(date(1970, 5, 12))],
        ));
        assert_eq!(r, ScalarValue::DurationNanosecond(Some(2 * NANOS_PER_DAY)));
        let r = scalar(call(
            "getyear",
            Op::IntPart(Part::Year),
            vec![ts(date(2015, 10, 12))],
        ));
        assert_eq!(r, ScalarValue::Int32(Some(2015)));
        let r = scalar(call(
            "datetime_part",
            Op::DatetimePart,
            vec![s("Month"), ts(x)],
        ));
        assert_eq!(r, ScalarValue::Int32(Some(1)));
        let r = scalar(call(
            "datetime_part",
            Op::DatetimePart,
            vec![s("bogus"), ts(x)],
        ));
        assert_eq!(r, ScalarValue::Int32(None));
        let r = scalar(call(
            "datetime_add",
            Op::DatetimeAdd,
            vec![s("month"), long(-15), ts(date(2017, 1, 1))],
        ));
        assert_eq!(
            r,
            ScalarValue::TimestampNanosecond(Some(date(2015, 10, 1)), None)
        );
        let r = scalar(call(
            "datetime_diff",
            Op::DatetimeDiff,
            vec![s("year"), ts(date(2017, 1, 1)), ts(date(2000, 12, 31))],
        ));
        assert_eq!(r, ScalarValue::Int64(Some(17)));
        let r = scalar(call(
            "make_datetime",
            Op::MakeDatetime,
            vec![long(2017), long(10), long(1), long(12), long(10)],
        ));
        assert_eq!(
            r,
            ScalarValue::TimestampNanosecond(
                Some(date(2017, 10, 1) + 12 * NANOS_PER_HOUR + 10 * NANOS_PER_MINUTE),
                None
            )
        );
        let r = scalar(call(
            "format_datetime",
            Op::FormatDatetime,
            vec![
                ts(date(2017, 1, 29) + 9 * NANOS_PER_HOUR + 5 * NANOS_PER_SEC),
                s("yy-MM-dd [HH:mm:ss]"),
            ],
        ));
        assert_eq!(r, ScalarValue::Utf8(Some("17-01-29 [09:00:05]".into())));
        let r = scalar(call(
            "format_timespan",
            Op::FormatTimespan,
            vec![
                ColumnarValue::Scalar(ScalarValue::DurationNanosecond(Some(
                    29 * NANOS_PER_DAY + 9 * NANOS_PER_HOUR,
                ))),
                s("dd.hh:mm"),
            ],
        ));
        assert_eq!(r, ScalarValue::Utf8(Some("29.09:00".into())));
        let r = scalar(call(
            "format_datetime",
            Op::FormatDatetime,
            vec![
                ColumnarValue::Scalar(ScalarValue::TimestampNanosecond(None, None)),
                s("yyyy"),
            ],
        ));
        assert_eq!(r, ScalarValue::Utf8(Some(String::new())));
    }

    #[test]
    fn arrays_and_errors() {
        let arr: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![
            Some(date(2020, 12, 31)),
            None,
        ]));
        let out = call(
            "week_of_year",
            Op::IntPart(Part::WeekOfYear),
            vec![ColumnarValue::Array(arr)],
        );
        let ColumnarValue::Array(out) = out else {
            panic!("expected array")
        };
        assert_eq!(out.len(), 2);
        assert!(out.is_null(1));
        let f = DateFn::new("startofday", Op::Start(Unit::Day));
        assert!(f.coerce_types(&[DataType::Utf8]).is_err());
        assert!(f.coerce_types(&[]).is_err());
        assert!(f.coerce_types(&[DataType::Null]).is_ok());
    }
}
