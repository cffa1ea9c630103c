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
    name: String,
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
        let (seen, when) = oneshot::channel();
        self.expected.lock().unwrap().push(Expected {
            name: name.to_string(),
            check: Box::new(check),
            seen,
        });
        when
    }
}

fn settle<K: Resource>(expected: &Mutex<Vec<Expected<K>>>, obj: &K, at: Instant) {
    let name = obj.name_any();
    let mut expected = expected.lock().unwrap();
    let mut i = 0;
    while i < expected.len() {
        if expected[i].name == name && (expected[i].check)(obj) {
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
