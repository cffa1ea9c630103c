//! `health`: the workload becomes available and the HTTP health check passes the configured
//! number of times in a row, within the progress deadline. A canary is judged step by step on
//! the canary alone (`canary`).

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use super::StepInput;
use crate::api::conditions::events::DRIFT_REPAIRED;
use crate::api::{ProbeStatus, Target};
use crate::controller::apply::get_opt;
use crate::controller::events::publish;
use crate::pipeline::duration::humanize;
use crate::pipeline::machine::Outcome;
use crate::probe;
use crate::probe::book::{Lookup, ProbeTarget};
use crate::probe::bounds;
use crate::workload::deployment::is_available;
use crate::workload::{ROLLOUT_LABEL, Track, deployment_name, service as service_object};
use kube::runtime::events::EventType;

/// How often an unavailable workload is looked at without a watch event.
const AVAILABILITY_RECHECK: Duration = Duration::from_secs(30);
/// How long past its probe's due time a rollout waits without the pool's wake-up, which
/// normally comes first.
const WAKE_SLACK: Duration = Duration::from_secs(5);

pub async fn run(input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    // A canary is judged on the canary alone, step by step (see `canary`).
    if input.status.canary.is_some() {
        return super::canary::run(input).await;
    }
    let snapshot = &input.rollout.spec.snapshot;
    let health = &snapshot.health;
    let deadline = bounds::deadline(&health.progress_deadline, Duration::from_secs(600));
    let elapsed = input
        .now
        .0
        .duration_since(step_started(input))
        .unsigned_abs();
    if let Some(wait) = wait_available(input, Track::Stable, elapsed, deadline).await? {
        return Ok(wait);
    }
    let health = &input.rollout.spec.snapshot.health;
    let url = probe::url(&base_url(input), &health.path);
    let result = match take_probe(input, &url, elapsed, deadline) {
        Ok(Some(result)) => result,
        Ok(None) => return Ok(Outcome::Waiting(last_message(input))),
        Err(why) => return Ok(Outcome::Failed(why)),
    };
    let (successes, failures) = count(input, &result);
    if failures >= health.failure_threshold {
        return Ok(Outcome::Failed(format!(
            "{} ({failures} consecutive failures)",
            result.detail
        )));
    }
    // A check that passes is progress, however late it comes (a crowded cluster may take the
    // whole deadline to make the workload available): only a failing one ends the step.
    if elapsed > deadline && !result.healthy {
        return Ok(Outcome::Failed(format!(
            "not healthy within {}: {}",
            humanize(deadline),
            result.detail
        )));
    }
    Ok(if successes >= health.success_threshold {
        Outcome::Done(format!(
            "healthy: {successes} consecutive checks of {url} passed"
        ))
    } else {
        Outcome::Waiting(format!(
            "{successes}/{} checks passed; last: {}",
            health.success_threshold, result.detail
        ))
    })
}

/// The pool's latest probe of `url` for this rollout, if one came in since the last look (its
/// completion wakes the rollout; nothing here waits on the endpoint): `Ok(None)` while waiting,
/// with the retry set; `Err(why)` when nothing answered within `limit`.
pub(super) fn take_probe(
    input: &mut StepInput<'_>,
    url: &str,
    elapsed: Duration,
    limit: Duration,
) -> Result<Option<crate::probe::ProbeResult>, String> {
    let health = &input.rollout.spec.snapshot.health;
    // Reconciles also come from watch events; the pool keeps probes to the interval (it starts
    // each one an interval after the previous one), so a reconcile may always ask.
    let interval = bounds::interval(&health.interval);
    let timeout = bounds::timeout(&health.timeout);
    let target = ProbeTarget {
        url: url.to_owned(),
        timeout,
        interval,
    };
    match input.ctx.probes.for_rollout(input.rollout, target) {
        Lookup::Fresh { result, .. } => Ok(Some(result)),
        // Past the limit, waiting ends, unless no probe has come back yet: the first one is in
        // flight (the workload may have become available only now), and every probe ends within
        // its timeout, answered or not.
        Lookup::Pending
            if elapsed > limit
                && (input.status.probes.as_ref()).is_some_and(|p| p.last_probe_at.is_some()) =>
        {
            let last = (input.status.probes.as_ref()).and_then(|p| p.last_error.clone());
            let detail = last.unwrap_or_else(|| format!("no answer from {url} yet"));
            Err(format!("not healthy within {}: {detail}", humanize(limit)))
        }
        Lookup::Pending => {
            input.retry_after = Some(interval + timeout + WAKE_SLACK);
            Ok(None)
        }
    }
}

