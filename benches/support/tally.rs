//! Waiting for "all N objects of a kind look like this" from one watch, not by listing them again
//! and again: at 10,000 objects a list every second would load the apiserver (and the machine the
//! operator shares with it) more than what is being measured.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::{oneshot, watch};

/// How many objects of one kind pass a check, kept current by a watch.
pub struct Tally {
    passing: watch::Receiver<usize>,
    task: tokio::task::JoinHandle<()>,
}

impl Tally {
    /// Starts the watch and returns once its first list is in, so an object that passes the
    /// check after this call cannot be missed.
    pub async fn watch<K>(api: Api<K>, check: impl Fn(&K) -> bool + Send + 'static) -> Self
    where
        K: Resource + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
    {
        let (count, passing) = watch::channel(0);
        let (listed, first_list) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut listed = Some(listed);
            let mut names = HashSet::new();
            // A relist (after the watch expired) rebuilds the set, so objects deleted meanwhile
            // drop out; until it is done the previous set stands.
            let mut relisted: Option<HashSet<String>> = None;
            let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
            while let Some(event) = events.next().await {
                match event {
                    Ok(Event::Init) => relisted = Some(HashSet::new()),
                    Ok(Event::InitApply(obj)) => {
                        if check(&obj) {
                            relisted.get_or_insert_default().insert(obj.name_any());
                        }
                    }
                    Ok(Event::InitDone) => {
                        names = relisted.take().unwrap_or_default();
                        if let Some(listed) = listed.take() {
                            let _ = listed.send(());
                        }
                    }
                    Ok(Event::Apply(obj)) => {
                        if check(&obj) {
                            names.insert(obj.name_any());
                        } else {
                            names.remove(&obj.name_any());
                        }
                    }
                    Ok(Event::Delete(obj)) => {
                        names.remove(&obj.name_any());
                    }
                    // The watcher retries by itself; the tally only lags meanwhile.
                    Err(_) => {}
                }
                count.send_replace(names.len());
            }
        });
        tokio::time::timeout(Duration::from_secs(60), first_list)
            .await
            .expect("the watch listed within 60 s")
            .expect("the watch task runs");
        Self { passing, task }
    }

    /// Waits until `n` objects pass, at most until `timeout` after `started`; how long from
    /// `started` that took, else how many passed when the time ran out.
    pub async fn all(
        &mut self,
        n: usize,
        started: Instant,
        timeout: Duration,
    ) -> Result<Duration, usize> {
        let reached = tokio::time::timeout_at(
            (started + timeout).into(),
            self.passing.wait_for(|&count| count >= n),
        )
        .await
        .is_ok_and(|seen| seen.is_ok());
        if reached {
            Ok(started.elapsed())
        } else {
            Err(*self.passing.borrow())
        }
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.task.abort();
    }
}
