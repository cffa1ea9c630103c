//! `deploy`: puts the revision's workload in place. Cluster targets get a Deployment and a
//! Service (a canary gets a second Deployment beside the stable one); Cloudflare targets get a
//! wrangler Job.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::{Api, ResourceExt};

use super::StepInput;
use crate::api::{CanaryStatus, ChittyDeployment, Target};
use crate::controller::apply::{apply, delete_if_present};
use crate::controller::rollouts_of;
use crate::pipeline::canary;
use crate::pipeline::machine::Outcome;
use crate::pipeline::rollouts::last_successful;
use crate::workload::deployment::{self as workload, Workload};
use crate::workload::{Track, deployment_name, service as service_object, traffic};

pub async fn run(input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    if input.rollout.spec.snapshot.target == Target::Cloudflare {
        return super::deploy_edge::run(input).await;
    }
    // Prebuilt images skip the build step at planning; the image is the source's.
    if input.status.image.is_none() {
        input.status.image = input.rollout.spec.snapshot.source.image.clone();
    }
    let Some(image) = input.status.image.clone() else {
        return Ok(Outcome::Failed(
            "no image to deploy: the build did not produce one".into(),
        ));
    };
    let ns = input.namespace();
    let deployments: Api<Deployment> = Api::namespaced(input.ctx.client.clone(), &ns);
    let services: Api<Service> = Api::namespaced(input.ctx.client.clone(), &ns);
    let name = input.service.name_any();
    let stable = stable_rollout(input);

    let message = match (input.canary(), &stable) {
        (Some(canary), Some(stable)) => {
            let weight = canary.effective_steps()[0].weight;
            place_canary(input, stable, &image, weight).await?
        }
        (canary, _) => {
            apply(
                &deployments,
                &workload::build(&Workload {
                    service: input.service,
                    snapshot: &input.rollout.spec.snapshot,
                    image: &image,
                    revision: &input.rollout.spec.revision,
                    rollout: &input.rollout.name_any(),
                    track: Track::Stable,
                    replicas: crate::workload::desired::replicas(input.service),
                }),
            )
            .await?;
            // A canary can only be left over from an earlier canary rollout of this service.
            if rollouts_of(&input.ctx.caches, input.service)
                .iter()
                .any(|d| d.status.as_ref().is_some_and(|s| s.canary.is_some()))
            {
                delete_if_present(&deployments, &deployment_name(&name, Track::Canary)).await?;
            }
            if canary.is_some() {
                format!(
                    "applied {image}; no stable revision yet, so the first rollout replaces directly"
                )
            } else {
                format!("applied {image} to Deployment {name}")
            }
        }
    };
    let weighted = traffic::mechanism(&input.ctx.config.routing).weighted();
    apply(&services, &service_object::build(input.service, weighted)).await?;
    Ok(Outcome::Done(message))
}

/// Runs the canary beside `stable`, sized for `weight` percent of the service: the canary
/// Deployment, the stable one, and the canary's own Service. Weighted routing gives the canary its
/// share whatever its size, so the stable side keeps every pod; split by pods, the two share the
/// service's size. Called at the deploy step and again at each canary step.
pub async fn place_canary(
    input: &mut StepInput<'_>,
    stable: &ChittyDeployment,
    image: &str,
    weight: i32,
) -> crate::Result<String> {
    let ns = input.namespace();
    let deployments: Api<Deployment> = Api::namespaced(input.ctx.client.clone(), &ns);
    let services: Api<Service> = Api::namespaced(input.ctx.client.clone(), &ns);
    // While an autoscaler owns the replica count, a canary is sized from its minimum and the
    // stable Deployment's count is left to it.
    let autoscaled = input.service.spec.autoscaling.as_ref();
    let replicas = autoscaled.map_or(input.service.spec.replicas, |a| a.min_replicas);
    let mechanism = traffic::mechanism(&input.ctx.config.routing);
    let (canary_replicas, stable_replicas) = match canary::split(replicas, weight) {
        (canary, _) if mechanism.weighted() => (canary, replicas),
        split => split,
    };
    let stable_image = stable
        .status
        .as_ref()
        .and_then(|s| s.image.clone())
        .unwrap_or_default();
    // The canary first: its label names this rollout, and the workload controller leaves a
    // service's Deployments alone while one of them was applied by a rollout in flight. Applied
    // second, the stable Deployment's new size is never taken for drift.
    apply(
        &deployments,
        &workload::build(&Workload {
            service: input.service,
            snapshot: &input.rollout.spec.snapshot,
            image,
            revision: &input.rollout.spec.revision,
            rollout: &input.rollout.name_any(),
            track: Track::Canary,
            replicas: Some(canary_replicas),
        }),
    )
    .await?;
    apply(
        &deployments,
        &workload::build(&Workload {
            service: input.service,
            snapshot: &stable.spec.snapshot,
            image: &stable_image,
            revision: &stable.spec.revision,
            rollout: &stable.name_any(),
            track: Track::Stable,
            replicas: autoscaled.is_none().then_some(stable_replicas),
        }),
    )
    .await?;
    apply(&services, &service_object::canary(input.service)).await?;
    let previous = input.status.canary.take().unwrap_or_default();
    input.status.canary = Some(CanaryStatus {
        canary_replicas,
        stable_replicas,
        percent: weight,
        stable_deployment: Some(stable.name_any()),
        state: previous.state.clone().or(Some("Starting".into())),
        mechanism: Some(mechanism.as_str().into()),
        ..previous
    });
    Ok(format!(
        "canary {image} on {canary_replicas} of {} pods beside stable {}",
        canary_replicas + stable_replicas,
        stable.name_any()
    ))
}

/// The rollout whose revision serves now: the service's last success other than this rollout.
pub fn stable_rollout(input: &StepInput) -> Option<ChittyDeployment> {
    let owned = rollouts_of(&input.ctx.caches, input.service);
    let others: Vec<ChittyDeployment> = owned
        .into_iter()
        .filter(|d| d.name_any() != input.rollout.name_any())
        .collect();
    last_successful(&others).cloned()
}
