//! Health between rollouts: the serving revision of every service is probed each
//! `health.interval` (by the probe pool, off the reconcile path), whatever its newest rollout did. Status changes
//! only when the state does (healthy, degraded, down), so a healthy idle fleet writes nothing;
//! latencies go to metrics. A `critical` service that goes down within the rollback window of
//! its last rollout is rolled back; any other is reported, not touched.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use crate::api::conditions::events as reasons;
use crate::api::{
    ChittyDeployment, ChittyService, HealthState, HealthSummary, ROLLBACK_REQUEST, Target,
};
use crate::controller::Context;
use crate::controller::events::publish;
use crate::pipeline::rollouts;
use crate::probe;
use crate::probe::book::{Lookup, ProbeTarget};
use crate::probe::bounds;
use crate::workload::service as service_object;

/// The state after one more probe, given the consecutive failures before it.
pub fn next_state(healthy: bool, failures_before: i32, threshold: i32) -> (HealthState, i32) {
    if healthy {
        return (HealthState::Healthy, 0);
    }
    let failures = failures_before + 1;
    let state = if failures >= threshold.max(1) {
        HealthState::Down
    } else {
        HealthState::Degraded
    };
    (state, failures)
}

pub struct Probed {
    /// The summary to put in status (unchanged unless the state changed).
    pub summary: HealthSummary,
    pub changed: bool,
    /// The state before this probe.
    pub previous: HealthState,
    /// When to look again if the pool's wake-up does not come first.
    pub again: Duration,
}

/// What a reconcile learns about the serving revision's health: a new result, or when to look
/// again (the probe pool wakes the service sooner when its probe completes).
pub enum Checked {
    Probed(Probed),
    Waiting(Duration),
}

impl Checked {
    pub fn again(&self) -> Duration {
        match self {
            Self::Probed(p) => p.again,
            Self::Waiting(d) => *d,
        }
    }
}

/// How long past its probe's due time a service waits without the pool's wake-up, which
/// normally comes first.
const WAKE_SLACK: Duration = Duration::from_secs(5);

/// Takes the pool's newest result for a service whose current revision succeeded and reports
/// the new summary; never waits on the probe itself.
pub fn check_service(
    ctx: &Context,
    service: &ChittyService,
    serving: &ChittyDeployment,
    now: &Time,
) -> Checked {
    // The revision that serves is the one checked: after a rollback, the restored revision's
    // health settings apply, not those of the spec that failed.
    let snapshot = &serving.spec.snapshot;
    let spec = &snapshot.health;
    let base = spec
        .url
        .clone()
        .or_else(|| ctx.config.health_url_override.clone())
        .or_else(|| {
            (snapshot.target == Target::Cloudflare)
                .then(|| snapshot.cloudflare.as_ref().map(|c| c.url.clone()))
                .flatten()
        })
        .unwrap_or_else(|| service_object::cluster_url(service));
    let (interval, timeout) = (
        bounds::interval(&spec.interval),
        bounds::timeout(&spec.timeout),
    );
    let target = ProbeTarget {
        url: probe::url(&base, &spec.path),
        timeout,
        interval,
    };
    // Taking a result schedules the next probe; its completion wakes this service. Under the
    // fleet's probe budget the probe comes that much later, and so does the look after it.
    let recheck = interval.mul_f64(ctx.probes.stretch()) + timeout + WAKE_SLACK;
    let (result, healthy_between) = match ctx.probes.for_service(service, target) {
        Lookup::Fresh {
            result,
            healthy_between,
        } => (result, healthy_between),
        Lookup::Pending => return Checked::Waiting(recheck),
    };

    let key = format!(
        "{}/{}",
        service.namespace().unwrap_or_default(),
        service.name_any()
    );
    let previous = service
        .status
        .as_ref()
        .and_then(|s| s.health.clone())
        .unwrap_or_default();
    // A healthy probe the pool passed over (the service was quiet) ended any run of failures.
    let failures_before = if healthy_between {
        0
    } else {
        let map = ctx.probe_failures.lock().expect("probe failures lock");
        map.get(&key)
            .copied()
            .unwrap_or(previous.consecutive_failures)
    };
    let (state, failures) = next_state(result.healthy, failures_before, spec.failure_threshold);
    {
        // Only counts the status does not hold yet are kept: a healthy fleet keeps none.
        let mut map = ctx.probe_failures.lock().expect("probe failures lock");
        if failures == previous.consecutive_failures {
            map.remove(&key);
        } else {
            map.insert(key, failures);
        }
    }
    let changed = state != previous.status;
    let previous_state = previous.status;
    let summary = if changed {
        HealthSummary {
            status: state,
            last_transition: Some(now.clone()),
            consecutive_failures: failures,
            message: Some(result.detail.clone()),
        }
    } else {
        previous
    };
    Checked::Probed(Probed {
        summary,
        changed,
        previous: previous_state,
        again: recheck,
    })
}

