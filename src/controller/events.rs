//! Kubernetes Events leave the reconcile's path: a reconcile hands each one to a bounded queue
//! and goes on, and a pump that lives as long as the controllers sends them, several at once.
//!
//! An Event is a write of its own; awaited inside a reconcile it holds a concurrency slot and
//! delays the writes that move the rollout on (the Deployment, the next status). The queue is
//! bounded, so a slow API server slows reconciles down again rather than piling Events up.

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Reporter};

use super::event_writer::EventWriter;

/// Events waiting to be sent before reconciles have to wait for room.
const QUEUE: usize = 1024;
/// Events sent at once.
const IN_FLIGHT: usize = 16;
/// How often the pump forgets the Events too old to repeat.
const FORGET_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

struct Pending {
    event: Event,
    reference: ObjectReference,
}

#[derive(Clone)]
pub struct EventQueue {
    tx: mpsc::Sender<Pending>,
}

impl EventQueue {
    /// The queue, and the pump to run beside the controllers (it ends when every queue handle
    /// is dropped, or with the controllers if it is dropped first).
    pub fn new(writer: EventWriter) -> (Self, impl Future<Output = ()> + Send) {
        let (tx, rx) = mpsc::channel::<Pending>(QUEUE);
        let forgetting = {
            let writer = writer.clone();
            async move {
                let mut every = tokio::time::interval(FORGET_EVERY);
                loop {
                    every.tick().await;
                    writer.forget_old();
                }
            }
        };
        let sending = rx.for_each_concurrent(IN_FLIGHT, move |pending| {
            let writer = writer.clone();
            async move {
                if let Err(error) = writer.publish(&pending.event, &pending.reference).await {
                    tracing::debug!(%error, reason = %pending.event.reason, "could not record event");
                }
            }
        });
        let pump = async move {
            futures::pin_mut!(forgetting, sending);
            futures::future::select(sending, forgetting).await;
        };
        (Self { tx }, pump)
    }

    /// Queues the Event; waits only while the queue is full.
    pub async fn send(&self, event: Event, reference: ObjectReference) {
        // A closed queue means the controllers are stopping; the Event is dropped, as any
        // best-effort Event may be.
        let _ = self.tx.clone().send(Pending { event, reference }).await;
    }
}

/// How reconciles send Events: through the queue while the controllers run a pump for it, or in
/// place for a context built for a single task.
#[derive(Clone)]
pub enum Publisher {
    Queued(EventQueue),
    Direct(EventWriter),
}

impl Publisher {
    /// A recorder that names the operator (and its pod) as the Events' reporter.
    pub fn recorder(client: kube::Client) -> EventWriter {
        let reporter = Reporter {
            controller: crate::labels::FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        EventWriter::new(client, reporter)
    }

    async fn publish(&self, event: Event, reference: ObjectReference) {
        match self {
            Publisher::Queued(queue) => queue.send(event, reference).await,
            Publisher::Direct(recorder) => {
                if let Err(error) = recorder.publish(&event, &reference).await {
                    tracing::debug!(%error, reason = %event.reason, "could not record event");
                }
            }
        }
    }
}

/// Events are best effort: a failure to record one never fails a reconcile.
pub async fn publish<K: Resource<DynamicType = ()>>(
    ctx: &super::Context,
    obj: &K,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: reason.into(),
        secondary: None,
    };
    ctx.events.publish(event, obj.object_ref(&())).await;
}

/// An Event about something done to another object (`related`): a repaired Deployment, a removed
/// canary. Events that share their reason and objects count as one series, so naming the related
/// object at the version acted on keeps two different repairs two Events, and one repair seen
/// twice one.
pub async fn publish_about<K, R>(
    ctx: &super::Context,
    obj: &K,
    related: &R,
    type_: EventType,
    reason: &str,
    note: String,
) where
    K: Resource<DynamicType = ()>,
    R: Resource<DynamicType = ()>,
{
    let mut related_ref = related.object_ref(&());
    related_ref.resource_version = related.meta().resource_version.clone();
    let related = related_ref;
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: reason.into(),
        secondary: Some(related),
    };
    ctx.events.publish(event, obj.object_ref(&())).await;
}
