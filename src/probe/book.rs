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
    /// A probe is in flight (or was just scheduled); its completion wakes the owner.
    Pending,
    /// The last probe started less than the interval ago; ask again after this long.
    NotDue(Duration),
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
}

/// How long an entry nobody asked about is kept (its object was deleted, or finished rolling
/// out): forgetting one only means its next probe starts without waiting for the interval.
const IDLE: Duration = Duration::from_secs(3600);
/// How often the idle entries are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Book {
    entries: HashMap<ProbeKey, Entry>,
    last_sweep: Option<Instant>,
}

impl Book {
    /// The key's unconsumed result, if any; otherwise whether a probe is to start now, and in
    /// which lane (the second value). At most one probe per key is in flight.
    pub fn take(
        &mut self,
        key: &ProbeKey,
        target: &ProbeTarget,
        now: Instant,
    ) -> (Lookup, Option<Lane>) {
        self.sweep(now);
        let entry = self.entries.entry(key.clone()).or_default();
        entry.touched = Some(now);
        if let Some(done) = entry.done.take()
            // A result for another URL (the spec changed meanwhile) answers nothing.
            && done.url == target.url
        {
            return (Lookup::Fresh(done.result), None);
        }
        if entry.in_flight {
            return (Lookup::Pending, None);
        }
        if let Some(started) = entry.started {
            let since = now.saturating_duration_since(started);
            if since < target.interval {
                return (Lookup::NotDue(target.interval - since), None);
            }
        }
        entry.in_flight = true;
        entry.started = Some(now);
        let lane = if entry.unresponsive {
            Lane::Slow
        } else {
            Lane::Main
        };
        (Lookup::Pending, Some(lane))
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

    #[test]
    fn one_probe_in_flight_per_key_and_its_result_is_consumed_once() {
        let (mut book, t0) = (Book::default(), Instant::now());
        let (a, t) = (key("a"), target("http://a/health"));
        assert_eq!(book.take(&a, &t, t0), (Lookup::Pending, Some(Lane::Main)));
        assert_eq!(
            book.take(&a, &t, t0),
            (Lookup::Pending, None),
            "deduplicated"
        );
        assert_eq!(
            book.take(&key("b"), &t, t0),
            (Lookup::Pending, Some(Lane::Main)),
            "another key is its own"
        );
        assert_eq!(book.in_flight(), 2);
        book.complete(&a, &t.url, result(true, false), t0);
        assert_eq!(
            book.take(&a, &t, t0),
            (Lookup::Fresh(result(true, false)), None)
        );
        let later = t0 + Duration::from_secs(4);
        assert_eq!(
            book.take(&a, &t, later),
            (Lookup::NotDue(Duration::from_secs(6)), None),
            "consumed; the next probe keeps to the interval"
        );
        let due = t0 + Duration::from_secs(10);
        assert_eq!(book.take(&a, &t, due), (Lookup::Pending, Some(Lane::Main)));
    }

    #[test]
    fn a_key_that_did_not_answer_takes_the_slow_lane_until_it_answers() {
        let (mut book, t0) = (Book::default(), Instant::now());
        let (a, t) = (key("tarpit"), target("http://a/health"));
        let due = |n: u64| t0 + Duration::from_secs(10 * n);
        assert_eq!(book.take(&a, &t, due(0)).1, Some(Lane::Main), "fresh");
        book.complete(&a, &t.url, result(false, true), due(0));
        assert!(matches!(book.take(&a, &t, due(0)).0, Lookup::Fresh(_)));
        assert_eq!(book.take(&a, &t, due(1)).1, Some(Lane::Slow));
        book.complete(&a, &t.url, result(false, false), due(1));
        book.take(&a, &t, due(1));
        assert_eq!(
            book.take(&a, &t, due(2)).1,
            Some(Lane::Main),
            "an answer, even a 503, is not a tarpit"
        );
    }

    #[test]
    fn a_result_for_another_url_is_dropped() {
        let (mut book, t0) = (Book::default(), Instant::now());
        let a = key("a");
        book.take(&a, &target("http://old/health"), t0);
        book.complete(&a, "http://old/health", result(true, false), t0);
        let (lookup, start) = book.take(&a, &target("http://new/health"), t0);
        assert_eq!(lookup, Lookup::NotDue(Duration::from_secs(10)));
        assert_eq!(start, None);
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
