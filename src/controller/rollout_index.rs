//! `RolloutIndex`: the rollouts of each service and the unfinished rollouts that wait on each
//! service, kept from the ChittyDeployment watch, so that both questions cost their answer and
//! not a scan of the fleet's rollouts (issue 16: fleet-wide settings stay cheap).
//!
//! The index holds only keys; objects are read from the store, so the index never serves a
//! stale copy of a rollout. It is rebuilt from the store after every (re-)list, which may have
//! missed deletions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use serde::Deserialize;

use super::CachedRollout;
use super::small_set::SmallSet;

use crate::api::{DeploymentPhase, LocalServiceRef, ServiceRef};

/// A ChittyService as `(namespace, name)`.
type ServiceKey = (String, String);
/// A ChittyDeployment as `(namespace, name)`: ordered, so lookups answer in name order.
type RolloutKey = (String, String);

#[derive(Clone, Default)]
pub struct RolloutIndex(Arc<Mutex<Index>>);

#[derive(Default)]
struct Index {
    /// Each indexed rollout (by `namespace/name`) and what it was indexed under.
    entries: HashMap<RolloutKey, Entry>,
    /// Owner UID → its rollouts.
    by_owner: HashMap<String, SmallSet<RolloutKey>>,
    /// Service → unfinished rollouts of it or depending on it.
    waiters: HashMap<ServiceKey, SmallSet<RolloutKey>>,
    /// How many entries are `running`.
    running: usize,
}

#[derive(Clone, PartialEq, Eq)]
struct Entry {
    owner: Option<String>,
    /// The services the rollout waits on while unfinished: its own and its dependencies.
    waits_on: Vec<ServiceKey>,
    /// In the `Running` phase (the advisor counts the fleet's rollouts in progress).
    running: bool,
}

