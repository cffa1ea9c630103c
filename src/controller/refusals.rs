//! Objects of a service that the apiserver refused, as last seen by the controller that applies
//! them, for the ChittyService controller to report.
//!
//! The workload controller applies a service's Deployment, Service and autoscaler but writes no
//! status (one writer per status). When the apiserver refuses one of them as invalid or
//! forbidden, retrying alone cannot help, and the service's author must hear of it: the refusal
//! is put here, and the service is woken, so its own controller says `Stalled` with the
//! apiserver's message in the very next reconcile. In memory only: after a restart the next
//! apply finds the refusal again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use futures::channel::mpsc::UnboundedSender;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use crate::Refusal;
use crate::api::ChittyService;

/// Refusals per service (`namespace/name`), each by what was refused.
#[derive(Default)]
pub struct Refusals {
    by_service: Mutex<HashMap<String, BTreeMap<String, Refusal>>>,
    /// Wakes the ChittyService controller for a service whose refusals changed.
    wake: Option<UnboundedSender<ObjectRef<ChittyService>>>,
}

fn key(service: &ChittyService) -> String {
    format!(
        "{}/{}",
        service.namespace().unwrap_or_default(),
        service.name_any()
    )
}

impl Refusals {
    /// A book that wakes the service controller through `wake` whenever a service's refusals
    /// change.
    pub fn waking(wake: UnboundedSender<ObjectRef<ChittyService>>) -> Self {
        Self {
            by_service: Default::default(),
            wake: Some(wake),
        }
    }

    /// `what` (for example "workload") of `service` cannot be written, for `why`.
    pub fn record(&self, service: &ChittyService, what: &str, why: Refusal) {
        let changed = {
            let mut map = self
                .by_service
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let entry = map.entry(key(service)).or_default();
            entry.insert(what.to_string(), why.clone()) != Some(why)
        };
        if changed {
            self.wake(service);
        }
    }

    /// `what` of `service` was accepted (or is no longer wanted).
    pub fn clear(&self, service: &ChittyService, what: &str) {
        let changed = {
            let mut map = self
                .by_service
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let key = key(service);
            let removed = map.get_mut(&key).and_then(|e| e.remove(what)).is_some();
            if map.get(&key).is_some_and(BTreeMap::is_empty) {
                map.remove(&key);
            }
            removed
        };
        if changed {
            self.wake(service);
        }
    }

    /// What stands refused for `service`, in a stable order.
    pub fn of(&self, service: &ChittyService) -> Vec<Refusal> {
        let map = self
            .by_service
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(&key(service))
            .map(|e| e.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets a deleted service.
    pub fn forget(&self, service: &ChittyService) {
        let mut map = self
            .by_service
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.remove(&key(service));
    }

    fn wake(&self, service: &ChittyService) {
        if let Some(wake) = &self.wake {
            let reference = ObjectRef::new(&service.name_any())
                .within(&service.namespace().unwrap_or_default());
            // The receiver lives as long as the controllers; after they stop, nobody listens.
            let _ = wake.unbounded_send(reference);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn service(name: &str) -> ChittyService {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": name, "namespace": "team"},
            "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                     "source": {"image": "registry.local/x:1"}}
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn a_refusal_wakes_its_service_once_and_a_clear_wakes_it_again() {
        let (tx, mut rx) = futures::channel::mpsc::unbounded();
        let book = Refusals::waking(tx);
        let web = service("web");
        let why = Refusal {
            reason: "ObjectRefused",
            message: "refused: bad".into(),
        };
        book.record(&web, "workload", why.clone());
        book.record(&web, "workload", why.clone());
        assert_eq!(book.of(&web), vec![why]);
        assert!(book.of(&service("api")).is_empty());
        book.clear(&web, "workload");
        book.clear(&web, "workload");
        assert!(book.of(&web).is_empty());
        drop(book);
        let woken: Vec<_> = rx.by_ref().collect().await;
        assert_eq!(
            woken.len(),
            2,
            "one wake for the refusal, one for its clearing"
        );
        assert_eq!(woken[0].name, "web");
    }
}
