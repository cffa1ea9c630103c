//! Rolling back a failed rollout: the last successful revision's workload is applied again and
//! any canary removed, so the old revision keeps serving.

use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, ResourceExt};

use super::apply::{apply, delete_if_present};
use super::steps::StepInput;
use crate::api::{ChittyDeployment, Target};
use crate::workload::deployment::{self as workload, Workload};
use crate::workload::{Track, deployment_name};

/// Re-applies `to`'s workload. Cloudflare targets keep what wrangler last deployed: a failed
/// wrangler Job deployed nothing.
pub async fn roll_back(input: &mut StepInput<'_>, to: &ChittyDeployment) -> crate::Result<()> {
    if input.rollout.spec.snapshot.target != Target::Cluster {
        return Ok(());
    }
    let deployments: Api<Deployment> =
        Api::namespaced(input.ctx.client.clone(), &input.namespace());
    let image = to
        .status
        .as_ref()
        .and_then(|s| s.image.clone())
        .unwrap_or_default();
    apply(
        &deployments,
        &workload::build(&Workload {
            service: input.service,
            snapshot: &to.spec.snapshot,
            image: &image,
            revision: &to.spec.revision,
            rollout: &to.name_any(),
            track: Track::Stable,
            replicas: input.service.spec.replicas,
        }),
    )
    .await?;
    delete_if_present(
        &deployments,
        &deployment_name(&input.service.name_any(), Track::Canary),
    )
    .await?;
    if let Some(c) = input.status.canary.as_mut() {
        c.state = Some("Aborted".into());
    }
    input.status.rolled_back_to = Some(to.name_any());
    Ok(())
}
