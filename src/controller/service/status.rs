//! The ChittyService's status as a pure function of what the controller observed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::routes::{Routing, gate_readiness};
use crate::api::conditions::{self, Desired, reasons, types};
use crate::api::{
    ChittyDeployment, ChittyService, ChittyServiceStatus, DeploymentPhase, DeploymentStats,
    HealthState, ServicePhase, StrategyType,
};
use crate::workload::service::public_url;

/// What the service controller saw of the world this reconcile.
pub struct Observed<'a> {
    pub revision: &'a str,
    /// The newest rollout owned by the service.
    pub current: Option<&'a ChittyDeployment>,
    /// The newest rollout that succeeded.
    pub last_successful: Option<&'a ChittyDeployment>,
    /// Every rollout the service still owns.
    pub owned: &'a [ChittyDeployment],
    /// Its routes as their claims' decisions say.
    pub routing: &'a Routing,
    /// Objects applied for it that the apiserver refuses (see `controller::refusals`).
    pub refused: &'a [crate::Refusal],
    pub now: &'a Time,
}

fn phase_of(d: &ChittyDeployment) -> DeploymentPhase {
    d.status
        .as_ref()
        .and_then(|s| s.phase)
        .unwrap_or(DeploymentPhase::Pending)
}

fn name_of(d: &ChittyDeployment) -> String {
    d.metadata.name.clone().unwrap_or_default()
}

/// The whole status; fields owned by other steps (identity, health) carry over, and the routes
/// come from their claims (`seen.routing`).
pub fn compute(service: &ChittyService, seen: &Observed) -> ChittyServiceStatus {
    let previous = service.status.clone().unwrap_or_default();
    let (phase, mut desired) = readiness(service, seen);
    let phase = gate_readiness(seen.routing, phase, &mut desired);
    let phase = super::refused::stall_on(seen.refused, phase, &mut desired);
    if service.spec.strategy.strategy_type == StrategyType::Auto {
        desired.push(Desired::new(
            types::STRATEGY_RESOLVED,
            true,
            reasons::ADVISED,
            "strategy 'auto': each rollout follows the deploy advisor's plan (immediate, canary, wait or abort; see the rollout's status.plan)",
        ));
    }
    desired.extend(step_conditions(&previous, seen));
    let conditions = conditions::merge(
        &previous.conditions,
        &desired,
        service.metadata.generation,
        seen.now,
    );
    let last_ok = seen.last_successful;
    ChittyServiceStatus {
        observed_generation: service.metadata.generation,
        phase: Some(phase),
        chitty_id: previous.chitty_id.clone(),
        url: last_ok.map(|_| public_url(service)),
        revision: Some(seen.revision.to_string()),
        current_deployment: seen.current.map(name_of),
        last_successful_deployment: last_ok.map(name_of),
        last_successful_revision: last_ok.map(|d| d.spec.revision.clone()),
        health: previous.health.clone(),
        routes: seen.routing.summaries.clone(),
        deployments: Some(stats(seen.owned, last_ok)),
        replicas: previous.replicas,
        registry_record: previous.registry_record.clone(),
        conditions,
    }
}

/// A service whose probes say it is down is not Ready, whatever its last rollout did, and is
/// Stalled: nothing the operator does brings it back (a critical one's rollback says so itself),
/// and kstatus, so Flux's `wait` and kpt, reads a Ready=False with neither Reconciling nor Stalled
/// as Current. A degraded one stays Ready and says so in `status.health`.
pub fn apply_health(status: &mut ChittyServiceStatus, previous: &[Condition], now: &Time) {
    let Some(health) = &status.health else { return };
    if health.status != HealthState::Down || status.phase != Some(ServicePhase::Ready) {
        return;
    }
    status.phase = Some(ServicePhase::Degraded);
    let message = format!(
        "the service is down: {}",
        health.message.clone().unwrap_or_default()
    );
    // Measured against what is stored, so a service that stays down keeps its transition times.
    let since = |type_: &str, status: &str| {
        conditions::find(previous, type_)
            .filter(|c| c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| now.clone())
    };
    let Some(ready) = status
        .conditions
        .iter_mut()
        .find(|c| c.type_ == types::READY)
    else {
        return;
    };
    ready.last_transition_time = since(types::READY, "False");
    ready.status = "False".into();
    ready.reason = reasons::HEALTH_CHECK_FAILING.into();
    ready.message = message.clone();
    let stalled = Condition {
        type_: types::STALLED.into(),
        status: "True".into(),
        reason: reasons::HEALTH_CHECK_FAILING.into(),
        message,
        observed_generation: ready.observed_generation,
        last_transition_time: since(types::STALLED, "True"),
    };
    status.conditions.retain(|c| c.type_ != types::STALLED);
    status.conditions.push(stalled);
}

