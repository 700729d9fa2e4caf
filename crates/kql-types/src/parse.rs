//! Parsing of Kusto's text forms (datetimes, timespans, guids, numbers).
//!
//! Kusto values have a precision of 100 ns ticks, so parsed datetimes and timespans are
//! truncated to whole ticks.

use crate::types::NANOS_PER_TICK;

const NANOS_PER_SEC: i64 = 1_000_000_000;
/// .NET ticks between 0001-01-01 and 1970-01-01.
pub const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// A tiny byte cursor over ASCII-ish text.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Self {
            s: s.as_bytes(),
            pos: 0,
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_ci(&mut self, b: u8) -> bool {
        if self.peek().map(|c| c.to_ascii_lowercase()) == Some(b.to_ascii_lowercase()) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn skip_ws(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
        self.pos - start
    }
    /// Reads between `min` and `max` ASCII digits; returns (value, count).
    fn digits(&mut self, min: usize, max: usize) -> Option<(i64, usize)> {
        let start = self.pos;
        let mut v: i64 = 0;
        while self.pos - start < max {
            match self.peek() {
                Some(c) if c.is_ascii_digit() => {
                    v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
                    self.pos += 1;
                }
                _ => break,
            }
        }
        let n = self.pos - start;
        if n < min {
            self.pos = start;
            return None;
        }
        Some((v, n))
    }
    /// Reads a run of ASCII letters.
    fn word(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("")
    }
}

/// Reads a fraction's digits (after the '.') as nanoseconds truncated to ticks.
fn fraction_nanos(c: &mut Cursor<'_>) -> Option<i64> {
    let start = c.pos;
    while c.peek().is_some_and(|b| b.is_ascii_digit()) {
        c.pos += 1;
    }
    if c.pos == start {
        return None;
    }
    let mut nanos: i64 = 0;
    for (i, &d) in c.s[start..c.pos].iter().take(9).enumerate() {
        nanos += i64::from(d - b'0') * 10_i64.pow(8 - i as u32);
    }
    Some(nanos - nanos % NANOS_PER_TICK)
}

/// Time of day: `H[H]:mm[:ss[.fffffff]]` → nanoseconds since midnight.
fn time_of_day(c: &mut Cursor<'_>) -> Option<i64> {
    let (h, _) = c.digits(1, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let (m, _) = c.digits(2, 2)?;
    let mut s = 0;
    let mut frac = 0;
    if c.eat(b':') {
        s = c.digits(2, 2)?.0;
        if c.eat(b'.') {
            frac = fraction_nanos(c)?;
        }
    }
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(((h * 60 + m) * 60 + s) * NANOS_PER_SEC + frac)
}

/// A time-zone designator: `Z`, `GMT`, `UTC`, `UT`, US zones of RFC 822, or a numeric
/// offset `+hh:mm` / `+hhmm` / `+hh`. Returns the offset east of UTC in seconds.
fn time_zone(c: &mut Cursor<'_>) -> Option<i64> {
    match c.peek() {
        Some(b'+') | Some(b'-') => {
            let sign = if c.eat(b'-') {
                -1
            } else {
                i64::from(c.eat(b'+'))
            };
            let (h, n) = c.digits(2, 4)?;
            let (hours, mut minutes) = if n == 4 {
                (h / 100, h % 100)
            } else if n == 2 {
                (h, 0)
            } else {
                return None;
            };
            if n == 2 && c.eat(b':') {
                minutes = c.digits(2, 2)?.0;
            }
            if hours > 14 || minutes > 59 {
                return None;
            }
            Some(sign * (hours * 3600 + minutes * 60))
        }
        _ => {
            let w = c.word().to_ascii_uppercase();
            let hours = match w.as_str() {
                "Z" | "GMT" | "UTC" | "UT" => 0,
                "EST" => -5,
                "EDT" => -4,
                "CST" => -6,
                "CDT" => -5,
                "MST" => -7,
                "MDT" => -6,
                "PST" => -8,
                "PDT" => -7,
                _ => return None,
            };
            Some(hours * 3600)
        }
    }
}

/// Optional trailing `[ws][zone][ws]` then end of text; returns the zone offset.
fn zone_and_end(c: &mut Cursor<'_>) -> Option<i64> {
    c.skip_ws();
    if c.at_end() {
        return Some(0);
    }
    let off = time_zone(c)?;
    c.skip_ws();
    c.at_end().then_some(off)
}

/// Combines calendar fields into nanoseconds since the Unix epoch (UTC).
fn to_unix_nanos(year: i64, month: i64, day: i64, tod_nanos: i64, offset_secs: i64) -> Option<i64> {
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(year).ok()?,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
    )?;
    let midnight = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    midnight
        .checked_sub(offset_secs)?
        .checked_mul(NANOS_PER_SEC)?
        .checked_add(tod_nanos)
}