/// Tells the probe pool what the service's status now says of its health, once written: while
/// it says healthy, the pool wakes the service only for a probe that would change that, and the
/// service looks only every `QUIET_RECHECK` (to renew the pool's lease on its probes). `watched`
/// is false while nothing between rollouts is probed (a rollout runs, or none has served yet).
pub fn settle(
    ctx: &Context,
    service: &ChittyService,
    watched: bool,
    recorded: Option<&HealthSummary>,
) -> bool {
    let quiet = watched && recorded.is_some_and(|h| h.status == HealthState::Healthy);
    ctx.probes.settle_service(service, quiet);
    quiet
}

/// The health a service has the moment its newest rollout succeeded, before the pool's first
/// probe of the serving revision is back: the rollout's own health step has just passed. Saying
/// so at once saves the status write that the first probe would otherwise cost each rollout; it
/// holds only while that step's result is fresh (within one probe interval), so a revision that
/// serves again after a rollback waits for a probe of its own.
pub fn seeded_by_rollout(
    newest: &ChittyDeployment,
    serving: &ChittyDeployment,
    now: &Time,
) -> Option<HealthSummary> {
    if newest.metadata.uid != serving.metadata.uid {
        return None;
    }
    let status = serving.status.as_ref()?;
    let passed = status
        .steps
        .iter()
        .any(|s| s.name == "health" && s.phase == crate::api::StepPhase::Succeeded);
    let completed = status.completed_at.as_ref()?;
    let age = now.0.duration_since(completed.0).unsigned_abs();
    let fresh = age <= crate::probe::bounds::interval(&serving.spec.snapshot.health.interval);
    (passed && fresh).then(|| HealthSummary {
        status: HealthState::Healthy,
        last_transition: Some(now.clone()),
        consecutive_failures: 0,
        message: Some(format!(
            "rollout {} passed its health check",
            serving.name_any()
        )),
    })
}

/// Reacts to a state change: an Event, a degraded notice to webhooks, and for a critical
/// service that went down soon after its rollout, a rollback request on that rollout (the
/// rollout's own controller carries it out and records it: one writer per status). The
/// registry's view of health follows through `registry::sync`.
pub async fn on_change(
    ctx: &Context,
    service: &ChittyService,
    previous: HealthState,
    summary: &HealthSummary,
    owned: &[ChittyDeployment],
) -> crate::Result<()> {
    let word = summary.status.as_str();
    // The first look at a service that just rolled out finding it healthy is no news: the
    // rollout's own event said so. Every later change, and a bad first look, is recorded.
    let first_healthy = previous == HealthState::Unknown && summary.status == HealthState::Healthy;
    if !first_healthy {
        let note = format!(
            "health is {word}: {}",
            summary.message.clone().unwrap_or_default()
        );
        let kind = if summary.status == HealthState::Healthy {
            EventType::Normal
        } else {
            EventType::Warning
        };
        publish(ctx, service, kind, reasons::HEALTH_CHANGED, note).await;
    }
    let serving = rollouts::serving(owned);
    if summary.status != HealthState::Healthy
        && let Some(serving) = serving
        && !ctx.integrations.notifiers.is_empty()
    {
        let event = crate::integrations::notification(
            crate::clients::EventType::ServiceDegraded,
            service,
            serving,
            service.status.as_ref().and_then(|s| s.chitty_id.clone()),
            None,
            &crate::controller::now(),
        );
        crate::integrations::notify_all(&ctx.integrations.notifiers, &event).await;
    }
    if summary.status == HealthState::Down
        && service.spec.critical
        && let Some(newest) = rollouts::newest(owned)
        && rollouts::critical_rollback_due(
            newest,
            owned,
            jiff::Timestamp::now(),
            ctx.config.rollback_window,
        )
    {
        let why = format!(
            "critical service went down after the rollout ({}); rolled back",
            summary.message.clone().unwrap_or_default()
        );
        request_rollback(ctx, newest, &why).await?;
    }
    Ok(())
}

