//! Pure calendar arithmetic on datetimes stored as nanoseconds since the Unix epoch.
//!
//! Kusto datetimes count 100 ns ticks from 0001-01-01 (proleptic Gregorian, UTC);
//! Calypso stores them as Arrow `Timestamp(Nanosecond)`, so every helper here takes
//! and returns `i64` nanoseconds since 1970-01-01 and returns `None` when the result
//! leaves the representable range.

/// Nanoseconds per second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;
/// Nanoseconds per minute.
pub const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SEC;
/// Nanoseconds per hour.
pub const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;
/// Nanoseconds per day.
pub const NANOS_PER_DAY: i64 = 24 * NANOS_PER_HOUR;
/// Nanoseconds per .NET tick (the resolution of Kusto datetimes and timespans).
pub const NANOS_PER_TICK: i64 = 100;
/// 0001-01-01T00:00:00 (.NET `DateTime.MinValue`) in nanoseconds relative to the Unix
/// epoch; outside the `i64` range, hence `i128`.
pub const DOTNET_EPOCH_NANOS: i128 = -62_135_596_800 * NANOS_PER_SEC as i128;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day number (days since 1970-01-01).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// True for Gregorian leap years.
pub fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Number of days in month `m` (1-12) of year `y`.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Splits a datetime into (days since epoch, nanoseconds within the day).
pub fn split(ns: i64) -> (i64, i64) {
    (ns.div_euclid(NANOS_PER_DAY), ns.rem_euclid(NANOS_PER_DAY))
}

/// Builds a datetime from days since epoch and nanoseconds within the day.
pub fn join(days: i64, nanos_of_day: i64) -> Option<i64> {
    let v = i128::from(days) * i128::from(NANOS_PER_DAY) + i128::from(nanos_of_day);
    i64::try_from(v).ok()
}

/// The calendar fields of a datetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year.
    pub year: i64,
    /// Month, 1-12.
    pub month: u32,
    /// Day of month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub minute: u32,
    /// Second, 0-59.
    pub second: u32,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Days since 1970-01-01.
    pub days: i64,
}

impl Civil {
    /// Decomposes a datetime.
    pub fn from_nanos(ns: i64) -> Civil {
        let (days, nod) = split(ns);
        let (year, month, day) = civil_from_days(days);
        let secs = nod / NANOS_PER_SEC;
        Civil {
            year,
            month,
            day,
            hour: (secs / 3600) as u32,
            minute: (secs / 60 % 60) as u32,
            second: (secs % 60) as u32,
            nanos: (nod % NANOS_PER_SEC) as u32,
            days,
        }
    }

    /// Day of week, 0 = Sunday.
    pub fn weekday(&self) -> u32 {
        day_of_week_from_days(self.days)
    }

    /// Day of the year, 1-366.
    pub fn day_of_year(&self) -> u32 {
        (self.days - days_from_civil(self.year, 1, 1) + 1) as u32
    }

    /// Nanoseconds since midnight.
    pub fn nanos_of_day(&self) -> i64 {
        i64::from(self.hour) * NANOS_PER_HOUR
            + i64::from(self.minute) * NANOS_PER_MINUTE
            + i64::from(self.second) * NANOS_PER_SEC
            + i64::from(self.nanos)
    }
}

