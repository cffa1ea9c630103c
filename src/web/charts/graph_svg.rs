//! Draws a [`Graph`]: a column per layer, services that wait on others to the left of what they
//! wait on, an arrow for each wait. A cycle's edges are red and dashed and its services say so,
//! because none of them can roll out until a person breaks it.

use std::fmt::Write;

use super::graph::{Edge, Graph, Node};
use super::{clip, escape, open, tone};

/// Room on the left of the first column for a cycle's arcs.
const MARGIN: f64 = 64.0;
const TOP: f64 = 16.0;
const BOX_W: f64 = 168.0;
const BOX_H: f64 = 40.0;
const COLUMN: f64 = 240.0;
const ROW: f64 = 64.0;
const LEGEND: f64 = 44.0;
/// Room on the right of the last column for a cycle's arcs.
const ARC_ROOM: f64 = 60.0;
const MIN_WIDTH: f64 = 960.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Place {
    pub x: f64,
    pub y: f64,
}

/// Where each node's box goes: columns from the most waiting (left) to what waits on nothing
/// (right); within a column, the focus first, then by name.
pub fn places(graph: &Graph) -> Vec<Place> {
    let last = graph.nodes.iter().map(|n| n.layer).max().unwrap_or(0);
    let mut rows_used = vec![0usize; last + 1];
    let mut order: Vec<usize> = (0..graph.nodes.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&graph.nodes[a], &graph.nodes[b]);
        b.focus.cmp(&a.focus).then_with(|| a.key.cmp(&b.key))
    });
    let mut places = vec![Place { x: 0.0, y: 0.0 }; graph.nodes.len()];
    for i in order {
        let layer = graph.nodes[i].layer;
        places[i] = Place {
            x: MARGIN + (last - layer) as f64 * COLUMN,
            y: TOP + rows_used[layer] as f64 * ROW,
        };
        rows_used[layer] += 1;
    }
    places
}

fn node_tone(node: &Node) -> (&'static str, &'static str) {
    match node.phase {
        Some("Ready") => tone::OK,
        Some("Progressing") => tone::INFO,
        Some("Degraded") => tone::WARN,
        Some("Failed") => tone::BAD,
        Some("Suspended") => tone::PAUSE,
        _ => tone::WAIT,
    }
}

/// The SVG of `graph`; `focus_namespace` is left out of labels in it.
pub fn render(graph: &Graph, focus_namespace: &str) -> String {
    let label = "Dependencies: who waits on whom";
    if graph.nodes.is_empty() {
        return super::empty("graph", MIN_WIDTH, label, "No such service.");
    }
    let places = places(graph);
    let right = places.iter().map(|p| p.x + BOX_W).fold(0.0, f64::max);
    let bottom = places.iter().map(|p| p.y + BOX_H).fold(0.0, f64::max);
    let width = (right + ARC_ROOM + MARGIN).max(MIN_WIDTH);
    let height = bottom + 16.0 + LEGEND;
    let mut out = String::new();
    open(&mut out, "graph", width, height, label);
    out.push_str(concat!(
        r##"<defs><marker id="graph-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#59636e"/></marker>"##,
        r##"<marker id="graph-arrow-cycle" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#b3121f"/></marker></defs>"##
    ));
    for edge in &graph.edges {
        draw_edge(&mut out, graph, &places, edge);
    }
    for (node, place) in graph.nodes.iter().zip(&places) {
        draw_node(&mut out, node, *place, focus_namespace);
    }
    legend(&mut out, graph, bottom + 24.0);
    out.push_str("</svg>");
    out
}

fn draw_edge(out: &mut String, graph: &Graph, places: &[Place], edge: &Edge) {
    let (from, to) = (places[edge.from], places[edge.to]);
    let path = if edge.from == edge.to {
        // A loop over the box's top right corner.
        let (x, y) = (from.x + BOX_W - 30.0, from.y);
        format!(
            "M{x},{y} C{},{} {},{} {},{}",
            x,
            y - 26.0,
            x + 44.0,
            y - 10.0,
            x + 30.0,
            y + 10.0
        )
    } else if to.x > from.x {
        let (x1, y1) = (from.x + BOX_W, from.y + BOX_H / 2.0);
        let (x2, y2) = (to.x, to.y + BOX_H / 2.0);
        let bend = (x2 - x1) / 2.0;
        format!(
            "M{x1},{y1} C{},{y1} {},{y2} {x2},{y2}",
            x1 + bend,
            x2 - bend
        )
    } else {
        // Same column (a cycle's members): an arc on the right going down, on the left going up,
        // so the two directions of a pair do not overlap.
        let down = to.y > from.y;
        let (x, out_x) = if down {
            (from.x + BOX_W, from.x + BOX_W + 44.0)
        } else {
            (from.x, from.x - 44.0)
        };
        // Leaving from the side of the box nearer the other, clear of the edges to other columns.
        let (y1, y2) = if down {
            (from.y + BOX_H * 0.8, to.y + BOX_H * 0.2)
        } else {
            (from.y + BOX_H * 0.2, to.y + BOX_H * 0.8)
        };
        format!("M{x},{y1} C{out_x},{y1} {out_x},{y2} {x},{y2}")
    };
    let (from_key, to_key) = (&graph.nodes[edge.from].key, &graph.nodes[edge.to].key);
    let (colour, marker, dash, note) = if edge.cycle {
        (
            tone::BAD.1,
            "graph-arrow-cycle",
            r#" stroke-dasharray="6 3""#,
            " (a cycle)",
        )
    } else {
        ("#8c959f", "graph-arrow", "", "")
    };
    let _ = write!(
        out,
        r#"<path d="{path}" fill="none" stroke="{colour}" stroke-width="{w}"{dash} marker-end="url(#{marker})" data-edge="{f}->{t}" data-cycle="{cycle}"><title>{f} waits on {t}{note}</title></path>"#,
        w = if edge.cycle { 2.0 } else { 1.5 },
        f = escape(from_key),
        t = escape(to_key),
        cycle = edge.cycle,
    );
}

