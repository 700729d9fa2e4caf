//! `format_datetime` and `format_timespan` format strings (.NET custom format
//! specifiers, as listed in the Kusto docs), plus the fixed Kusto renderings of
//! datetimes and timespans used inside `dynamic` values.

use super::calendar::{
    Civil, NANOS_PER_DAY, NANOS_PER_HOUR, NANOS_PER_MINUTE, NANOS_PER_SEC, NANOS_PER_TICK,
};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// One element of a parsed format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A run of `count` copies of the specifier letter `ch`.
    Spec(char, usize),
    /// Literal text copied to the output.
    Lit(String),
}

/// Letters that are format specifiers (either for datetimes or timespans).
fn is_spec(c: char) -> bool {
    matches!(c, 'd' | 'f' | 'F' | 'h' | 'H' | 'm' | 'M' | 's' | 'y' | 't')
}

/// Splits a format string into specifier runs and literals. Text in single or double
/// quotes and characters after a backslash are literals, as in .NET.
pub fn parse_format(fmt: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let mut lit = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if is_spec(c) {
            let mut n = 1;
            while chars.peek() == Some(&c) {
                chars.next();
                n += 1;
            }
            if !lit.is_empty() {
                out.push(Token::Lit(std::mem::take(&mut lit)));
            }
            out.push(Token::Spec(c, n));
        } else if c == '\'' || c == '"' {
            for q in chars.by_ref() {
                if q == c {
                    break;
                }
                lit.push(q);
            }
        } else if c == '\\' {
            if let Some(e) = chars.next() {
                lit.push(e);
            }
        } else {
            lit.push(c);
        }
    }
    if !lit.is_empty() {
        out.push(Token::Lit(lit));
    }
    out
}

/// The seven fraction digits (ticks within the second) of a sub-second value.
fn fraction_digits(nanos_of_second: i64) -> String {
    format!("{:07}", nanos_of_second / NANOS_PER_TICK)
}

/// Writes an `f`/`F` specifier of `n` digits. `F` trims trailing zeros and prints
/// nothing when all digits are zero; `drop_dot` also removes a preceding `.` then
/// (the .NET datetime behaviour).
fn push_fraction(out: &mut String, ch: char, n: usize, nanos_of_second: i64, drop_dot: bool) {
    let digits = fraction_digits(nanos_of_second);
    let n = n.min(7);
    let part = &digits[..n];
    if ch == 'f' {
        out.push_str(part);
        return;
    }
    let trimmed = part.trim_end_matches('0');
    if trimmed.is_empty() {
        if drop_dot && out.ends_with('.') {
            out.pop();
        }
    } else {
        out.push_str(trimmed);
    }
}

fn pad(out: &mut String, v: i64, width: usize) {
    out.push_str(&format!("{v:0width$}"));
}

/// `format_datetime(dt, format)` on nanoseconds since the epoch.
pub fn format_datetime(ns: i64, tokens: &[Token]) -> String {
    let c = Civil::from_nanos(ns);
    let mut out = String::new();
    for t in tokens {
        match t {
            Token::Lit(s) => out.push_str(s),
            Token::Spec(ch, n) => {
                let n = *n;
                match ch {
                    'd' => match n {
                        1 | 2 => pad(&mut out, i64::from(c.day), n),
                        3 => out.push_str(&DAYS[c.weekday() as usize][..3]),
                        _ => out.push_str(DAYS[c.weekday() as usize]),
                    },
                    'M' => match n {
                        1 | 2 => pad(&mut out, i64::from(c.month), n),
                        3 => out.push_str(&MONTHS[c.month as usize - 1][..3]),
                        _ => out.push_str(MONTHS[c.month as usize - 1]),
                    },
                    'y' => match n {
                        1 => pad(&mut out, c.year.rem_euclid(100), 1),
                        2 => pad(&mut out, c.year.rem_euclid(100), 2),
                        _ => pad(&mut out, c.year, n),
                    },
                    'h' => {
                        let h12 = match c.hour % 12 {
                            0 => 12,
                            h => h,
                        };
                        pad(&mut out, i64::from(h12), n.min(2));
                    }
                    'H' => pad(&mut out, i64::from(c.hour), n.min(2)),
                    'm' => pad(&mut out, i64::from(c.minute), n.min(2)),
                    's' => pad(&mut out, i64::from(c.second), n.min(2)),
                    't' => {
                        let s = if c.hour < 12 { "AM" } else { "PM" };
                        out.push_str(if n == 1 { &s[..1] } else { s });
                    }
                    'f' | 'F' => push_fraction(&mut out, *ch, n, i64::from(c.nanos), true),
                    _ => {
                        for _ in 0..n {
                            out.push(*ch);
                        }
                    }
                }
            }
        }
    }
    out
}