/// Day of week of a day number, 0 = Sunday (1970-01-01 was a Thursday).
pub fn day_of_week_from_days(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

/// Builds a datetime from calendar fields, validating each.
pub fn from_civil(y: i64, m: u32, d: u32, nanos_of_day: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    if !(0..NANOS_PER_DAY).contains(&nanos_of_day) {
        return None;
    }
    join(days_from_civil(y, m, d), nanos_of_day)
}

/// Start of the day containing `ns`, shifted by `offset` days.
pub fn start_of_day(ns: i64, offset: i64) -> Option<i64> {
    let (days, _) = split(ns);
    join(days.checked_add(offset)?, 0)
}

/// Start of the week (Sunday) containing `ns`, shifted by `offset` weeks.
pub fn start_of_week(ns: i64, offset: i64) -> Option<i64> {
    let (days, _) = split(ns);
    let start = days - i64::from(day_of_week_from_days(days));
    join(start.checked_add(offset.checked_mul(7)?)?, 0)
}

/// Start of the month containing `ns`, shifted by `offset` months.
pub fn start_of_month(ns: i64, offset: i64) -> Option<i64> {
    let c = Civil::from_nanos(ns);
    let (y, m) = shift_month(c.year, c.month, offset)?;
    join(days_from_civil(y, m, 1), 0)
}

/// Start of the year containing `ns`, shifted by `offset` years.
pub fn start_of_year(ns: i64, offset: i64) -> Option<i64> {
    let c = Civil::from_nanos(ns);
    let y = c.year.checked_add(offset)?;
    if y.abs() > 1_000_000 {
        return None;
    }
    join(days_from_civil(y, 1, 1), 0)
}

/// The last tick of the period that starts at `start(ns, offset + 1)`.
fn last_tick(start: fn(i64, i64) -> Option<i64>, ns: i64, offset: i64) -> Option<i64> {
    start(ns, offset.checked_add(1)?)?.checked_sub(NANOS_PER_TICK)
}

/// Last tick (`23:59:59.9999999`) of the day containing `ns`, shifted by `offset` days.
pub fn end_of_day(ns: i64, offset: i64) -> Option<i64> {
    last_tick(start_of_day, ns, offset)
}

/// Last tick of the week (Saturday) containing `ns`, shifted by `offset` weeks.
pub fn end_of_week(ns: i64, offset: i64) -> Option<i64> {
    last_tick(start_of_week, ns, offset)
}

/// Last tick of the month containing `ns`, shifted by `offset` months.
pub fn end_of_month(ns: i64, offset: i64) -> Option<i64> {
    last_tick(start_of_month, ns, offset)
}

/// Last tick of the year containing `ns`, shifted by `offset` years.
pub fn end_of_year(ns: i64, offset: i64) -> Option<i64> {
    last_tick(start_of_year, ns, offset)
}

/// Adds `months` to (year, month), returning the new (year, month).
fn shift_month(y: i64, m: u32, months: i64) -> Option<(i64, u32)> {
    let total = y
        .checked_mul(12)?
        .checked_add(i64::from(m) - 1)?
        .checked_add(months)?;
    let y2 = total.div_euclid(12);
    if y2.abs() > 1_000_000 {
        return None;
    }
    Some((y2, (total.rem_euclid(12) + 1) as u32))
}

/// Adds calendar months like .NET `DateTime.AddMonths` (the day is clamped to the
/// length of the target month; the time of day is kept).
pub fn add_months(ns: i64, months: i64) -> Option<i64> {
    let c = Civil::from_nanos(ns);
    let (y, m) = shift_month(c.year, c.month, months)?;
    let d = c.day.min(days_in_month(y, m));
    join(days_from_civil(y, m, d), c.nanos_of_day())
}

/// The periods of `datetime_add` and `datetime_diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// Calendar years.
    Year,
    /// Calendar quarters.
    Quarter,
    /// Calendar months.
    Month,
    /// Weeks (starting on Sunday for `datetime_diff`).
    Week,
    /// Days.
    Day,
    /// Hours.
    Hour,
    /// Minutes.
    Minute,
    /// Seconds.
    Second,
    /// Milliseconds.
    Millisecond,
    /// Microseconds.
    Microsecond,
    /// Nanoseconds.
    Nanosecond,
}

impl Period {
    /// Parses a period name (case-insensitive).
    pub fn parse(s: &str) -> Option<Period> {
        let p = match s.trim().to_ascii_lowercase().as_str() {
            "year" => Period::Year,
            "quarter" => Period::Quarter,
            "month" => Period::Month,
            "week" => Period::Week,
            "day" => Period::Day,
            "hour" => Period::Hour,
            "minute" => Period::Minute,
            "second" => Period::Second,
            "millisecond" => Period::Millisecond,
            "microsecond" => Period::Microsecond,
            "nanosecond" => Period::Nanosecond,
            _ => return None,
        };
        Some(p)
    }

