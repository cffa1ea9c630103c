//! Retry timing: exponential backoff with jitter, and `Retry-After` parsing.
//!
//! The formula is production ChittyConnect's (`min(base * 2^attempt, 30 s)` ±25 %), which no
//! backoff crate expresses exactly (they add one-sided jitter), so it is these few lines.

use std::time::Duration;

/// When and how often a failed call is tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; a call makes at most `max_retries + 1` attempts.
    pub max_retries: u32,
    /// The first retry's delay before jitter.
    pub base_delay: Duration,
    /// The cap on the un-jittered delay.
    pub max_delay: Duration,
    /// Symmetric jitter as a fraction: `0.25` spreads each delay over ±25 %.
    pub jitter: f64,
    /// A `Retry-After` longer than this ends the call as rate-limited instead of sleeping in it,
    /// so a reconcile never blocks for minutes; the caller requeues after `retry_after`.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            jitter: 0.25,
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// `min(base * 2^attempt, max_delay)`, before jitter. `attempt` 0 is the first retry.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(31));
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The backoff spread by jitter; `unit` in `[0, 1)` picks the point in the ±jitter band.
    pub fn jittered(&self, attempt: u32, unit: f64) -> Duration {
        let spread = self.jitter.clamp(0.0, 1.0) * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        self.backoff(attempt).mul_f64(1.0 + spread)
    }

    /// How long to wait before retry `attempt`: the jittered backoff, but never less than
    /// what the server asked for in `Retry-After`.
    pub fn next_delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let d = self.jittered(attempt, fastrand::f64());
        retry_after.map_or(d, |ra| ra.max(d))
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let secs = at.as_second().saturating_sub(now.as_second());
    Some(Duration::from_secs(secs.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
    }

    #[test]
    fn backoff_doubles_then_caps_at_thirty_seconds() {
        let p = policy();
        let secs: Vec<u64> = (0..8).map(|a| p.backoff(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_within_a_quarter_either_way() {
        let p = policy();
        assert_eq!(p.jittered(2, 0.0), Duration::from_secs(3));
        assert_eq!(p.jittered(2, 0.5), Duration::from_secs(4));
        assert_eq!(p.jittered(2, 1.0), Duration::from_secs(5));
        for _ in 0..1000 {
            let d = p.next_delay(5, None);
            assert!(d >= Duration::from_millis(22_500) && d <= Duration::from_millis(37_500));
        }
    }

    #[test]
    fn retry_after_is_a_floor_on_the_delay() {
        let p = policy();
        assert!(p.next_delay(0, Some(Duration::from_secs(7))) == Duration::from_secs(7));
        assert!(p.next_delay(0, Some(Duration::ZERO)) >= Duration::from_millis(750));
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        let now: jiff::Timestamp = "2024-01-10T10:34:40Z".parse().unwrap();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 10 Jan 2024 10:34:45 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Wed, 10 Jan 2024 10:34:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
