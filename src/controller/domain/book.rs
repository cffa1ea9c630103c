//! `DomainBook`: every ChittyDomain's record and the delegations in force, recomputed from the
//! domain and namespace caches on each change, like the route table for claims.
//!
//! It tells two listeners what changed: the domain controller (through triggers, for the domains
//! whose record changed, so their status is written) and whoever enforces the delegations (a
//! callback, wired by the operator to the route table; this module knows nothing of routes).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::resolve::{DomainRecord, resolve};
use crate::api::ChittyDomain;
use crate::routing::Delegations;

type Listener = Box<dyn Fn(Delegations) + Send + Sync>;

#[derive(Clone)]
pub struct DomainBook {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    domains: Store<ChittyDomain>,
    namespaces: Store<PartialObjectMeta<Namespace>>,
    triggers: UnboundedSender<ObjectRef<ChittyDomain>>,
    on_delegations: Listener,
}

#[derive(Default)]
struct State {
    domains_synced: bool,
    namespaces_synced: bool,
    records: BTreeMap<String, DomainRecord>,
    /// Last told to the listener; `None` before the first time.
    delegations: Option<Delegations>,
}

impl DomainBook {
    /// A book over the two caches; `on_delegations` hears every change of the delegations in
    /// force, the first time once both caches have synced.
    pub fn new(
        domains: Store<ChittyDomain>,
        namespaces: Store<PartialObjectMeta<Namespace>>,
        on_delegations: impl Fn(Delegations) + Send + Sync + 'static,
    ) -> (Self, UnboundedReceiver<ObjectRef<ChittyDomain>>) {
        let (triggers, wakes) = unbounded();
        let book = Self {
            shared: Arc::new(Shared {
                state: Mutex::default(),
                domains,
                namespaces,
                triggers,
                on_delegations: Box::new(on_delegations),
            }),
        };
        (book, wakes)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes one event of the ChittyDomain watch, after the reflector stored it.
    pub fn on_domain_event(&self, event: &watcher::Event<ChittyDomain>) {
        match event {
            watcher::Event::InitDone => self.state().domains_synced = true,
            watcher::Event::Apply(_) | watcher::Event::Delete(_) => {}
            _ => return,
        }
        self.recompute();
    }

    /// Takes one event of the namespace (metadata) watch: labels decide selectors.
    pub fn on_namespace_event(&self, event: &watcher::Event<PartialObjectMeta<Namespace>>) {
        match event {
            watcher::Event::InitDone => self.state().namespaces_synced = true,
            // Listed namespaces need no namespace object, so without a selector nothing changes.
            watcher::Event::Apply(_) | watcher::Event::Delete(_) if self.any_selector() => {}
            _ => return,
        }
        self.recompute();
    }

    /// The record of the domain named `name`, once both caches have synced.
    pub fn record(&self, name: &str) -> Option<DomainRecord> {
        self.state().records.get(name).cloned()
    }

    fn any_selector(&self) -> bool {
        (self.shared.domains.state().iter()).any(|d| d.spec.namespace_selector.is_some())
    }

    fn recompute(&self) {
        // Held throughout, so that two watches recomputing at once tell the listener in order.
        let mut state = self.state();
        if !(state.domains_synced && state.namespaces_synced) {
            return;
        }
        let (delegations, records) = resolve(
            &self.shared.domains.state(),
            &self.shared.namespaces.state(),
        );
        for (name, record) in &records {
            if state.records.get(name) != Some(record) {
                // A closed channel means the controllers have stopped; nobody to tell.
                let _ = self.shared.triggers.unbounded_send(ObjectRef::new(name));
            }
        }
        state.records = records;
        if state.delegations.as_ref() != Some(&delegations) {
            state.delegations = Some(delegations.clone());
            (self.shared.on_delegations)(delegations);
        }
    }
}

impl Default for DomainBook {
    /// A book fed by nothing, for contexts built without the domain controller.
    fn default() -> Self {
        let domains = kube::runtime::reflector::store::Writer::default().as_reader();
        let namespaces = kube::runtime::reflector::store::Writer::default().as_reader();
        Self::new(domains, namespaces, |_| {}).0
    }
}