    /// The fixed length of the period in nanoseconds (`None` for calendar periods).
    fn fixed_nanos(self) -> Option<i64> {
        Some(match self {
            Period::Week => 7 * NANOS_PER_DAY,
            Period::Day => NANOS_PER_DAY,
            Period::Hour => NANOS_PER_HOUR,
            Period::Minute => NANOS_PER_MINUTE,
            Period::Second => NANOS_PER_SEC,
            Period::Millisecond => 1_000_000,
            Period::Microsecond => 1_000,
            Period::Nanosecond => 1,
            Period::Year | Period::Quarter | Period::Month => return None,
        })
    }
}

/// `datetime_add(period, amount, dt)`.
pub fn datetime_add(period: Period, amount: i64, ns: i64) -> Option<i64> {
    match period {
        Period::Year => add_months(ns, amount.checked_mul(12)?),
        Period::Quarter => add_months(ns, amount.checked_mul(3)?),
        Period::Month => add_months(ns, amount),
        p => {
            let unit = p.fixed_nanos()?;
            ns.checked_add(amount.checked_mul(unit)?)
        }
    }
}

/// `datetime_diff(period, dt1, dt2)`: the number of period boundaries crossed going
/// from `dt2` to `dt1` (`dt1 - dt2`), as Kusto computes it.
pub fn datetime_diff(period: Period, a: i64, b: i64) -> Option<i64> {
    let ca = Civil::from_nanos(a);
    let cb = Civil::from_nanos(b);
    let months = |c: &Civil| c.year * 12 + i64::from(c.month) - 1;
    Some(match period {
        Period::Year => ca.year - cb.year,
        Period::Quarter => {
            let q = |c: &Civil| c.year * 4 + i64::from((c.month - 1) / 3);
            q(&ca) - q(&cb)
        }
        Period::Month => months(&ca) - months(&cb),
        Period::Week => {
            let wa = ca.days - i64::from(ca.weekday());
            let wb = cb.days - i64::from(cb.weekday());
            (wa - wb) / 7
        }
        Period::Nanosecond => a.checked_sub(b)?,
        p => {
            let unit = p.fixed_nanos()?;
            a.div_euclid(unit) - b.div_euclid(unit)
        }
    })
}

/// The parts of `datetime_part`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// Year.
    Year,
    /// Quarter, 1-4.
    Quarter,
    /// Month, 1-12.
    Month,
    /// ISO 8601 week of year.
    WeekOfYear,
    /// Day of month.
    Day,
    /// Day of year, 1-366.
    DayOfYear,
    /// Hour, 0-23.
    Hour,
    /// Minute, 0-59.
    Minute,
    /// Second, 0-59.
    Second,
    /// Milliseconds within the second.
    Millisecond,
    /// Microseconds within the second.
    Microsecond,
    /// Nanoseconds within the second.
    Nanosecond,
}

impl Part {
    /// Parses a part name (case-insensitive).
    pub fn parse(s: &str) -> Option<Part> {
        let p = match s.trim().to_ascii_lowercase().as_str() {
            "year" => Part::Year,
            "quarter" => Part::Quarter,
            "month" => Part::Month,
            "week_of_year" | "weekofyear" | "week" => Part::WeekOfYear,
            "day" => Part::Day,
            "dayofyear" | "day_of_year" => Part::DayOfYear,
            "hour" => Part::Hour,
            "minute" => Part::Minute,
            "second" => Part::Second,
            "millisecond" => Part::Millisecond,
            "microsecond" => Part::Microsecond,
            "nanosecond" => Part::Nanosecond,
            _ => return None,
        };
        Some(p)
    }
}

/// `datetime_part(part, dt)`.
pub fn datetime_part(part: Part, ns: i64) -> i64 {
    let c = Civil::from_nanos(ns);
    match part {
        Part::Year => c.year,
        Part::Quarter => i64::from((c.month - 1) / 3 + 1),
        Part::Month => i64::from(c.month),
        Part::WeekOfYear => iso_week_of_year(ns),
        Part::Day => i64::from(c.day),
        Part::DayOfYear => i64::from(c.day_of_year()),
        Part::Hour => i64::from(c.hour),
        Part::Minute => i64::from(c.minute),
        Part::Second => i64::from(c.second),
        Part::Millisecond => i64::from(c.nanos / 1_000_000),
        Part::Microsecond => i64::from(c.nanos / 1_000),
        Part::Nanosecond => i64::from(c.nanos),
    }
}

