//! The pool's bookkeeping, without I/O: per object, whether a probe is in flight, the result
//! not yet consumed, when the last probe started and which lane the next one takes. The pool
//! (`pool`) holds one `Book` behind a lock and does what its answers say.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::ProbeResult;

/// Whose probe this is: the object a completed probe wakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeOwner {
    /// A ChittyService's serving revision, probed between rollouts.
    Service,
    /// A ChittyDeployment's health step.
    Rollout,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProbeKey {
    pub owner: ProbeOwner,
    pub namespace: String,
    pub name: String,
}

/// What to probe and how often.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeTarget {
    pub url: String,
    pub timeout: Duration,
    /// No new probe of the same key starts sooner than this after the previous one started.
    pub interval: Duration,
}

/// The slots a probe waits for. A key whose last probe timed out or could not connect is a
/// likely tarpit: its next probe takes the slow lane, so tarpits only compete with each other
/// and fresh or healthy keys keep the main lane's slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    Main,
    Slow,
}

/// The answer to a reconcile that asks for a key's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A result completed since the last one consumed; it is now consumed. `healthy_between`:
    /// a healthy result the owner was not woken for (see `Book::settle`) came since the last
    /// one consumed, so failures before it no longer run on.
    Fresh {
        result: ProbeResult,
        healthy_between: bool,
    },
    /// No new result yet: a probe is in flight or scheduled, and its completion wakes the owner.
    Pending,
}

/// A probe for the pool to start: after `after` (what is left of the interval since the previous
/// one started), in `lane`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    pub lane: Lane,
    pub after: Duration,
}

struct Done {
    url: String,
    result: ProbeResult,
}

#[derive(Default)]
struct Entry {
    in_flight: bool,
    started: Option<Instant>,
    unresponsive: bool,
    done: Option<Done>,
    touched: Option<Instant>,
    /// The probes a second this key asks for, counted against the budget (services only).
    demand: f64,
    /// The owner has recorded this key healthy (see `Book::settle`).
    quiet: bool,
    /// A healthy result was passed over quietly since the last one consumed.
    healthy_between: bool,
}

/// What the pool does once a probe is back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterProbe {
    /// Keep the result and wake the owner, whose reconcile consumes it.
    Wake,
    /// Nothing to tell: the owner has recorded the key healthy and it still is. The pool starts
    /// the next probe itself, so a steady healthy service costs a probe per interval and no
    /// reconcile.
    Again(Start),
}

/// How often a quiet service is reconciled for its health all the same: each such look renews
/// the pool's lease on its probes (`quiet_lease`), so probes stop for a service that is gone or
/// has moved to another shard without anyone saying so.
pub const QUIET_RECHECK: Duration = Duration::from_secs(300);

/// How long a key waits between probes: a service's interval stretched under the budget, a
/// rollout's as asked (see `Book::stretch`).
fn waited(key: &ProbeKey, target: &ProbeTarget, stretch: f64) -> Duration {
    match key.owner {
        ProbeOwner::Service => target.interval.mul_f64(stretch),
        ProbeOwner::Rollout => target.interval,
    }
}

/// How long the pool keeps probing a quiet key nobody asked about: two looks missed.
fn quiet_lease(interval: Duration) -> Duration {
    2 * QUIET_RECHECK.max(interval)
}

/// How long an entry nobody asked about is kept (its object was deleted, or finished rolling
/// out): forgetting one only means its next probe starts without waiting for the interval.
const IDLE: Duration = Duration::from_secs(3600);
/// How often the idle entries are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// The shortest interval the demand counts (the API allows no shorter).
const MIN_INTERVAL_SECS: f64 = 1.0;

#[derive(Default)]
pub struct Book {
    entries: HashMap<ProbeKey, Entry>,
    last_sweep: Option<Instant>,
    /// Service probes a second over the fleet, if bounded (see `stretch`).
    budget: Option<f64>,
    /// The service probes a second the entries ask for: the sum of their `demand`.
    demand: f64,
}

impl Book {
    /// A book that keeps the services' probes within `per_second` over the fleet.
    pub fn with_budget(per_second: u32) -> Self {
        Self {
            budget: Some(f64::from(per_second.max(1))),
            ..Self::default()
        }
    }

    /// How much longer than asked every service waits between probes: 1 while the fleet's
    /// intervals ask for no more than the budget, else demand / budget, the same for every
    /// service, so no service's short interval costs the others theirs. A rollout's health step
    /// is never stretched: it holds a rollout up, and only rollouts in flight probe.
    pub fn stretch(&self) -> f64 {
        match self.budget {
            Some(budget) if self.demand > budget => self.demand / budget,
            _ => 1.0,
        }
    }

    /// The service probes a second the fleet's intervals ask for.
    pub fn demand(&self) -> f64 {
        self.demand
    }

