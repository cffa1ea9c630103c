//! Client-side rate limit on mints (GCRA via `governor`), so applying a thousand services at
//! once does not flood the authority. It never sleeps: an exhausted budget is reported with the
//! time until the next slot, and the caller requeues.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Sustained rate.
    pub per_minute: NonZeroU32,
    /// How many may go at once from a full budget.
    pub burst: NonZeroU32,
}

impl Default for RateLimitConfig {
    /// 10 mints per minute, burst 10 (production ChittyConnect's client limit).
    fn default() -> Self {
        let ten = NonZeroU32::new(10).expect("10 is non-zero");
        Self {
            per_minute: ten,
            burst: ten,
        }
    }
}

#[derive(Debug)]
pub struct MintRateLimiter {
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
}

impl MintRateLimiter {
    pub fn new(config: &RateLimitConfig) -> Self {
        let quota = Quota::per_minute(config.per_minute).allow_burst(config.burst);
        Self {
            limiter: RateLimiter::direct(quota),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one slot, or says how long until one is free.
    pub fn try_acquire(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_passes_then_the_next_waits_for_a_slot() {
        let cfg = RateLimitConfig {
            per_minute: NonZeroU32::new(10).unwrap(),
            burst: NonZeroU32::new(3).unwrap(),
        };
        let l = MintRateLimiter::new(&cfg);
        for _ in 0..3 {
            assert!(l.try_acquire().is_ok());
        }
        let wait = l.try_acquire().unwrap_err();
        // One slot every 6 s at 10/min.
        assert!(wait > Duration::from_secs(5) && wait <= Duration::from_secs(6));
    }
}