/// Number of ISO 8601 weeks in year `y` (52 or 53).
fn iso_weeks_in_year(y: i64) -> i64 {
    let jan1 = day_of_week_from_days(days_from_civil(y, 1, 1));
    // Thursday = 4, Wednesday = 3 (Sunday = 0).
    if jan1 == 4 || (jan1 == 3 && is_leap(y)) {
        53
    } else {
        52
    }
}

/// ISO 8601 week number (weeks start on Monday; week 1 holds the year's first Thursday).
pub fn iso_week_of_year(ns: i64) -> i64 {
    let c = Civil::from_nanos(ns);
    let iso_wd = match c.weekday() {
        0 => 7,
        w => i64::from(w),
    };
    let week = (i64::from(c.day_of_year()) - iso_wd + 10) / 7;
    if week < 1 {
        iso_weeks_in_year(c.year - 1)
    } else if week > iso_weeks_in_year(c.year) {
        1
    } else {
        week
    }
}

/// Floors `value` to a multiple of `size` (`size > 0`), as an `i128` to avoid overflow.
pub fn floor_to_multiple(value: i128, size: i128) -> i128 {
    value.div_euclid(size) * size
}

/// `bin(dt, size)` for datetimes: bins are aligned to 0001-01-01, as Kusto does
/// (it bins .NET ticks). For sizes that divide a day this equals aligning to 1970.
pub fn bin_datetime(ns: i64, size: i64) -> Option<i64> {
    if size <= 0 {
        return None;
    }
    let rel = i128::from(ns) - DOTNET_EPOCH_NANOS;
    i64::try_from(floor_to_multiple(rel, i128::from(size)) + DOTNET_EPOCH_NANOS).ok()
}