/// ISO 8601 and the "sortable" forms: `yyyy-M-d[(T| )H:mm[:ss[.f+]]][ zone]`
/// (`/` is accepted as the date separator too).
fn parse_iso(s: &str) -> Option<i64> {
    let mut c = Cursor::new(s);
    let (year, _) = c.digits(4, 4)?;
    let sep = c.peek()?;
    if sep != b'-' && sep != b'/' {
        return None;
    }
    c.pos += 1;
    let (month, _) = c.digits(1, 2)?;
    if !c.eat(sep) {
        return None;
    }
    let (day, _) = c.digits(1, 2)?;
    let mut tod = 0;
    let save = c.pos;
    let t = c.eat_ci(b'T');
    let ws = if t { 0 } else { c.skip_ws() };
    if (t || ws > 0) && c.peek().is_some_and(|b| b.is_ascii_digit()) {
        tod = time_of_day(&mut c)?;
    } else if !t {
        c.pos = save;
    } else {
        return None;
    }
    let off = zone_and_end(&mut c)?;
    to_unix_nanos(year, month, day, tod, off)
}

/// English month names (three-letter prefix), 1-based.
fn month_from_name(w: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const FULL: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let w = w.to_ascii_lowercase();
    MONTHS
        .iter()
        .zip(FULL.iter())
        .position(|(m, f)| w == *m || w == *f || (w == "sept" && *m == "sep"))
        .map(|i| i as i64 + 1)
}

/// Two-digit years as .NET reads them (TwoDigitYearMax 2049).
fn expand_year(y: i64, digits: usize) -> i64 {
    if digits > 2 {
        y
    } else if y < 50 {
        2000 + y
    } else {
        1900 + y
    }
}

/// RFC 822 / RFC 850 / RFC 1123: `[Weekday,] d Mon yy[yy] H:mm[:ss] [zone]`, with spaces
/// or `-` between the date parts.
fn parse_rfc(s: &str) -> Option<i64> {
    let mut c = Cursor::new(s);
    if c.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
        c.word();
        if !c.eat(b',') {
            return None;
        }
        c.skip_ws();
    }
    let (day, _) = c.digits(1, 2)?;
    let dash = c.eat(b'-');
    if !dash && c.skip_ws() == 0 {
        return None;
    }
    let month = month_from_name(c.word())?;
    if dash {
        if !c.eat(b'-') {
            return None;
        }
    } else if c.skip_ws() == 0 {
        return None;
    }
    let (y, n) = c.digits(2, 4)?;
    if n == 3 {
        return None;
    }
    let year = expand_year(y, n);
    let mut tod = 0;
    if c.skip_ws() > 0 && c.peek().is_some_and(|b| b.is_ascii_digit()) {
        tod = time_of_day(&mut c)?;
    }
    let off = zone_and_end(&mut c)?;
    to_unix_nanos(year, month, day, tod, off)
}

/// .NET invariant culture: `M/d/yyyy [H:mm[:ss[.f]] [AM|PM]]` (also with `-`).
fn parse_us(s: &str) -> Option<i64> {
    let mut c = Cursor::new(s);
    let (month, _) = c.digits(1, 2)?;
    let sep = c.peek()?;
    if sep != b'/' && sep != b'-' {
        return None;
    }
    c.pos += 1;
    let (day, _) = c.digits(1, 2)?;
    if !c.eat(sep) {
        return None;
    }
    let (y, n) = c.digits(2, 4)?;
    if n == 3 {
        return None;
    }
    let year = expand_year(y, n);
    let mut tod = 0;
    if c.skip_ws() > 0 && c.peek().is_some_and(|b| b.is_ascii_digit()) {
        tod = time_of_day(&mut c)?;
        c.skip_ws();
        let save = c.pos;
        match c.word().to_ascii_uppercase().as_str() {
            "AM" | "PM" if tod >= 13 * 3600 * NANOS_PER_SEC => return None,
            "AM" => {
                if tod >= 12 * 3600 * NANOS_PER_SEC {
                    tod -= 12 * 3600 * NANOS_PER_SEC;
                }
            }
            "PM" => {
                if tod < 12 * 3600 * NANOS_PER_SEC {
                    tod += 12 * 3600 * NANOS_PER_SEC;
                }
            }
            _ => c.pos = save,
        }
    }
    let off = zone_and_end(&mut c)?;
    to_unix_nanos(year, month, day, tod, off)
}

