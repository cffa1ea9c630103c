use serde_json::json;

use super::*;

fn from<K: serde::de::DeserializeOwned>(value: serde_json::Value) -> K {
    serde_json::from_value(value).unwrap()
}

fn service(ns: &str, name: &str, status: serde_json::Value) -> ChittyService {
    from(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": "worker", "version": "1.2.0", "environment": "staging",
                 "source": {"image": "x"}},
        "status": status,
    }))
}

fn rollout(name: &str, created: &str, phase: &str) -> ChittyDeployment {
    from(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
        "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
        "spec": {"serviceRef": {"name": "a"}, "revision": "abcdef0123", "trigger": "Initial",
                 "strategy": "immediate",
                 "snapshot": {"type": "worker", "version": "1.2.0", "environment": "staging",
                              "source": {"image": "x"}}},
        "status": {"phase": phase, "progress": 50, "steps": [
            {"name": "deploy", "phase": "Succeeded", "durationMs": 1200},
            {"name": "health", "phase": "Running", "message": "1 of 2 probes passed"}]},
    }))
}

fn labelled(ns: &str, service: &str) -> serde_json::Value {
    json!({"name": service, "namespace": ns, "labels": {"chitty.cc/service": service}})
}

#[test]
fn a_service_gathers_its_own_rollouts_and_objects_each_with_a_state() {
    let snapshot = Snapshot {
        services: vec![
            service(
                "ns",
                "a",
                json!({"phase": "Progressing", "currentDeployment": "a-2"}),
            ),
            service("other", "a", json!({"phase": "Ready"})),
        ],
        rollouts: vec![
            rollout("a-1", "2026-01-01T00:00:00Z", "Succeeded"),
            rollout("a-2", "2026-01-02T00:00:00Z", "Running"),
        ],
        deployments: vec![from(json!({
            "metadata": labelled("ns", "a"),
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"availableReplicas": 1, "updatedReplicas": 2},
        }))],
        autoscalers: vec![from(json!({
            "metadata": labelled("ns", "a"),
            "spec": {"minReplicas": 2, "maxReplicas": 5,
                     "scaleTargetRef": {"kind": "Deployment", "name": "a"}},
            "status": {"currentReplicas": 2, "desiredReplicas": 2},
        }))],
        // Another namespace's object of the same service name is not this one's.
        kube_services: vec![from(json!({"metadata": labelled("other", "a")}))],
        claims: vec![from(json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "RouteClaim",
            "metadata": {"name": "a-1", "namespace": "ns"},
            "spec": {"host": "a.chitty.cc", "path": "/", "serviceRef": {"name": "a"}},
        }))],
        ..Snapshot::default()
    };
    let nodes = build(&snapshot);
    assert_eq!(nodes.len(), 2);
    let a = &nodes[0];
    assert_eq!(
        (a.namespace.as_str(), a.health),
        ("ns", Health::Progressing)
    );
    let rollouts: Vec<(&str, Health, bool)> = (a.rollouts.iter())
        .map(|r| (r.name.as_str(), r.health, r.current))
        .collect();
    assert_eq!(
        rollouts,
        [
            ("a-2", Health::Progressing, true),
            ("a-1", Health::Ok, false)
        ]
    );
    assert_eq!(a.rollouts[0].steps[1].health, Health::Progressing);
    let owned: Vec<(&str, Health, &str)> = (a.owned.iter())
        .map(|o| (o.kind.as_str(), o.health, o.state.as_str()))
        .collect();
    assert_eq!(
        owned,
        [
            ("Deployment", Health::Progressing, "1/2 available"),
            ("HorizontalPodAutoscaler", Health::Ok, "2-5 replicas, 2 now"),
            (
                "RouteClaim",
                Health::Progressing,
                "a.chitty.cc/*: not decided yet"
            ),
        ]
    );
    assert_eq!(nodes[1].owned.len(), 1, "the other namespace's Service");
    assert!(nodes[1].rollouts.is_empty());
}