/// `bin_at(value, size, fixed)` on integers (nanoseconds for datetimes and timespans).
pub fn bin_at_i64(value: i64, size: i64, fixed: i64) -> Option<i64> {
    if size <= 0 {
        return None;
    }
    let rel = i128::from(value) - i128::from(fixed);
    i64::try_from(floor_to_multiple(rel, i128::from(size)) + i128::from(fixed)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(y: i64, m: u32, d: u32, h: u32, mi: u32, s: u32, ticks: i64) -> i64 {
        from_civil(
            y,
            m,
            d,
            i64::from(h) * NANOS_PER_HOUR
                + i64::from(mi) * NANOS_PER_MINUTE
                + i64::from(s) * NANOS_PER_SEC
                + ticks * NANOS_PER_TICK,
        )
        .expect("valid date")
    }
    fn date(y: i64, m: u32, d: u32) -> i64 {
        dt(y, m, d, 0, 0, 0, 0)
    }

    #[test]
    fn civil_roundtrip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn start_and_end() {
        let x = dt(2017, 1, 1, 10, 10, 17, 0);
        assert_eq!(start_of_week(x, -1), Some(date(2016, 12, 25)));
        assert_eq!(start_of_week(x, 0), Some(date(2017, 1, 1)));
        assert_eq!(start_of_week(x, 1), Some(date(2017, 1, 8)));
        assert_eq!(
            end_of_week(x, -1),
            Some(dt(2016, 12, 31, 23, 59, 59, 9_999_999))
        );
        assert_eq!(
            end_of_week(x, 1),
            Some(dt(2017, 1, 14, 23, 59, 59, 9_999_999))
        );
        assert_eq!(
            end_of_month(x, 1),
            Some(dt(2017, 2, 28, 23, 59, 59, 9_999_999))
        );
        assert_eq!(
            end_of_month(x, -1),
            Some(dt(2016, 12, 31, 23, 59, 59, 9_999_999))
        );
        assert_eq!(start_of_month(x, -1), Some(date(2016, 12, 1)));
        assert_eq!(start_of_year(x, 1), Some(date(2018, 1, 1)));
        assert_eq!(
            end_of_year(x, 0),
            Some(dt(2017, 12, 31, 23, 59, 59, 9_999_999))
        );
        assert_eq!(start_of_day(x, -1), Some(date(2016, 12, 31)));
        assert_eq!(
            end_of_day(x, 1),
            Some(dt(2017, 1, 2, 23, 59, 59, 9_999_999))
        );
        // Before 1970.
        assert_eq!(
            start_of_day(dt(1947, 11, 30, 10, 0, 5, 0), 0),
            Some(date(1947, 11, 30))
        );
        assert_eq!(Civil::from_nanos(date(1947, 11, 30)).weekday(), 0);
        assert_eq!(Civil::from_nanos(date(1970, 5, 11)).weekday(), 1);
    }

    #[test]
    fn add_periods() {
        let base = date(2017, 1, 1);
        assert_eq!(datetime_add(Period::Year, 1, base), Some(date(2018, 1, 1)));
        assert_eq!(
            datetime_add(Period::Quarter, 1, base),
            Some(date(2017, 4, 1))
        );
        assert_eq!(datetime_add(Period::Month, 1, base), Some(date(2017, 2, 1)));
        assert_eq!(datetime_add(Period::Week, 1, base), Some(date(2017, 1, 8)));
        assert_eq!(datetime_add(Period::Year, -5, base), Some(date(2012, 1, 1)));
        assert_eq!(
            datetime_add(Period::Quarter, 12, base),
            Some(date(2020, 1, 1))
        );
        assert_eq!(
            datetime_add(Period::Month, -15, base),
            Some(date(2015, 10, 1))
        );
        assert_eq!(
            datetime_add(Period::Week, 100, base),
            Some(date(2018, 12, 2))
        );
        assert_eq!(
            datetime_add(Period::Second, 1, base),
            Some(dt(2017, 1, 1, 0, 0, 1, 0))
        );
        // Clamping.
        assert_eq!(
            datetime_add(Period::Month, 1, dt(2017, 1, 31, 5, 0, 0, 0)),
            Some(dt(2017, 2, 28, 5, 0, 0, 0))
        );
        assert_eq!(
            datetime_add(Period::Year, 1, date(2016, 2, 29)),
            Some(date(2017, 2, 28))
        );
        assert_eq!(datetime_add(Period::Year, i64::MAX, base), None);
    }

    #[test]
    fn diff_periods() {
        let p = |s| Period::parse(s).expect("period");
        assert_eq!(
            datetime_diff(p("year"), date(2017, 1, 1), date(2000, 12, 31)),
            Some(17)
        );
        assert_eq!(
            datetime_diff(p("Quarter"), date(2017, 7, 1), date(2017, 3, 30)),
            Some(2)
        );
        assert_eq!(
            datetime_diff(p("month"), date(2017, 1, 1), date(2015, 12, 30)),
            Some(13)
        );
        assert_eq!(
            datetime_diff(p("week"), date(2017, 10, 29), dt(2017, 9, 30, 23, 59, 0, 0)),
            Some(5)
        );
        assert_eq!(
            datetime_diff(p("day"), date(2017, 10, 29), dt(2017, 9, 30, 23, 59, 0, 0)),
            Some(29)
        );
        assert_eq!(
            datetime_diff(
                p("hour"),
                dt(2017, 10, 31, 1, 0, 0, 0),
                dt(2017, 10, 30, 23, 59, 0, 0)
            ),
            Some(2)
        );
        assert_eq!(
            datetime_diff(
                p("minute"),
                dt(2017, 10, 30, 23, 5, 1, 0),
                dt(2017, 10, 30, 23, 0, 59, 0)
            ),
            Some(5)
        );
        assert_eq!(
            datetime_diff(
                p("second"),
                dt(2017, 10, 30, 23, 0, 10, 1_000_000),
                dt(2017, 10, 30, 23, 0, 0, 9_000_000)
            ),
            Some(10)
        );
        assert_eq!(
            datetime_diff(
                p("millisecond"),
                dt(2017, 10, 30, 23, 0, 0, 2_001_000),
                dt(2017, 10, 30, 23, 0, 0, 1_009_000)
            ),
            Some(100)
        );
        assert_eq!(
            datetime_diff(
                p("microsecond"),
                dt(2017, 10, 30, 23, 0, 0, 1_009_001),
                dt(2017, 10, 30, 23, 0, 0, 1_008_009)
            ),
            Some(100)
        );
        assert_eq!(
            datetime_diff(
                p("nanosecond"),
                dt(2017, 10, 30, 23, 0, 0, 0),
                dt(2017, 10, 30, 23, 0, 0, 7)
            ),
            Some(-700)
        );
        assert_eq!(Period::parse("fortnight"), None);
    }

    #[test]
    fn parts() {
        let x = dt(2017, 10, 30, 1, 2, 3, 7_654_321);
        let p = |s| datetime_part(Part::parse(s).expect("part"), x);
        assert_eq!(p("year"), 2017);
        assert_eq!(p("quarter"), 4);
        assert_eq!(p("month"), 10);
        assert_eq!(p("week_of_year"), 44);
        assert_eq!(p("day"), 30);
        assert_eq!(p("dayOfYear"), 303);
        assert_eq!(p("hour"), 1);
        assert_eq!(p("minute"), 2);
        assert_eq!(p("second"), 3);
        assert_eq!(p("millisecond"), 765);
        assert_eq!(p("microsecond"), 765_432);
        assert_eq!(p("nanosecond"), 765_432_100);
    }

    #[test]
    fn iso_weeks() {
        assert_eq!(iso_week_of_year(date(2020, 12, 31)), 53);
        assert_eq!(iso_week_of_year(date(2020, 6, 15)), 25);
        assert_eq!(iso_week_of_year(date(1970, 1, 1)), 1);
        assert_eq!(iso_week_of_year(date(2000, 1, 1)), 52);
        assert_eq!(iso_week_of_year(date(2019, 12, 30)), 1);
        assert_eq!(iso_week_of_year(date(2021, 1, 3)), 53);
        assert_eq!(iso_week_of_year(date(2021, 1, 4)), 1);
    }

    #[test]
    fn bins() {
        let x = dt(1970, 5, 11, 13, 45, 7, 0);
        assert_eq!(bin_datetime(x, NANOS_PER_DAY), Some(date(1970, 5, 11)));
        assert_eq!(bin_datetime(x, 0), None);
        assert_eq!(bin_datetime(x, -NANOS_PER_DAY), None);
        // 7-day bins are aligned to 0001-01-01, a Monday.
        let w = bin_datetime(date(2024, 1, 10), 7 * NANOS_PER_DAY).expect("in range");
        assert_eq!(w, date(2024, 1, 8));
        assert_eq!(Civil::from_nanos(w).weekday(), 1);
        // The Kusto tutorial's `bin(StartTime, 7d)` yields 2007-01-01, 2007-01-08, ...
        assert_eq!(
            bin_datetime(dt(2007, 1, 3, 5, 0, 0, 0), 7 * NANOS_PER_DAY),
            Some(date(2007, 1, 1))
        );
        assert_eq!(
            bin_datetime(dt(2007, 1, 29, 0, 0, 0, 0), 7 * NANOS_PER_DAY),
            Some(date(2007, 1, 29))
        );
        // Before 1970.
        assert_eq!(
            bin_datetime(dt(1960, 1, 1, 5, 0, 0, 0), NANOS_PER_DAY),
            Some(date(1960, 1, 1))
        );
        assert_eq!(
            bin_at_i64(
                dt(2017, 5, 15, 10, 20, 0, 0),
                NANOS_PER_DAY,
                dt(1970, 1, 1, 12, 0, 0, 0)
            ),
            Some(dt(2017, 5, 14, 12, 0, 0, 0))
        );
        assert_eq!(
            bin_at_i64(
                dt(2017, 5, 17, 10, 20, 0, 0),
                7 * NANOS_PER_DAY,
                date(2017, 6, 4)
            ),
            Some(date(2017, 5, 14))
        );
        assert_eq!(
            bin_at_i64(NANOS_PER_HOUR, NANOS_PER_DAY, 12 * NANOS_PER_HOUR),
            Some(-12 * NANOS_PER_HOUR)
        );
    }
}
