//! A small circuit breaker: opens after `failure_threshold` failures inside `window`, refuses
//! calls for `cool_down`, then lets one probe through (half-open); the probe's result closes or
//! re-opens it. Time is passed in, so the state machine is tested without sleeping.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub window: Duration,
    pub cool_down: Duration,
}

impl BreakerConfig {
    /// ChittyID: opens after 3 failures in 30 s.
    pub fn chitty_id() -> Self {
        Self {
            failure_threshold: 3,
            window: Duration::from_secs(30),
            cool_down: Duration::from_secs(30),
        }
    }

    /// ChittyRegistry: opens after 5 failures in 60 s.
    pub fn registry() -> Self {
        Self {
            failure_threshold: 5,
            window: Duration::from_secs(60),
            cool_down: Duration::from_secs(30),
        }
    }
}

/// The externally visible state; the number is the metrics gauge value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
}

#[derive(Debug)]
enum Inner {
    Closed {
        failures: VecDeque<Instant>,
    },
    Open {
        until: Instant,
    },
    /// `probe_since`: when the single probe was let through. A probe whose result never comes
    /// back (its future was dropped) stops blocking others after one more cool-down.
    HalfOpen {
        probe_since: Option<Instant>,
    },
}

#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    inner: Inner,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            inner: Inner::Closed {
                failures: VecDeque::new(),
            },
        }
    }

    pub fn state(&self) -> BreakerState {
        match self.inner {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// May a call go out now? `Err(wait)` says how long until the breaker will try again.
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), Duration> {
        match &mut self.inner {
            Inner::Closed { .. } => Ok(()),
            Inner::Open { until } => {
                if now >= *until {
                    self.inner = Inner::HalfOpen {
                        probe_since: Some(now),
                    };
                    Ok(())
                } else {
                    Err(*until - now)
                }
            }
            Inner::HalfOpen { probe_since } => match *probe_since {
                Some(since) if now < since + self.config.cool_down => {
                    Err(since + self.config.cool_down - now)
                }
                _ => {
                    *probe_since = Some(now);
                    Ok(())
                }
            },
        }
    }

    pub fn record_success(&mut self) {
        self.inner = Inner::Closed {
            failures: VecDeque::new(),
        };
    }

    pub fn record_failure(&mut self, now: Instant) {
        let cfg = &self.config;
        match &mut self.inner {
            Inner::Closed { failures } => {
                failures.push_back(now);
                while failures
                    .front()
                    .is_some_and(|&t| now.saturating_duration_since(t) > cfg.window)
                {
                    failures.pop_front();
                }
                if failures.len() as u32 >= cfg.failure_threshold.max(1) {
                    self.inner = Inner::Open {
                        until: now + cfg.cool_down,
                    };
                }
            }
            // The probe failed (or a straggler from before opening did): stay away again.
            Inner::HalfOpen { .. } | Inner::Open { .. } => {
                self.inner = Inner::Open {
                    until: now + cfg.cool_down,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn breaker() -> (CircuitBreaker, Instant) {
        (
            CircuitBreaker::new(BreakerConfig::chitty_id()),
            Instant::now(),
        )
    }

    #[test]
    fn opens_after_threshold_failures_within_the_window() {
        let (mut b, t0) = breaker();
        b.record_failure(t0);
        b.record_failure(t0 + S);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.try_acquire(t0 + 2 * S).is_ok());
        b.record_failure(t0 + 2 * S);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.try_acquire(t0 + 3 * S), Err(29 * S));
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let (mut b, t0) = breaker();
        b.record_failure(t0);
        b.record_failure(t0 + S);
        b.record_failure(t0 + 40 * S);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_success_resets_the_count() {
        let (mut b, t0) = breaker();
        b.record_failure(t0);
        b.record_failure(t0);
        b.record_success();
        b.record_failure(t0);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn half_open_lets_one_probe_through_after_the_cool_down() {
        let (mut b, t0) = breaker();
        for _ in 0..3 {
            b.record_failure(t0);
        }
        let later = t0 + 30 * S;
        assert!(b.try_acquire(later).is_ok());
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.try_acquire(later).is_err(), "only one probe at a time");
        b.record_success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.try_acquire(later).is_ok());
    }

    #[test]
    fn a_failed_probe_reopens() {
        let (mut b, t0) = breaker();
        for _ in 0..3 {
            b.record_failure(t0);
        }
        let later = t0 + 31 * S;
        assert!(b.try_acquire(later).is_ok());
        b.record_failure(later);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.try_acquire(later + S), Err(29 * S));
    }

    #[test]
    fn an_abandoned_probe_does_not_wedge_the_breaker() {
        let (mut b, t0) = breaker();
        for _ in 0..3 {
            b.record_failure(t0);
        }
        assert!(b.try_acquire(t0 + 30 * S).is_ok());
        // No result is ever recorded for that probe.
        assert!(b.try_acquire(t0 + 45 * S).is_err());
        assert!(b.try_acquire(t0 + 60 * S).is_ok());
    }
}
