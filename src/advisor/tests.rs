//! The advisor's scenarios, one a test, including the design documents' worked example.

use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::api::{Environment, HealthState, ServiceType};

fn now() -> Timestamp {
    "2026-11-30T10:12:00Z".parse().unwrap()
}

fn minutes_ago(m: u64) -> Timestamp {
    now() - Duration::from_secs(m * 60)
}

fn healthy(name: &str, rolled_out_at: Option<Timestamp>) -> Dependency {
    Dependency {
        name: name.into(),
        health: Some(HealthState::Healthy),
        rolled_out_at,
    }
}

/// A staging worker with a steady history, healthy dependencies and ecosystem: nothing to fear.
fn steady() -> AdvisorInput {
    AdvisorInput {
        service_type: ServiceType::Worker,
        environment: Environment::Staging,
        critical: false,
        change: VersionChange::Patch,
        running_version: Some("1.0.0".into()),
        history: History {
            finished: 5,
            failed: 0,
            failed_in_a_row: 0,
            last_failure: None,
        },
        dependencies: vec![healthy("chittyid", Some(minutes_ago(600)))],
        ecosystem_healthy: Some(0.95),
        rollouts_in_progress: 0,
        window: WindowState::Unrestricted,
        now: now(),
    }
}

fn advise(input: &AdvisorInput) -> Advice {
    rules::advise(input, &Thresholds::default())
}

#[test]
fn the_seeds_chittycharge_is_a_ten_percent_canary_because_chittyfinance_just_changed() {
    let input = AdvisorInput {
        environment: Environment::Production,
        change: VersionChange::Minor,
        dependencies: vec![
            healthy("chittyfinance", Some(minutes_ago(10))),
            healthy("chittyid", Some(minutes_ago(2 * 60))),
        ],
        ..steady()
    };
    let advice = advise(&input);
    assert_eq!(
        advice.plan,
        Plan::Canary {
            percent: 10,
            monitor: Duration::from_secs(600)
        }
    );
    assert_eq!(advice.confidence, 0.85);
    assert_eq!(
        advice.reasons,
        [
            "dependency chittyfinance was rolled out at 2026-11-30 10:02 UTC, within 30m of this rollout: a recent change of a dependency may affect this service"
        ]
    );
}

#[test]
fn a_first_deploy_of_a_new_worker_to_staging_goes_immediately() {
    let input = AdvisorInput {
        change: VersionChange::First,
        history: History::default(),
        dependencies: vec![],
        ..steady()
    };
    let advice = advise(&input);
    assert_eq!(advice.plan, Plan::Immediate);
    assert_eq!(
        advice.reasons,
        ["the first rollout of this worker to staging, with healthy dependencies"]
    );
}

#[test]
fn a_critical_service_whose_last_two_rollouts_rolled_back_is_a_canary_and_a_third_aborts() {
    let two = AdvisorInput {
        environment: Environment::Production,
        critical: true,
        history: History {
            finished: 6,
            failed: 2,
            failed_in_a_row: 2,
            last_failure: Some(minutes_ago(90)),
        },
        ..steady()
    };
    let advice = advise(&two);
    assert_eq!(advice.plan.decision(), Decision::Canary);
    assert_eq!(
        advice.reasons,
        [
            "2 of the last 6 rollouts of this service failed (33%, the limit is 30%)",
            "a critical service in production",
        ]
    );
    assert_eq!(advice.confidence, 0.8);
    let three = AdvisorInput {
        history: History {
            failed_in_a_row: 3,
            failed: 3,
            ..two.history.clone()
        },
        ..two
    };
    let advice = advise(&three);
    assert_eq!(advice.plan.decision(), Decision::Abort);
    assert!(
        advice.reasons[0].starts_with(
            "the last 3 rollouts of this service failed or rolled back (the limit is 3)"
        )
    );
}

#[test]
fn a_dependency_that_is_down_makes_the_rollout_wait_and_look_again_on_the_minute() {
    let input = AdvisorInput {
        dependencies: vec![Dependency {
            name: "chittyid".into(),
            health: Some(HealthState::Down),
            rolled_out_at: None,
        }],
        now: "2026-11-30T10:12:30Z".parse().unwrap(),
        ..steady()
    };
    let advice = advise(&input);
    assert_eq!(
        advice.plan,
        Plan::Wait {
            until: "2026-11-30T10:14:00Z".parse().unwrap(),
            reason: "dependency chittyid is down: the rollout waits until it recovers".into()
        }
    );
    // Looking again seconds later gives the same plan, so no status write.
    let later = AdvisorInput {
        now: "2026-11-30T10:12:50Z".parse().unwrap(),
        ..input
    };
    assert_eq!(advise(&later).plan, advice.plan);
}

#[test]
fn an_ecosystem_under_half_healthy_aborts_non_critical_changes_only() {
    let input = AdvisorInput {
        ecosystem_healthy: Some(0.4),
        ..steady()
    };
    let advice = advise(&input);
    assert_eq!(advice.plan.decision(), Decision::Abort);
    assert_eq!(
        advice.reasons,
        [
            "only 40% of the ecosystem's services are healthy (below 50%): a non-critical change is not rolled out into an unhealthy ecosystem"
        ]
    );
    let critical = AdvisorInput {
        critical: true,
        ..input
    };
    assert_eq!(advise(&critical).plan.decision(), Decision::Canary);
}

#[test]
fn production_outside_its_windows_waits_for_the_next_one() {
    let input = AdvisorInput {
        environment: Environment::Production,
        window: WindowState::Closed {
            opens: "2026-12-01T15:00:00Z".parse().unwrap(),
            window: "Mon-Fri 09:00-17:00 America/Chicago".into(),
        },
        ..steady()
    };
    let advice = advise(&input);
    assert_eq!(
        advice.plan,
        Plan::Wait {
            until: "2026-12-01T15:00:00Z".parse().unwrap(),
            reason: "production rollouts start only in a deployment window (Mon-Fri 09:00-17:00 America/Chicago); the next opens at 2026-12-01 15:00 UTC".into()
        }
    );
}

#[test]
fn a_busy_fleet_waits_and_a_major_production_change_is_a_canary() {
    let busy = AdvisorInput {
        rollouts_in_progress: 20,
        ..steady()
    };
    assert_eq!(advise(&busy).plan.decision(), Decision::Wait);
    let major = AdvisorInput {
        environment: Environment::Production,
        change: VersionChange::Major,
        ..steady()
    };
    let advice = advise(&major);
    assert_eq!(advice.plan.decision(), Decision::Canary);
    assert_eq!(advice.reasons, ["a major version change in production"]);
    // The same change in staging is immediate.
    let staging = AdvisorInput {
        environment: Environment::Staging,
        ..major
    };
    assert_eq!(advise(&staging).plan, Plan::Immediate);
}

#[test]
fn a_first_rollout_with_risks_still_goes_immediately_and_says_why() {
    let input = AdvisorInput {
        change: VersionChange::First,
        history: History::default(),
        dependencies: vec![healthy("chittyfinance", Some(minutes_ago(5)))],
        ..steady()
    };
    let advice = advise(&input);
    assert_eq!(advice.plan, Plan::Immediate);
    assert!(advice.reasons[0].starts_with("the first rollout: nothing runs yet"));
    assert!(advice.reasons[1].starts_with("dependency chittyfinance was rolled out"));
}
