//! Whether a service's dependencies let its rollout start: all Ready, some not (named), some
//! missing, or a cycle (spelled out), decided over a snapshot of the dependency graph.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::ChittyService;
use crate::api::conditions::{self, types};
use crate::api::limits::{NAMES_LISTED, listed};

/// Whether a service counts as Ready for the services that depend on it: its `Ready=True` was
/// computed for its current generation, and the revision its spec asks for is the one serving.
/// A `Ready` left over from before a spec change says nothing about the new spec, and when a
/// dependency and its dependent change in one commit the dependent must wait for the new one.
pub fn ready_for_dependents(service: &ChittyService) -> bool {
    let Some(status) = &service.status else {
        return false;
    };
    let generation = service.metadata.generation;
    let ready_now = conditions::find(&status.conditions, types::READY)
        .is_some_and(|c| c.status == "True" && c.observed_generation == generation);
    // `revision` was computed from the spec at `observedGeneration`, checked just below.
    let serving_spec =
        status.revision.is_some() && status.revision == status.last_successful_revision;
    status.observed_generation == generation && ready_now && serving_spec
}

/// `namespace/name` of a ChittyService.
pub type Key = String;

/// What is known of one service: its dependencies and whether it is Ready.
#[derive(Clone, Debug, Default)]
pub struct Node {
    pub depends_on: Vec<Key>,
    pub ready: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Every dependency exists and is Ready.
    Open,
    /// Some dependencies are not Ready yet, or do not exist; both lists are sorted.
    Waiting {
        not_ready: Vec<Key>,
        missing: Vec<Key>,
    },
    /// The service is part of a dependency cycle, spelled out from it back to it.
    Cycle(Vec<Key>),
}

impl Gate {
    /// The words a user reads in the condition message.
    pub fn message(&self) -> String {
        match self {
            Gate::Open => "all dependencies are Ready".into(),
            Gate::Waiting { not_ready, missing } => {
                let mut parts = Vec::new();
                if !not_ready.is_empty() {
                    parts.push(format!(
                        "waiting for {} to become Ready",
                        listed(not_ready, ", ", NAMES_LISTED)
                    ));
                }
                if !missing.is_empty() {
                    parts.push(format!(
                        "dependency {} does not exist",
                        listed(missing, ", ", NAMES_LISTED)
                    ));
                }
                parts.join("; ")
            }
            // A long cycle names its first members and counts the rest; the service it starts
            // from closes it, so the reader still sees it is a cycle through this service.
            Gate::Cycle(path) => match path.split_last() {
                Some((last, members)) if members.len() > NAMES_LISTED => format!(
                    "dependency cycle of {} services: {} -> {last}",
                    members.len(),
                    listed(members, " -> ", NAMES_LISTED)
                ),
                _ => format!("dependency cycle: {}", path.join(" -> ")),
            },
        }
    }
}

/// Decides the gate for `service` over the whole graph.
pub fn gate(service: &Key, graph: &BTreeMap<Key, Node>) -> Gate {
    if let Some(cycle) = cycle_through(service, graph) {
        return Gate::Cycle(cycle);
    }
    let deps: BTreeSet<&Key> = graph
        .get(service)
        .map(|n| n.depends_on.iter().collect())
        .unwrap_or_default();
    let mut not_ready = Vec::new();
    let mut missing = Vec::new();
    for dep in deps {
        match graph.get(dep) {
            None => missing.push(dep.clone()),
            Some(node) if !node.ready => not_ready.push(dep.clone()),
            Some(_) => {}
        }
    }
    if not_ready.is_empty() && missing.is_empty() {
        Gate::Open
    } else {
        Gate::Waiting { not_ready, missing }
    }
}