/// `format_timespan(ts, format)` on nanoseconds. Like .NET custom timespan formats the
/// sign is not printed (all fields are of the absolute value).
pub fn format_timespan(ns: i64, tokens: &[Token]) -> String {
    let abs = i128::from(ns).unsigned_abs();
    let day = i128::from(NANOS_PER_DAY) as u128;
    let days = abs / day;
    let rem = (abs % day) as i64;
    let hours = rem / NANOS_PER_HOUR;
    let minutes = rem / NANOS_PER_MINUTE % 60;
    let seconds = rem / NANOS_PER_SEC % 60;
    let frac = rem % NANOS_PER_SEC;
    let mut out = String::new();
    for t in tokens {
        match t {
            Token::Lit(s) => out.push_str(s),
            Token::Spec(ch, n) => {
                let n = *n;
                match ch {
                    'd' => out.push_str(&format!("{days:0width$}", width = n.min(8))),
                    'h' | 'H' => pad(&mut out, hours, n.min(2)),
                    'm' => pad(&mut out, minutes, n.min(2)),
                    's' => pad(&mut out, seconds, n.min(2)),
                    'f' | 'F' => push_fraction(&mut out, *ch, n, frac, false),
                    _ => {
                        for _ in 0..n {
                            out.push(*ch);
                        }
                    }
                }
            }
        }
    }
    out
}

/// A datetime as Kusto renders it inside `dynamic` values and JSON:
/// `yyyy-MM-ddTHH:mm:ss.fffffffZ`.
pub fn datetime_iso(ns: i64) -> String {
    let c = Civil::from_nanos(ns);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        fraction_digits(i64::from(c.nanos))
    )
}

