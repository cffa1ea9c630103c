//! `ClaimLookup`: the RouteClaims that concern each ChittyService, kept from the RouteClaim
//! watch, so that a service reconcile reads its own claims instead of scanning every claim of the
//! fleet (at 10,000 services, a scan per reconcile is 10,000 x 10,000 visits per rollout wave).
//!
//! A claim concerns a service when the service controls it (by UID), or when it is a hand-made
//! claim in the service's namespace that names it. Like the rollout index, it holds keys only and
//! is rebuilt from the store after every (re-)list.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::small_set::SmallSet;

use crate::api::{ChittyService, RouteClaim};

type ClaimKey = (String, String);

#[derive(Clone, Default)]
pub struct ClaimLookup(Arc<Mutex<Lookup>>);

#[derive(Default)]
struct Lookup {
    entries: HashMap<ClaimKey, Concerns>,
    by_key: HashMap<Concerns, SmallSet<ClaimKey>>,
}

/// Whom one claim concerns.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Concerns {
    /// The service with this UID controls it.
    Owner(String),
    /// Made by hand, it names this service of its own namespace.
    Named(String, String),
    /// Controlled by a ChittyService that no longer exists, or naming another namespace.
    Nobody,
}

impl ClaimLookup {
    fn lookup(&self) -> MutexGuard<'_, Lookup> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes one event of the RouteClaim watch, after the reflector stored it.
    pub fn on_event(&self, event: &watcher::Event<RouteClaim>, store: &Store<RouteClaim>) {
        match event {
            watcher::Event::Apply(c) => self.lookup().upsert(c),
            watcher::Event::Delete(c) => self.lookup().remove(&key_of(c)),
            watcher::Event::InitDone => {
                let mut lookup = self.lookup();
                *lookup = Lookup::default();
                for c in store.state() {
                    lookup.upsert(&c);
                }
            }
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
        }
    }

    /// The claims `service` controls, and the hand-made ones of its namespace that name it.
    pub fn of(
        &self,
        service: &ChittyService,
    ) -> (Vec<ObjectRef<RouteClaim>>, Vec<ObjectRef<RouteClaim>>) {
        let lookup = self.lookup();
        let refs = |concerns: &Concerns| -> Vec<ObjectRef<RouteClaim>> {
            (lookup.by_key.get(concerns).into_iter().flatten())
                .map(|(ns, name)| ObjectRef::new(name).within(ns))
                .collect()
        };
        let owned = service
            .uid()
            .map(|uid| refs(&Concerns::Owner(uid)))
            .unwrap_or_default();
        let named = refs(&Concerns::Named(
            service.namespace().unwrap_or_default(),
            service.name_any(),
        ));
        (owned, named)
    }
}

impl Lookup {
    fn upsert(&mut self, claim: &RouteClaim) {
        let key = key_of(claim);
        let concerns = concerns(claim);
        if self.entries.get(&key) == Some(&concerns) {
            return;
        }
        self.remove(&key);
        (self.by_key.entry(concerns.clone()).or_default()).insert(key.clone());
        self.entries.insert(key, concerns);
    }

    fn remove(&mut self, key: &ClaimKey) {
        let Some(concerns) = self.entries.remove(key) else {
            return;
        };
        if let Some(keys) = self.by_key.get_mut(&concerns) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_key.remove(&concerns);
            }
        }
    }
}

fn key_of(claim: &RouteClaim) -> ClaimKey {
    (claim.namespace().unwrap_or_default(), claim.name_any())
}

/// The same rule as the service controller applies: the controller reference first, and only a
/// claim no ChittyService controls may name a service, of its own namespace only.
fn concerns(claim: &RouteClaim) -> Concerns {
    let namespace = claim.namespace().unwrap_or_default();
    let controller = (claim.owner_references().iter()).find(|o| o.controller == Some(true));
    match controller {
        Some(o) if o.kind == ChittyService::kind(&()) => Concerns::Owner(o.uid.clone()),
        _ if claim.spec.service_ref.namespace_or(&namespace) == namespace => {
            Concerns::Named(namespace, claim.spec.service_ref.name.clone())
        }
        _ => Concerns::Nobody,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claim(name: &str, service: &str, owner: Option<&str>) -> RouteClaim {
        let owners = owner.map(|uid| {
            json!([{"apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService", "name": service,
                     "uid": uid, "controller": true}])
        });
        serde_json::from_value(json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "RouteClaim",
            "metadata": {"name": name, "namespace": "team", "ownerReferences": owners},
            "spec": {"host": "a.chitty.cc", "serviceRef": {"name": service}},
        }))
        .unwrap()
    }

    fn service(name: &str, uid: &str) -> ChittyService {
        serde_json::from_value(json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": name, "namespace": "team", "uid": uid},
            "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                     "source": {"image": "x:1"}},
        }))
        .unwrap()
    }

    fn names(refs: Vec<ObjectRef<RouteClaim>>) -> Vec<String> {
        refs.into_iter().map(|r| r.name).collect()
    }

    #[test]
    fn a_service_finds_its_own_and_its_hand_made_claims_only() {
        let lookup = ClaimLookup::default();
        let store = kube::runtime::reflector::store::Writer::default().as_reader();
        for c in [
            claim("web-1", "web", Some("uid-web")),
            claim("by-hand", "web", None),
            claim("api-1", "api", Some("uid-api")),
            // Controlled by another service, yet naming web: not web's.
            claim("sneaky", "web", Some("uid-api")),
        ] {
            lookup.on_event(&watcher::Event::Apply(c), &store);
        }
        let (owned, named) = lookup.of(&service("web", "uid-web"));
        assert_eq!(names(owned), ["web-1"]);
        assert_eq!(names(named), ["by-hand"]);
        let (owned, named) = lookup.of(&service("api", "uid-api"));
        assert_eq!(names(owned), ["api-1", "sneaky"]);
        assert!(named.is_empty());
        // A recreated service (new UID) does not inherit the old one's claims.
        assert!(lookup.of(&service("web", "uid-new")).0.is_empty());
        lookup.on_event(&watcher::Event::Delete(claim("web-1", "web", None)), &store);
        assert!(lookup.of(&service("web", "uid-web")).0.is_empty());
    }
}
