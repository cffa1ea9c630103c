//! The deploy advisor at work: the facts of one rollout gathered from the caches, the advice
//! recorded on the rollout's status. The rules themselves are `crate::advisor`, pure.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use crate::advisor::{
    Advice, AdvisorInput, Dependency, History, Plan, VersionChange, Window, WindowState, window,
};
use crate::api::{
    ChittyDeployment, ChittyService, DeploymentPhase, Environment, HealthState, PlanInputs,
    PlanStatus,
};
use crate::controller::Context;
use crate::pipeline::rollouts::{last_successful, newest};

/// Finished rollouts the history weighs.
const HISTORY: usize = 10;

/// Services with a known health the ecosystem's share needs before it counts: with fewer, one
/// unhealthy service would read as a sick ecosystem.
pub const ECOSYSTEM_MIN_SERVICES: usize = 5;

/// Everything the advisor reads about `rollout`, from the caches.
pub fn gather(
    ctx: &Context,
    service: &ChittyService,
    rollout: &ChittyDeployment,
    now: Timestamp,
) -> AdvisorInput {
    let snapshot = &rollout.spec.snapshot;
    let me = rollout.name_any();
    let owned: Vec<ChittyDeployment> = crate::controller::rollouts_of(&ctx.caches, service)
        .into_iter()
        .filter(|d| d.name_any() != me)
        .collect();
    let running = last_successful(&owned).map(|d| d.spec.snapshot.version.as_str());
    let ns = service.namespace().unwrap_or_default();
    let dependencies = snapshot
        .depends_on
        .iter()
        .map(|d| {
            let dep_ns = d.namespace_or(&ns);
            let found = ctx
                .caches
                .services
                .get(&ObjectRef::new(&d.name).within(dep_ns));
            let name = if dep_ns == ns {
                d.name.clone()
            } else {
                format!("{dep_ns}/{}", d.name)
            };
            Dependency {
                name,
                health: found.as_ref().map(|s| {
                    (s.status.as_ref())
                        .and_then(|st| st.health.as_ref())
                        .map_or(HealthState::Unknown, |h| h.status)
                }),
                rolled_out_at: found.and_then(|s| {
                    last_rolled_out(&crate::controller::rollouts_of(&ctx.caches, &s))
                }),
            }
        })
        .collect();
    let services = ctx.caches.services.state();
    let known: Vec<HealthState> = services
        .iter()
        .filter(|s| s.uid() != service.uid())
        .filter_map(|s| s.status.as_ref()?.health.as_ref().map(|h| h.status))
        .filter(|h| *h != HealthState::Unknown)
        .collect();
    let healthy = known.iter().filter(|h| **h == HealthState::Healthy).count();
    // Counted by the rollout index as they come and go, not by a scan of the fleet's rollouts.
    let rollouts_in_progress = ctx.caches.rollout_index.running_besides(
        &rollout.namespace().unwrap_or_default(),
        &rollout.name_any(),
    );
    AdvisorInput {
        service_type: snapshot.service_type,
        environment: snapshot.environment,
        critical: snapshot.critical,
        change: VersionChange::between(running, &snapshot.version),
        running_version: running.map(str::to_owned),
        history: history(&owned),
        dependencies,
        ecosystem_healthy: (known.len() >= ECOSYSTEM_MIN_SERVICES)
            .then(|| healthy as f64 / known.len() as f64),
        rollouts_in_progress: u32::try_from(rollouts_in_progress).unwrap_or(u32::MAX),
        window: window_state(ctx, rollout, now),
        now,
    }
}

