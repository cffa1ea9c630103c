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
/// How often a write first forgets the buckets that have filled up again: a full bucket says no
/// more than a missing one, and a fleet that rolled out once would otherwise keep one per object
/// it ever wrote (at 10,000 services, 30,000 of them).
const FORGET_EVERY: Duration = Duration::from_secs(60);

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// The tokens held as of `now`, earned ones included.
    fn tokens_at(&self, now: Instant) -> f64 {
        let earned =
            now.saturating_duration_since(self.at).as_secs_f64() / REFILL_EVERY.as_secs_f64();
        (self.tokens + earned).min(BURST)
    }
}

/// Takes a token from `bucket` as of `now`, or says how long until one is there.
fn take(bucket: &mut Bucket, now: Instant) -> Result<(), Duration> {
    bucket.tokens = bucket.tokens_at(now);
    bucket.at = now;
    if bucket.tokens >= 1.0 {
        bucket.tokens -= 1.0;
        Ok(())
    } else {
        Err(REFILL_EVERY.mul_f64(1.0 - bucket.tokens))
    }
}

#[derive(Default)]
pub struct WriteBudget(Mutex<Buckets>);

#[derive(Default)]
struct Buckets {
    map: HashMap<String, Bucket>,
    /// When full buckets were last forgotten.
    forgotten: Option<Instant>,
}

impl Buckets {
    /// Drops the buckets that are full as of `now`, and the room they took.
    fn forget_full(&mut self, now: Instant) {
        self.map.retain(|_, b| b.tokens_at(now) < BURST);
        self.map.shrink_to_fit();
        self.forgotten = Some(now);
    }
}

impl WriteBudget {
    /// Spends one write of `key`'s budget, or returns how long until it may write again.
    pub fn spend(&self, key: &str) -> Result<(), Duration> {
        self.spend_at(key, Instant::now())
    }

    fn spend_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let due = buckets
            .forgotten
            .is_none_or(|at| now.saturating_duration_since(at) >= FORGET_EVERY);
        let full = buckets.map.len() >= MAX_ENTRIES && !buckets.map.contains_key(key);
        if due || full {
            buckets.forget_full(now);
        }
        let bucket = buckets.map.entry(key.to_string()).or_insert(Bucket {
            tokens: BURST,
            at: now,
        });
        take(bucket, now)
    }

    /// Objects with a bucket kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap().map.len()
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

    #[test]
    fn buckets_that_filled_up_again_are_forgotten() {
        let budget = WriteBudget::default();
        let start = Instant::now();
        budget.spend_at("quiet", start).unwrap();
        let busy_at = start + FORGET_EVERY - REFILL_EVERY;
        for _ in 0..BURST as usize {
            budget.spend_at("busy", busy_at).unwrap();
        }
        assert_eq!(budget.len(), 2);
        // A minute on, "quiet" has long earned its token back; "busy" has earned one of twenty.
        let later = start + FORGET_EVERY;
        budget.spend_at("new", later).unwrap();
        assert_eq!(budget.len(), 2, "\"busy\" and \"new\" are kept");
        assert!(budget.spend_at("busy", later).is_ok());
        assert!(
            budget.spend_at("busy", later).is_err(),
            "a kept bucket keeps its count"
        );
    }
}