#[cfg(test)]
#[path = "health_status_tests.rs"]
mod health_status_tests;

/// `IdentityReady` and `Registered` as the newest rollout that reported them last said; once a
/// ChittyID exists the identity is ready whatever a rollout says.
fn step_conditions(previous: &ChittyServiceStatus, seen: &Observed) -> Vec<Desired> {
    let reported = |type_: &str| {
        seen.current
            .and_then(|d| d.status.as_ref())
            .and_then(|s| conditions::find(&s.conditions, type_).cloned())
            .or_else(|| conditions::find(&previous.conditions, type_).cloned())
    };
    let mut out = Vec::new();
    match &previous.chitty_id {
        Some(id) => out.push(Desired::new(
            types::IDENTITY_READY,
            true,
            reasons::MINTED,
            format!("ChittyID {id}"),
        )),
        None => out.extend(reported(types::IDENTITY_READY).map(|c| {
            Desired::new(
                types::IDENTITY_READY,
                c.status == "True",
                c.reason,
                c.message,
            )
        })),
    }
    out.extend(
        reported(types::REGISTERED)
            .map(|c| Desired::new(types::REGISTERED, c.status == "True", c.reason, c.message)),
    );
    out
}

/// Phase plus the kstatus conditions: Ready always; Reconciling and Stalled only while true.
fn readiness(service: &ChittyService, seen: &Observed) -> (ServicePhase, Vec<Desired>) {
    let ready =
        |status, reason: &str, message: String| Desired::new(types::READY, status, reason, message);
    let reconciling =
        |reason: &str, message: String| Desired::new(types::RECONCILING, true, reason, message);
    let stalled =
        |reason: &str, message: String| Desired::new(types::STALLED, true, reason, message);
    let serving = seen.last_successful.map(name_of);

    let Some(current) = seen.current.filter(|d| d.spec.revision == seen.revision) else {
        if service.spec.suspend {
            let msg = match &serving {
                Some(s) => format!("rollouts are suspended; {s} keeps serving"),
                None => "rollouts are suspended; nothing has been deployed".to_string(),
            };
            return (
                ServicePhase::Suspended,
                vec![ready(serving.is_some(), reasons::SUSPENDED, msg)],
            );
        }
        let msg = format!("revision {} has no rollout yet", seen.revision);
        return (
            ServicePhase::Pending,
            vec![
                ready(false, reasons::ROLLOUT_PENDING, msg.clone()),
                reconciling(reasons::NEW_REVISION, msg),
            ],
        );
    };
    let name = name_of(current);
    let error = current.status.as_ref().and_then(|s| s.error.clone());
    match phase_of(current) {
        // Stuck on something only a person can fix, before it started (a dependency cycle) or while
        // it runs: the rollout's reason (`DependencyCycle`, `ObjectRefused`, `NameInUse`) is the
        // service's too.
        DeploymentPhase::Pending | DeploymentPhase::Running if stalled_on(current).is_some() => {
            let (reason, why) = stalled_on(current).unwrap_or_default();
            let msg = format!("rollout {name} is stuck: {why}");
            (
                ServicePhase::Progressing,
                vec![ready(false, &reason, msg.clone()), stalled(&reason, msg)],
            )
        }
        // Held back (dependencies, suspension): the rollout says why.
        DeploymentPhase::Pending if current.status.is_some() => {
            let held = current
                .status
                .as_ref()
                .and_then(|s| conditions::find(&s.conditions, types::READY));
            let why = held.map(|c| format!(": {}", c.message)).unwrap_or_default();
            let msg = format!("rollout {name} is waiting to start{why}");
            // Waiting for a person's approval is the service's reason too, so tools that tell
            // waiting for a person from waiting for the operator (Argo CD: Suspended) can.
            let reason = match held {
                Some(c) if c.reason == reasons::AWAITING_APPROVAL => reasons::AWAITING_APPROVAL,
                _ => reasons::ROLLOUT_PENDING,
            };
            (
                ServicePhase::Pending,
                vec![ready(false, reason, msg.clone()), reconciling(reason, msg)],
            )
        }
        // Just created, or running: one message for both, and none per step (the rollout's own
        // status and `kubectl get cdeploy` show the step), so that the service's status is
        // written when the rollout starts and when it ends, not at every step between.
        DeploymentPhase::Pending | DeploymentPhase::Running => {
            let msg = format!(
                "rollout {name} of version {} is in progress",
                current.spec.snapshot.version
            );
            (
                ServicePhase::Progressing,
                vec![
                    ready(false, reasons::ROLLOUT_IN_PROGRESS, msg.clone()),
                    reconciling(reasons::ROLLOUT_IN_PROGRESS, msg),
                ],
            )
        }
        DeploymentPhase::Succeeded => {
            let msg = format!(
                "rollout {name} succeeded; version {} is serving",
                current.spec.snapshot.version
            );
            (
                ServicePhase::Ready,
                vec![ready(true, reasons::ROLLOUT_SUCCEEDED, msg)],
            )
        }
        DeploymentPhase::Failed
        | DeploymentPhase::RolledBack
        | DeploymentPhase::Superseded
        | DeploymentPhase::Aborted => {
            let why = error.unwrap_or_else(|| "the rollout did not complete".into());
            let (phase, msg) = match &serving {
                Some(s) => (
                    ServicePhase::Degraded,
                    format!("rollout {name} failed: {why}; {s} keeps serving"),
                ),
                None => (
                    ServicePhase::Failed,
                    format!(
                        "rollout {name} failed: {why}; there is no earlier successful revision to roll back to"
                    ),
                ),
            };
            (
                phase,
                vec![
                    ready(false, reasons::ROLLOUT_FAILED, msg.clone()),
                    stalled(
                        reasons::ROLLOUT_FAILED,
                        format!("{msg}; change the spec to try again"),
                    ),
                ],
            )
        }
    }
}

