//! Rolling back a failed rollout: the last successful revision's workload is applied again and
//! any canary removed, so the old revision keeps serving.

use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, ResourceExt};

use super::apply::{apply, delete_if_present};
use super::steps::StepInput;
use crate::api::{ChittyDeployment, ChittyService, Target};
use crate::controller::Context;
use crate::workload::deployment::{self as workload, Workload};
use crate::workload::{Track, deployment_name};

/// Re-applies `to`'s workload. Cloudflare targets keep what wrangler last deployed: a failed
/// wrangler Job deployed nothing.
pub async fn roll_back(input: &mut StepInput<'_>, to: &ChittyDeployment) -> crate::Result<()> {
    if input.rollout.spec.snapshot.target == Target::Cluster {
        restore(input.ctx, input.service, to).await?;
    }
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
    let image = to
        .status
        .as_ref()
        .and_then(|s| s.image.clone())
        .unwrap_or_default();
    apply(
        &deployments,
        &workload::build(&Workload {
            service,
            snapshot: &to.spec.snapshot,
            image: &image,
            revision: &to.spec.revision,
            rollout: &to.name_any(),
            track: Track::Stable,
            replicas: Some(service.spec.replicas),
        }),
    )
    .await?;
    delete_if_present(
        &deployments,
        &deployment_name(&service.name_any(), Track::Canary),
    )
    .await
}
