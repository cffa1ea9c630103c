//! Which services the dependency picture around one service shows, which of their `dependsOn`
//! edges close a cycle, and in which column each stands: pure, over the services the caller may
//! see. A service in a namespace the caller cannot see never appears, nor does any edge from one;
//! an edge into one (named in a visible service's own spec) is only counted.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::super::fleet::Fleet;
use super::super::services::phase_of;
use super::super::visible::Visible;

/// `namespace/name`.
pub type Key = String;

/// Services drawn at most, the nearest to the focus first.
pub const MAX_NODES: usize = 24;
/// How far the search for the rest of the connected services goes before it stops counting.
const MAX_COUNTED: usize = 500;

/// A visible service as the picture needs it.
#[derive(Clone, Debug, Default)]
pub struct Known {
    pub phase: &'static str,
    pub depends_on: Vec<Key>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub key: Key,
    /// The service's phase; `None` for a dependency that does not exist.
    pub phase: Option<&'static str>,
    pub focus: bool,
    pub in_cycle: bool,
    /// 0 for services that wait on nothing drawn; each service one more than what it waits on.
    pub layer: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    /// Index into `nodes` of the service that waits.
    pub from: usize,
    /// Index into `nodes` of the service it waits on.
    pub to: usize,
    pub cycle: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// Dependencies of drawn services in namespaces the caller may not see.
    pub outside_view: usize,
    /// Connected services beyond [`MAX_NODES`] (counted up to a bound).
    pub not_drawn: usize,
}

/// The visible services of `fleet`, for [`around`].
pub fn visible_services(fleet: &Fleet, visible: &Visible) -> BTreeMap<Key, Known> {
    fleet
        .services
        .iter()
        .filter(|row| visible.allows(row.namespace()))
        .map(|row| {
            let namespace = row.namespace();
            let depends_on = row
                .service
                .spec
                .depends_on
                .iter()
                .map(|d| format!("{}/{}", d.namespace_or(namespace), d.name))
                .collect();
            let phase = phase_of(&row.service).as_str();
            (row.key.clone(), Known { phase, depends_on })
        })
        .collect()
}

fn namespace_of(key: &str) -> &str {
    key.split_once('/').map_or("", |(ns, _)| ns)
}

/// The picture around `focus`: the services connected to it through `dependsOn` either way,
/// nearest first. `services` holds only what the caller may see; `visible` says whether a
/// dependency that is not there is missing (its namespace is visible) or out of view.
pub fn around(
    focus: &str,
    services: &BTreeMap<Key, Known>,
    visible: impl Fn(&str) -> bool,
) -> Graph {
    if !services.contains_key(focus) {
        return Graph::default();
    }
    let mut dependents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (key, known) in services {
        for dep in &known.depends_on {
            dependents
                .entry(dep.as_str())
                .or_default()
                .insert(key.as_str());
        }
    }
    // Breadth first, undirected, over what may be drawn: visible services and missing ones
    // (which lead nowhere further).
    let drawable = |key: &str| services.contains_key(key) || visible(namespace_of(key));
    let mut order: Vec<&str> = vec![focus];
    let mut seen: BTreeSet<&str> = BTreeSet::from([focus]);
    let mut queue = VecDeque::from([focus]);
    while let Some(key) = queue.pop_front() {
        let forward = services
            .get(key)
            .into_iter()
            .flat_map(|k| k.depends_on.iter().map(String::as_str));
        let backward = dependents.get(key).into_iter().flatten().copied();
        let mut next: BTreeSet<&str> = forward.chain(backward).collect();
        next.retain(|k| drawable(k));
        for k in next {
            if order.len() < MAX_COUNTED && seen.insert(k) {
                order.push(k);
                queue.push_back(k);
            }
        }
    }
    let not_drawn = order.len().saturating_sub(MAX_NODES);
    order.truncate(MAX_NODES);
    let index: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, k)| (*k, i)).collect();

    let mut edges = Vec::new();
    let mut outside_view = 0;
    for (from, key) in order.iter().enumerate() {
        let deps: BTreeSet<&str> = services
            .get(*key)
            .into_iter()
            .flat_map(|k| k.depends_on.iter().map(String::as_str))
            .collect();
        for dep in deps {
            match index.get(dep) {
                Some(&to) => edges.push(Edge {
                    from,
                    to,
                    cycle: false,
                }),
                None if !drawable(dep) => outside_view += 1,
                None => {}
            }
        }
    }
    let reach = reachability(order.len(), &edges);
    for edge in &mut edges {
        edge.cycle = reach[edge.to][edge.from];
    }
    let layers = layers(order.len(), &edges, &reach);
    let nodes = order
        .iter()
        .enumerate()
        .map(|(i, key)| Node {
            key: key.to_string(),
            phase: services.get(*key).map(|k| k.phase),
            focus: i == 0,
            in_cycle: reach[i][i],
            layer: layers[i],
        })
        .collect();
    Graph {
        nodes,
        edges,
        outside_view,
        not_drawn,
    }
}

/// `reach[a][b]`: a path of one edge or more leads from `a` to `b`. Quadratic, over at most
/// [`MAX_NODES`] services.
fn reachability(n: usize, edges: &[Edge]) -> Vec<Vec<bool>> {
    let mut reach = vec![vec![false; n]; n];
    for (start, row) in reach.iter_mut().enumerate() {
        let mut stack: Vec<usize> = edges
            .iter()
            .filter(|e| e.from == start)
            .map(|e| e.to)
            .collect();
        while let Some(at) = stack.pop() {
            if !row[at] {
                row[at] = true;
                stack.extend(edges.iter().filter(|e| e.from == at).map(|e| e.to));
            }
        }
    }
    reach
}