/// The reason and message of a running rollout's `Stalled=True` condition, if it has one.
fn stalled_on(rollout: &ChittyDeployment) -> Option<(String, String)> {
    let status = rollout.status.as_ref()?;
    conditions::find(&status.conditions, types::STALLED)
        .filter(|c| c.status == "True")
        .map(|c| (c.reason.clone(), c.message.clone()))
}

/// Rollout counts over the retained history (`revisionHistoryLimit`), as the seed's deployment
/// metrics report them.
fn stats(owned: &[ChittyDeployment], last_ok: Option<&ChittyDeployment>) -> DeploymentStats {
    let count = |p: DeploymentPhase| owned.iter().filter(|d| phase_of(d) == p).count() as i32;
    let finished: Vec<&ChittyDeployment> =
        owned.iter().filter(|d| phase_of(d).is_finished()).collect();
    let succeeded = count(DeploymentPhase::Succeeded);
    let durations: Vec<i64> = finished
        .iter()
        .filter_map(|d| d.status.as_ref()?.duration_ms)
        .collect();
    let last_failure = owned
        .iter()
        .filter(|d| {
            matches!(
                phase_of(d),
                DeploymentPhase::Failed | DeploymentPhase::RolledBack | DeploymentPhase::Aborted
            )
        })
        .max_by_key(|d| {
            (
                d.metadata.creation_timestamp.clone().map(|t| t.0),
                d.metadata.name.clone(),
            )
        })
        .map(|d| {
            let why = d
                .status
                .as_ref()
                .and_then(|s| s.error.clone())
                .unwrap_or_default();
            format!("{}: {why}", name_of(d))
        });
    let last_status = last_ok.and_then(|d| d.status.as_ref());
    DeploymentStats {
        total: owned.len() as i32,
        succeeded,
        failed: count(DeploymentPhase::Failed),
        rolled_back: count(DeploymentPhase::RolledBack),
        success_rate: (!finished.is_empty()).then(|| succeeded * 100 / finished.len() as i32),
        average_duration_ms: (!durations.is_empty())
            .then(|| durations.iter().sum::<i64>() / durations.len() as i64),
        last_deployed_at: last_status.and_then(|s| s.completed_at.clone()),
        last_duration_ms: last_status.and_then(|s| s.duration_ms),
        last_failure,
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
