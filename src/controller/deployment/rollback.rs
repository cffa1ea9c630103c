//! Rolling back a failed rollout: the last successful revision's workload is applied again and
//! any canary removed, so the old revision keeps serving.

use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, ResourceExt};

use super::steps::StepInput;
use crate::api::{ChittyDeployment, ChittyService, Target};
use crate::controller::Context;
use crate::controller::apply::{apply, delete_if_present};
use crate::workload::desired::stable_deployment;
use crate::workload::{Track, deployment_name};

/// Re-applies `to`'s workload on the cluster (Cloudflare targets roll back through a Job: see
/// `edge_rollback`).
pub async fn roll_back(input: &mut StepInput<'_>, to: &ChittyDeployment) -> crate::Result<()> {
    restore(input.ctx, input.service, to).await?;
    if let Some(c) = input.status.canary.as_mut() {
        c.state = Some("Aborted".into());
    }
    input.status.rolled_back_to = Some(to.name_any());
    Ok(())
}

/// Puts `to`'s revision back on the stable Deployment at the service's full size and removes
/// any canary: what both a failed rollout and a critical service going down return to.
pub async fn restore(
    ctx: &Context,
    service: &ChittyService,
    to: &ChittyDeployment,
) -> crate::Result<()> {
    let deployments: Api<Deployment> = ctx.api_for(service);
    apply(&deployments, &stable_deployment(service, to)).await?;
    remove_canary(ctx, service).await
}

/// The canary's Deployment and its Service go: what both a promotion and a return to stable end
/// with.
pub async fn remove_canary(ctx: &Context, service: &ChittyService) -> crate::Result<()> {
    let deployments: Api<Deployment> = ctx.api_for(service);
    delete_if_present(
        &deployments,
        &deployment_name(&service.name_any(), Track::Canary),
    )
    .await?;
    let services: Api<k8s_openapi::api::core::v1::Service> = ctx.api_for(service);
    let canary_service = crate::workload::traffic::canary_service_name(&service.name_any());
    delete_if_present(&services, &canary_service).await
}

/// A succeeded rollout carries a rollback request (a critical service went down after it, or a
/// person asked): the service's previous success is put back and the rollout ends `RolledBack`
/// with the request's reason. Only the newest rollout is rolled back; on an older one the request
/// has nothing to undo and is left as it is.
pub async fn on_request(
    ctx: &Context,
    service: &ChittyService,
    rollout: &ChittyDeployment,
    status: &mut crate::api::ChittyDeploymentStatus,
    now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> crate::Result<()> {
    let owned = crate::controller::rollouts_of(&ctx.caches, service);
    let newest = crate::pipeline::rollouts::newest(&owned);
    if newest.is_none_or(|n| n.name_any() != rollout.name_any()) {
        return Ok(());
    }
    let Some(to) = crate::pipeline::rollouts::rollback_target(rollout, &owned) else {
        return Ok(());
    };
    let why = rollout
        .annotations()
        .get(crate::api::ROLLBACK_REQUEST)
        .cloned()
        .unwrap_or_default();
    if rollout.spec.snapshot.target == Target::Cloudflare {
        // The rollout stays Succeeded until the rollback Job has finished, then says how it went.
        status.error = Some(why);
        let mut input = StepInput {
            ctx,
            service,
            rollout,
            status,
            now,
            chitty_id: None,
            conditions: vec![],
            retry_after: None,
            minted: None,
        };
        let to = to.clone();
        return super::edge_rollback::start(&mut input, &to).await;
    }
    restore(ctx, service, to).await?;
    status.phase = Some(crate::api::DeploymentPhase::RolledBack);
    status.error = Some(why);
    status.rolled_back_to = Some(to.name_any());
    Ok(())
}