/// Parses a datetime as `todatetime()` and `datetime()` literals accept it, giving
/// nanoseconds since the Unix epoch (UTC), truncated to 100 ns ticks.
///
/// Accepted: ISO 8601 (`2014-05-25T08:20:03.123456Z`, `2014-05-25 08:20`, `2014-05-25`,
/// with an optional zone `Z`/`GMT`/`UTC`/`+02:00`), the sortable forms with single-digit
/// month/day, RFC 822/850/1123 (`Sat, 8 Nov 14 15:05:02 GMT`,
/// `Saturday, 08-Nov-14 15:05:02 GMT`, `Sat, 08 Nov 2014 15:05:02 GMT`) and the .NET
/// invariant form `12/02/2022 [10:00:00 [PM]]` (month first).
/// `None` when the text is not a datetime or is outside the range Arrow nanoseconds hold
/// (years 1677..2262).
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    parse_iso(s)
        .or_else(|| parse_rfc(s))
        .or_else(|| parse_us(s))
}

/// The first and last instants a datetime can hold: nanoseconds since 1970 in an `i64`.
pub const DATETIME_RANGE: (&str, &str) = (
    "1677-09-21T00:12:43.1452241Z",
    "2262-04-11T23:47:16.8547758Z",
);

/// Whether `s` starts with a valid `yyyy-mm-dd` date (ADX accepts years 1 to 9999) that
/// lies outside [`DATETIME_RANGE`]: a datetime Kusto has and Calypso cannot hold.
pub fn is_datetime_beyond_range(s: &str) -> bool {
    let s = s.trim();
    let Some(date) = s.get(..10) else {
        return false;
    };
    match chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(d) => {
            use chrono::Datelike;
            (1..=9999).contains(&d.year())
                && parse_datetime(s).is_none()
                && !(1678..=2261).contains(&d.year())
        }
        Err(_) => false,
    }
}

/// Parses .NET's `TimeSpan` text, as `totimespan()` and `timespan()` literals accept it:
/// `[-]d`, `[-][d.]hh:mm[:ss[.fffffff]]` or `[-]d:hh:mm:ss[.fffffff]`. Gives nanoseconds
/// (whole ticks). `None` when malformed or a component is out of range.
pub fn parse_timespan(s: &str) -> Option<i64> {
    let mut c = Cursor::new(s.trim());
    let neg = c.eat(b'-');
    let (first, _) = c.digits(1, 9)?;
    let mut days = 0;
    let (h, m, sec, frac);
    if c.at_end() {
        days = first;
        h = 0;
        m = 0;
        sec = 0;
        frac = 0;
    } else {
        let hours;
        if c.eat(b'.') {
            days = first;
            hours = c.digits(1, 2)?.0;
            if !c.eat(b':') {
                return None;
            }
        } else if c.eat(b':') {
            hours = first;
        } else {
            return None;
        }
        let (mm, _) = c.digits(1, 2)?;
        let mut parts = vec![hours, mm];
        let mut f = 0;
        while c.eat(b':') {
            parts.push(c.digits(1, 2)?.0);
            if parts.len() > 4 {
                return None;
            }
        }
        if c.eat(b'.') {
            let (_, n) = c.digits(1, 7)?;
            let digits = &c.s[c.pos - n..c.pos];
            let mut ticks = 0_i64;
            for (i, &d) in digits.iter().enumerate() {
                ticks += i64::from(d - b'0') * 10_i64.pow(6 - i as u32);
            }
            f = ticks * NANOS_PER_TICK;
            if parts.len() < 3 {
                return None;
            }
        }
        if !c.at_end() {
            return None;
        }
        if parts.len() == 4 {
            // d:hh:mm:ss
            if days != 0 {
                return None;
            }
            days = parts[0];
            parts.remove(0);
        }
        h = parts[0];
        m = parts[1];
        sec = parts.get(2).copied().unwrap_or(0);
        frac = f;
    }
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let total = days
        .checked_mul(86_400)?
        .checked_add(h * 3600 + m * 60 + sec)?
        .checked_mul(NANOS_PER_SEC)?
        .checked_add(frac)?;
    Some(if neg { -total } else { total })
}

