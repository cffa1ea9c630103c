//! The ChittyDeployment controller: runs one rollout through its steps — build, deploy,
//! identity, register, routes, health, notify — rolling back on failure. All progress lives in
//! status and owned objects, so a restart resumes each rollout where it stood.

pub mod advice;
pub mod conditions;
pub mod consult;
pub mod edge_rollback;
pub mod edge_routes;
pub mod gate;
pub mod planning;
pub mod rollback;
pub mod steps;

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;

use super::{CATCH_UP, CachedRollout, Context, now};
use crate::api::conditions::{Desired, merge, reasons, types};
use crate::api::{
    ChittyDeployment, ChittyDeploymentStatus, ChittyService, DeploymentPhase, ROLLBACK_REQUEST,
    Target,
};
use crate::controller::events::publish;
use crate::pipeline::dependencies::Gate;
use crate::pipeline::duration::parse_or;
use crate::pipeline::machine::{self, Outcome};
use crate::pipeline::plan;
use crate::pipeline::rollouts::newest;
use steps::StepInput;

pub const NAME: &str = "chittydeployment";

/// While waiting on something that sends no event (an HTTP endpoint), look again this often.
const POLL: Duration = Duration::from_secs(5);

pub async fn reconcile(cached: Arc<CachedRollout>, ctx: Arc<Context>) -> crate::Result<Action> {
    let _timer = ctx.metrics.reconcile(NAME);
    // Cached packed; checked to decode when it arrived.
    let rollout = Arc::new(cached.object()?);
    converge(rollout, ctx).await
}

async fn converge(rollout: Arc<ChittyDeployment>, ctx: Arc<Context>) -> crate::Result<Action> {
    if ctx.cache_behind(&*rollout) {
        return Ok(Action::requeue(CATCH_UP));
    }
    let previous = rollout.status.clone();
    let mut status = previous.clone().unwrap_or_else(|| ChittyDeploymentStatus {
        phase: Some(DeploymentPhase::Pending),
        steps: plan::plan(&rollout.spec.snapshot),
        ..Default::default()
    });
    status.progress = plan::progress(&status.steps);
    let rollback_requested = status.phase == Some(DeploymentPhase::Succeeded)
        && rollout.annotations().contains_key(ROLLBACK_REQUEST);
    let stray_approval = planning::note_stray_approval(&ctx, &rollout, &mut status).await;
    if status.phase.is_some_and(DeploymentPhase::is_finished) && !rollback_requested {
        let service = ctx.caches.services.get(
            &ObjectRef::new(&rollout.spec.service_ref.name)
                .within(&rollout.namespace().unwrap_or_default()),
        );
        if let Some(service) = service.filter(|s| edge_routes::applies(s, &rollout, &status)) {
            edge_routes::keep(&ctx, &service, &rollout, &mut status).await?;
        }
        let edge_changed =
            previous.as_ref().and_then(|p| p.cloudflare.as_ref()) != status.cloudflare.as_ref();
        if stray_approval || edge_changed {
            let api: Api<ChittyDeployment> = ctx.api_for(&*rollout);
            ctx.write_status(&api, &*rollout, previous.as_ref(), &status)
                .await?;
        }
        return Ok(Action::await_change());
    }
    let Some(service) = owning_service(&ctx, &rollout).await? else {
        // The service is gone; garbage collection removes this rollout with it.
        return Ok(Action::await_change());
    };
    let now = now();
    let advanced = if rollback_requested {
        rollback::on_request(&ctx, &service, &rollout, &mut status, &now)
            .await
            .map(|()| (Action::await_change(), vec![]))
    } else {
        advance(&ctx, &service, &rollout, &mut status, &now).await
    };
    // A step the apiserver refuses (an invalid object, a policy, a quota) cannot pass by being
    // retried at once: the rollout says so, stays at that step, and retries with backoff.
    let mut refused = None;
    let (action, gate) = match advanced {
        Ok(done) => done,
        Err(e) => match e.refusal() {
            Some(why) => {
                let stuck = stuck_at(&mut status, &why, &now);
                refused = Some(e);
                (Action::await_change(), vec![stuck])
            }
            None => return Err(e),
        },
    };

    status.observed_generation = rollout.metadata.generation;
    let mut gate = gate;
    gate.extend(planning::planned_condition(&status));
    let desired_conditions = conditions::desired(&status, gate);
    let old_conditions = previous
        .as_ref()
        .map(|p| p.conditions.clone())
        .unwrap_or_default();
    status.conditions = merge(
        &old_conditions,
        &desired_conditions,
        rollout.metadata.generation,
        &now,
    );
    let api: Api<ChittyDeployment> = ctx.api_for(&*rollout);
    ctx.write_status(&api, &*rollout, previous.as_ref(), &status)
        .await?;
    announce_phase_change(&ctx, &rollout, previous.as_ref(), &status).await;
    match refused {
        Some(e) => Err(e),
        None => Ok(action),
    }
}