/// A cycle that leads from `start` back to `start`, if there is one: a depth-first search that
/// visits each node once, so it is linear in the size of the graph. It keeps its own stack
/// instead of recursing, so a chain of any length (a user can make one ten thousand services
/// long) cannot overflow the thread's stack.
pub fn cycle_through<'a>(start: &'a Key, graph: &'a BTreeMap<Key, Node>) -> Option<Vec<Key>> {
    let mut visited: BTreeSet<&Key> = BTreeSet::new();
    // The path from `start` to where the search stands, each node with the dependencies it has
    // not tried yet (sorted, so the cycle reported is the same on every run).
    let mut path: Vec<(&Key, std::vec::IntoIter<&Key>)> = vec![(start, dependencies(start, graph))];
    while let Some((_, untried)) = path.last_mut() {
        match untried.next() {
            None => {
                path.pop();
            }
            Some(dep) if dep == start => {
                let mut cycle: Vec<Key> = path.iter().map(|(key, _)| (*key).clone()).collect();
                cycle.push(start.clone());
                return Some(cycle);
            }
            Some(dep) => {
                if visited.insert(dep) {
                    path.push((dep, dependencies(dep, graph)));
                }
            }
        }
    }
    None
}

/// The distinct dependencies of `key`, sorted.
fn dependencies<'a>(key: &Key, graph: &'a BTreeMap<Key, Node>) -> std::vec::IntoIter<&'a Key> {
    let deps: BTreeSet<&Key> = graph
        .get(key)
        .map(|n| n.depends_on.iter().collect())
        .unwrap_or_default();
    deps.into_iter().collect::<Vec<_>>().into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str], bool)]) -> BTreeMap<Key, Node> {
        edges
            .iter()
            .map(|(k, deps, ready)| {
                (
                    k.to_string(),
                    Node {
                        depends_on: deps.iter().map(|d| d.to_string()).collect(),
                        ready: *ready,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn ready_dependencies_open_the_gate() {
        let g = graph(&[
            ("p/charge", &["p/finance", "p/id"], false),
            ("p/finance", &["p/id"], true),
            ("p/id", &[], true),
        ]);
        assert_eq!(gate(&"p/charge".into(), &g), Gate::Open);
    }

    #[test]
    fn an_unready_dependency_is_named() {
        let g = graph(&[
            ("p/charge", &["p/finance"], false),
            ("p/finance", &[], false),
        ]);
        let gate = gate(&"p/charge".into(), &g);
        assert_eq!(
            gate,
            Gate::Waiting {
                not_ready: vec!["p/finance".into()],
                missing: vec![]
            }
        );
        assert_eq!(gate.message(), "waiting for p/finance to become Ready");
    }

    #[test]
    fn a_missing_dependency_is_reported_as_missing() {
        let g = graph(&[("p/charge", &["p/ledger"], false)]);
        assert_eq!(
            gate(&"p/charge".into(), &g).message(),
            "dependency p/ledger does not exist"
        );
    }

    #[test]
    fn a_cycle_is_spelled_out_on_every_member() {
        let g = graph(&[
            ("p/a", &["p/b"], false),
            ("p/b", &["p/c"], false),
            ("p/c", &["p/a"], false),
        ]);
        assert_eq!(
            gate(&"p/a".into(), &g).message(),
            "dependency cycle: p/a -> p/b -> p/c -> p/a"
        );
        assert_eq!(
            gate(&"p/b".into(), &g).message(),
            "dependency cycle: p/b -> p/c -> p/a -> p/b"
        );
    }

    #[test]
    fn depending_on_a_cycle_is_waiting_not_a_cycle() {
        let g = graph(&[
            ("p/x", &["p/a"], false),
            ("p/a", &["p/b"], false),
            ("p/b", &["p/a"], false),
        ]);
        assert!(matches!(gate(&"p/x".into(), &g), Gate::Waiting { .. }));
    }

    #[test]
    fn self_dependency_is_a_cycle() {
        let g = graph(&[("p/a", &["p/a"], false)]);
        assert_eq!(
            gate(&"p/a".into(), &g),
            Gate::Cycle(vec!["p/a".into(), "p/a".into()])
        );
    }

    fn service_at(
        generation: i64,
        observed: i64,
        ready: &str,
        serving_current: bool,
    ) -> ChittyService {
        let mut s: ChittyService = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "chittyid", "namespace": "a", "generation": generation},
            "spec": {"type": "worker", "version": "2.0.0", "environment": "staging",
                     "source": {"image": "r/id:2"}}}))
        .unwrap();
        let revision = crate::revision::of(&s.spec);
        s.status = Some(serde_json::from_value(serde_json::json!({
            "observedGeneration": observed,
            "revision": revision,
            "lastSuccessfulRevision": if serving_current { revision.clone() } else { "old".to_string() },
            "conditions": [{"type": "Ready", "status": ready, "reason": "R", "message": "m",
                            "observedGeneration": observed,
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}]})).unwrap());
        s
    }

    #[test]
    fn a_dependency_is_ready_only_for_its_current_generation_and_revision() {
        assert!(ready_for_dependents(&service_at(3, 3, "True", true)));
        assert!(
            !ready_for_dependents(&service_at(4, 3, "True", true)),
            "Ready of the previous generation"
        );
        assert!(
            !ready_for_dependents(&service_at(3, 3, "True", false)),
            "old revision serving"
        );
        assert!(!ready_for_dependents(&service_at(3, 3, "False", true)));
    }

    /// `p/s0 -> p/s1 -> ... -> p/s{n-1}`, the last Ready (or depending on `p/s0` when `closed`).
    fn chain(n: usize, closed: bool) -> BTreeMap<Key, Node> {
        (0..n)
            .map(|i| {
                let next = if i + 1 < n {
                    vec![format!("p/s{}", i + 1)]
                } else if closed {
                    vec!["p/s0".to_string()]
                } else {
                    vec![]
                };
                let node = Node {
                    depends_on: next,
                    ready: i + 1 == n,
                };
                (format!("p/s{i}"), node)
            })
            .collect()
    }

    /// The walk is as deep as the chain; run on a small stack so that a recursive walk would
    /// overflow here, whatever stack the test harness gives its threads.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn a_chain_of_twenty_thousand_is_walked_without_recursion() {
        let (gate, cycle) = on_small_stack(|| {
            let g = chain(20_000, false);
            (gate(&"p/s0".into(), &g), cycle_through(&"p/s0".into(), &g))
        });
        assert_eq!(cycle, None);
        assert_eq!(
            gate,
            Gate::Waiting {
                not_ready: vec!["p/s1".into()],
                missing: vec![]
            }
        );
    }

    #[test]
    fn a_cycle_of_twenty_thousand_is_found_and_its_message_stays_short() {
        let gate = on_small_stack(|| gate(&"p/s0".into(), &chain(20_000, true)));
        let Gate::Cycle(path) = &gate else {
            panic!("a cycle: {gate:?}");
        };
        assert_eq!(path.len(), 20_001);
        assert_eq!(path.first(), path.last());
        let message = gate.message();
        assert!(message.len() < 400, "{message}");
        assert!(
            message.starts_with("dependency cycle of 20000 services: p/s0 -> p/s1 -> "),
            "{message}"
        );
        assert!(message.ends_with(" … and 19990 more -> p/s0"), "{message}");
    }

    #[test]
    fn a_long_list_of_waits_is_named_in_part_and_counted() {
        let deps: Vec<String> = (0..64).map(|i| format!("p/d{i:02}")).collect();
        let mut g: BTreeMap<Key, Node> =
            deps.iter().map(|d| (d.clone(), Node::default())).collect();
        g.insert(
            "p/x".into(),
            Node {
                depends_on: deps.clone(),
                ready: false,
            },
        );
        let message = gate(&"p/x".into(), &g).message();
        assert!(
            message.ends_with("p/d09 … and 54 more to become Ready"),
            "{message}"
        );
    }
}
