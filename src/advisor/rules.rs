//! The written rules. Checked in this order; the first rule that aborts or waits decides, and
//! otherwise every risk found asks for a canary:
//!
//! 1. **Abort** when the service's last `abort_after_failures` rollouts all failed or rolled back.
//! 2. **Wait** while a dependency is down (look again after `recheck`, or when it changes): a
//!    known, passing cause, so it comes before the ecosystem's state, which it drags down.
//! 3. **Abort** a non-critical service's rollout while less than `min_ecosystem_health` of the
//!    ecosystem is healthy (a critical one goes on, as a canary).
//! 4. **Wait** for the next deployment window, for production rollouts outside every window.
//! 5. **Wait** while `max_rollouts_in_progress` other rollouts run.
//! 6. **Canary** when any of: a dependency was rolled out within `recent_dependency`; a major
//!    version change in production; a failure rate of at least `failure_rate` over the last ten
//!    rollouts, or a failure within `recent_failure`; a critical service in production; a critical
//!    service while the ecosystem is below `min_ecosystem_health`. A first rollout has nothing to
//!    compare a canary with, so it goes immediately and says why.
//! 7. **Immediate** otherwise.
//!
//! Reasons name absolute times, never "10 minutes ago", so an unchanged situation gives the same
//! plan on every look and costs no status write.

use std::time::Duration;

use super::input::{AdvisorInput, VersionChange, WindowState};
use super::plan::{Advice, Plan};
use crate::api::{Environment, HealthState};

/// The thresholds of the rules; operator flags (`--advisor-*`) set them.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub abort_after_failures: u32,
    pub min_ecosystem_health: f64,
    pub max_rollouts_in_progress: u32,
    pub recent_dependency: Duration,
    pub recent_failure: Duration,
    pub failure_rate: f64,
    pub canary_percent: i32,
    pub canary_monitor: Duration,
    /// How long a wait without a known end lasts before the advisor looks again.
    pub recheck: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            abort_after_failures: 3,
            min_ecosystem_health: 0.5,
            max_rollouts_in_progress: 20,
            recent_dependency: Duration::from_secs(30 * 60),
            recent_failure: Duration::from_secs(24 * 3600),
            failure_rate: 0.3,
            canary_percent: 10,
            canary_monitor: Duration::from_secs(10 * 60),
            recheck: Duration::from_secs(60),
        }
    }
}

