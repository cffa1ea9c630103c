//! Writes Kubernetes Events (events.k8s.io/v1), folding a repeat into a series as kube-runtime's
//! `Recorder` does, with a record of each Event that costs the operator little memory.
//!
//! The `Recorder` keeps a copy of every Event it wrote in the last six minutes (about 2-3 KB each)
//! and prunes them only when it writes the next one, scanning all of them each time. A 10,000
//! service rollout writes tens of thousands of Events, so its copies outweighed the operator's
//! whole cache of Deployments, and stayed once the fleet went idle. Here an Event is remembered as
//! a hash of what makes it the same Event, its name and its count, and forgotten on a timer too.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use kube::{Api, Client};

/// How long a repeat still joins the earlier Event's series (kube-runtime's `Recorder` uses the
/// same six minutes, as client-go does).
const SERIES_WINDOW: SignedDuration = SignedDuration::from_mins(6);

/// How often a write first forgets the Events too old to repeat, so that a writer without a
/// timer (one task's) stays bounded too, and a burst of writes does not scan them all each time.
const FORGET_EVERY: SignedDuration = SignedDuration::from_secs(60);

/// An Event written, for its repeats.
#[derive(Clone, Debug, PartialEq)]
struct Written {
    namespace: Box<str>,
    name: Box<str>,
    count: i32,
    last: Timestamp,
}

/// The Events written in the last series window, by `EventWriter::key`.
#[derive(Default)]
struct Memory {
    written: HashMap<u64, Written>,
    pruned: Timestamp,
}

impl Memory {
    fn forget_old(&mut self, now: Timestamp) {
        self.written.retain(|_, w| w.last + SERIES_WINDOW > now);
        // A rollout wave leaves the map sized for its Events; the quiet fleet after it needs
        // a fraction of that.
        if self.written.capacity() > 4 * self.written.len().max(64) {
            self.written.shrink_to_fit();
        }
        self.pruned = now;
    }
}

/// Writes Events for one reporter (the operator and its pod).
#[derive(Clone)]
pub struct EventWriter {
    client: Client,
    reporter: Reporter,
    memory: Arc<Mutex<Memory>>,
}

impl EventWriter {
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Self {
            client,
            reporter,
            memory: Default::default(),
        }
    }

    /// Writes the Event about `regarding`: a new Event, or the next count of the same Event
    /// written within the series window (same type, action, reason, objects and reporter).
    pub async fn publish(
        &self,
        event: &Event,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let key = self.key(event, regarding);
        let repeat = {
            let mut memory = self.memory.lock().expect("not poisoned");
            if memory.pruned + FORGET_EVERY < now {
                memory.forget_old(now);
            }
            memory.written.get(&key).cloned()
        };
        let repeat = repeat.filter(|w| w.last + SERIES_WINDOW > now);
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let written = match repeat {
            Some(earlier) => {
                let count = earlier.count + 1;
                let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &earlier.namespace);
                let series = serde_json::json!({
                    "series": {"count": count, "lastObservedTime": MicroTime(now)},
                });
                api.patch(
                    &earlier.name,
                    &PatchParams::default(),
                    &Patch::Merge(&series),
                )
                .await?;
                Written {
                    count,
                    last: now,
                    ..earlier
                }
            }
            None => {
                let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), namespace);
                let created = api
                    .create(&PostParams::default(), &self.event(event, regarding, now))
                    .await?;
                Written {
                    namespace: namespace.into(),
                    name: created.metadata.name.unwrap_or_default().into(),
                    count: 1,
                    last: now,
                }
            }
        };
        (self.memory.lock().expect("not poisoned"))
            .written
            .insert(key, written);
        Ok(())
    }

    /// Forgets the Events too old to be repeated; the controllers' Event queue runs it on a timer,
    /// so an idle operator holds none.
    pub fn forget_old(&self) {
        (self.memory.lock().expect("not poisoned")).forget_old(Timestamp::now());
    }

    /// What makes two Events the same Event (kube-runtime's `EventKey`), hashed. A collision
    /// would only add a count to another Event of the same reporter: 64 bits make that moot.
    fn key(&self, event: &Event, regarding: &ObjectReference) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        matches!(event.type_, EventType::Warning).hash(&mut hasher);
        (&event.action, &event.reason).hash(&mut hasher);
        (&self.reporter.controller, &self.reporter.instance).hash(&mut hasher);
        hash_reference(regarding, &mut hasher);
        if let Some(related) = &event.secondary {
            hash_reference(related, &mut hasher);
        }
        hasher.finish()
    }

    fn event(&self, event: &Event, regarding: &ObjectReference, now: Timestamp) -> K8sEvent {
        let controller = &self.reporter.controller;
        let prefix = regarding.name.as_deref().unwrap_or(controller);
        K8sEvent {
            metadata: kube::core::ObjectMeta {
                namespace: regarding.namespace.clone(),
                // Named as client-go and kube-runtime name Events: the object, then the time.
                name: Some(format!("{prefix}.{:x}", now.as_nanosecond())),
                ..Default::default()
            },
            action: Some(event.action.clone()),
            reason: Some(event.reason.clone()),
            note: event.note.clone(),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            related: event.secondary.clone(),
            reporting_controller: Some(controller.clone()),
            reporting_instance: Some(
                (self.reporter.instance.clone()).unwrap_or_else(|| controller.clone()),
            ),
            type_: Some(match event.type_ {
                EventType::Normal => "Normal".into(),
                EventType::Warning => "Warning".into(),
            }),
            ..Default::default()
        }
    }
}