/// Asks the rollout's controller to roll it back, through an annotation on the rollout: a
/// metadata write, so its status keeps a single writer, and one a person can make too.
async fn request_rollback(
    ctx: &Context,
    rollout: &ChittyDeployment,
    why: &str,
) -> crate::Result<()> {
    if rollout.annotations().contains_key(ROLLBACK_REQUEST) {
        return Ok(());
    }
    let rollouts: Api<ChittyDeployment> = ctx.api_for(rollout);
    let patch = serde_json::json!({"metadata": {"annotations": {ROLLBACK_REQUEST: why}}});
    rollouts
        .patch(
            &rollout.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await?;
    tracing::warn!(rollout = %rollout.name_any(), %why, "requested a rollback");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(
        uid: &str,
        health_step: crate::api::StepPhase,
        completed: &str,
    ) -> ChittyDeployment {
        let mut d: ChittyDeployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
            "metadata": {"name": format!("web-{uid}"), "namespace": "shop", "uid": uid},
            "spec": {"serviceRef": {"name": "web"}, "revision": "0123456789ab", "trigger": "Initial",
                     "strategy": "immediate",
                     "snapshot": {"type": "worker", "version": "1.0.0", "environment": "staging",
                                  "source": {"image": "r/web:1"}, "health": {"interval": "10s"}}}
        }))
        .unwrap();
        d.status = Some(crate::api::ChittyDeploymentStatus {
            completed_at: Some(Time(completed.parse().unwrap())),
            steps: vec![crate::api::StepStatus {
                name: "health".into(),
                phase: health_step,
                ..Default::default()
            }],
            ..Default::default()
        });
        d
    }

    #[test]
    fn a_rollout_that_just_passed_its_health_step_seeds_the_services_health() {
        use crate::api::StepPhase;
        let now = Time("2026-11-30T00:00:05Z".parse().unwrap());
        let done = finished("a", StepPhase::Succeeded, "2026-11-30T00:00:00Z");
        let seed = seeded_by_rollout(&done, &done, &now).expect("fresh");
        assert_eq!(seed.status, HealthState::Healthy);
        let stale = finished("a", StepPhase::Succeeded, "2026-11-29T00:00:00Z");
        assert!(
            seeded_by_rollout(&stale, &stale, &now).is_none(),
            "older than an interval"
        );
        let skipped = finished("a", StepPhase::Skipped, "2026-11-30T00:00:00Z");
        assert!(seeded_by_rollout(&skipped, &skipped, &now).is_none());
        let newer = finished("b", StepPhase::Succeeded, "2026-11-30T00:00:00Z");
        assert!(
            seeded_by_rollout(&newer, &done, &now).is_none(),
            "a revision serving again after a rollback waits for its own probe"
        );
    }

    #[test]
    fn failures_below_the_threshold_are_degraded_then_down() {
        assert_eq!(next_state(false, 0, 3), (HealthState::Degraded, 1));
        assert_eq!(next_state(false, 1, 3), (HealthState::Degraded, 2));
        assert_eq!(next_state(false, 2, 3), (HealthState::Down, 3));
        assert_eq!(next_state(true, 7, 3), (HealthState::Healthy, 0));
    }
}
