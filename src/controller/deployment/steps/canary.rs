//! `health` for a canary: the canary is judged on its own, step by step. Each step gives it its
//! weight (traffic weights on the routing objects, or pods), holds for its pause while its own
//! Service is probed, and passes when the analysis allows; after the last step the canary is
//! promoted. A failed measurement, or a person's `abort`, ends the rollout `Aborted` with traffic
//! back on stable and the canary gone (see `fail` in the controller).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::StepInput;
use super::canary_control::{self, Command};
use super::health::{count, last_message, step_started, take_probe, wait_available};
use crate::api::{CanaryStep, StepAnalysis};
use crate::controller::apply::apply;
use crate::pipeline::canary_steps::{self, Probe, Verdict};
use crate::pipeline::duration::parse_or;
use crate::pipeline::machine::Outcome;
use crate::probe::{self, bounds};
use crate::workload::Track;
use crate::workload::deployment::{self as workload, Workload};
use crate::workload::service as service_object;
use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, ResourceExt};

pub const ABORTED: &str = "Aborted";
const PROGRESSING: &str = "Progressing";
const PAUSED: &str = "Paused";

pub async fn run(input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    let spec = input.canary().unwrap_or_default();
    let steps = spec.effective_steps();
    let now = input.now.0;
    match canary_control::take(input, &steps).await {
        Some(Command::Promote(who)) => {
            let at = current(input);
            finish_promotion(input).await?;
            return Ok(Outcome::Done(format!(
                "promoted by {who} at step {} of {}",
                at + 1,
                steps.len()
            )));
        }
        Some(Command::Abort(who)) => {
            let at = current(input);
            mark_aborted(input);
            return Ok(Outcome::Failed(format!(
                "canary aborted by {who} at step {} of {} (weight {}%)",
                at + 1,
                steps.len(),
                steps[at].weight
            )));
        }
        _ => {}
    }
    let health = &input.rollout.spec.snapshot.health;
    let deadline = bounds::deadline(&health.progress_deadline, Duration::from_secs(600));
    let elapsed = now.duration_since(step_started(input)).unsigned_abs();
    // Each step resizes the canary; it has the progress deadline to become available again,
    // counted from the step's start, not the canary's.
    let step_began = (input.status.canary.as_ref())
        .and_then(|c| c.monitoring_since.as_ref())
        .map(|t| now.duration_since(t.0).unsigned_abs())
        .unwrap_or(elapsed);
    if let Some(wait) = wait_available(input, Track::Canary, step_began, deadline).await? {
        return Ok(wait);
    }
    if input
        .status
        .canary
        .as_ref()
        .is_none_or(|c| c.step.is_none())
    {
        start_step(input, &steps, 0).await?;
    }
    let at = current(input);

    // The canary alone: its own URL, never the service's, which stable answers too.
    let (base, alone) = canary_base_url(input);
    let url = probe::url(&base, &input.rollout.spec.snapshot.health.path);
    let limit = deadline + total_pause(&steps);
    let result = match take_probe(input, &url, elapsed, limit) {
        Ok(Some(result)) => result,
        Ok(None) => return Ok(Outcome::Waiting(last_message(input))),
        Err(why) => {
            mark_aborted(input);
            return Ok(Outcome::Failed(why));
        }
    };
    let (_, consecutive_failures) = count(input, &result);
    let analysis = spec.analysis.clone();
    let max_latency = (analysis.as_ref())
        .and_then(|a| a.max_latency.as_deref())
        .and_then(crate::pipeline::duration::parse);
    let state = input.status.canary.get_or_insert_with(Default::default);
    let measured = state.analysis.get_or_insert_with(StepAnalysis::default);
    let probe = Probe {
        healthy: result.healthy,
        latency: result.latency,
        detail: &result.detail,
    };
    canary_steps::record(measured, &probe, max_latency);
    let measured = measured.clone();
    let ends = state.step_ends_at.clone();
    let pause_over = ends.as_ref().is_some_and(|t| now >= t.0);
    let threshold = input.rollout.spec.snapshot.health.failure_threshold;
    let verdict = canary_steps::judge(
        &steps,
        at,
        analysis.as_ref(),
        &measured,
        consecutive_failures,
        threshold,
        pause_over,
    );
    match verdict {
        Verdict::Hold => {
            let left = ends.map(|t| t.0.duration_since(now).unsigned_abs());
            if let Some(left) = left {
                let next = input.retry_after.unwrap_or(left).min(left);
                input.retry_after = Some(next.max(Duration::from_millis(200)));
            }
            let mut message = canary_steps::summary(&steps, at, &measured, left);
            if !alone {
                message.push_str(&format!(
                    " (probing {base}, which may reach stable too: strategy.canary.analysis.url judges the canary alone)"
                ));
            }
            Ok(Outcome::Waiting(message))
        }
        Verdict::Next(next) => {
            start_step(input, &steps, next).await?;
            let left = Some(pause_of(&steps[next]));
            Ok(Outcome::Waiting(canary_steps::summary(
                &steps,
                next,
                &StepAnalysis::default(),
                left,
            )))
        }
        Verdict::Promote => {
            finish_promotion(input).await?;
            Ok(Outcome::Done(format!(
                "canary passed {} steps; promoted",
                steps.len()
            )))
        }
        Verdict::Abort(why) => {
            mark_aborted(input);
            Ok(Outcome::Failed(why))
        }
    }
}

