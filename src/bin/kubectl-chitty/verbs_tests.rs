use serde_json::json;

use super::*;

fn service() -> ChittyService {
    serde_json::from_value(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "metadata": {"name": "a", "namespace": "ns"},
        "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                 "source": {"image": "x"}},
    }))
    .unwrap()
}

fn rollout(name: &str, created: &str, status: Value) -> ChittyDeployment {
    serde_json::from_value(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
        "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
        "spec": {"serviceRef": {"name": "a"}, "revision": "abcdef0123", "trigger": "SpecChange",
                 "strategy": "immediate",
                 "snapshot": {"type": "worker", "version": "1.0.0", "environment": "staging",
                              "source": {"image": "x"}}},
        "status": status,
    }))
    .unwrap()
}

fn who() -> Who {
    Who {
        by: "alice".into(),
        reason: None,
    }
}

#[test]
fn rollback_annotates_the_newest_success_when_there_is_one_to_return_to() {
    let owned = [
        rollout("a-1", "2026-01-01T00:00:00Z", json!({"phase": "Succeeded"})),
        rollout("a-2", "2026-01-02T00:00:00Z", json!({"phase": "Succeeded"})),
    ];
    let planned = plan(verb("rollback"), &service(), &owned, &who()).unwrap();
    assert_eq!(
        (planned.kind.as_str(), planned.name.as_str()),
        ("ChittyDeployment", "a-2")
    );
    assert_eq!(
        planned.patch,
        json!({"metadata": {"annotations": {ROLLBACK_REQUEST: "requested by alice with kubectl chitty"}}})
    );
    let error = plan(verb("rollback"), &service(), &owned[..1], &who()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "a has no earlier successful rollout to return to from a-1"
    );
    let running = [
        owned[0].clone(),
        rollout("a-3", "2026-01-03T00:00:00Z", json!({"phase": "Running"})),
    ];
    let error = plan(verb("rollback"), &service(), &running, &who()).unwrap_err();
    assert!(error.to_string().contains("a-3, is Running"), "{error}");
}

#[test]
fn approve_and_reject_find_the_rollout_waiting_for_a_person() {
    let owned = [
        rollout("a-1", "2026-01-01T00:00:00Z", json!({"phase": "Succeeded"})),
        rollout(
            "a-2",
            "2026-01-02T00:00:00Z",
            json!({"phase": "Pending", "approval": {"required": true}}),
        ),
    ];
    let planned = plan(verb("approve"), &service(), &owned, &who()).unwrap();
    assert_eq!(planned.name, "a-2");
    assert_eq!(
        planned.patch,
        json!({"metadata": {"annotations": {APPROVED_BY: "alice"}}})
    );
    let because = Who {
        reason: Some("not today".into()),
        ..who()
    };
    let planned = plan(verb("reject"), &service(), &owned, &because).unwrap();
    assert_eq!(
        planned.patch,
        json!({"metadata": {"annotations": {REJECTED_BY: "alice", REJECTION_REASON: "not today"}}})
    );
    let error = plan(verb("approve"), &service(), &owned[..1], &who()).unwrap_err();
    assert_eq!(error.to_string(), "no rollout of a is waiting for approval");
}

#[test]
fn suspend_and_resume_patch_the_spec_and_canary_verbs_need_a_canary() {
    let planned = plan(verb("suspend"), &service(), &[], &who()).unwrap();
    assert_eq!(
        (planned.kind.as_str(), planned.patch.clone()),
        ("ChittyService", json!({"spec": {"suspend": true}}))
    );
    assert_eq!(
        plan(verb("resume"), &service(), &[], &who()).unwrap().patch,
        json!({"spec": {"suspend": false}})
    );
    for name in ["promote", "pause", "unpause", "abort"] {
        let error = plan(verb(name), &service(), &[], &who()).unwrap_err();
        assert_eq!(error.to_string(), "no canary of a is in flight");
    }
}

#[test]
fn canary_verbs_annotate_the_rollout_whose_canary_is_in_flight() {
    let canary = |state: &str| json!({"canaryReplicas": 1, "stableReplicas": 3, "percent": 20, "state": state});
    let owned = [
        rollout(
            "a-1",
            "2026-01-01T00:00:00Z",
            json!({"phase": "Aborted", "canary": canary("Aborted")}),
        ),
        rollout(
            "a-2",
            "2026-01-02T00:00:00Z",
            json!({"phase": "Running", "canary": canary("Progressing")}),
        ),
    ];
    for (name, word) in [
        ("promote", "promote"),
        ("pause", "pause"),
        ("unpause", "resume"),
        ("abort", "abort"),
    ] {
        let planned = plan(verb(name), &service(), &owned, &who()).unwrap();
        assert_eq!(planned.name, "a-2");
        assert_eq!(
            planned.patch,
            json!({"metadata": {"annotations": {"chitty.cc/canary": word, "chitty.cc/canary-by": "alice"}}})
        );
    }
    let error = plan(verb("pause"), &service(), &owned[..1], &who()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no canary of a is in flight",
        "an aborted canary is over"
    );
}