fn draw_node(out: &mut String, node: &Node, at: Place, focus_namespace: &str) {
    let (namespace, name) = node.key.split_once('/').unwrap_or(("", &node.key));
    let (fill, stroke) = node_tone(node);
    let state = match node.phase {
        Some(phase) if node.in_cycle => format!("↻ cycle · {phase}"),
        Some(phase) => phase.to_string(),
        None => "does not exist".to_string(),
    };
    let place = if namespace == focus_namespace {
        String::new()
    } else {
        format!(" · {namespace}")
    };
    let border = if node.in_cycle { tone::BAD.1 } else { stroke };
    let dash = if node.phase.is_none() || node.in_cycle {
        r#" stroke-dasharray="5 3""#
    } else {
        ""
    };
    let _ = write!(
        out,
        r##"<g class="node" data-node="{key}" data-cycle="{cycle}" data-focus="{focus}"><title>{key}: {state}</title><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="#ffffff" stroke="{border}" stroke-width="{sw}"{dash}/><rect x="{x}" y="{y}" width="6" height="{BOX_H}" rx="2" fill="{fill}"/><text x="{tx}" y="{ty1}" font-weight="{weight}">{name}</text><text x="{tx}" y="{ty2}" font-size="11" fill="{sub}">{state_text}</text></g>"##,
        key = escape(&node.key),
        cycle = node.in_cycle,
        focus = node.focus,
        state = escape(&state),
        x = at.x,
        y = at.y,
        sw = if node.focus { 3.0 } else { 1.5 },
        tx = at.x + 14.0,
        ty1 = at.y + 17.0,
        ty2 = at.y + 32.0,
        weight = if node.focus { 700 } else { 600 },
        name = escape(&clip(name, 22)),
        sub = if node.in_cycle {
            tone::BAD.1
        } else {
            "#59636e"
        },
        state_text = escape(&clip(&format!("{state}{place}"), 26)),
    );
}

fn legend(out: &mut String, graph: &Graph, y: f64) {
    let mut notes = vec!["→ waits on (must be Ready first)".to_string()];
    if graph.edges.iter().any(|e| e.cycle) {
        notes.push("red, dashed: a dependency cycle; none of its services can roll out".into());
    }
    if graph.outside_view > 0 {
        notes.push(format!(
            "{} {} in namespaces you cannot see",
            graph.outside_view,
            if graph.outside_view == 1 {
                "dependency"
            } else {
                "dependencies"
            }
        ));
    }
    if graph.not_drawn > 0 {
        notes.push(format!(
            "{} more connected services not drawn",
            graph.not_drawn
        ));
    }
    let _ = write!(
        out,
        r##"<text x="{x}" y="{y}" font-size="12" fill="#59636e" data-legend="true">{}</text>"##,
        escape(&notes.join("  ·  ")),
        x = MARGIN - 44.0,
    );
}

#[cfg(test)]
mod tests {
    use super::super::graph::{Known, around};
    use super::*;
    use std::collections::BTreeMap;

    fn graph(list: &[(&str, &[&str])]) -> Graph {
        let services: BTreeMap<String, Known> = list
            .iter()
            .map(|(k, deps)| {
                let known = Known {
                    phase: "Ready",
                    depends_on: deps.iter().map(|d| d.to_string()).collect(),
                };
                (k.to_string(), known)
            })
            .collect();
        around(list[0].0, &services, |ns| ns == "a")
    }

    #[test]
    fn a_cycle_is_drawn_red_and_dashed_and_its_services_say_so() {
        let g = graph(&[
            ("a/auth", &[]),
            ("a/cart", &["a/auth", "a/pay"]),
            ("a/pay", &["a/cart"]),
        ]);
        let svg = render(&g, "a");
        assert!(
            svg.contains(r#"data-edge="a/cart->a/pay" data-cycle="true""#),
            "{svg}"
        );
        assert!(svg.contains(r#"data-edge="a/pay->a/cart" data-cycle="true""#));
        assert!(svg.contains(r#"data-edge="a/cart->a/auth" data-cycle="false""#));
        assert_eq!(
            svg.matches("↻ cycle").count(),
            4,
            "text and title of two services"
        );
        assert!(svg.contains("a dependency cycle"));
        assert!(svg.contains(r#"data-node="a/auth" data-cycle="false" data-focus="true""#));
    }

    #[test]
    fn dependents_stand_left_of_what_they_wait_on() {
        let g = graph(&[("a/api", &["a/db"]), ("a/db", &[]), ("a/web", &["a/api"])]);
        let p = places(&g);
        let x = |k: &str| p[g.nodes.iter().position(|n| n.key == k).unwrap()].x;
        assert!(x("a/web") < x("a/api") && x("a/api") < x("a/db"));
    }

    #[test]
    fn names_are_escaped_and_other_namespaces_named() {
        let g = graph(&[("a/x", &["a/<y>", "b/z"])]);
        let svg = render(&g, "a");
        assert!(svg.contains("&lt;y&gt;") && !svg.contains("<y>"), "{svg}");
        assert!(svg.contains("1 dependency in namespaces you cannot see"));
        let g = graph(&[("a/x", &["a/gone", "c/far"])]);
        let svg = render(&g, "a");
        assert!(svg.contains("does not exist") && !svg.contains("c/far"));
    }
}