/// Records a refusal on the step it stopped, and the `Stalled` condition that tells of it.
fn stuck_at(
    status: &mut ChittyDeploymentStatus,
    why: &crate::Refusal,
    now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> Desired {
    let step = status.current_step.clone().unwrap_or_default();
    let message = format!("step {step}: {}", why.message);
    if let Some(plan_step) = plan::Step::parse(&step) {
        machine::record(status, plan_step, Outcome::Waiting(message.clone()), now);
    }
    Desired::new(types::STALLED, true, why.reason, message)
}

async fn owning_service(
    ctx: &Context,
    rollout: &ChittyDeployment,
) -> crate::Result<Option<ChittyService>> {
    let ns = rollout.namespace().unwrap_or_default();
    let reference = ObjectRef::new(&rollout.spec.service_ref.name).within(&ns);
    let found = match ctx.caches.services.get(&reference) {
        Some(s) => Some((*s).clone()),
        None => {
            Api::<ChittyService>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&rollout.spec.service_ref.name)
                .await?
        }
    };
    Ok(found.filter(|s| {
        rollout.spec.service_ref.uid.is_none() || s.uid() == rollout.spec.service_ref.uid
    }))
}

/// Moves the rollout as far as it can go now; returns when to look again and the dependency
/// conditions, if dependencies were checked.
async fn advance(
    ctx: &Context,
    service: &ChittyService,
    rollout: &ChittyDeployment,
    status: &mut ChittyDeploymentStatus,
    now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> crate::Result<(Action, Vec<Desired>)> {
    let mut input = StepInput {
        ctx,
        service,
        rollout,
        status,
        now,
        chitty_id: service.status.as_ref().and_then(|s| s.chitty_id.clone()),
        conditions: vec![],
        retry_after: None,
        minted: None,
    };
    // A Cloudflare rollback in flight finishes before anything else: its Job decides the phase.
    if edge_rollback::in_flight(input.status) {
        edge_rollback::watch(&mut input).await?;
        return Ok((Action::await_change(), with_step_conditions(vec![], input)));
    }
    let owned = super::rollouts_of(&ctx.caches, service);
    if newest(&owned).is_some_and(|n| n.name_any() != rollout.name_any()) {
        machine::finish(input.status, DeploymentPhase::Superseded, now);
        input.status.error = Some("superseded by a newer revision of the service".into());
        return Ok((Action::await_change(), vec![]));
    }
    let mut gate_condition = vec![];
    if input.status.phase == Some(DeploymentPhase::Pending) {
        if service.spec.suspend {
            let c = Desired::new(
                types::DEPENDENCIES_READY,
                true,
                reasons::SUSPENDED,
                "the service is suspended; this rollout waits",
            );
            return Ok((Action::await_change(), vec![c]));
        }
        match planning::plan_and_approve(ctx, service, rollout, input.status, now).await {
            planning::Go::Start => {}
            planning::Go::Hold { action, conditions } => return Ok((action, conditions)),
            planning::Go::End { reason, error } => {
                machine::finish(input.status, DeploymentPhase::Failed, now);
                input.status.error = Some(error.clone());
                let stalled = Desired::new(types::STALLED, true, reason, error);
                return Ok((Action::await_change(), vec![stalled]));
            }
        }
        let gate = gate::evaluate(&ctx.caches.services, service);
        let (ok, reason) = match &gate {
            Gate::Open => (true, reasons::DEPENDENCIES_READY),
            Gate::Waiting { .. } => (false, reasons::DEPENDENCY_NOT_READY),
            Gate::Cycle(_) => (false, reasons::DEPENDENCY_CYCLE),
        };
        let condition = Desired::new(types::DEPENDENCIES_READY, ok, reason, gate.message());
        if !ok {
            let mut out = vec![condition];
            if matches!(gate, Gate::Cycle(_)) {
                out.push(Desired::new(
                    types::STALLED,
                    true,
                    reasons::DEPENDENCY_CYCLE,
                    gate.message(),
                ));
            }
            // Dependencies becoming Ready wake this rollout through the ChittyService watch.
            return Ok((Action::await_change(), out));
        }
        gate_condition = vec![condition];
    }

    loop {
        let Some(step) = machine::next_step(input.status) else {
            machine::finish(input.status, DeploymentPhase::Succeeded, now);
            return Ok((
                Action::await_change(),
                with_step_conditions(gate_condition, input),
            ));
        };
        machine::start(input.status, step, now);
        let outcome = steps::run(step, &mut input).await?;
        if machine::record(input.status, step, outcome.clone(), now) {
            continue;
        }
        return match outcome {
            Outcome::Waiting(_) => {
                let again = input.retry_after.unwrap_or_else(|| wait_interval(rollout));
                Ok((
                    Action::requeue(again),
                    with_step_conditions(gate_condition, input),
                ))
            }
            _ => {
                fail(&mut input, step).await?;
                Ok((
                    Action::await_change(),
                    with_step_conditions(gate_condition, input),
                ))
            }
        };
    }
}

/// The conditions steps reported, this reconcile or an earlier one (a step that finished long
/// ago keeps its last word), after the gate's.
fn with_step_conditions(mut gate: Vec<Desired>, input: StepInput) -> Vec<Desired> {
    let previous = input
        .rollout
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    for type_ in steps::STEP_CONDITIONS {
        let fresh = input.conditions.iter().find(|c| c.type_ == type_).cloned();
        let kept = previous.iter().find(|c| c.type_ == type_).map(|c| {
            Desired::new(
                type_,
                c.status == "True",
                c.reason.clone(),
                c.message.clone(),
            )
        });
        gate.extend(fresh.or(kept));
    }
    gate
}

/// Ends a failed rollout: rolled back to the last success where there is one and the failure
/// touched the workload, failed otherwise.
async fn fail(input: &mut StepInput<'_>, step: plan::Step) -> crate::Result<()> {
    let now = input.now.clone();
    let stable = steps::deploy::stable_rollout(input);
    let edge = input.rollout.spec.snapshot.target == Target::Cloudflare;
    match stable {
        // A failed wrangler Job deployed nothing: the last good version is still the one live.
        Some(to) if edge && step == plan::Step::Deploy => {
            machine::finish(input.status, DeploymentPhase::Failed, &now);
            let error = input.status.error.clone().unwrap_or_default();
            input.status.error = Some(format!(
                "{error}; wrangler deployed nothing, so {} keeps serving",
                to.name_any()
            ));
        }
        Some(to) if edge && machine::rolls_back(step) => {
            edge_rollback::start(input, &to).await?;
        }
        // A canary that failed its analysis, or that a person aborted: stable serves again, the
        // canary goes, and the rollout says Aborted (not rolled back: the new revision never
        // took the service over).
        Some(to) if steps::canary::was_aborted(input.status) => {
            rollback::roll_back(input, &to).await?;
            input.status.rolled_back_to = None;
            if let Some(c) = input.status.canary.as_mut() {
                c.state = Some(steps::canary::ABORTED.into());
            }
            machine::finish(input.status, DeploymentPhase::Aborted, &now);
        }
        Some(to) if machine::rolls_back(step) => {
            rollback::roll_back(input, &to).await?;
            machine::finish(input.status, DeploymentPhase::RolledBack, &now);
            steps::integrations::send_event(input, crate::clients::EventType::ServiceRolledBack)
                .await;
        }
        Some(_) => machine::finish(input.status, DeploymentPhase::Failed, &now),
        None => {
            machine::finish(input.status, DeploymentPhase::Failed, &now);
            if machine::rolls_back(step) {
                let error = input.status.error.clone().unwrap_or_default();
                input.status.error =
                    Some(format!("{error}; nothing to roll back to (first rollout)"));
            }
        }
    }
    Ok(())
}

fn wait_interval(rollout: &ChittyDeployment) -> Duration {
    parse_or(&rollout.spec.snapshot.health.interval, POLL)
        .min(POLL)
        .max(Duration::from_millis(200))
}

async fn announce_phase_change(
    ctx: &Context,
    rollout: &ChittyDeployment,
    previous: Option<&ChittyDeploymentStatus>,
    status: &ChittyDeploymentStatus,
) {
    let before = previous.and_then(|p| p.phase);
    let Some(after) = status.phase else { return };
    if before == Some(after) {
        return;
    }
    let (kind, note) = match after {
        DeploymentPhase::Failed | DeploymentPhase::RolledBack | DeploymentPhase::Aborted => (
            EventType::Warning,
            format!(
                "{}: {}",
                after.as_str(),
                status.error.clone().unwrap_or_default()
            ),
        ),
        _ => (EventType::Normal, format!("rollout is {}", after.as_str())),
    };
    publish(ctx, rollout, kind, after.as_str(), note).await;
    tracing::info!(rollout = %rollout.name_any(), service = %rollout.spec.service_ref.name, phase = after.as_str(), "rollout phase changed");
}
