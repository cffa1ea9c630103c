use chitty_operator::routing::Reservations;
use serde_json::json;

use super::*;
use crate::manifest;

fn live_claim(name: &str, host: &str, service: &str, created: &str, held: bool) -> RouteClaim {
    let status = held.then(|| {
        json!({"holder": format!("ns/{name}"), "heldRoute": format!("{host}/*"),
               "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
                               "message": "held", "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
    });
    serde_json::from_value(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "RouteClaim",
        "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
        "spec": {"host": host, "path": "/*", "serviceRef": {"name": service}},
        "status": status,
    }))
    .unwrap()
}

fn live_service(name: &str) -> ChittyService {
    serde_json::from_value(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                 "source": {"image": "x"}},
    }))
    .unwrap()
}

fn open() -> RoutePolicy {
    RoutePolicy::open(Reservations::new())
}

#[test]
fn a_new_service_loses_to_the_incumbent_and_takes_a_free_route() {
    let live = [live_claim(
        "conn-1",
        "mcp.chitty.cc",
        "conn",
        "2026-01-01T00:00:00Z",
        true,
    )];
    let proposed = manifest::parse(
        "apiVersion: chitty.cc/v1alpha1
kind: ChittyService
metadata: {name: mcp}
spec: {type: worker, version: 1.0.0, environment: staging, source: {image: x},
       routes: [{host: mcp.chitty.cc, path: /*}, {host: free.chitty.cc, path: /}]}
",
        "ns",
    )
    .unwrap();
    let outcome = decide(&live, &[live_service("conn")], &proposed, &open());
    let verdicts: Vec<(&str, bool, &str, Option<&str>)> = (outcome.rows.iter())
        .map(|r| {
            (
                r.route.as_str(),
                r.accepted,
                r.reason.as_str(),
                r.holder.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (
                "free.chitty.cc/*",
                true,
                "Accepted",
                Some(outcome.rows[0].claim.as_str())
            ),
            ("mcp.chitty.cc/*", false, "Conflicted", Some("ns/conn-1")),
        ]
    );
    assert!(outcome.rows.iter().all(|r| r.source == Source::Manifest));
    assert!(
        outcome.rows[1].message.contains("incumbent"),
        "{}",
        outcome.rows[1].message
    );
}

#[test]
fn a_manifest_dropping_the_holders_route_hands_it_to_the_next_claim() {
    let mut conn = live_claim(
        "conn-1",
        "mcp.chitty.cc",
        "conn",
        "2026-01-01T00:00:00Z",
        true,
    );
    conn.metadata.labels = Some(
        [
            (labels::SERVICE.to_string(), "conn".to_string()),
            (labels::MANAGED_BY.to_string(), labels::MANAGER.to_string()),
        ]
        .into(),
    );
    let waiting = live_claim(
        "mcp-1",
        "mcp.chitty.cc",
        "mcp",
        "2026-01-02T00:00:00Z",
        false,
    );
    let proposed = manifest::parse(
        "apiVersion: chitty.cc/v1alpha1
kind: ChittyService
metadata: {name: conn}
spec: {type: worker, version: 1.0.1, environment: staging, source: {image: x}}
",
        "ns",
    )
    .unwrap();
    let services = [live_service("conn"), live_service("mcp")];
    let outcome = decide(&[conn, waiting], &services, &proposed, &open());
    assert_eq!(outcome.rows.len(), 1, "{:?}", outcome.rows);
    let row = &outcome.rows[0];
    assert_eq!(
        (row.claim.as_str(), row.source, row.accepted),
        ("ns/mcp-1", Source::Live, true)
    );
}

#[test]
fn reapplying_a_live_claim_keeps_its_standing() {
    let live = [live_claim(
        "conn-1",
        "mcp.chitty.cc",
        "conn",
        "2026-01-01T00:00:00Z",
        true,
    )];
    let proposed = manifest::parse(
        "apiVersion: chitty.cc/v1alpha1
kind: RouteClaim
metadata: {name: conn-1, namespace: ns}
spec: {host: mcp.chitty.cc, path: /*, serviceRef: {name: conn}}
---
kind: ConfigMap
apiVersion: v1
metadata: {name: c}
",
        "ns",
    )
    .unwrap();
    let outcome = decide(&live, &[live_service("conn")], &proposed, &open());
    assert!(outcome.rows[0].accepted);
    assert_eq!(
        outcome.notes,
        ["ConfigMap/c is not a ChittyService or RouteClaim and was left out"]
    );
}
