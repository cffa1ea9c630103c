//! How long a failing object waits before its next reconcile: exponential in its consecutive
//! failures, with jitter, and per object, so one broken manifest backs off on its own while every
//! other object keeps its pace, and a fleet that failed together (an apiserver restart) does not
//! come back in lockstep.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// The first retry comes soon: most failures are a moment's (a webhook starting, a conflict).
const FIRST: Duration = Duration::from_secs(1);
/// No object waits longer than this: a fix made elsewhere (a quota raised, a CRD upgraded) is
/// picked up within minutes even without an event.
const MAX: Duration = Duration::from_secs(300);
/// Each delay is stretched or shrunk by up to this share, at random.
const JITTER: f64 = 0.2;
/// Objects deleted while failing leave their count behind; past this many, start afresh.
const MAX_ENTRIES: usize = 50_000;

/// The delay before retry number `failures` (1 for the first failure), given a jitter draw in
/// [0, 1).
pub fn delay(failures: u32, draw: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    let base = FIRST.saturating_mul(1 << exponent).min(MAX);
    let factor = 1.0 - JITTER + 2.0 * JITTER * draw.clamp(0.0, 1.0);
    base.mul_f64(factor).min(MAX)
}

/// Consecutive failures per object since its last successful reconcile.
#[derive(Default)]
pub struct Backoff(Mutex<HashMap<String, u32>>);

impl Backoff {
    /// Counts one more failure of `key` and returns how long to wait before the next try.
    pub fn failed(&self, key: &str) -> Duration {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES && !map.contains_key(key) {
            map.clear();
        }
        let failures = map.entry(key.to_string()).or_default();
        *failures = failures.saturating_add(1);
        delay(*failures, fastrand::f64())
    }

    /// The object reconciled cleanly: its next failure starts from the first delay again.
    pub fn succeeded(&self, key: &str) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(key);
    }

    /// How many failures in a row `key` has had.
    pub fn failures(&self, key: &str) -> u32 {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(key).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_one_second_up_to_five_minutes() {
        assert_eq!(delay(1, 0.5), Duration::from_secs(1));
        assert_eq!(delay(2, 0.5), Duration::from_secs(2));
        assert_eq!(delay(5, 0.5), Duration::from_secs(16));
        assert_eq!(delay(9, 0.5), Duration::from_secs(256));
        assert_eq!(delay(10, 0.5), MAX);
        assert_eq!(delay(u32::MAX, 0.5), MAX);
    }

    #[test]
    fn jitter_spreads_a_delay_by_a_fifth_either_way() {
        assert_eq!(delay(3, 0.0), Duration::from_millis(3200));
        assert_eq!(delay(3, 1.0), Duration::from_millis(4800));
        assert!(delay(20, 1.0) <= MAX);
    }

    #[test]
    fn a_success_starts_the_count_again() {
        let backoff = Backoff::default();
        backoff.failed("a");
        backoff.failed("a");
        assert_eq!(backoff.failures("a"), 2);
        assert_eq!(backoff.failures("b"), 0);
        backoff.succeeded("a");
        assert_eq!(backoff.failures("a"), 0);
    }
}
