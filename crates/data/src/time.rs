//! A small ISO-8601 parser for time columns (`--time-col`): dates and date-times to seconds
//! since 1970-01-01T00:00:00Z.

/// Days from 1970-01-01 to the civil date `y-m-d` (proleptic Gregorian; Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Exactly `n` ASCII digits at the start of `s`, and the rest.
fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

/// Parse an ISO-8601 date (`2024-03-01`) or date-time (`2024-03-01T12:30`, `…:45`,
/// `…:45.250`, a space instead of `T`, with `Z` or an offset `+02:00` / `-0530`; without a
/// zone, UTC) into seconds since 1970-01-01T00:00:00Z. `None` when it is not one.
pub fn parse_iso8601(s: &str) -> Option<f64> {
    let s = s.trim();
    let (year, rest) = digits(s, 4)?;
    let rest = rest.strip_prefix('-')?;
    let (month, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix('-')?;
    let (day, rest) = digits(rest, 2)?;
    let year = i64::from(year);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) as f64 * 86_400.0;
    if rest.is_empty() {
        return Some(secs);
    }
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
    let (hour, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (minute, mut rest) = digits(rest, 2)?;
    let mut second = 0.0;
    if let Some(r) = rest.strip_prefix(':') {
        let (sec, r) = digits(r, 2)?;
        second = f64::from(sec);
        rest = r;
        if let Some(r) = rest.strip_prefix('.').or_else(|| rest.strip_prefix(',')) {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            second += format!("0.{}", &r[..n]).parse::<f64>().ok()?;
            rest = &r[n..];
        }
    }
    if hour > 24 || minute > 59 || second >= 61.0 || (hour == 24 && (minute > 0 || second > 0.0)) {
        return None;
    }
    secs += f64::from(hour) * 3600.0 + f64::from(minute) * 60.0 + second;
    let offset = match rest {
        "" | "Z" | "z" => 0.0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1.0,
                b'-' => -1.0,
                _ => return None,
            };
            let r = &rest[1..];
            let (oh, r) = digits(r, 2)?;
            let r = r.strip_prefix(':').unwrap_or(r);
            let (om, r) = if r.is_empty() { (0, r) } else { digits(r, 2)? };
            if !r.is_empty() || oh > 23 || om > 59 {
                return None;
            }
            sign * (f64::from(oh) * 3600.0 + f64::from(om) * 60.0)
        }
    };
    Some(secs - offset)
}

#[cfg(test)]
mod tests {
    use super::parse_iso8601 as p;

    #[test]
    fn dates_and_datetimes() {
        assert_eq!(p("1970-01-01"), Some(0.0));
        assert_eq!(p("2000-03-01"), Some(951_868_800.0));
        assert_eq!(p("2024-02-29"), Some(1_709_164_800.0));
        assert_eq!(p("2024-02-29T12:30"), Some(1_709_164_800.0 + 45_000.0));
        assert_eq!(p("2024-02-29 12:30:15"), Some(1_709_164_800.0 + 45_015.0));
        assert_eq!(p("2024-02-29T12:30:15Z"), Some(1_709_164_800.0 + 45_015.0));
        assert_eq!(
            p("2024-02-29T12:30:15.5Z"),
            Some(1_709_164_800.0 + 45_015.5)
        );
        assert_eq!(
            p("2024-02-29T14:30:15+02:00"),
            Some(1_709_164_800.0 + 45_015.0)
        );
        assert_eq!(
            p("2024-02-29T07:00:15-0530"),
            Some(1_709_164_800.0 + 45_015.0)
        );
        assert_eq!(p(" 1969-12-31 "), Some(-86_400.0));
        assert!(p("2024-01-31").unwrap() < p("2024-02-01").unwrap());
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            "",
            "2024",
            "2024-13-01",
            "2023-02-29",
            "2024-1-01",
            "2024-01-01T",
            "2024-01-01T25:00",
            "2024-01-01T12:60",
            "2024-01-01T12:00+2",
            "2024-01-01X12:00",
            "yesterday",
            "2024-01-01T12:00:00.Z",
            "01/02/2024",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }
}
