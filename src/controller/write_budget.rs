//! A bound on how often the operator writes any one object's status, whatever its spec: a token
//! bucket per object. Status is written only when it changes, so a well-behaved object never
//! comes near the bound; it is the backstop for a spec, or a bug, that makes status change at
//! every reconcile, which would otherwise cost the apiserver (and every other tenant) a write
//! per reconcile.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Writes an object may make back to back: a whole rollout (one write per step) fits.
const BURST: f64 = 20.0;
/// After the burst, one write per this long.
const REFILL_EVERY: Duration = Duration::from_secs(2);
/// Buckets of objects that went quiet are dropped past this many; a fresh bucket is full.
const MAX_ENTRIES: usize = 50_000;

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Takes a token from `bucket` as of `now`, or says how long until one is there.
fn take(bucket: &mut Bucket, now: Instant) -> Result<(), Duration> {
    let earned =
        now.saturating_duration_since(bucket.at).as_secs_f64() / REFILL_EVERY.as_secs_f64();
    bucket.tokens = (bucket.tokens + earned).min(BURST);
    bucket.at = now;
    if bucket.tokens >= 1.0 {
        bucket.tokens -= 1.0;
        Ok(())
    } else {
        Err(REFILL_EVERY.mul_f64(1.0 - bucket.tokens))
    }
}

#[derive(Default)]
pub struct WriteBudget(Mutex<HashMap<String, Bucket>>);

impl WriteBudget {
    /// Spends one write of `key`'s budget, or returns how long until it may write again.
    pub fn spend(&self, key: &str) -> Result<(), Duration> {
        self.spend_at(key, Instant::now())
    }

    fn spend_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES && !map.contains_key(key) {
            // Full buckets carry no information; drop them, keep the ones still spending.
            map.retain(|_, b| b.tokens < BURST - 1.0);
        }
        let bucket = map.entry(key.to_string()).or_insert(Bucket {
            tokens: BURST,
            at: now,
        });
        take(bucket, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_write_per_refill() {
        let budget = WriteBudget::default();
        let start = Instant::now();
        for _ in 0..BURST as usize {
            assert!(budget.spend_at("a", start).is_ok());
        }
        let wait = budget.spend_at("a", start).unwrap_err();
        assert_eq!(wait, REFILL_EVERY);
        assert!(
            budget.spend_at("b", start).is_ok(),
            "objects have their own budgets"
        );
        assert!(budget.spend_at("a", start + REFILL_EVERY).is_ok());
        assert!(budget.spend_at("a", start + REFILL_EVERY).is_err());
    }

    #[test]
    fn a_quiet_object_earns_back_its_whole_burst_and_no_more() {
        let budget = WriteBudget::default();
        let start = Instant::now();
        for _ in 0..BURST as usize {
            budget.spend_at("a", start).unwrap();
        }
        let later = start + REFILL_EVERY * 1000;
        for _ in 0..BURST as usize {
            assert!(budget.spend_at("a", later).is_ok());
        }
        assert!(budget.spend_at("a", later).is_err());
    }
}