/// The service's finished rollouts (superseded ones decided nothing), newest first, weighed.
pub fn history(owned: &[ChittyDeployment]) -> History {
    let mut finished: Vec<&ChittyDeployment> = owned
        .iter()
        .filter(|d| {
            let phase = d.status.as_ref().and_then(|s| s.phase);
            phase.is_some_and(DeploymentPhase::is_finished)
                && phase != Some(DeploymentPhase::Superseded)
        })
        .collect();
    finished.sort_by_key(|d| std::cmp::Reverse(d.metadata.creation_timestamp.clone().map(|t| t.0)));
    finished.truncate(HISTORY);
    let failed = |d: &&&ChittyDeployment| {
        matches!(
            d.status.as_ref().and_then(|s| s.phase),
            Some(DeploymentPhase::Failed | DeploymentPhase::RolledBack | DeploymentPhase::Aborted)
        )
    };
    History {
        finished: finished.len() as u32,
        failed: finished.iter().filter(failed).count() as u32,
        failed_in_a_row: finished.iter().take_while(failed).count() as u32,
        last_failure: finished
            .iter()
            .find(failed)
            .and_then(|d| d.status.as_ref()?.completed_at.as_ref().map(|t| t.0)),
    }
}

/// When a service was last rolled out: its newest rollout's completion, or its creation while
/// it runs.
fn last_rolled_out(rollouts: &[ChittyDeployment]) -> Option<Timestamp> {
    let newest = newest(rollouts)?;
    let completed = newest.status.as_ref().and_then(|s| s.completed_at.as_ref());
    completed
        .or(newest.metadata.creation_timestamp.as_ref())
        .map(|t| t.0)
}

/// Windows apply to production rollouts: the service's own, else the operator's. Windows that
/// do not parse were reported on the service (`InvalidSpec`) and are left out here.
fn window_state(ctx: &Context, rollout: &ChittyDeployment, now: Timestamp) -> WindowState {
    let snapshot = &rollout.spec.snapshot;
    if snapshot.environment != Environment::Production {
        return WindowState::Unrestricted;
    }
    let own: Vec<Window> = (snapshot.strategy.windows.iter())
        .filter_map(|w| {
            Window::new(
                &w.days,
                &w.start,
                &w.end,
                w.time_zone.as_deref().unwrap_or_default(),
            )
            .ok()
        })
        .collect();
    let windows = if snapshot.strategy.windows.is_empty() {
        &ctx.config.advisor.windows
    } else {
        &own
    };
    window::state(windows, now)
}

/// The plan as the rollout's status records it.
pub fn plan_status(inputs: PlanInputs, advice: &Advice, followed: bool) -> PlanStatus {
    let (canary_percent, monitor_duration, wait_until) = match &advice.plan {
        Plan::Canary { percent, monitor } => (
            Some(*percent),
            Some(crate::pipeline::duration::written(*monitor)),
            None,
        ),
        Plan::Wait { until, .. } => (None, None, Some(Time(*until))),
        Plan::Immediate | Plan::Abort { .. } => (None, None, None),
    };
    PlanStatus {
        decision: advice.plan.decision().as_str().to_owned(),
        followed,
        confidence: advice.confidence,
        reasons: advice.reasons.clone(),
        canary_percent,
        monitor_duration,
        wait_until,
        inputs,
        model: None,
    }
}

/// What a plan was made from, as the rollout's status (and the advisor model) reads it.
pub fn plan_inputs(input: &AdvisorInput) -> PlanInputs {
    let history = &input.history;
    PlanInputs {
        change: input.change.as_str().to_owned(),
        running_version: input.running_version.clone(),
        history: format!(
            "{} of the last {} rollouts failed, {} in a row",
            history.failed, history.finished, history.failed_in_a_row
        ),
        dependencies: (input.dependencies.iter())
            .map(|d| {
                let health = d.health.map_or("not found", HealthState::as_str);
                match d.rolled_out_at {
                    Some(at) => format!(
                        "{}: {health}, last rolled out {}",
                        d.name,
                        crate::advisor::rules::minute(at)
                    ),
                    None => format!("{}: {health}", d.name),
                }
            })
            .collect(),
        ecosystem_healthy_percent: input.ecosystem_healthy.map(|s| (s * 100.0).round() as i32),
        rollouts_in_progress: i32::try_from(input.rollouts_in_progress).unwrap_or(i32::MAX),
        window: match &input.window {
            WindowState::Unrestricted => None,
            WindowState::Open(w) => Some(format!("open: {w}")),
            WindowState::Closed { window, .. } => Some(format!("closed: {window}")),
        },
    }
}
