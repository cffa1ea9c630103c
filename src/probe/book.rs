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
    /// A result completed since the last one consumed; it is now consumed.
    Fresh(ProbeResult),
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
        let interval = match key.owner {
            ProbeOwner::Service => target.interval.mul_f64(stretch),
            ProbeOwner::Rollout => target.interval,
        };
        let lookup = match entry.done.take() {
            // A result for another URL (the spec changed meanwhile) answers nothing.
            Some(done) if done.url == target.url => Lookup::Fresh(done.result),
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
    pub fn complete(&mut self, key: &ProbeKey, url: &str, result: ProbeResult, now: Instant) {
        let entry = self.entries.entry(key.clone()).or_default();
        entry.in_flight = false;
        entry.unresponsive = result.unresponsive;
        entry.touched = Some(now);
        entry.done = Some(Done {
            url: url.to_string(),
            result,
        });
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
                let missed =
                    Duration::from_secs_f64(2.0 * stretch / entry.demand.max(f64::EPSILON));
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
mod tests {
    use super::*;

    fn key(name: &str) -> ProbeKey {
        ProbeKey {
            owner: ProbeOwner::Service,
            namespace: "team".into(),
            name: name.into(),
        }
    }

    fn target(url: &str) -> ProbeTarget {
        ProbeTarget {
            url: url.into(),
            timeout: Duration::from_secs(5),
            interval: Duration::from_secs(10),
        }
    }

    fn result(healthy: bool, unresponsive: bool) -> ProbeResult {
        ProbeResult {
            healthy,
            detail: "d".into(),
            latency: Duration::from_millis(3),
            unresponsive,
        }
    }

    fn start(lane: Lane, after_secs: u64) -> Option<Start> {
        Some(Start {
            lane,
            after: Duration::from_secs(after_secs),
        })
    }

    #[test]
    fn one_probe_in_flight_per_key_and_its_result_is_consumed_once() {
        let (mut book, t0) = (Book::default(), Instant::now());
        let (a, t) = (key("a"), target("http://a/health"));
        assert_eq!(
            book.take(&a, &t, t0),
            (Lookup::Pending, start(Lane::Main, 0))
        );
        assert_eq!(
            book.take(&a, &t, t0),
            (Lookup::Pending, None),
            "deduplicated"
        );
        assert_eq!(
            book.take(&key("b"), &t, t0).1,
            start(Lane::Main, 0),
            "another key is its own"
        );
        assert_eq!(book.in_flight(), 2);
        let done = t0 + Duration::from_secs(4);
        book.complete(&a, &t.url, result(true, false), done);
        assert_eq!(
            book.take(&a, &t, done),
            (Lookup::Fresh(result(true, false)), start(Lane::Main, 6)),
            "consumed; the next probe is scheduled one interval after the last one started"
        );
        assert_eq!(
            book.take(&a, &t, done),
            (Lookup::Pending, None),
            "consumed once, and the next one is already scheduled"
        );
    }

    #[test]
    fn a_key_that_did_not_answer_takes_the_slow_lane_until_it_answers() {
        let (mut book, t0) = (Book::default(), Instant::now());
        let (a, t) = (key("tarpit"), target("http://a/health"));
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(book.take(&a, &t, at(0)).1, start(Lane::Main, 0), "fresh");
        book.complete(&a, &t.url, result(false, true), at(5));
        let (lookup, next) = book.take(&a, &t, at(5));
        assert!(matches!(lookup, Lookup::Fresh(_)));
        assert_eq!(next, start(Lane::Slow, 5));
        book.complete(&a, &t.url, result(false, false), at(12));
        assert_eq!(
            book.take(&a, &t, at(12)).1,
            start(Lane::Main, 8),
            "an answer, even a 503, is not a tarpit"
        );
    }

    #[test]
    fn a_result_for_another_url_is_dropped() {
        let (mut book, t0) = (Book::default(), Instant::now());
        let a = key("a");
        book.take(&a, &target("http://old/health"), t0);
        book.complete(&a, "http://old/health", result(true, false), t0);
        let (lookup, next) = book.take(&a, &target("http://new/health"), t0);
        assert_eq!(lookup, Lookup::Pending);
        assert_eq!(next, start(Lane::Main, 10));
    }

    fn every(secs: u64) -> ProbeTarget {
        ProbeTarget {
            interval: Duration::from_secs(secs),
            ..target("http://a/health")
        }
    }

    #[test]
    fn within_the_budget_every_service_keeps_its_interval() {
        let (mut book, t0) = (Book::with_budget(10), Instant::now());
        for i in 0..20 {
            book.take(&key(&format!("s{i}")), &every(2), t0);
        }
        assert_eq!(
            book.stretch(),
            1.0,
            "20 services every 2 s ask for 10 a second"
        );
        book.complete(&key("s0"), "http://a/health", result(true, false), t0);
        let at = t0 + Duration::from_millis(500);
        assert_eq!(
            book.take(&key("s0"), &every(2), at).1,
            Some(Start {
                lane: Lane::Main,
                after: Duration::from_millis(1500)
            })
        );
    }

    #[test]
    fn past_the_budget_every_service_waits_the_same_times_longer() {
        let (mut book, t0) = (Book::with_budget(10), Instant::now());
        for i in 0..40 {
            book.take(&key(&format!("s{i}")), &every(2), t0);
        }
        assert_eq!(book.stretch(), 2.0, "20 a second asked of 10");
        book.complete(&key("s0"), "http://a/health", result(true, false), t0);
        assert_eq!(book.take(&key("s0"), &every(2), t0).1, start(Lane::Main, 4));
        // A rollout's health step holds a rollout up: never stretched, never counted.
        let rollout = ProbeKey {
            owner: ProbeOwner::Rollout,
            ..key("r")
        };
        book.take(&rollout, &every(2), t0);
        book.complete(&rollout, "http://a/health", result(true, false), t0);
        assert_eq!(book.take(&rollout, &every(2), t0).1, start(Lane::Main, 2));
        assert_eq!(book.stretch(), 2.0);
    }

    #[test]
    fn a_service_no_longer_asked_about_stops_counting() {
        let (mut book, t0) = (Book::with_budget(1), Instant::now());
        for name in ["gone", "kept"] {
            book.take(&key(name), &every(1), t0);
            book.complete(&key(name), "http://a/health", result(true, false), t0);
        }
        assert_eq!(book.stretch(), 2.0);
        // `kept` is asked about on each of its (stretched) intervals; `gone` never again.
        // The sweep looks every minute; `gone` has missed two probes by the second one.
        let mut now = t0;
        for _ in 0..70 {
            now += Duration::from_secs(2);
            book.take(&key("kept"), &every(1), now);
            book.complete(&key("kept"), "http://a/health", result(true, false), now);
        }
        assert_eq!(book.stretch(), 1.0);
    }

    #[test]
    fn without_a_budget_nothing_is_stretched() {
        let (mut book, t0) = (Book::default(), Instant::now());
        for i in 0..1000 {
            book.take(&key(&format!("s{i}")), &every(1), t0);
        }
        assert_eq!(book.stretch(), 1.0);
    }

    #[test]
    fn idle_entries_are_forgotten_but_not_those_in_flight() {
        let (mut book, t0) = (Book::default(), Instant::now());
        let t = target("http://a/health");
        book.take(&key("idle"), &t, t0);
        book.complete(&key("idle"), &t.url, result(true, false), t0);
        book.take(&key("busy"), &t, t0);
        let much_later = t0 + IDLE + SWEEP_EVERY;
        book.take(&key("other"), &t, much_later);
        assert_eq!(book.entries.len(), 2, "busy and other remain");
        assert!(!book.entries.contains_key(&key("idle")));
    }
}