fn hash_reference(reference: &ObjectReference, hasher: &mut impl Hasher) {
    let ObjectReference {
        api_version,
        field_path,
        kind,
        name,
        namespace,
        resource_version,
        uid,
    } = reference;
    (api_version, field_path, kind, name, namespace).hash(hasher);
    (resource_version, uid).hash(hasher);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> EventWriter {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = Client::try_from(config).unwrap();
        let reporter = Reporter {
            controller: "chitty-operator".into(),
            instance: Some("pod-1".into()),
        };
        EventWriter::new(client, reporter)
    }

    fn event(reason: &str, related: Option<&str>) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some("a note".into()),
            action: reason.into(),
            secondary: related.map(|name| ObjectReference {
                kind: Some("Deployment".into()),
                name: Some(name.into()),
                ..Default::default()
            }),
        }
    }

    fn regarding(name: &str) -> ObjectReference {
        ObjectReference {
            kind: Some("ChittyService".into()),
            namespace: Some("a".into()),
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        }
    }

    // A client needs a runtime to be made, though these tests send nothing.
    #[tokio::test]
    async fn the_same_event_has_one_key_and_any_difference_another() {
        let w = writer();
        let base = w.key(&event("Scaled", Some("api")), &regarding("api"));
        assert_eq!(
            base,
            w.key(&event("Scaled", Some("api")), &regarding("api"))
        );
        let mut note = event("Scaled", Some("api"));
        note.note = Some("another note".into());
        assert_eq!(
            base,
            w.key(&note, &regarding("api")),
            "the note is not the key"
        );
        for other in [
            w.key(&event("DriftRepaired", Some("api")), &regarding("api")),
            w.key(&event("Scaled", Some("api-canary")), &regarding("api")),
            w.key(&event("Scaled", None), &regarding("api")),
            w.key(&event("Scaled", Some("api")), &regarding("web")),
        ] {
            assert_ne!(base, other);
        }
    }

    // A client needs a runtime to be made, though these tests send nothing.
    #[tokio::test]
    async fn the_event_names_its_objects_and_reporter() {
        let w = writer();
        let now = Timestamp::now();
        let e = w.event(&event("Scaled", Some("api")), &regarding("api"), now);
        let name = e.metadata.name.unwrap();
        assert_eq!(name, format!("api.{:x}", now.as_nanosecond()));
        assert_eq!(e.metadata.namespace.as_deref(), Some("a"));
        assert_eq!(e.regarding, Some(regarding("api")));
        assert_eq!(e.related.unwrap().name.as_deref(), Some("api"));
        assert_eq!(e.reporting_instance.as_deref(), Some("pod-1"));
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        assert_eq!(e.event_time, Some(MicroTime(now)));
    }

    // A client needs a runtime to be made, though these tests send nothing.
    #[tokio::test]
    async fn old_events_are_forgotten() {
        let w = writer();
        let entry = |last| Written {
            namespace: "a".into(),
            name: "api.1".into(),
            count: 1,
            last,
        };
        {
            let written = &mut w.memory.lock().unwrap().written;
            written.insert(1, entry(Timestamp::now() - SignedDuration::from_mins(7)));
            written.insert(2, entry(Timestamp::now()));
        }
        w.forget_old();
        let written = &w.memory.lock().unwrap().written;
        assert_eq!(written.keys().collect::<Vec<_>>(), [&2]);
    }
}
