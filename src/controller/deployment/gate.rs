//! The dependency gate from the cache: the graph of every ChittyService the operator sees.

use std::collections::BTreeMap;

use kube::ResourceExt;
use kube::runtime::reflector::Store;

use crate::api::ChittyService;
use crate::pipeline::dependencies::{self, Gate, Key, Node};

pub fn key(namespace: &str, name: &str) -> Key {
    format!("{namespace}/{name}")
}

pub fn graph(services: &Store<ChittyService>) -> BTreeMap<Key, Node> {
    services
        .state()
        .iter()
        .map(|s| {
            let ns = s.namespace().unwrap_or_default();
            let node = Node {
                depends_on: s
                    .spec
                    .depends_on
                    .iter()
                    .map(|d| key(d.namespace_or(&ns), &d.name))
                    .collect(),
                ready: dependencies::ready_for_dependents(s),
            };
            (key(&ns, &s.name_any()), node)
        })
        .collect()
}

/// The gate for one service, evaluated against the current cache.
pub fn evaluate(services: &Store<ChittyService>, service: &ChittyService) -> Gate {
    let ns = service.namespace().unwrap_or_default();
    let mut g = graph(services);
    // The rollout's own service may be newer than the cache; its edges are what matter.
    g.insert(
        key(&ns, &service.name_any()),
        Node {
            depends_on: service
                .spec
                .depends_on
                .iter()
                .map(|d| key(d.namespace_or(&ns), &d.name))
                .collect(),
            ready: false,
        },
    );
    dependencies::gate(&key(&ns, &service.name_any()), &g)
}
