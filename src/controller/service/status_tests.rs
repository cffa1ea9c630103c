//! The service's status as computed from what its controller observed.
use super::*;
use crate::api::{ChittyDeploymentSpec, ChittyDeploymentStatus, LocalServiceRef, Trigger};

fn service() -> ChittyService {
    let mut s: ChittyService = serde_json::from_value(serde_json::json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "metadata": {"name": "chittyrental", "namespace": "prop"},
        "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                 "source": {"image": "registry.local/rental:1"}}
    }))
    .unwrap();
    s.metadata.generation = Some(4);
    s
}

fn rollout(revision: &str, phase: DeploymentPhase) -> ChittyDeployment {
    let mut d = ChittyDeployment::new(
        &format!("chittyrental-{revision}"),
        ChittyDeploymentSpec {
            service_ref: LocalServiceRef {
                name: "chittyrental".into(),
                uid: None,
            },
            revision: revision.into(),
            snapshot: service().spec,
            trigger: Trigger::Initial,
            strategy: StrategyType::Immediate,
        },
    );
    d.status = Some(ChittyDeploymentStatus {
        phase: Some(phase),
        error: Some("health check failed".into()),
        ..Default::default()
    });
    d
}

fn now() -> Time {
    Time("2026-11-22T00:00:00Z".parse().unwrap())
}

fn compute_with(
    svc: &ChittyService,
    current: Option<&ChittyDeployment>,
    ok: Option<&ChittyDeployment>,
) -> ChittyServiceStatus {
    let owned: Vec<ChittyDeployment> = current.into_iter().chain(ok).cloned().collect();
    compute(
        svc,
        &Observed {
            revision: "rev2",
            current,
            last_successful: ok,
            owned: &owned,
            routing: &Routing::default(),
            refused: &[],
            now: &now(),
        },
    )
}

#[test]
fn pending_rollout_is_not_ready_and_reconciling() {
    let current = rollout("rev2", DeploymentPhase::Pending);
    let status = compute_with(&service(), Some(&current), None);
    let ready = conditions::find(&status.conditions, types::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", reasons::ROLLOUT_PENDING)
    );
    assert!(conditions::is_true(&status.conditions, types::RECONCILING));
    assert_eq!(status.observed_generation, Some(4));
    assert_eq!(
        status.current_deployment.as_deref(),
        Some("chittyrental-rev2")
    );
}

#[test]
fn a_new_rollout_and_a_running_one_read_the_same_so_steps_cost_no_write() {
    let mut fresh = rollout("rev2", DeploymentPhase::Pending);
    fresh.status = None;
    let mut running = rollout("rev2", DeploymentPhase::Running);
    running.status.as_mut().unwrap().current_step = Some("health".into());
    let a = compute_with(&service(), Some(&fresh), None);
    let b = compute_with(&service(), Some(&running), None);
    assert_eq!(a.conditions, b.conditions);
    assert_eq!(a.phase, Some(ServicePhase::Progressing));
    let ready = conditions::find(&a.conditions, types::READY).unwrap();
    assert_eq!(ready.reason, reasons::ROLLOUT_IN_PROGRESS);
    assert!(ready.message.contains("in progress"), "{}", ready.message);
}

#[test]
fn a_held_rollout_passes_on_why_it_waits() {
    let mut held = rollout("rev2", DeploymentPhase::Pending);
    held.status.as_mut().unwrap().conditions = vec![Condition {
        type_: types::READY.into(),
        status: "False".into(),
        reason: reasons::DEPENDENCY_NOT_READY.into(),
        message: "waiting for chittyid".into(),
        last_transition_time: now(),
        observed_generation: None,
    }];
    let status = compute_with(&service(), Some(&held), None);
    assert_eq!(status.phase, Some(ServicePhase::Pending));
    let ready = conditions::find(&status.conditions, types::READY).unwrap();
    assert!(
        ready
            .message
            .ends_with("is waiting to start: waiting for chittyid"),
        "{}",
        ready.message
    );
}

