//! Fast paths for the most common text forms of values; each answers exactly as the
//! general parser of `kql_types::parse` does, or leaves the text to it.

use kql_types::parse::{parse_datetime, parse_real};

/// [`parse_datetime`], with a fast path for `yyyy-MM-ddTHH:mm:ss[.fffffff][Z]`.
pub(crate) fn datetime(s: &str) -> Option<i64> {
    match iso_datetime(s.as_bytes()) {
        Some(v) => v,
        None => parse_datetime(s),
    }
}

/// `Some(result)` for the strict ISO form (the result being what [`parse_datetime`]
/// gives), `None` for any other text.
fn iso_datetime(b: &[u8]) -> Option<Option<i64>> {
    if b.len() < 19
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || b.get(10) != Some(&b'T')
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        b.get(from..from + len)?.iter().try_fold(0i64, |v, &d| {
            d.is_ascii_digit().then(|| v * 10 + i64::from(d - b'0'))
        })
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut pos = 19;
    let mut frac = 0i64;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        if pos == start {
            return None;
        }
        for (i, &d) in b.get(start..pos)?.iter().take(9).enumerate() {
            frac += i64::from(d - b'0') * 10_i64.pow(8 - i as u32);
        }
        frac -= frac % 100;
    }
    if b.get(pos) == Some(&b'Z') {
        pos += 1;
    }
    if pos != b.len() {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Some(None);
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Some(None);
    }
    let midnight = days_from_civil(year, month, day) * 86_400;
    let tod = ((hour * 60 + minute) * 60 + second) * 1_000_000_000 + frac;
    Some(
        midnight
            .checked_mul(1_000_000_000)
            .and_then(|v| v.checked_add(tod)),
    )
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// [`parse_real`] without its allocation for the common plain-number case.
pub(crate) fn real(s: &str) -> Option<f64> {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if plain {
        s.parse::<f64>().ok()
    } else {
        parse_real(s)
    }
}

/// A bool as ingestion reads it: `true`/`false` in any case, `1`/`0`.
pub(crate) fn bool(s: &str) -> Option<bool> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("true") || t == "1" {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") || t == "0" {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bools() {
        for (s, v) in [
            ("true", Some(true)),
            ("TRUE", Some(true)),
            (" False ", Some(false)),
            ("1", Some(true)),
            ("0", Some(false)),
            ("2", None),
            ("yes", None),
            ("", None),
        ] {
            assert_eq!(bool(s), v, "{s}");
        }
    }

    #[test]
    fn reals() {
        assert_eq!(real("1.5"), Some(1.5));
        assert_eq!(real("-1e3"), Some(-1000.0));
        assert_eq!(real(" 2 "), Some(2.0));
        assert!(real("NaN").unwrap().is_nan());
        assert_eq!(real("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(real("1.2.3"), None);
        assert_eq!(real("abc"), None);
        assert_eq!(real(""), None);
    }

    #[test]
    fn datetimes_agree_with_the_general_parser() {
        let mut seed = 11u64;
        let mut rand = move |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let years = [
            1600, 1677, 1678, 1900, 1970, 2000, 2024, 2100, 2262, 2263, 9999,
        ];
        let mut fast = 0;
        for _ in 0..20_000 {
            let year = years[rand(years.len() as u64) as usize];
            let frac_len = rand(12) as usize;
            let frac: String = (0..frac_len)
                .map(|_| char::from(b'0' + rand(10) as u8))
                .collect();
            let s = format!(
                "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{}",
                rand(14),
                rand(33),
                rand(26),
                rand(62),
                rand(62),
                if frac_len > 0 || rand(4) == 0 {
                    format!(".{frac}")
                } else {
                    String::new()
                },
                ["", "Z", "z", " Z", "+01:00"][rand(5) as usize],
            );
            assert_eq!(datetime(&s), parse_datetime(&s), "{s}");
            if iso_datetime(s.as_bytes()).is_some() {
                fast += 1;
            }
        }
        assert!(fast > 5000, "{fast}");
        for s in [
            "1677-09-21T00:12:43.145224192Z",
            "1677-09-21T00:12:44Z",
            "1677-09-22T00:00:00Z",
            "2262-04-11T23:47:16.854775807Z",
            "2262-04-11T23:47:16.8547758Z",
            "2262-04-11T23:47:17Z",
            "2024-02-29T00:00:00",
            "2023-02-29T00:00:00",
            "2000-02-29T12:00:00Z",
            "1900-02-29T12:00:00Z",
            "0000-01-01T00:00:00Z",
        ] {
            assert_eq!(datetime(s), parse_datetime(s), "{s}");
        }
    }
}