/// Parses a KQL timespan literal with a unit: `2d`, `1.5h`, `30m`, `10s`, `100ms`,
/// `10microsecond`, `1tick`, `5nanoseconds`, `15 seconds`, `-1d` (units as the Kusto
/// parser accepts them, case-insensitive). Gives nanoseconds truncated to whole ticks.
pub fn parse_timespan_literal(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, s),
    };
    let num_end = body
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .unwrap_or(body.len());
    let (num, unit) = body.split_at(num_end);
    let unit = unit.trim().to_ascii_lowercase();
    let unit_nanos: i128 = match unit.as_str() {
        "d" | "day" | "days" => 86_400 * 1_000_000_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600 * 1_000_000_000,
        "m" | "min" | "minute" | "minutes" => 60 * 1_000_000_000,
        "s" | "sec" | "second" | "seconds" => 1_000_000_000,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "micro" | "micros" | "microsecond" | "microseconds" => 1_000,
        "tick" | "ticks" => 100,
        "nanosecond" | "nanoseconds" => 1,
        _ => return None,
    };
    let (int_part, frac_part) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if frac_part.contains('.') {
        return None;
    }
    let int_v: i128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().ok()?
    };
    let mut total = int_v.checked_mul(unit_nanos)?;
    if !frac_part.is_empty() {
        let digits = &frac_part[..frac_part.len().min(18)];
        let f: i128 = digits.parse().ok()?;
        let scale = 10_i128.pow(digits.len() as u32);
        total = total.checked_add(f.checked_mul(unit_nanos)? / scale)?;
    }
    total -= total % i128::from(NANOS_PER_TICK);
    let total = if neg { -total } else { total };
    i64::try_from(total).ok()
}

/// Parses a guid as `toguid()` does: the first 32 hex digits, with hyphens allowed at the
/// usual places (after 8, 12, 16 and 20 digits); anything after the 32nd digit is ignored.
/// Bytes are in RFC 4122 (string) order.
pub fn parse_guid(s: &str) -> Option<[u8; 16]> {
    let b = s.trim().as_bytes();
    let mut out = [0u8; 16];
    let mut n = 0usize;
    let mut i = 0usize;
    while n < 32 {
        let c = *b.get(i)?;
        if c == b'-' && matches!(n, 8 | 12 | 16 | 20) && i > 0 && b[i - 1] != b'-' {
            i += 1;
            continue;
        }
        let v = (c as char).to_digit(16)? as u8;
        out[n / 2] |= if n.is_multiple_of(2) { v << 4 } else { v };
        n += 1;
        i += 1;
    }
    Some(out)
}

/// Parses an integer (optional sign, surrounding whitespace allowed), as `tolong()` does.
pub fn parse_long(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok()
}