/// A rollout held before it starts, with `condition` on it.
fn held_by(type_: &str, reason: &str, message: &str) -> ChittyDeployment {
    let mut held = rollout("rev2", DeploymentPhase::Pending);
    held.status.as_mut().unwrap().conditions = vec![Condition {
        type_: type_.into(),
        status: if type_ == types::READY {
            "False"
        } else {
            "True"
        }
        .into(),
        reason: reason.into(),
        message: message.into(),
        last_transition_time: now(),
        observed_generation: None,
    }];
    held
}

/// A cycle never resolves by waiting: the service stalls with the rollout (kstatus: Failed), it
/// does not read as reconciling forever.
#[test]
fn a_rollout_stalled_before_it_starts_stalls_the_service() {
    let held = held_by(types::STALLED, reasons::DEPENDENCY_CYCLE, "a -> b -> a");
    let status = compute_with(&service(), Some(&held), None);
    let stalled = conditions::find(&status.conditions, types::STALLED).unwrap();
    assert_eq!(stalled.reason, reasons::DEPENDENCY_CYCLE);
    assert!(
        stalled.message.contains("a -> b -> a"),
        "{}",
        stalled.message
    );
    assert!(!conditions::is_true(&status.conditions, types::RECONCILING));
}

/// Waiting for a person reads differently from waiting for the operator.
#[test]
fn a_rollout_awaiting_approval_is_the_services_reason() {
    let held = held_by(
        types::READY,
        reasons::AWAITING_APPROVAL,
        "waiting for approval",
    );
    let status = compute_with(&service(), Some(&held), None);
    for type_ in [types::READY, types::RECONCILING] {
        let c = conditions::find(&status.conditions, type_).unwrap();
        assert_eq!(c.reason, reasons::AWAITING_APPROVAL, "{type_}");
    }
}

#[test]
fn succeeded_rollout_is_ready_without_abnormal_conditions() {
    let current = rollout("rev2", DeploymentPhase::Succeeded);
    let status = compute_with(&service(), Some(&current), Some(&current));
    assert!(conditions::is_true(&status.conditions, types::READY));
    assert!(conditions::find(&status.conditions, types::RECONCILING).is_none());
    assert!(conditions::find(&status.conditions, types::STALLED).is_none());
    assert_eq!(
        status.url.as_deref(),
        Some("http://chittyrental.prop.svc:8080")
    );
}

#[test]
fn failed_rollout_stalls_and_names_what_keeps_serving() {
    let current = rollout("rev2", DeploymentPhase::RolledBack);
    let old = rollout("rev1", DeploymentPhase::Succeeded);
    let status = compute_with(&service(), Some(&current), Some(&old));
    let ready = conditions::find(&status.conditions, types::READY).unwrap();
    assert_eq!(ready.reason, reasons::ROLLOUT_FAILED);
    assert!(
        ready.message.contains("chittyrental-rev1 keeps serving"),
        "{}",
        ready.message
    );
    assert!(conditions::is_true(&status.conditions, types::STALLED));
    assert_eq!(status.phase, Some(ServicePhase::Degraded));
}

#[test]
fn first_failure_says_there_is_nothing_to_roll_back_to() {
    let current = rollout("rev2", DeploymentPhase::Failed);
    let status = compute_with(&service(), Some(&current), None);
    let ready = conditions::find(&status.conditions, types::READY).unwrap();
    assert!(ready.message.contains("no earlier successful revision"));
    assert_eq!(status.phase, Some(ServicePhase::Failed));
}

#[test]
fn recomputing_an_unchanged_world_gives_an_equal_status() {
    let current = rollout("rev2", DeploymentPhase::Running);
    let mut svc = service();
    svc.status = Some(compute_with(&svc, Some(&current), None));
    let later = Time("2026-11-23T00:00:00Z".parse().unwrap());
    let owned = vec![current.clone()];
    let again = compute(
        &svc,
        &Observed {
            revision: "rev2",
            current: Some(&current),
            last_successful: None,
            owned: &owned,
            routing: &Routing::default(),
            refused: &[],
            now: &later,
        },
    );
    assert_eq!(Some(again), svc.status);
}