    /// The key's unconsumed result, if any, and the next probe to start, if none is in flight or
    /// scheduled. Consuming a result schedules the next probe at once, one interval after the
    /// previous one started, so a steady object costs one probe and one reconcile (the wake-up)
    /// per interval, and at most one probe per key is in flight or waiting.
    pub fn take(
        &mut self,
        key: &ProbeKey,
        target: &ProbeTarget,
        now: Instant,
    ) -> (Lookup, Option<Start>) {
        self.sweep(now);
        let stretch = self.stretch();
        let entry = self.entries.entry(key.clone()).or_default();
        entry.touched = Some(now);
        let demand = match key.owner {
            ProbeOwner::Service => 1.0 / target.interval.as_secs_f64().max(MIN_INTERVAL_SECS),
            ProbeOwner::Rollout => 0.0,
        };
        self.demand += demand - std::mem::replace(&mut entry.demand, demand);
        let interval = waited(key, target, stretch);
        let lookup = match entry.done.take() {
            // A result for another URL (the spec changed meanwhile) answers nothing.
            Some(done) if done.url == target.url => Lookup::Fresh {
                result: done.result,
                healthy_between: std::mem::take(&mut entry.healthy_between),
            },
            _ => Lookup::Pending,
        };
        if entry.in_flight {
            return (lookup, None);
        }
        let after = entry.started.map_or(Duration::ZERO, |started| {
            interval.saturating_sub(now.saturating_duration_since(started))
        });
        entry.in_flight = true;
        entry.started = Some(now + after);
        let lane = if entry.unresponsive {
            Lane::Slow
        } else {
            Lane::Main
        };
        (lookup, Some(Start { lane, after }))
    }

    /// Records a finished probe for the key's next `take`.
    /// Records a probe's result and says what the pool does next: a quiet key's healthy result
    /// (same URL, asked about within its lease) is passed over and the next probe scheduled at
    /// once; any other result is kept for the owner, who is woken.
    pub fn complete(
        &mut self,
        key: &ProbeKey,
        target: &ProbeTarget,
        result: ProbeResult,
        now: Instant,
    ) -> AfterProbe {
        let stretch = self.stretch();
        let entry = self.entries.entry(key.clone()).or_default();
        entry.unresponsive = result.unresponsive;
        let interval = waited(key, target, stretch);
        let leased = entry
            .touched
            .is_some_and(|t| now.saturating_duration_since(t) < quiet_lease(interval));
        if entry.quiet && result.healthy && leased {
            entry.healthy_between = true;
            entry.done = None;
            let after = entry.started.map_or(interval, |started| {
                interval.saturating_sub(now.saturating_duration_since(started))
            });
            entry.started = Some(now + after);
            return AfterProbe::Again(Start {
                lane: Lane::Main,
                after,
            });
        }
        entry.in_flight = false;
        entry.touched = Some(now);
        entry.done = Some(Done {
            url: target.url.clone(),
            result,
        });
        AfterProbe::Wake
    }

    /// What the owner has recorded of the key: `quiet` when it has written it healthy, so
    /// another healthy result would change nothing and need not wake it. Any other result still
    /// does. Set it false when the owner stops watching (a rollout took over, or it was deleted):
    /// the pool then stops after the probe in hand.
    pub fn settle(&mut self, key: &ProbeKey, quiet: bool) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.quiet = quiet;
        }
    }

    /// Probes in flight or waiting for a slot.
    pub fn in_flight(&self) -> usize {
        self.entries.values().filter(|e| e.in_flight).count()
    }

    fn sweep(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|at| now.saturating_duration_since(at) < SWEEP_EVERY)
        {
            return;
        }
        self.last_sweep = Some(now);
        self.entries.retain(|_, e| {
            e.in_flight
                || e.touched
                    .is_none_or(|t| now.saturating_duration_since(t) < IDLE)
        });
        // A service no longer asked about (deleted, or its reconciles stopped) no longer counts
        // once it missed two of its probes; then the sum is made afresh, so no rounding piles up.
        let stretch = self.stretch();
        for entry in self.entries.values_mut() {
            let unasked = entry.touched.is_some_and(|t| {
                let interval = Duration::from_secs_f64(stretch / entry.demand.max(f64::EPSILON));
                // A quiet key is asked about only now and then; its probes go on meanwhile.
                let missed = if entry.quiet {
                    quiet_lease(interval)
                } else {
                    2 * interval
                };
                now.saturating_duration_since(t) > missed + SWEEP_EVERY
            });
            if unasked && !entry.in_flight {
                entry.demand = 0.0;
            }
        }
        self.demand = self.entries.values().map(|e| e.demand).sum();
    }
}

#[cfg(test)]
#[path = "book_tests.rs"]
mod tests;