/// Counts a probe into the consecutive successes and failures; returns both.
pub(super) fn count(input: &mut StepInput<'_>, result: &crate::probe::ProbeResult) -> (i32, i32) {
    let probes = input.status.probes.get_or_insert_with(ProbeStatus::default);
    probes.last_probe_at = Some(input.now.clone());
    if result.healthy {
        probes.consecutive_successes += 1;
        probes.consecutive_failures = 0;
    } else {
        probes.consecutive_failures += 1;
        probes.consecutive_successes = 0;
        probes.last_error = Some(result.detail.clone());
    }
    (probes.consecutive_successes, probes.consecutive_failures)
}

/// While the track's Deployment is not available: `Some(outcome)` to wait (or fail once the
/// progress deadline has passed). A Deployment deleted during the rollout is put back.
pub(super) async fn wait_available(
    input: &mut StepInput<'_>,
    track: Track,
    elapsed: Duration,
    deadline: Duration,
) -> crate::Result<Option<Outcome>> {
    let snapshot = &input.rollout.spec.snapshot;
    if snapshot.target != Target::Cluster {
        return Ok(None);
    }
    let deployments: Api<Deployment> =
        Api::namespaced(input.ctx.client.clone(), &input.namespace());
    let name = deployment_name(&input.service.name_any(), track);
    let (available, message) = match applied_workload(input, &deployments, &name).await? {
        Some(d) => is_available(&d),
        None => {
            // Deleted while this rollout runs: its pipeline owns the workload until it
            // finishes, so it puts back what its deploy step applied.
            super::deploy::run(input).await?;
            let note = format!(
                "Deployment {name} was deleted during rollout {}; recreated",
                input.rollout.name_any()
            );
            publish(
                input.ctx,
                input.service,
                EventType::Normal,
                DRIFT_REPAIRED,
                note,
            )
            .await;
            (false, format!("Deployment {name} was recreated"))
        }
    };
    if available {
        return Ok(None);
    }
    // The Deployment watch wakes this rollout when availability changes; the requeue is only a
    // safety net for the progress deadline.
    input.retry_after = Some(AVAILABILITY_RECHECK);
    Ok(Some(if elapsed > deadline {
        Outcome::Failed(format!(
            "Deployment {name} not available within {}: {message}",
            input.rollout.spec.snapshot.health.progress_deadline
        ))
    } else {
        // The replica counts move several times on the way (each a status write if it were in
        // the message); they are on the Deployment, and in the failure message.
        Outcome::Waiting(format!("waiting for Deployment {name} to become available"))
    }))
}

/// The Deployment as this rollout applied it: from the cache when the cache already holds this
/// rollout's version of it, else from the API server (just applied, or the cache lags). An older
/// revision's Deployment in the cache may well be available; that says nothing about this one.
async fn applied_workload(
    input: &StepInput<'_>,
    deployments: &Api<Deployment>,
    name: &str,
) -> crate::Result<Option<Deployment>> {
    let reference = ObjectRef::new(name).within(&input.namespace());
    if let Some(cached) = input.ctx.caches.workloads.get(&reference)
        && cached.labels().get(ROLLOUT_LABEL) == Some(&input.rollout.name_any())
    {
        return Ok(Some(cached.object()?));
    }
    get_opt(deployments, name).await
}

/// Where to probe: the service's own override, then the operator's, then its in-cluster Service
/// (or its public URL on Cloudflare).
pub fn base_url(input: &StepInput) -> String {
    let snapshot = &input.rollout.spec.snapshot;
    if let Some(url) = &snapshot.health.url {
        return url.clone();
    }
    if let Some(url) = &input.ctx.config.health_url_override {
        return url.clone();
    }
    match (&snapshot.target, &snapshot.cloudflare) {
        (Target::Cloudflare, Some(cf)) => cf.url.clone(),
        _ => service_object::cluster_url(input.service),
    }
}

/// The health step's message as it stands, so that waiting for a probe writes nothing new.
pub(super) fn last_message(input: &StepInput) -> String {
    input
        .status
        .steps
        .iter()
        .find(|s| s.name == "health")
        .and_then(|s| s.message.clone())
        .unwrap_or_else(|| "waiting for the next health check".into())
}

pub(super) fn step_started(input: &StepInput) -> jiff::Timestamp {
    input
        .status
        .steps
        .iter()
        .find(|s| s.name == "health")
        .and_then(|s| s.started_at.as_ref())
        .map(|t| t.0)
        .unwrap_or(input.now.0)
}
