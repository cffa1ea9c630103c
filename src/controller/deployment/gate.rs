//! The dependency gate from the cache: the part of the service graph the rollout's service can
//! reach along `dependsOn`, which is all the gate reads (its dependencies, and any cycle through
//! it). Walking from the service, not building the fleet's graph, keeps a rollout reconcile's
//! cost to its own dependencies however many services the cache holds.

use std::collections::{BTreeMap, VecDeque};

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::api::ChittyService;
use crate::pipeline::dependencies::{self, Gate, Key, Node};

pub fn key(namespace: &str, name: &str) -> Key {
    format!("{namespace}/{name}")
}

fn edges(service: &ChittyService) -> Vec<Key> {
    let ns = service.namespace().unwrap_or_default();
    (service.spec.depends_on.iter())
        .map(|d| key(d.namespace_or(&ns), &d.name))
        .collect()
}

/// The services reachable from `service` along `dependsOn`, as cached; a dependency not in the
/// cache is left out, which the gate reports as missing.
fn reachable(services: &Store<ChittyService>, service: &ChittyService) -> BTreeMap<Key, Node> {
    let ns = service.namespace().unwrap_or_default();
    let start = key(&ns, &service.name_any());
    let mut graph = BTreeMap::new();
    // The rollout's own service may be newer than the cache; its edges are what matter.
    let mut queue: VecDeque<Key> = edges(service).into();
    graph.insert(
        start,
        Node {
            depends_on: edges(service),
            ready: false,
        },
    );
    while let Some(next) = queue.pop_front() {
        if graph.contains_key(&next) {
            continue;
        }
        let Some((namespace, name)) = next.split_once('/') else {
            continue;
        };
        let Some(found) = services.get(&ObjectRef::new(name).within(namespace)) else {
            continue;
        };
        let depends_on = edges(&found);
        queue.extend(depends_on.iter().cloned());
        let ready = dependencies::ready_for_dependents(&found);
        graph.insert(next, Node { depends_on, ready });
    }
    graph
}

/// The gate for one service, evaluated against the current cache.
pub fn evaluate(services: &Store<ChittyService>, service: &ChittyService) -> Gate {
    let ns = service.namespace().unwrap_or_default();
    dependencies::gate(
        &key(&ns, &service.name_any()),
        &reachable(services, service),
    )
}
