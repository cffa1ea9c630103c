//! The probe pool: health probes run here, off the reconcile path, so a slow endpoint never
//! holds a reconcile worker.
//!
//! A reconcile asks for an object's result (`for_service`, `for_rollout`) with its target (url,
//! timeout, interval). It gets a result that completed since it last consumed one, or `Pending`;
//! either way it never waits. Unless one is already in flight or scheduled, the next probe is
//! scheduled (one per object, one interval after the previous one started). When the probe
//! completes, the pool wakes the object's controller through `ProbeWakeups`, and that reconcile
//! consumes the result and so schedules the next. An object nobody asks about any more gets at
//! most one probe more.
//!
//! A service whose owner has recorded it healthy (`settle_service`) is quiet: while its probes
//! stay healthy the pool schedules each next one itself and wakes nobody, so a healthy fleet's
//! probing costs no reconciles. A failure, another URL, or the lapse of the owner's lease (it
//! looks every `book::QUIET_RECHECK`) wakes it as before.
//!
//! Bounds: at most `--probe-concurrency` probes run at once, each cut off at its timeout (at
//! most 30 s, `bounds::MAX_TIMEOUT`). Fairness: the slots are split into two lanes. A key whose
//! last probe timed out or could not connect waits for the slow lane (an eighth of the slots, at
//! least one); every other key (never probed, or it answered, even with an error status) takes
//! the main lane. Forty tarpits thus hold at most the slow lane's slots, and a healthy service's
//! probe still starts at once.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::Semaphore;

use super::book::{AfterProbe, Book, Lane, Lookup, ProbeKey, ProbeOwner, ProbeTarget, Start};
use super::guard::AddressGuard;
use super::history::ProbeHistory;
use super::{ProbeResult, bounds};
use crate::api::{ChittyDeployment, ChittyService};
use crate::config::ProbeConfig;
use crate::controller::CachedRollout;
use crate::metrics::Metrics;

/// The objects whose probes completed, for the controllers' `reconcile_on`.
pub struct ProbeWakeups {
    pub services: UnboundedReceiver<ObjectRef<ChittyService>>,
    pub rollouts: UnboundedReceiver<ObjectRef<CachedRollout>>,
}

#[derive(Clone)]
pub struct ProbePool {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    guard: AddressGuard,
    book: Mutex<Book>,
    main: Semaphore,
    slow: Semaphore,
    wake_services: UnboundedSender<ObjectRef<ChittyService>>,
    wake_rollouts: UnboundedSender<ObjectRef<CachedRollout>>,
    /// Where each service probe is remembered, for the dashboard's health over time.
    history: ProbeHistory,
    budget: u32,
    /// Every service probe's outcome and latency, and the stretch, are exported here: the pool
    /// sees each probe, the reconciles only those that change something.
    metrics: Arc<Metrics>,
    /// The stretch last logged (see `Book::stretch`).
    logged_stretch: Mutex<f64>,
}

/// The slow lane's share of the slots.
fn slow_slots(concurrency: usize) -> usize {
    (concurrency / 8).max(1)
}

impl ProbePool {
    pub fn new(config: &ProbeConfig, metrics: Arc<Metrics>) -> (Self, ProbeWakeups) {
        Self::with_history(config, ProbeHistory::default(), metrics)
    }

    /// As [`ProbePool::new`], recording every service probe in `history`.
    pub fn with_history(
        config: &ProbeConfig,
        history: ProbeHistory,
        metrics: Arc<Metrics>,
    ) -> (Self, ProbeWakeups) {
        let guard = AddressGuard::new(config.probe_allow_cidrs.clone());
        let concurrency = usize::from(config.probe_concurrency.max(1));
        let slow = slow_slots(concurrency);
        let (wake_services, services) = unbounded();
        let (wake_rollouts, rollouts) = unbounded();
        let inner = Inner {
            client: super::client(&guard),
            guard,
            book: Mutex::new(Book::with_budget(config.probe_budget)),
            // With one slot in all, both lanes get it: the lanes then only order the work.
            main: Semaphore::new(concurrency.saturating_sub(slow).max(1)),
            slow: Semaphore::new(slow),
            wake_services,
            wake_rollouts,
            history,
            budget: config.probe_budget,
            metrics,
            logged_stretch: Mutex::new(1.0),
        };
        let pool = Self {
            inner: Arc::new(inner),
        };
        (pool, ProbeWakeups { services, rollouts })
    }

    /// The serving revision's result for a service (probed between rollouts).
    pub fn for_service(&self, service: &ChittyService, target: ProbeTarget) -> Lookup {
        self.take(key(ProbeOwner::Service, service), target)
    }

    /// What the service's owner has recorded: `healthy` once its status says so (the pool then
    /// wakes it only for a result that would change that), false when it stops watching the
    /// serving revision (a rollout runs, or the service is going away).
    pub fn settle_service(&self, service: &ChittyService, healthy: bool) {
        let key = key(ProbeOwner::Service, service);
        let mut book = self.inner.book.lock().expect("probe book lock");
        book.settle(&key, healthy);
    }