/// A timespan in .NET's constant format `[-][d.]hh:mm:ss[.fffffff]`.
pub fn timespan_constant(ns: i64) -> String {
    let neg = ns < 0;
    let abs = i128::from(ns).unsigned_abs();
    let day = i128::from(NANOS_PER_DAY) as u128;
    let days = abs / day;
    let rem = (abs % day) as i64;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!(
        "{:02}:{:02}:{:02}",
        rem / NANOS_PER_HOUR,
        rem / NANOS_PER_MINUTE % 60,
        rem / NANOS_PER_SEC % 60
    ));
    let frac = rem % NANOS_PER_SEC;
    if frac / NANOS_PER_TICK != 0 {
        out.push('.');
        out.push_str(&fraction_digits(frac));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::calendar::from_civil;
    use super::*;

    fn dt(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64, ticks: i64) -> i64 {
        from_civil(
            y,
            mo,
            d,
            h * NANOS_PER_HOUR + mi * NANOS_PER_MINUTE + s * NANOS_PER_SEC + ticks * NANOS_PER_TICK,
        )
        .expect("valid")
    }
    fn fd(ns: i64, f: &str) -> String {
        format_datetime(ns, &parse_format(f))
    }
    fn ft(ns: i64, f: &str) -> String {
        format_timespan(ns, &parse_format(f))
    }

    #[test]
    fn datetime_doc_examples() {
        let x = dt(2017, 1, 29, 9, 0, 5, 0);
        assert_eq!(fd(x, "yy-MM-dd [HH:mm:ss]"), "17-01-29 [09:00:05]");
        assert_eq!(fd(x, "yyyy-M-dd [H:mm:ss]"), "2017-1-29 [9:00:05]");
        assert_eq!(fd(x, "yy-MM-dd [hh:mm:ss tt]"), "17-01-29 [09:00:05 AM]");
    }

    #[test]
    fn datetime_specifiers() {
        let x = dt(2009, 6, 15, 13, 45, 30, 6_175_425);
        assert_eq!(fd(x, "f"), "6");
        assert_eq!(fd(x, "ff"), "61");
        assert_eq!(fd(x, "fffffff"), "6175425");
        assert_eq!(fd(x, "FFFF"), "6175");
        assert_eq!(fd(x, "h hh H HH tt"), "1 01 13 13 PM");
        let y = dt(2009, 6, 15, 13, 45, 30, 1_150);
        assert_eq!(fd(y, "fffffff"), "0001150");
        assert_eq!(fd(y, "FFFFFFF"), "000115");
        assert_eq!(fd(y, "F"), "");
        assert_eq!(fd(y, "ss.F"), "30");
        let z = dt(2009, 6, 1, 1, 9, 9, 0);
        assert_eq!(fd(z, "d dd M MM m mm s ss"), "1 01 6 06 9 09 9 09");
        assert_eq!(fd(z, "MMM MMMM ddd dddd"), "Jun June Mon Monday");
        assert_eq!(fd(dt(1900, 1, 1, 0, 0, 0, 0), "y yy yyyy"), "0 00 1900");
        assert_eq!(fd(dt(2019, 1, 1, 0, 0, 0, 0), "y yy yyyy"), "19 19 2019");
        assert_eq!(
            fd(dt(2019, 1, 1, 0, 0, 0, 0), "yyyy_MM_dd/HH,mm"),
            "2019_01_01/00,00"
        );
        assert_eq!(fd(dt(2019, 1, 1, 0, 0, 0, 0), "'year' yyyy"), "year 2019");
        assert_eq!(fd(dt(2019, 1, 1, 12, 0, 0, 0), "h tt"), "12 PM");
    }

    #[test]
    fn timespan_formats() {
        let t = 29 * NANOS_PER_DAY
            + 9 * NANOS_PER_HOUR
            + 5 * NANOS_PER_SEC
            + 1_234_500 * NANOS_PER_TICK;
        assert_eq!(ft(t, "dd.hh:mm:ss:FF"), "29.09:00:05:12");
        assert_eq!(ft(t, "ddd.h:mm:ss [fffffff]"), "029.9:00:05 [1234500]");
        let u = 15 * NANOS_PER_DAY
            + 13 * NANOS_PER_HOUR
            + 45 * NANOS_PER_MINUTE
            + 30 * NANOS_PER_SEC
            + 500 * NANOS_PER_TICK;
        assert_eq!(
            ft(u, "d dd ddd H HH m mm s ss"),
            "15 15 015 13 13 45 45 30 30"
        );
        assert_eq!(ft(u, "ffff FFFF FFFFFFF"), "0000  00005");
        assert_eq!(ft(-u, "d.HH:mm"), "15.13:45");
    }

    #[test]
    fn fixed_renderings() {
        assert_eq!(
            datetime_iso(dt(2017, 1, 29, 9, 0, 5, 0)),
            "2017-01-29T09:00:05.0000000Z"
        );
        assert_eq!(
            datetime_iso(dt(1700, 1, 2, 0, 0, 0, 1)),
            "1700-01-02T00:00:00.0000001Z"
        );
        assert_eq!(timespan_constant(2 * NANOS_PER_SEC), "00:00:02");
        assert_eq!(
            timespan_constant(-(NANOS_PER_DAY + NANOS_PER_HOUR + 100)),
            "-1.01:00:00.0000001"
        );
        assert_eq!(timespan_constant(0), "00:00:00");
    }
}