/// Longest path to a service that waits on nothing, counting edges outside cycles; the members of
/// one cycle share their column.
fn layers(n: usize, edges: &[Edge], reach: &[Vec<bool>]) -> Vec<usize> {
    let mut layer = vec![0usize; n];
    // Each pass lengthens the longest known path by at least one, and none is longer than n.
    for _ in 0..=n {
        let mut changed = false;
        for e in edges.iter().filter(|e| !e.cycle) {
            if layer[e.from] < layer[e.to] + 1 {
                layer[e.from] = layer[e.to] + 1;
                changed = true;
            }
        }
        for a in 0..n {
            for b in 0..n {
                if reach[a][b] && reach[b][a] && layer[a] < layer[b] {
                    layer[a] = layer[b];
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    layer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(list: &[(&str, &[&str])]) -> BTreeMap<Key, Known> {
        list.iter()
            .map(|(key, deps)| {
                let known = Known {
                    phase: "Ready",
                    depends_on: deps.iter().map(|d| d.to_string()).collect(),
                };
                (key.to_string(), known)
            })
            .collect()
    }

    fn node<'a>(g: &'a Graph, key: &str) -> &'a Node {
        g.nodes.iter().find(|n| n.key == key).unwrap()
    }

    fn cycle_edges(g: &Graph) -> Vec<(String, String)> {
        g.edges
            .iter()
            .filter(|e| e.cycle)
            .map(|e| (g.nodes[e.from].key.clone(), g.nodes[e.to].key.clone()))
            .collect()
    }

    #[test]
    fn two_services_waiting_on_each_other_are_a_marked_cycle() {
        let s = services(&[
            ("a/auth", &[]),
            ("a/cart", &["a/auth", "a/pay"]),
            ("a/pay", &["a/cart"]),
        ]);
        let g = around("a/auth", &s, |_| true);
        assert_eq!(g.nodes.len(), 3);
        assert!(node(&g, "a/auth").focus);
        assert!(node(&g, "a/cart").in_cycle && node(&g, "a/pay").in_cycle);
        assert!(!node(&g, "a/auth").in_cycle);
        let mut cycle = cycle_edges(&g);
        cycle.sort();
        assert_eq!(
            cycle,
            [
                ("a/cart".into(), "a/pay".into()),
                ("a/pay".into(), "a/cart".into())
            ]
        );
        assert_eq!(node(&g, "a/auth").layer, 0);
        assert_eq!(node(&g, "a/cart").layer, 1);
        assert_eq!(node(&g, "a/pay").layer, 1, "a cycle shares its column");
    }

    #[test]
    fn a_service_waiting_on_itself_is_a_cycle() {
        let g = around("a/x", &services(&[("a/x", &["a/x"])]), |_| true);
        assert!(node(&g, "a/x").in_cycle);
        assert_eq!(cycle_edges(&g).len(), 1);
    }

    #[test]
    fn columns_follow_who_waits_on_whom() {
        let s = services(&[
            ("a/web", &["a/api"]),
            ("a/api", &["a/db", "a/auth"]),
            ("a/auth", &["a/db"]),
            ("a/db", &[]),
        ]);
        let g = around("a/api", &s, |_| true);
        let layer = |k: &str| node(&g, k).layer;
        assert_eq!(
            (
                layer("a/db"),
                layer("a/auth"),
                layer("a/api"),
                layer("a/web")
            ),
            (0, 1, 2, 3)
        );
        assert!(cycle_edges(&g).is_empty());
    }

    #[test]
    fn services_the_caller_cannot_see_are_neither_drawn_nor_followed() {
        // The caller sees team-a only; `services` holds only what it may see.
        let s = services(&[
            ("team-a/app", &["team-b/db", "team-a/gone"]),
            ("team-a/cache", &["team-a/app"]),
        ]);
        let g = around("team-a/app", &s, |ns| ns == "team-a");
        let keys: Vec<&str> = g.nodes.iter().map(|n| n.key.as_str()).collect();
        assert_eq!(keys, ["team-a/app", "team-a/cache", "team-a/gone"]);
        assert_eq!(node(&g, "team-a/gone").phase, None, "missing, in view");
        assert_eq!(g.outside_view, 1, "team-b/db is counted, not drawn");
        assert!(
            around("team-b/db", &s, |ns| ns == "team-a")
                .nodes
                .is_empty()
        );
    }

    #[test]
    fn a_large_neighbourhood_is_cut_at_the_nearest() {
        let mut list: Vec<(String, Vec<String>)> = vec![("a/hub".into(), vec![])];
        for i in 0..40 {
            list.push((format!("a/s{i:02}"), vec!["a/hub".into()]));
        }
        let s: BTreeMap<Key, Known> = list
            .into_iter()
            .map(|(k, d)| {
                (
                    k,
                    Known {
                        phase: "Ready",
                        depends_on: d,
                    },
                )
            })
            .collect();
        let g = around("a/hub", &s, |_| true);
        assert_eq!(g.nodes.len(), MAX_NODES);
        assert_eq!(g.not_drawn, 41 - MAX_NODES);
        assert!(g.edges.iter().all(|e| e.to == 0));
    }
}