/// Whether the canary step ended the rollout by aborting.
pub fn was_aborted(status: &crate::api::ChittyDeploymentStatus) -> bool {
    (status.canary.as_ref()).is_some_and(|c| c.state.as_deref() == Some(ABORTED))
}

/// The step under way, 0-based.
fn current(input: &StepInput) -> usize {
    let step = (input.status.canary.as_ref())
        .and_then(|c| c.step)
        .unwrap_or(1);
    (step.max(1) - 1) as usize
}

fn pause_of(step: &CanaryStep) -> Duration {
    parse_or(&step.pause, Duration::from_secs(300))
}

fn total_pause(steps: &[CanaryStep]) -> Duration {
    steps.iter().map(pause_of).sum()
}

/// Gives the canary step `at`'s weight and starts its pause (held while a person has paused it).
async fn start_step(
    input: &mut StepInput<'_>,
    steps: &[CanaryStep],
    at: usize,
) -> crate::Result<()> {
    let step = &steps[at];
    let image = input.status.image.clone().unwrap_or_default();
    if let Some(stable) = super::deploy::stable_rollout(input) {
        super::deploy::place_canary(input, &stable, &image, step.weight).await?;
    }
    let now = input.now.0;
    let state = input.status.canary.get_or_insert_with(Default::default);
    state.step = Some(at as i32 + 1);
    state.steps = Some(steps.len() as i32);
    state.weight = Some(step.weight);
    state.analysis = Some(StepAnalysis::default());
    if state.state.as_deref() == Some(PAUSED) {
        state.paused_remaining_ms = Some(pause_of(step).as_millis() as i64);
        state.step_ends_at = None;
    } else {
        state.state = Some(PROGRESSING.into());
        state.step_ends_at = Some(Time(now + pause_of(step)));
    }
    state.monitoring_since = Some(Time(now));
    Ok(())
}

/// Pauses the step timer, or starts it again with the time that was left.
pub(super) fn set_paused(input: &mut StepInput<'_>, paused: bool) {
    let now = input.now.0;
    let Some(state) = input.status.canary.as_mut() else {
        return;
    };
    if paused && state.state.as_deref() != Some(PAUSED) {
        let left = (state.step_ends_at.take()).map(|t| t.0.duration_since(now).unsigned_abs());
        state.paused_remaining_ms = left.map(|l| l.as_millis() as i64);
        state.state = Some(PAUSED.into());
    } else if !paused && state.state.as_deref() == Some(PAUSED) {
        let left =
            Duration::from_millis(state.paused_remaining_ms.take().unwrap_or(0).max(0) as u64);
        state.step_ends_at = state.step.map(|_| Time(now + left));
        state.state = Some(PROGRESSING.into());
    }
}

/// The canary's traffic goes back to stable with the rollout's end (the routing objects follow
/// its phase); the controller's failure path removes the canary and restores stable.
fn mark_aborted(input: &mut StepInput<'_>) {
    let state = input.status.canary.get_or_insert_with(Default::default);
    state.state = Some(ABORTED.into());
    state.weight = Some(0);
    state.step_ends_at = None;
}

/// The stable Deployment takes the new revision at full size; the canary goes away, and all
/// traffic is on stable.
async fn finish_promotion(input: &mut StepInput<'_>) -> crate::Result<()> {
    let image = input.status.image.clone().unwrap_or_default();
    let deployments: Api<Deployment> = input.ctx.api_for(input.service);
    let stable = workload::build(&Workload {
        service: input.service,
        snapshot: &input.rollout.spec.snapshot,
        image: &image,
        revision: &input.rollout.spec.revision,
        rollout: &input.rollout.name_any(),
        track: Track::Stable,
        replicas: crate::workload::desired::replicas(input.service),
    });
    apply(&deployments, &stable).await?;
    crate::controller::deployment::rollback::remove_canary(input.ctx, input.service).await?;
    if let Some(state) = input.status.canary.as_mut() {
        state.state = Some("Promoted".into());
        state.weight = Some(100);
        state.step_ends_at = None;
    }
    Ok(())
}

/// Where the canary is probed, and whether that is the canary alone: the analysis's URL, else
/// the canary's own Service. A service whose `health.url` names where it answers (or an
/// operator with `--health-url-override`, local clusters) is probed there as before, which may
/// reach stable pods too; the step's message says so.
fn canary_base_url(input: &StepInput) -> (String, bool) {
    let spec = input.canary().unwrap_or_default();
    if let Some(url) = spec.analysis.and_then(|a| a.url) {
        return (url, true);
    }
    let shared = (input.rollout.spec.snapshot.health.url.clone())
        .or_else(|| input.ctx.config.health_url_override.clone());
    match shared {
        Some(url) => (url, false),
        None => (service_object::canary_url(input.service), true),
    }
}
