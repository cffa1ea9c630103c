//! A down service's conditions as kstatus reads them: Ready=False and Stalled=True, both saying
//! why, kept steady while it stays down and gone once it is back.
use super::*;
use crate::api::HealthSummary;

fn at(text: &str) -> Time {
    Time(text.parse().unwrap())
}

fn ready_service(health: HealthState) -> ChittyServiceStatus {
    ChittyServiceStatus {
        phase: Some(ServicePhase::Ready),
        health: Some(HealthSummary {
            status: health,
            message: Some("HTTP 503".into()),
            ..Default::default()
        }),
        conditions: conditions::merge(
            &[],
            &[Desired::new(
                types::READY,
                true,
                reasons::ROLLOUT_SUCCEEDED,
                "ok",
            )],
            Some(3),
            &at("2026-11-22T00:00:00Z"),
        ),
        ..Default::default()
    }
}

#[test]
fn a_down_service_is_not_ready_and_stalled_saying_why() {
    let mut status = ready_service(HealthState::Down);
    apply_health(&mut status, &[], &at("2026-11-22T00:01:00Z"));
    assert_eq!(status.phase, Some(ServicePhase::Degraded));
    for (type_, word) in [(types::READY, "False"), (types::STALLED, "True")] {
        let c = conditions::find(&status.conditions, type_).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            (word, reasons::HEALTH_CHECK_FAILING)
        );
        assert!(c.message.contains("HTTP 503"), "{}", c.message);
        assert_eq!(c.observed_generation, Some(3));
    }
}

#[test]
fn a_service_that_stays_down_keeps_its_transition_times() {
    let mut first = ready_service(HealthState::Down);
    apply_health(&mut first, &[], &at("2026-11-22T00:01:00Z"));
    let mut again = ready_service(HealthState::Down);
    apply_health(&mut again, &first.conditions, &at("2026-11-22T00:05:00Z"));
    assert_eq!(again.conditions, first.conditions);
}

#[test]
fn a_healthy_or_degraded_service_is_left_ready_and_not_stalled() {
    for health in [HealthState::Healthy, HealthState::Degraded] {
        let mut status = ready_service(health);
        apply_health(&mut status, &[], &at("2026-11-22T00:01:00Z"));
        assert!(conditions::is_true(&status.conditions, types::READY));
        assert!(conditions::find(&status.conditions, types::STALLED).is_none());
    }
}