/// Parses a real as `toreal()` does: decimal or scientific notation, `NaN`, `Infinity`,
/// `-Infinity` (case-insensitive), surrounding whitespace allowed.
pub fn parse_real(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    match t.to_ascii_lowercase().as_str() {
        "nan" => return Some(f64::NAN),
        "infinity" | "+infinity" | "inf" | "+inf" => return Some(f64::INFINITY),
        "-infinity" | "-inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Parses a decimal number (`-12.5`, `1e5`, `.5`) to an unscaled value with `scale`
/// fractional digits, rounding half away from zero; `None` when malformed or when the
/// value does not fit 38 digits.
pub fn parse_decimal(s: &str, scale: i8) -> Option<i128> {
    let t = s.trim();
    let (neg, t) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(p) => (&t[..p], t[p + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    // value = digits * 10^(exp - frac_len); unscaled = value * 10^scale
    let shift = i64::from(exp) - frac_part.len() as i64 + i64::from(scale);
    let mut v: i128 = 0;
    if digits.is_empty() {
        return Some(0);
    }
    if shift >= 0 {
        for d in digits.bytes() {
            v = v.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
        }
        for _ in 0..shift {
            v = v.checked_mul(10)?;
        }
    } else {
        let keep = digits.len() as i64 + shift;
        if keep < 0 {
            return Some(0);
        }
        let keep = keep as usize;
        for d in digits[..keep].bytes() {
            v = v.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
        }
        if digits.as_bytes().get(keep).is_some_and(|&d| d >= b'5') {
            v = v.checked_add(1)?;
        }
    }
    if v >= 10_i128.pow(38) {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// Ticks since 0001-01-01 (.NET `DateTime.Ticks`) of a datetime in Unix nanoseconds.
pub fn unix_nanos_to_ticks(ns: i64) -> i64 {
    ns.div_euclid(NANOS_PER_TICK) + UNIX_EPOCH_TICKS
}

/// Unix nanoseconds of .NET ticks since 0001-01-01; `None` outside the Arrow range.
pub fn ticks_to_unix_nanos(ticks: i64) -> Option<i64> {
    ticks
        .checked_sub(UNIX_EPOCH_TICKS)?
        .checked_mul(NANOS_PER_TICK)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const S: i64 = NANOS_PER_SEC;

    fn dt(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.timestamp_nanos_opt().unwrap_or(0))
            .unwrap_or(0)
    }

    #[test]
    fn datetimes_iso() {
        assert_eq!(
            parse_datetime("2014-05-25T08:20:03.123456Z"),
            Some(dt("2014-05-25T08:20:03.123456Z"))
        );
        assert_eq!(
            parse_datetime("2014-05-25T08:20:03.123456"),
            Some(dt("2014-05-25T08:20:03.123456Z"))
        );
        assert_eq!(
            parse_datetime("2014-05-25T08:20"),
            Some(dt("2014-05-25T08:20:00Z"))
        );
        assert_eq!(
            parse_datetime("2014-11-08 15:55:55.123456Z"),
            Some(dt("2014-11-08T15:55:55.123456Z"))
        );
        assert_eq!(
            parse_datetime("2014-11-08 15:55"),
            Some(dt("2014-11-08T15:55:00Z"))
        );
        assert_eq!(
            parse_datetime("2014-11-08"),
            Some(dt("2014-11-08T00:00:00Z"))
        );
        assert_eq!(
            parse_datetime(" 2015-12-31 23:59:59.9 "),
            Some(dt("2015-12-31T23:59:59.9Z"))
        );
        assert_eq!(
            parse_datetime("2014-11-8 15:05:25 GMT"),
            Some(dt("2014-11-08T15:05:25Z"))
        );
        assert_eq!(
            parse_datetime("2014-11-08T15:05 GMT"),
            Some(dt("2014-11-08T15:05:00Z"))
        );
        assert_eq!(
            parse_datetime("2020-01-01T02:00:00+02:00"),
            Some(dt("2020-01-01T00:00:00Z"))
        );
        assert_eq!(
            parse_datetime("2020-01-01T00:00:00.123456789Z"),
            Some(dt("2020-01-01T00:00:00.1234567Z"))
        );
        assert_eq!(
            parse_datetime("2020/01/02"),
            Some(dt("2020-01-02T00:00:00Z"))
        );
        assert_eq!(parse_datetime("2020-13-01"), None);
        assert_eq!(parse_datetime("2020-02-30"), None);
        assert_eq!(parse_datetime("2020-01-01T25:00"), None);
        assert_eq!(parse_datetime("2020-01-01x"), None);
        assert_eq!(parse_datetime("hello"), None);
        assert_eq!(parse_datetime(""), None);
        assert_eq!(parse_datetime("2020-01-01T"), None);
    }

    #[test]
    fn datetimes_rfc() {
        let want = Some(dt("2014-11-08T15:05:02Z"));
        assert_eq!(parse_datetime("Sat, 8 Nov 14 15:05:02 GMT"), want);
        assert_eq!(parse_datetime("Sat, 8 Nov 14 15:05:02"), want);
        assert_eq!(parse_datetime("8 Nov 14 15:05:02 GMT"), want);
        assert_eq!(parse_datetime("Saturday, 08-Nov-14 15:05:02 GMT"), want);
        assert_eq!(parse_datetime("08-Nov-14 15:05:02"), want);
        assert_eq!(parse_datetime("Sat, 8 Nov 2014 15:05:02 GMT"), want);
        assert_eq!(
            parse_datetime("Sat, 8 Nov 14 15:05"),
            Some(dt("2014-11-08T15:05:00Z"))
        );
        assert_eq!(
            parse_datetime("Sat, 8 Nov 14 15:05:02 EST"),
            Some(dt("2014-11-08T20:05:02Z"))
        );
        assert_eq!(parse_datetime("Sat, 8 Foo 14 15:05:02"), None);
    }

    #[test]
    fn datetimes_us() {
        assert_eq!(
            parse_datetime("12-02-2022"),
            Some(dt("2022-12-02T00:00:00Z"))
        );
        assert_eq!(
            parse_datetime("12/02/2022 10:00:00 PM"),
            Some(dt("2022-12-02T22:00:00Z"))
        );
        assert_eq!(
            parse_datetime("1/1/2020 12:00:00 AM"),
            Some(dt("2020-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("00:03:00"), Some(180 * S));
        assert_eq!(parse_timespan("0.00:03:00"), Some(180 * S));
        assert_eq!(
            parse_timespan("1.02:03:04.5"),
            Some((86_400 + 7384) * S + S / 2)
        );
        assert_eq!(parse_timespan("-01:00"), Some(-3600 * S));
        assert_eq!(parse_timespan("2"), Some(2 * 86_400 * S));
        assert_eq!(
            parse_timespan("6:12:14:45"),
            Some((6 * 86_400 + 12 * 3600 + 14 * 60 + 45) * S)
        );
        assert_eq!(parse_timespan("00:00:00.0000001"), Some(100));
        assert_eq!(parse_timespan("00:00:00.00000001"), None);
        assert_eq!(parse_timespan("24:00:00"), None);
        assert_eq!(parse_timespan("00:60:00"), None);
        assert_eq!(parse_timespan("1d"), None);
        assert_eq!(parse_timespan(""), None);
        assert_eq!(parse_timespan("1.5"), None);
    }

    #[test]
    fn timespan_literals() {
        assert_eq!(parse_timespan_literal("1d"), Some(86_400 * S));
        assert_eq!(parse_timespan_literal("2h"), Some(7200 * S));
        assert_eq!(parse_timespan_literal("1.5h"), Some(5400 * S));
        assert_eq!(parse_timespan_literal("30m"), Some(1800 * S));
        assert_eq!(parse_timespan_literal("10s"), Some(10 * S));
        assert_eq!(parse_timespan_literal("100ms"), Some(S / 10));
        assert_eq!(parse_timespan_literal("10microsecond"), Some(10_000));
        assert_eq!(parse_timespan_literal("1tick"), Some(100));
        assert_eq!(parse_timespan_literal("15 seconds"), Some(15 * S));
        assert_eq!(parse_timespan_literal("-1d"), Some(-86_400 * S));
        assert_eq!(parse_timespan_literal("0.1tick"), Some(0));
        assert_eq!(parse_timespan_literal("3MIN"), Some(180 * S));
        assert_eq!(parse_timespan_literal("1w"), None);
        assert_eq!(parse_timespan_literal("d"), None);
        assert_eq!(parse_timespan_literal("1.2.3h"), None);
    }

    #[test]
    fn guids() {
        let want = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
            0xcd, 0xef,
        ];
        assert_eq!(parse_guid("0123456789abcdef0123456789abcdef"), Some(want));
        assert_eq!(
            parse_guid("0123456789ab-cdef-0123-456789abcdef"),
            Some(want)
        );
        assert_eq!(
            parse_guid("01234567-89AB-CDEF-0123-456789ABCDEF"),
            Some(want)
        );
        assert_eq!(
            parse_guid("0123456789abcdef0123456789abcdefXYZ"),
            Some(want)
        );
        assert_eq!(parse_guid("a string that is not a guid"), None);
        assert_eq!(parse_guid("0123-4567"), None);
        assert_eq!(parse_guid("01234567--89ab-cdef-0123-456789abcdef"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_long(" 12 "), Some(12));
        assert_eq!(parse_long("1.5"), None);
        assert_eq!(parse_long("abc"), None);
        assert_eq!(parse_real("123.4"), Some(123.4));
        assert_eq!(parse_real("1e3"), Some(1000.0));
        assert!(parse_real("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_real("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_real("abc"), None);
        let e18 = 1_000_000_000_000_000_000_i128;
        assert_eq!(
            parse_decimal("123.45678", 18),
            Some(123_456_780_000_000_000_000)
        );
        assert_eq!(parse_decimal("-1", 18), Some(-e18));
        assert_eq!(parse_decimal("1e5", 18), Some(100_000 * e18));
        assert_eq!(parse_decimal(".5", 2), Some(50));
        assert_eq!(parse_decimal("0.125", 2), Some(13));
        assert_eq!(parse_decimal("1e30", 18), None);
        assert_eq!(parse_decimal("x", 18), None);
        assert_eq!(parse_decimal("", 18), None);
    }

    #[test]
    fn ticks() {
        assert_eq!(unix_nanos_to_ticks(0), UNIX_EPOCH_TICKS);
        assert_eq!(ticks_to_unix_nanos(UNIX_EPOCH_TICKS + 1), Some(100));
        assert_eq!(ticks_to_unix_nanos(0), None);
    }
}