/// What the fleet-wide readers of cached rollouts need of one (this index, the read API's fleet
/// view), decoded alone with `Packed::peek`: the rest of the text is skipped unread.
#[derive(Deserialize)]
pub struct Outline {
    pub spec: OutlineSpec,
    #[serde(default)]
    pub status: Option<OutlineStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutlineSpec {
    pub service_ref: LocalServiceRef,
    pub snapshot: OutlineSnapshot,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutlineSnapshot {
    #[serde(default)]
    pub depends_on: Vec<ServiceRef>,
}

#[derive(Deserialize)]
pub struct OutlineStatus {
    #[serde(default)]
    pub phase: Option<DeploymentPhase>,
}

impl Outline {
    /// The rollout's outline; every cached rollout decoded whole when it arrived, so its outline
    /// does too.
    pub fn of(rollout: &CachedRollout) -> Option<Self> {
        rollout.peek()
    }

    pub fn phase(&self) -> Option<DeploymentPhase> {
        self.status.as_ref().and_then(|s| s.phase)
    }
}

impl RolloutIndex {
    fn index(&self) -> MutexGuard<'_, Index> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes one event of the ChittyDeployment watch, after the reflector stored it.
    pub fn on_event(&self, event: &watcher::Event<CachedRollout>, store: &Store<CachedRollout>) {
        match event {
            watcher::Event::Apply(d) => self.index().upsert(d),
            watcher::Event::Delete(d) => self.index().remove(&key_of(d)),
            watcher::Event::InitDone => {
                let mut index = self.index();
                *index = Index::default();
                for d in store.state() {
                    index.upsert(&d);
                }
            }
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
        }
    }

    /// The rollouts whose controller owner has this UID.
    pub fn owned_by(&self, uid: &str) -> Vec<ObjectRef<CachedRollout>> {
        (self.index().by_owner.get(uid)).map_or_else(Vec::new, refs)
    }

    /// The unfinished rollouts of the service `namespace/name`, or of services depending on it.
    pub fn waiting_on(&self, namespace: &str, name: &str) -> Vec<ObjectRef<CachedRollout>> {
        let key = (namespace.to_owned(), name.to_owned());
        (self.index().waiters.get(&key)).map_or_else(Vec::new, refs)
    }

    /// How many rollouts run now, this one (`namespace/name`) left out.
    pub fn running_besides(&self, namespace: &str, name: &str) -> usize {
        let index = self.index();
        let key = (namespace.to_owned(), name.to_owned());
        let this = index.entries.get(&key).is_some_and(|e| e.running);
        index.running - usize::from(this)
    }
}

impl Index {
    fn upsert(&mut self, d: &CachedRollout) {
        let reference = key_of(d);
        let entry = entry_of(d);
        if self.entries.get(&reference) == Some(&entry) {
            return;
        }
        self.remove(&reference);
        if let Some(owner) = &entry.owner {
            (self.by_owner.entry(owner.clone()).or_default()).insert(reference.clone());
        }
        for service in &entry.waits_on {
            (self.waiters.entry(service.clone()).or_default()).insert(reference.clone());
        }
        self.running += usize::from(entry.running);
        self.entries.insert(reference, entry);
    }

    fn remove(&mut self, reference: &RolloutKey) {
        let Some(entry) = self.entries.remove(reference) else {
            return;
        };
        if let Some(owner) = &entry.owner {
            forget(&mut self.by_owner, owner, reference);
        }
        for service in &entry.waits_on {
            forget(&mut self.waiters, service, reference);
        }
        self.running -= usize::from(entry.running);
    }
}

fn refs(keys: &SmallSet<RolloutKey>) -> Vec<ObjectRef<CachedRollout>> {
    keys.iter()
        .map(|(ns, name)| ObjectRef::new(name).within(ns))
        .collect()
}

fn key_of(d: &CachedRollout) -> RolloutKey {
    (d.namespace().unwrap_or_default(), d.name_any())
}

fn forget<K: std::hash::Hash + Eq + Clone>(
    map: &mut HashMap<K, SmallSet<RolloutKey>>,
    key: &K,
    reference: &RolloutKey,
) {
    if let Some(refs) = map.get_mut(key) {
        refs.remove(reference);
        if refs.is_empty() {
            map.remove(key);
        }
    }
}

fn entry_of(d: &CachedRollout) -> Entry {
    let ns = d.namespace().unwrap_or_default();
    let owner = (d.owner_references().iter())
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.clone());
    let Some(read) = Outline::of(d) else {
        return Entry {
            owner,
            waits_on: Vec::new(),
            running: false,
        };
    };
    let phase = read.phase();
    let waits_on = if phase.is_some_and(DeploymentPhase::is_finished) {
        Vec::new()
    } else {
        std::iter::once((ns.clone(), read.spec.service_ref.name))
            .chain(
                (read.spec.snapshot.depends_on.iter())
                    .map(|r| (r.namespace_or(&ns).to_owned(), r.name.clone())),
            )
            .collect()
    };
    Entry {
        owner,
        waits_on,
        running: phase == Some(DeploymentPhase::Running),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(name: &str, owner: &str, depends: &[&str], phase: Option<&str>) -> CachedRollout {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
            "metadata": {"name": name, "namespace": "ns",
                "ownerReferences": [{"apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
                    "name": owner, "uid": format!("uid-{owner}"), "controller": true}]},
            "spec": {"serviceRef": {"name": owner}, "revision": "abcdef0123", "trigger": "Initial",
                "strategy": "immediate",
                "snapshot": {"type": "worker", "version": "1.0.0", "environment": "staging",
                    "source": {"image": "registry.local/x:1"},
                    "dependsOn": depends.iter().map(|d| serde_json::json!({"name": d})).collect::<Vec<_>>()}},
            "status": phase.map(|p| serde_json::json!({"phase": p})),
        }))
        .unwrap()
    }

    fn names(refs: Vec<ObjectRef<CachedRollout>>) -> Vec<String> {
        refs.into_iter().map(|r| r.name).collect()
    }

    #[test]
    fn owners_and_waiters_follow_the_rollouts() {
        let index = RolloutIndex::default();
        let mut i = index.index();
        i.upsert(&rollout(
            "billing-1",
            "billing",
            &["ledger"],
            Some("Succeeded"),
        ));
        i.upsert(&rollout(
            "billing-2",
            "billing",
            &["ledger"],
            Some("Pending"),
        ));
        i.upsert(&rollout("ledger-1", "ledger", &[], None));
        drop(i);
        assert_eq!(
            names(index.owned_by("uid-billing")),
            ["billing-1", "billing-2"]
        );
        assert_eq!(
            names(index.waiting_on("ns", "ledger")),
            ["billing-2", "ledger-1"]
        );
        assert_eq!(names(index.waiting_on("ns", "billing")), ["billing-2"]);

        // Finishing stops waiting; deleting forgets.
        let mut i = index.index();
        i.upsert(&rollout(
            "billing-2",
            "billing",
            &["ledger"],
            Some("Succeeded"),
        ));
        i.remove(&("ns".into(), "billing-1".into()));
        drop(i);
        assert_eq!(names(index.waiting_on("ns", "ledger")), ["ledger-1"]);
        assert_eq!(names(index.owned_by("uid-billing")), ["billing-2"]);
        let billing: ServiceKey = ("ns".into(), "billing".into());
        assert!(
            !index.index().waiters.contains_key(&billing),
            "an emptied key is dropped"
        );
    }

    #[test]
    fn the_rollouts_running_are_counted_as_they_come_and_go() {
        let index = RolloutIndex::default();
        let mut i = index.index();
        i.upsert(&rollout("a-1", "a", &[], Some("Running")));
        i.upsert(&rollout("b-1", "b", &[], Some("Running")));
        i.upsert(&rollout("c-1", "c", &[], Some("Pending")));
        drop(i);
        assert_eq!(index.running_besides("ns", "c-1"), 2);
        assert_eq!(index.running_besides("ns", "a-1"), 1, "itself left out");
        let mut i = index.index();
        i.upsert(&rollout("a-1", "a", &[], Some("Succeeded")));
        i.remove(&("ns".into(), "b-1".into()));
        drop(i);
        assert_eq!(index.running_besides("ns", "c-1"), 0);
    }
}
