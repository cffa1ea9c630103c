//! The workload controller: keeps a ChittyService's Deployment, Service and autoscaler on what
//! the spec and the serving revision say, at all times, not only while a rollout runs.
//!
//! Gather (the service, its rollouts and its live objects, all from the shared caches), decide
//! (`workload::desired`, pure), act (apply what differs, remove what is no longer wanted, and say
//! so in an Event). It writes no status: the ChittyService controller reports what runs, from the
//! same caches. A hand edit to a field the operator sets is reverted, and a deleted object comes
//! back, without a new rollout; an idle fleet costs no write, because nothing is applied unless
//! the cache shows a difference.

mod act;
mod memo;

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::Context;
use crate::api::ChittyService;
use crate::workload::desired::{Live, desired};
use crate::workload::{Track, deployment_name};

pub use memo::AppliedMemo;

pub const NAME: &str = "workload";

/// The key of this controller's refusals in `controller::refusals`.
const REFUSAL: &str = "workload";

pub async fn reconcile(service: Arc<ChittyService>, ctx: Arc<Context>) -> crate::Result<Action> {
    let _timer = ctx.metrics.reconcile(NAME);
    if service.metadata.deletion_timestamp.is_some() {
        // Garbage collection removes the owned objects with the service.
        return Ok(Action::await_change());
    }
    // Before every cache has its first list, a missing object may only be unlisted yet: look
    // again shortly, rather than "recreate" what exists.
    if !ctx.caches.synced() {
        return Ok(Action::requeue(std::time::Duration::from_secs(1)));
    }
    let rollouts = super::rollouts_of(&ctx.caches, &service);
    let ns = service.namespace().unwrap_or_default();
    let cached = |track| {
        ctx.caches
            .workloads
            .get(&ObjectRef::new(&deployment_name(&service.name_any(), track)).within(&ns))
            .filter(|d| act::owned_by(&**d, &service))
            .map(|d| d.object())
            .transpose()
    };
    let (stable, canary) = (cached(Track::Stable)?, cached(Track::Canary)?);
    let live = Live {
        stable: stable.as_ref(),
        canary: canary.as_ref(),
    };
    let weighted = crate::workload::traffic::mechanism(&ctx.config.routing).weighted();
    let want = desired(&service, &rollouts, &live, weighted);
    let mut act = act::Act::new(&ctx, &service);
    // A refusal (the apiserver finds what the spec makes invalid, or a policy forbids it) is the
    // service's author's to fix: the service controller says so on its status.
    match converge(&mut act, &want, &live).await {
        Ok(()) => ctx.refusals.clear(&service, REFUSAL),
        Err(e) => {
            if let Some(why) = e.refusal() {
                ctx.refusals.record(&service, REFUSAL, why);
            }
            return Err(e);
        }
    }
    if let Some(why) = &want.handed_off {
        tracing::trace!(service = %service.name_any(), why, "Deployments left to the rollout");
    }
    Ok(act
        .next()
        .map_or_else(Action::await_change, Action::requeue))
}

/// Applies what differs and removes what is no longer wanted.
async fn converge(
    act: &mut act::Act<'_>,
    want: &crate::workload::desired::DesiredWorkload,
    live: &Live<'_>,
) -> crate::Result<()> {
    // The autoscaler first: it takes `spec.replicas` over before the Deployment's apply stops
    // setting the field, so the running pods are never cut back in between.
    match (&want.autoscaler, want.remove_autoscaler) {
        (Some(hpa), _) => act.autoscaler(hpa, live.stable).await?,
        (None, true) => act.remove_autoscaler().await?,
        (None, false) => {}
    }
    if let Some(d) = &want.stable {
        act.deployment(d, live.stable).await?;
    }
    if want.remove_canary
        && let Some(c) = live.canary
    {
        act.remove_canary(c).await?;
    }
    if let Some(s) = &want.service {
        act.service(s).await?;
    }
    Ok(())
}
