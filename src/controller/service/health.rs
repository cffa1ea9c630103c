//! Health after a rollout: every Ready service is probed each `health.interval`. Status changes
//! only when the state does (healthy, degraded, down), so a healthy idle fleet writes nothing;
//! latencies go to metrics. A `critical` service that goes down within the rollback window of
//! its last rollout is rolled back; any other is reported, not touched.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use super::publish;
use crate::api::{
    ChittyDeployment, ChittyService, DeploymentPhase, HealthState, HealthSummary, Target,
};
use crate::controller::Context;
use crate::pipeline::duration::parse_or;
use crate::probe;
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
    /// When to probe again.
    pub again: Duration,
}

/// Probes a service whose current revision succeeded and reports the new summary.
pub async fn probe_service(ctx: &Context, service: &ChittyService, now: &Time) -> Probed {
    let spec = &service.spec.health;
    let base = spec
        .url
        .clone()
        .or_else(|| ctx.config.health_url_override.clone())
        .or_else(|| {
            (service.spec.target == Target::Cloudflare)
                .then(|| service.spec.cloudflare.as_ref().map(|c| c.url.clone()))
                .flatten()
        })
        .unwrap_or_else(|| service_object::cluster_url(service));
    let url = probe::url(&base, &spec.path);
    let result = probe::probe(
        &ctx.probe,
        &url,
        parse_or(&spec.timeout, Duration::from_secs(5)),
    )
    .await;
    ctx.metrics.observe_probe(result.healthy, result.latency);

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
    let failures_before = {
        let map = ctx.probe_failures.lock().expect("probe failures lock");
        map.get(&key)
            .copied()
            .unwrap_or(previous.consecutive_failures)
    };
    let (state, failures) = next_state(result.healthy, failures_before, spec.failure_threshold);
    ctx.probe_failures
        .lock()
        .expect("probe failures lock")
        .insert(key, failures);
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
    Probed {
        summary,
        changed,
        previous: previous_state,
        again: parse_or(&spec.interval, Duration::from_secs(10)),
    }
}

/// Reacts to a state change: events, a degraded notice to webhooks, the registry's view of
/// health, and for critical services that went down soon after a rollout, a rollback.
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
        publish(ctx, service, kind, "HealthChanged", note).await;
    }
    update_registry_health(ctx, service, word).await;
    if summary.status != HealthState::Healthy
        && let Some(current) = crate::controller::service::rollout::newest(owned)
    {
        notify_degraded(ctx, service, current).await;
    }
    if summary.status == HealthState::Down && service.spec.critical {
        roll_back_critical(ctx, service, owned, summary).await?;
    }
    Ok(())
}

async fn update_registry_health(ctx: &Context, service: &ChittyService, health: &str) {
    let (Some(registry), Some(status)) =
        (ctx.integrations.registry.clone(), service.status.as_ref())
    else {
        return;
    };
    let Some(id) = status.chitty_id.clone() else {
        return;
    };
    let deployment = status.current_deployment.clone().unwrap_or_default();
    let Ok(mut record) = crate::controller::deployment::steps::integrations::registry_record(
        service,
        &id,
        &service.spec.version,
        deployment,
    ) else {
        return;
    };
    record.health = Some(health.into());
    record.status = Some(
        if health == "healthy" {
            "active"
        } else {
            "degraded"
        }
        .into(),
    );
    if let Err(error) = registry.register(&record).await {
        tracing::warn!(service = %service.name_any(), %error, "could not update health in ChittyRegistry");
    }
}

async fn notify_degraded(ctx: &Context, service: &ChittyService, current: &ChittyDeployment) {
    if ctx.integrations.notifiers.is_empty() {
        return;
    }
    let now = crate::controller::now();
    let mut status = current.status.clone().unwrap_or_default();
    let input = crate::controller::deployment::steps::StepInput {
        ctx,
        service,
        rollout: current,
        status: &mut status,
        now: &now,
        chitty_id: service.status.as_ref().and_then(|s| s.chitty_id.clone()),
        conditions: vec![],
        retry_after: None,
    };
    crate::controller::deployment::steps::integrations::send_event(
        &input,
        crate::clients::EventType::ServiceDegraded,
    )
    .await;
}

/// The newest rollout went down within the rollback window: put the one before it back and
/// record on the rollout why.
async fn roll_back_critical(
    ctx: &Context,
    service: &ChittyService,
    owned: &[ChittyDeployment],
    summary: &HealthSummary,
) -> crate::Result<()> {
    let Some(current) = crate::controller::service::rollout::newest(owned) else {
        return Ok(());
    };
    let current_status = current.status.clone().unwrap_or_default();
    if current_status.phase != Some(DeploymentPhase::Succeeded) {
        return Ok(());
    }
    let completed = current_status
        .completed_at
        .as_ref()
        .map(|t| t.0)
        .unwrap_or_else(jiff::Timestamp::now);
    if jiff::Timestamp::now()
        .duration_since(completed)
        .unsigned_abs()
        > ctx.config.rollback_window
    {
        return Ok(());
    }
    let earlier: Vec<ChittyDeployment> = owned
        .iter()
        .filter(|d| d.name_any() != current.name_any())
        .cloned()
        .collect();
    let Some(previous) = crate::controller::service::rollout::last_successful(&earlier).cloned()
    else {
        return Ok(());
    };
    if service.spec.target == Target::Cluster {
        crate::controller::deployment::rollback::restore(ctx, service, &previous).await?;
    }
    let error = format!(
        "critical service went down after the rollout ({}); rolled back",
        summary.message.clone().unwrap_or_default()
    );
    let rollouts: Api<ChittyDeployment> = ctx.api_for(service);
    let patch = serde_json::json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
        "status": {"phase": "RolledBack", "error": error, "rolledBackTo": previous.name_any()},
    });
    // Its own field manager: the pipeline's manager owns the rest of this finished rollout's status.
    let params = PatchParams::apply("chitty-operator-health").force();
    rollouts
        .patch_status(&current.name_any(), &params, &Patch::Apply(patch))
        .await?;
    publish(
        ctx,
        service,
        EventType::Warning,
        "RolledBack",
        format!("{error} to {}", previous.name_any()),
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_below_the_threshold_are_degraded_then_down() {
        assert_eq!(next_state(false, 0, 3), (HealthState::Degraded, 1));
        assert_eq!(next_state(false, 1, 3), (HealthState::Degraded, 2));
        assert_eq!(next_state(false, 2, 3), (HealthState::Down, 3));
        assert_eq!(next_state(true, 7, 3), (HealthState::Healthy, 0));
    }
}
