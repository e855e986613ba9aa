//! When to retry an upstream export and how long to wait, as the OTLP specification and
//! the Collector's `retry_on_failure` do it.
//!
//! OTLP/HTTP names 429, 502, 503 and 504 as the retryable statuses; every other non-2xx
//! answer is permanent (the batch would fail again). A connection error or timeout is
//! retryable. 401 and 403 are the exception the relay makes: they say the relay's
//! credentials are wrong, not the batch, and the relay has already acknowledged the batch,
//! so it keeps it and retries (with backoff, until `max_elapsed`) rather than drop data an
//! operator can still deliver by fixing the key (see the README). Delays grow exponentially from `initial` (x1.5, capped at `max_interval`),
//! with +-50% jitter so senders that failed together do not retry together; an upstream's
//! `Retry-After` (seconds or an HTTP date) lengthens the computed delay, since the server
//! knows when it will recover, but never shortens it (the Collector's retry sender takes the
//! larger of the two): `Retry-After: 0`, a date already past (a server clock behind ours) or
//! a gRPC `RetryInfo` of 0s must not turn backoff into a loop. A batch is given up once
//! `max_elapsed` has passed; a `max_elapsed` of 0 never gives one up.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What an upstream answer means for the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    Retry,
    /// The upstream refused the relay's credentials (401/403, gRPC UNAUTHENTICATED or
    /// PERMISSION_DENIED): retried like an outage, logged as a configuration problem.
    Credentials,
    /// Not retryable: the batch is dropped and counted under the status.
    Permanent,
}

/// The verdict for an HTTP status.
pub fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        429 | 502 | 503 | 504 => Verdict::Retry,
        401 | 403 => Verdict::Credentials,
        _ => Verdict::Permanent,
    }
}

/// Exponential backoff with jitter, bounded in interval and total time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max_interval: Duration,
    pub max_elapsed: Duration,
}

impl Backoff {
    /// The wait before retry number `attempt` (1 for the first retry), or `None` when
    /// the batch has been tried for `max_elapsed` already (`elapsed` since its first
    /// attempt). `retry_after` (the upstream's) is waited when it is longer than the
    /// computed delay, and never cut: when it ends past `max_elapsed` the batch is given
    /// up now, as the Collector's retry sender does, rather than sent again sooner than the
    /// upstream asked. A computed delay is cut so the last retry happens at `max_elapsed`.
    pub fn delay(
        &self,
        attempt: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        // 0: no limit, as the Collector's `max_elapsed_time: 0`. The batch is kept until it
        // is delivered or refused for good; with a spool, the queue's and the spool's
        // bounds turn new batches away (503) instead of dropping acknowledged ones.
        let left = match self.max_elapsed.is_zero() {
            true => Duration::MAX,
            false => self.max_elapsed.checked_sub(elapsed)?,
        };
        if left.is_zero() {
            return None;
        }
        let exponent = i32::try_from(attempt.saturating_sub(1).min(64)).unwrap_or(64);
        let grown = self.initial.as_secs_f64() * 1.5f64.powi(exponent);
        let capped = grown.min(self.max_interval.as_secs_f64());
        let computed = Duration::from_secs_f64(capped * (0.5 + random_unit()));
        if retry_after.is_some_and(|server| server > left) {
            return None;
        }
        let wait = retry_after.map_or(computed, |server| server.max(computed));
        Some(wait.min(left))
    }
}

/// A number in [0, 1) that differs between calls and processes (std's `RandomState`
/// draws its keys from the OS once and increments them per instance).
fn random_unit() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0x9e37_79b9_7f4a_7c15);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// `Retry-After`: delay-seconds or an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`),
/// as RFC 9110 section 10.2.3 allows. A date in the past is no wait at all.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_http_date(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// Seconds since the epoch of an IMF-fixdate.
fn parse_http_date(value: &str) -> Option<u64> {
    let words: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = words.as_slice() else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let year: u64 = year.parse().ok()?;
    let clock: Vec<u64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
    let [h, m, s] = clock.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || year < 1970 || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days from 1970-01-01 to a Gregorian date (Howard Hinnant's algorithm; year >= 1970).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_retryable_statuses() {
        let verdicts: Vec<Verdict> = [200, 204, 400, 401, 413, 429, 500, 502, 503, 504]
            .into_iter()
            .map(verdict)
            .collect();
        use Verdict::*;
        assert_eq!(
            verdicts,
            [
                Delivered,
                Delivered,
                Permanent,
                Credentials,
                Permanent,
                Retry,
                Permanent,
                Retry,
                Retry,
                Retry
            ]
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_770); // Sun, 06 Nov 1994 08:49:30 GMT
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("Sun, 32 Nov 1994 08:49:37 GMT", now),
            None
        );
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn backoff_grows_with_jitter_and_stops() {
        let b = Backoff {
            initial: Duration::from_secs(2),
            max_interval: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let first = b.delay(1, Duration::ZERO, None).unwrap_or_default();
            assert!(first >= Duration::from_secs(1) && first < Duration::from_secs(3));
            let late = b.delay(30, Duration::ZERO, None).unwrap_or_default();
            assert!(late >= Duration::from_millis(2500) && late < Duration::from_millis(7500));
        }
        let server = Some(Duration::from_secs(7));
        assert_eq!(b.delay(1, Duration::ZERO, server), server);
        // A server's zero (or a date already past) never shortens the backoff.
        for _ in 0..100 {
            let zero = b.delay(1, Duration::ZERO, Some(Duration::ZERO));
            assert!(
                zero.is_some_and(|d| d >= Duration::from_secs(1)),
                "{zero:?}"
            );
            let late = b.delay(30, Duration::ZERO, Some(Duration::from_millis(1)));
            assert!(
                late.is_some_and(|d| d >= Duration::from_millis(2500)),
                "{late:?}"
            );
        }
        // A server's delay that ends past max_elapsed gives the batch up now; a computed
        // one is cut to the time left.
        assert_eq!(b.delay(1, Duration::from_secs(58), server), None);
        assert_eq!(
            b.delay(1, Duration::from_secs(53), server),
            Some(Duration::from_secs(7))
        );
        let cut = b.delay(30, Duration::from_secs(59), None);
        assert!(cut.is_some_and(|d| d <= Duration::from_secs(1)), "{cut:?}");
        assert_eq!(b.delay(1, Duration::from_secs(60), None), None);

        // 0 never gives a batch up: a year in, the delay is still the capped backoff, and
        // a server's long wait is waited.
        let forever = Backoff {
            max_elapsed: Duration::ZERO,
            ..b
        };
        let year = Duration::from_secs(365 * 86_400);
        for _ in 0..100 {
            let late = forever.delay(10_000, year, None);
            assert!(
                late.is_some_and(
                    |d| d >= Duration::from_millis(2500) && d < Duration::from_millis(7500)
                ),
                "{late:?}"
            );
        }
        let hour = Some(Duration::from_secs(3600));
        assert_eq!(forever.delay(1, year, hour), hour);
    }
}