    /// A rollout's health step result.
    pub fn for_rollout(&self, rollout: &ChittyDeployment, target: ProbeTarget) -> Lookup {
        self.take(key(ProbeOwner::Rollout, rollout), target)
    }

    /// How much longer than asked the services wait between probes (see `Book::stretch`).
    pub fn stretch(&self) -> f64 {
        self.inner.book.lock().expect("probe book lock").stretch()
    }

    fn take(&self, key: ProbeKey, target: ProbeTarget) -> Lookup {
        let (lookup, start, (stretch, demand)) = {
            let mut book = self.inner.book.lock().expect("probe book lock");
            let (lookup, start) = book.take(&key, &target, Instant::now());
            (lookup, start, (book.stretch(), book.demand()))
        };
        if let Some(start) = start {
            schedule(self.inner.clone(), key, target, start);
        }
        self.inner.metrics.probe_stretch.set(stretch);
        self.log_stretch(stretch, demand);
        lookup
    }

    /// Says when the services' probes start or stop being stretched, or the stretch moves by a
    /// quarter or more (not on every small change: it moves with every service added).
    fn log_stretch(&self, stretch: f64, demand: f64) {
        let mut logged = self.inner.logged_stretch.lock().expect("stretch lock");
        let moved = (stretch / *logged - 1.0).abs() >= 0.25;
        if !moved && (stretch > 1.0) == (*logged > 1.0) {
            return;
        }
        *logged = stretch;
        let budget = self.inner.budget;
        if stretch > 1.0 {
            tracing::warn!(
                stretch = format!("{stretch:.2}"),
                asked_per_second = format!("{demand:.0}"),
                budget,
                "the services' health intervals ask for more probes than --probe-budget allows; every service's interval is stretched by the same factor"
            );
        } else {
            tracing::info!(
                budget,
                "the services' health probes fit the budget again; intervals as asked"
            );
        }
    }
}

fn key(owner: ProbeOwner, obj: &impl ResourceExt) -> ProbeKey {
    ProbeKey {
        owner,
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
    }
}

/// Starts a probe once it is due. The wait is a task of its own: a probe's future is a few KB,
/// and every service has its next probe waiting, so the probe is made only when it is due.
fn schedule(inner: Arc<Inner>, key: ProbeKey, target: ProbeTarget, start: Start) {
    tokio::spawn(async move {
        tokio::time::sleep(start.after).await;
        tokio::spawn(run(inner, key, target, start.lane));
    });
}

/// Waits for a slot in the lane, probes within the hard deadline, records the result and wakes
/// the owner, or, for a quiet service still healthy, schedules its next probe.
async fn run(inner: Arc<Inner>, key: ProbeKey, target: ProbeTarget, lane: Lane) {
    let semaphore = match lane {
        Lane::Main => &inner.main,
        Lane::Slow => &inner.slow,
    };
    // The semaphores are never closed.
    let _slot = semaphore.acquire().await.ok();
    let deadline = target.timeout.min(bounds::MAX_TIMEOUT);
    let started = Instant::now();
    let probe = super::probe(&inner.client, &inner.guard, &target.url, deadline);
    let result = tokio::time::timeout(deadline, probe)
        .await
        .unwrap_or_else(|_| ProbeResult::timed_out(&target.url, deadline, started.elapsed()));
    let (healthy, latency) = (result.healthy, result.latency);
    let after =
        inner
            .book
            .lock()
            .expect("probe book lock")
            .complete(&key, &target, result, Instant::now());
    let (name, namespace) = (key.name.as_str(), key.namespace.as_str());
    // A closed channel means the controllers stopped (a lost leadership term); nobody is left
    // to wake, and a quiet service's probes stop with them.
    match key.owner {
        ProbeOwner::Service => {
            inner.metrics.observe_probe(healthy, latency);
            inner
                .history
                .record(namespace, name, healthy, latency, jiff::Timestamp::now());
            match after {
                AfterProbe::Again(start) if !inner.wake_services.is_closed() => {
                    schedule(inner.clone(), key, target, start);
                }
                AfterProbe::Again(_) => {}
                AfterProbe::Wake => {
                    let wake = ObjectRef::new(name).within(namespace);
                    let _ = inner.wake_services.unbounded_send(wake);
                }
            }
        }
        ProbeOwner::Rollout => {
            let _ = (inner.wake_rollouts).unbounded_send(ObjectRef::new(name).within(namespace));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slow_lane_is_an_eighth_of_the_slots_and_never_empty() {
        assert_eq!(slow_slots(64), 8);
        assert_eq!(slow_slots(4), 1);
        assert_eq!(slow_slots(1), 1);
    }
}