/// The plan for one rollout.
pub fn advise(input: &AdvisorInput, t: &Thresholds) -> Advice {
    let production = input.environment == Environment::Production;
    let history = &input.history;

    if t.abort_after_failures > 0 && history.failed_in_a_row >= t.abort_after_failures {
        let reason = format!(
            "the last {} rollouts of this service failed or rolled back (the limit is {}): find the cause; a new spec change plans again",
            history.failed_in_a_row, t.abort_after_failures
        );
        return abort(reason, 0.8);
    }
    let recheck = input.now + t.recheck;
    if let Some(down) = input
        .dependencies
        .iter()
        .find(|d| d.health == Some(HealthState::Down))
    {
        let reason = format!(
            "dependency {} is down: the rollout waits until it recovers",
            down.name
        );
        return wait(recheck_time(recheck), reason);
    }
    let unhealthy_ecosystem = input
        .ecosystem_healthy
        .filter(|share| *share < t.min_ecosystem_health);
    if let Some(share) = unhealthy_ecosystem
        && !input.critical
    {
        let reason = format!(
            "only {} of the ecosystem's services are healthy (below {}): a non-critical change is not rolled out into an unhealthy ecosystem",
            percent(share),
            percent(t.min_ecosystem_health)
        );
        return abort(reason, 0.75);
    }
    if let WindowState::Closed { opens, window } = &input.window {
        let reason = format!(
            "production rollouts start only in a deployment window ({window}); the next opens at {}",
            minute(*opens)
        );
        return wait(*opens, reason);
    }
    if t.max_rollouts_in_progress > 0 && input.rollouts_in_progress >= t.max_rollouts_in_progress {
        let reason = format!(
            "{} rollouts are in progress (the limit is {}): this one waits for the fleet to settle",
            input.rollouts_in_progress, t.max_rollouts_in_progress
        );
        return wait(recheck_time(recheck), reason);
    }

    let mut risks = Vec::new();
    for dependency in &input.dependencies {
        if let Some(at) = dependency.rolled_out_at
            && input.now.duration_since(at).unsigned_abs() <= t.recent_dependency
        {
            risks.push(format!(
                "dependency {} was rolled out at {}, within {} of this rollout: a recent change of a dependency may affect this service",
                dependency.name,
                minute(at),
                humanize(t.recent_dependency)
            ));
        }
    }
    if production && input.change == VersionChange::Major {
        risks.push("a major version change in production".to_owned());
    }
    let rate = history.failure_rate();
    if history.finished > 0 && rate >= t.failure_rate {
        risks.push(format!(
            "{} of the last {} rollouts of this service failed ({}, the limit is {})",
            history.failed,
            history.finished,
            percent(rate),
            percent(t.failure_rate)
        ));
    } else if let Some(at) = history.last_failure
        && input.now.duration_since(at).unsigned_abs() <= t.recent_failure
    {
        risks.push(format!(
            "a rollout of this service failed at {}, within {}",
            minute(at),
            humanize(t.recent_failure)
        ));
    }
    if input.critical && production {
        risks.push("a critical service in production".to_owned());
    }
    if let Some(share) = unhealthy_ecosystem {
        risks.push(format!(
            "only {} of the ecosystem's services are healthy: a critical service goes on, carefully",
            percent(share)
        ));
    }

    if risks.is_empty() {
        let reason = match input.change {
            VersionChange::First => format!(
                "the first rollout of this {} to {}, with healthy dependencies",
                input.service_type.as_str(),
                input.environment.as_str()
            ),
            change => format!(
                "a {} change with a steady history and healthy dependencies",
                change.as_str()
            ),
        };
        return Advice {
            plan: Plan::Immediate,
            confidence: if production { 0.9 } else { 0.95 },
            reasons: vec![reason],
        };
    }
    if input.change == VersionChange::First {
        let mut reasons = vec![
            "the first rollout: nothing runs yet to compare a canary with, so it goes immediately"
                .to_owned(),
        ];
        reasons.extend(risks);
        return Advice {
            plan: Plan::Immediate,
            confidence: 0.7,
            reasons,
        };
    }
    // Each further risk makes the rules a little less sure a canary is enough.
    let extra = (risks.len() - 1) as f64;
    Advice {
        plan: Plan::Canary {
            percent: t.canary_percent,
            monitor: t.canary_monitor,
        },
        // In hundredths, so that the status shows 0.8 and not 0.7999999999999999.
        confidence: ((85.0 - 5.0 * extra).max(50.0)) / 100.0,
        reasons: risks,
    }
}

fn abort(reason: String, confidence: f64) -> Advice {
    Advice {
        plan: Plan::Abort {
            reason: reason.clone(),
        },
        confidence,
        reasons: vec![reason],
    }
}

fn wait(until: jiff::Timestamp, reason: String) -> Advice {
    Advice {
        plan: Plan::Wait {
            until,
            reason: reason.clone(),
        },
        confidence: 0.9,
        reasons: vec![reason],
    }
}

/// A recheck time rounded up to the minute, so that looking again a few seconds later gives the
/// same plan (and no status write).
pub(crate) fn recheck_time(at: jiff::Timestamp) -> jiff::Timestamp {
    let seconds = at.as_second();
    let rounded = seconds + (60 - seconds.rem_euclid(60)) % 60;
    jiff::Timestamp::from_second(rounded).unwrap_or(at)
}

/// `2026-11-30 10:02 UTC`.
pub fn minute(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

fn humanize(d: Duration) -> String {
    crate::pipeline::duration::written(d)
}
