use chitty_operator::api::{ChittyDeployment, ChittyService, RouteClaim};
use serde_json::json;

use super::*;

fn service(status: serde_json::Value, spec: serde_json::Value) -> ChittyService {
    let mut spec_json = json!({"type": "worker", "version": "1.0.0", "environment": "staging",
        "source": {"image": "registry.local/a:1"}});
    spec_json
        .as_object_mut()
        .unwrap()
        .extend(spec.as_object().unwrap().clone());
    serde_json::from_value(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "metadata": {"name": "a", "namespace": "ns", "generation": 2},
        "spec": spec_json, "status": status,
    }))
    .unwrap()
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> serde_json::Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

fn evidence<'a>(
    service: &'a ChittyService,
    rollouts: &'a [ChittyDeployment],
    claims: &'a [RouteClaim],
) -> Evidence<'a> {
    Evidence {
        service,
        rollouts,
        claims,
        dependencies: vec![],
        warnings: &[],
        now: "2026-01-01T00:10:00Z".parse().unwrap(),
    }
}

#[test]
fn a_ready_service_has_a_summary_and_no_findings() {
    let s = service(
        json!({"observedGeneration": 2,
               "conditions": [condition("Ready", "True", "Ready", "serving 1.0.0")]}),
        json!({}),
    );
    let e = explain(&evidence(&s, &[], &[]));
    assert!(e.ready);
    assert_eq!(e.summary, "ns/a is Ready: serving 1.0.0");
    assert!(e.findings.is_empty());
}

#[test]
fn a_lost_route_names_its_holder_and_the_rule() {
    let s = service(
        json!({"observedGeneration": 2, "conditions": [
            condition("Ready", "False", "RouteConflict", "a route is held by another service"),
            condition("Routed", "False", "RouteConflict", "1 of 1 routes held by others"),
            condition("Stalled", "False", "Ok", "not stalled")]}),
        json!({"suspend": true}),
    );
    let claim: RouteClaim = serde_json::from_value(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "RouteClaim",
        "metadata": {"name": "a-1", "namespace": "ns"},
        "spec": {"host": "mcp.chitty.cc", "path": "/*", "serviceRef": {"name": "a"}},
        "status": {"holder": "ns/b-1", "conditions": [condition("Accepted", "False", "Conflicted",
            "mcp.chitty.cc/* is held by ns/b-1, which already held it (incumbent)")]},
    }))
    .unwrap();
    let mut ev = evidence(&s, &[], std::slice::from_ref(&claim));
    ev.dependencies = vec![("ns/db".into(), None)];
    let e = explain(&ev);
    assert!(!e.ready);
    assert_eq!(
        e.summary,
        "ns/a is not Ready (RouteConflict): a route is held by another service"
    );
    let sentences: Vec<&str> = e.findings.iter().map(|f| f.sentence.as_str()).collect();
    assert_eq!(
        sentences,
        [
            "Rollouts are suspended (spec.suspend is true); `kubectl chitty resume a` lets them start again.",
            "Routed is False on the service (RouteConflict): 1 of 1 routes held by others",
            "Route mcp.chitty.cc/* is lost (Conflicted, held by ns/b-1): mcp.chitty.cc/* is held by ns/b-1, which already held it (incumbent)",
            "Dependency ns/db does not exist.",
        ]
    );
}

#[test]
fn a_failed_step_and_the_rollback_are_told_with_recent_warnings() {
    let s = service(
        json!({"observedGeneration": 2,
               "conditions": [condition("Ready", "False", "RolloutFailed", "1.0.0 keeps serving")]}),
        json!({}),
    );
    let rollout: ChittyDeployment = serde_json::from_value(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
        "metadata": {"name": "a-g2-abc", "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"serviceRef": {"name": "a"}, "revision": "abcdef0123", "trigger": "SpecChange",
                 "strategy": "immediate",
                 "snapshot": {"type": "worker", "version": "1.1.0", "environment": "staging",
                              "source": {"image": "x"}}},
        "status": {"phase": "RolledBack", "rolledBackTo": "a-g1-def", "error": "health returned 503",
                   "steps": [{"name": "health", "phase": "Failed", "message": "returned 503"}]},
    }))
    .unwrap();
    let warning: Event = serde_json::from_value(json!({
        "metadata": {"name": "e1", "namespace": "ns"},
        "involvedObject": {"kind": "ChittyDeployment", "name": "a-g2-abc"},
        "reason": "RolledBack", "message": "rolled back", "type": "Warning", "count": 3,
        "lastTimestamp": "2026-01-01T00:07:00Z",
    }))
    .unwrap();
    let elsewhere: Event = serde_json::from_value(json!({
        "metadata": {"name": "e2", "namespace": "ns"},
        "involvedObject": {"kind": "ChittyService", "name": "other"},
        "reason": "Nope", "message": "not ours", "type": "Warning",
    }))
    .unwrap();
    let warnings = [warning, elsewhere];
    let rollouts = [rollout];
    let mut ev = evidence(&s, &rollouts, &[]);
    ev.warnings = &warnings;
    let sentences: Vec<String> = explain(&ev)
        .findings
        .into_iter()
        .map(|f| f.sentence)
        .collect();
    assert_eq!(
        sentences,
        [
            "Rollout a-g2-abc (v1.1.0) failed at step health: returned 503",
            "Rollout a-g2-abc (v1.1.0) ended RolledBack and was rolled back to a-g1-def: health returned 503",
            "Warning RolledBack on ChittyDeployment/a-g2-abc, 3m00s ago (x3): rolled back",
        ]
    );
}
