//! Timestamps in AWS payloads (RFC 3339) to unix nanoseconds and back, for the event
//! decoders, the inferred spans and the Step Functions ids.

/// Parses RFC 3339 / ISO 8601 date-times as AWS writes them: `2019-03-14T17:52:31Z`,
/// `1970-01-01T00:00:00.000Z`, `2024-07-30T19:55:53.018+02:00`. Returns `None` for
/// anything else (including dates before 1970).
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = s.get(19..)?;
    let mut nanos: u64 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut scale = 100_000_000u64;
        for c in frac.bytes().take(digits.min(9)) {
            nanos += u64::from(c - b'0') * scale;
            scale /= 10;
        }
        rest = frac.get(digits..)?;
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let hh: i64 = rest.get(1..3)?.parse().ok()?;
            let mm: i64 = match rest.len() {
                6 if rest.as_bytes().get(3) == Some(&b':') => rest.get(4..6)?.parse().ok()?,
                5 => rest.get(3..5)?.parse().ok()?,
                3 => 0,
                _ => return None,
            };
            sign * (hh * 3600 + mm * 60)
        }
    };
    let days = days_from_civil(year as i64, month as i64, day as i64);
    let secs = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64 - offset_secs;
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos)
}

/// Formats unix nanoseconds as `2024-07-30T19:55:53.018Z` (milliseconds, `Z`), the form
/// Step Functions uses for `State.EnteredTime`.
pub fn format_rfc3339_millis(unix_nanos: u64) -> String {
    let secs = (unix_nanos / 1_000_000_000) as i64;
    let millis = (unix_nanos / 1_000_000) % 1000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A wall-clock reading as unix nanoseconds (0 before 1970, saturating far in the
/// future): how hosts pass `now` to the processor. The core itself reads no clock.
pub fn unix_nanos(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aws_forms() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2021-11-04T01:37:45Z"),
            Some(1_635_989_865_000_000_000)
        );
        assert_eq!(
            parse_rfc3339("2024-07-30T19:55:53.018Z"),
            Some(1_722_369_353_018_000_000)
        );
        assert_eq!(
            parse_rfc3339("2024-07-30T21:55:53.018+02:00"),
            Some(1_722_369_353_018_000_000)
        );
        assert_eq!(parse_rfc3339("2024-07-30"), None);
        assert_eq!(parse_rfc3339("2024-13-30T19:55:53Z"), None);
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), None);
        assert_eq!(parse_rfc3339("2024-07-30T19:55:53.Z"), None);
    }

    #[test]
    fn formats_like_step_functions() {
        assert_eq!(
            format_rfc3339_millis(1_722_369_353_018_000_000),
            "2024-07-30T19:55:53.018Z"
        );
        assert_eq!(format_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
    }
}
