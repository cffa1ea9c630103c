//! Timing what the cluster does, from one watch per kind: a bench says what it waits for on an
//! object before it acts, and learns when the watch first showed it, or that it never did.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

type Check<K> = Box<dyn Fn(&K) -> bool + Send>;

struct Expected<K> {
    /// `None`: any object of the kind.
    name: Option<String>,
    check: Check<K>,
    seen: oneshot::Sender<Instant>,
}

/// One watch on a kind, answering "when did `name` first look like this?".
pub struct Arrivals<K> {
    expected: Arc<Mutex<Vec<Expected<K>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl<K> Arrivals<K>
where
    K: Resource + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
{
    /// Starts the watch and returns once its first list is in, so nothing expected afterwards
    /// can be missed for having happened before the watch began.
    pub async fn watch(api: Api<K>) -> Self {
        let expected: Arc<Mutex<Vec<Expected<K>>>> = Arc::default();
        let (listed, first_list) = oneshot::channel();
        let task = tokio::spawn({
            let expected = expected.clone();
            async move {
                let mut listed = Some(listed);
                let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
                while let Some(event) = events.next().await {
                    let at = Instant::now();
                    match event {
                        Ok(Event::Apply(obj) | Event::InitApply(obj)) => {
                            settle(&expected, &obj, at)
                        }
                        Ok(Event::InitDone) => {
                            if let Some(listed) = listed.take() {
                                let _ = listed.send(());
                            }
                        }
                        // The watcher retries by itself; an expectation only waits longer.
                        Ok(_) | Err(_) => {}
                    }
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(60), first_list)
            .await
            .expect("the watch listed within 60 s")
            .expect("the watch task runs");
        Self { expected, task }
    }

    /// When the watch first shows `name` passing `check`. Call it before the action whose
    /// effect it times, so the answer cannot slip past between acting and asking.
    pub fn expect(
        &self,
        name: &str,
        check: impl Fn(&K) -> bool + Send + 'static,
    ) -> oneshot::Receiver<Instant> {
        self.expect_named(Some(name.to_string()), Box::new(check))
    }

    /// When the watch first shows any object passing `check` (one whose name is not known
    /// beforehand, such as a new rollout of a service).
    pub fn expect_any(
        &self,
        check: impl Fn(&K) -> bool + Send + 'static,
    ) -> oneshot::Receiver<Instant> {
        self.expect_named(None, Box::new(check))
    }

    fn expect_named(&self, name: Option<String>, check: Check<K>) -> oneshot::Receiver<Instant> {
        let (seen, when) = oneshot::channel();
        self.expected
            .lock()
            .unwrap()
            .push(Expected { name, check, seen });
        when
    }
}

fn settle<K: Resource>(expected: &Mutex<Vec<Expected<K>>>, obj: &K, at: Instant) {
    let name = obj.name_any();
    let mut expected = expected.lock().unwrap();
    let mut i = 0;
    while i < expected.len() {
        let named = expected[i].name.as_deref().is_none_or(|n| n == name);
        if named && (expected[i].check)(obj) {
            let _ = expected.swap_remove(i).seen.send(at);
        } else {
            i += 1;
        }
    }
}

impl<K> Drop for Arrivals<K> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How long until `seen` answers, from `started`; `None` when it has not by `timeout`.
pub async fn within(
    started: Instant,
    seen: oneshot::Receiver<Instant>,
    timeout: Duration,
) -> Option<Duration> {
    match tokio::time::timeout_at((started + timeout).into(), seen).await {
        Ok(Ok(at)) => Some(at.saturating_duration_since(started)),
        _ => None,
    }
}

/// Latency samples, a timed-out one as `None`: it counts in the percentiles as slower than all
/// the others, so a p99 that lands on a timeout says so instead of hiding it.
pub struct Latencies {
    pub samples: Vec<Option<Duration>>,
    pub timeout: Duration,
    /// Samples whose action itself failed (the object to act on missing, a refused request):
    /// they time nothing, so they are kept out of the percentiles and reported apart.
    pub failed: Vec<String>,
}

impl Latencies {
    /// Sorts sample outcomes into latencies, timeouts and failed actions.
    pub fn from_outcomes(
        outcomes: Vec<Result<Option<Duration>, String>>,
        timeout: Duration,
    ) -> Self {
        let mut latencies = Self {
            samples: Vec::new(),
            timeout,
            failed: Vec::new(),
        };
        for outcome in outcomes {
            match outcome {
                Ok(sample) => latencies.samples.push(sample),
                Err(why) => latencies.failed.push(why),
            }
        }
        latencies
    }

    pub fn timeouts(&self) -> usize {
        self.samples.iter().filter(|s| s.is_none()).count()
    }

    /// The `q` quantile (0..=1, nearest rank); `None` when it falls on a timeout or there are
    /// no samples.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let mut sorted: Vec<Duration> = self.samples.iter().flatten().copied().collect();
        sorted.sort();
        let n = self.samples.len();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        sorted.get(rank - 1).copied()
    }

    /// A quantile as the report prints it.
    pub fn show(&self, q: f64) -> String {
        match self.quantile(q) {
            Some(d) if d < Duration::from_secs(1) => format!("{} ms", d.as_millis()),
            Some(d) => format!("{:.2} s", d.as_secs_f64()),
            None if self.samples.is_empty() => "no samples".into(),
            None => format!("timeout (> {} s)", self.timeout.as_secs()),
        }
    }

    /// The quantile in seconds, `null` for a timeout, for the JSON figures.
    pub fn seconds(&self, q: f64) -> serde_json::Value {
        self.quantile(q)
            .map_or(serde_json::Value::Null, |d| d.as_secs_f64().into())
    }

    /// Whether the `q` quantile is under `target`.
    pub fn meets(&self, q: f64, target: Duration) -> bool {
        self.quantile(q).is_some_and(|d| d < target)
    }
}

/// Up to `k` names spread evenly over `from`.
pub fn spread(from: &[String], k: usize) -> Vec<String> {
    let step = from.len().div_ceil(k.max(1)).max(1);
    from.iter().step_by(step).take(k).cloned().collect()
}

/// Runs `sample` on each name, one every `pace` (steady load, not a burst), all in flight
/// together; their latencies in the order the names came, a timeout after `timeout`.
pub async fn paced<F, Fut>(
    names: &[String],
    pace: Duration,
    timeout: Duration,
    sample: F,
) -> Latencies
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Duration>, String>> + Send + 'static,
{
    let mut ticks = tokio::time::interval(pace);
    let mut running = Vec::new();
    for name in names {
        ticks.tick().await;
        running.push(tokio::spawn(sample(name.clone())));
    }
    let mut outcomes = Vec::new();
    for task in running {
        outcomes.push(task.await.unwrap());
    }
    Latencies::from_outcomes(outcomes, timeout)
}
