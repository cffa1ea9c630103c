//! `build`: a Job that clones, installs, tests and builds the image of a git-sourced revision.
//! A revision built before (by any rollout the service still has) is not built again.

use k8s_openapi::api::batch::v1::Job;
use kube::{Api, ResourceExt};

use super::StepInput;
use crate::api::{DeploymentPhase, StepPhase, Target};
use crate::controller::apply::{apply, get_opt};
use crate::pipeline::machine::Outcome;
use crate::workload::build_job::{self, JobState};

pub async fn run(input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    let snapshot = &input.rollout.spec.snapshot;
    if snapshot.source.git.is_none() {
        input.status.image = snapshot.source.image.clone();
        return Ok(Outcome::Skipped("prebuilt image; nothing to build".into()));
    }
    if let Some((image, by)) = earlier_build(input) {
        input.status.image = Some(image.clone());
        return Ok(Outcome::Done(format!(
            "revision was built before by {by}; reusing {image}"
        )));
    }
    let image = build_job::image_for(
        &input.ctx.config.build,
        input.service,
        &input.rollout.spec.revision,
    );
    let jobs: Api<Job> = Api::namespaced(input.ctx.client.clone(), &input.namespace());
    let name = build_job::job_name(&input.rollout.name_any());
    let job = match get_opt(&jobs, &name).await? {
        Some(job) => job,
        None => {
            apply(
                &jobs,
                &build_job::build(
                    &input.ctx.config.build,
                    input.service,
                    input.rollout,
                    &image,
                ),
            )
            .await?
        }
    };
    let pod = super::job_pod(input.ctx, &input.namespace(), &name).await?;
    let stages = build_job::stages(input.rollout.spec.snapshot.target);
    let substeps = build_job::substeps(pod.as_ref(), &stages);
    record_substeps(input, &substeps);
    Ok(match build_job::job_state(&job) {
        JobState::Running => Outcome::Waiting(format!("build Job {name} is running")),
        JobState::Succeeded => {
            input.status.image = Some(image.clone());
            if input.rollout.spec.snapshot.target == Target::Cloudflare {
                Outcome::Done(
                    "installed, tested and built; wrangler deploys a fresh build of this revision"
                        .into(),
                )
            } else {
                Outcome::Done(format!("built and pushed {image}"))
            }
        }
        JobState::Failed(why) => match build_job::failed_stage(&substeps) {
            Some(stage) => Outcome::Failed(format!(
                "{} {}",
                stage.name,
                stage.message.clone().unwrap_or_else(|| "failed".into())
            )),
            None => Outcome::Failed(why),
        },
    })
}

/// The image built for this revision by an earlier rollout whose build succeeded.
fn earlier_build(input: &StepInput) -> Option<(String, String)> {
    let ns = input.rollout.namespace();
    // An earlier rollout of the same revision has the same owner: the index names them.
    let owner = (input.rollout.owner_references().iter()).find(|o| o.controller == Some(true))?;
    let caches = &input.ctx.caches;
    let earlier = (caches.rollout_index.owned_by(&owner.uid).into_iter())
        .filter_map(|reference| caches.rollouts.get(&reference)?.unpack().ok());
    earlier.into_iter().find_map(|d| {
        let status = d.status.as_ref()?;
        let built = status
            .steps
            .iter()
            .any(|s| s.name == "build" && s.phase == StepPhase::Succeeded);
        let same = d.namespace() == ns
            && d.spec.service_ref.name == input.rollout.spec.service_ref.name
            && d.spec.revision == input.rollout.spec.revision
            && d.name_any() != input.rollout.name_any();
        let usable = status.phase != Some(DeploymentPhase::Pending);
        (same && built && usable)
            .then(|| (status.image.clone(), d.name_any()))
            .and_then(|(i, n)| Some((i?, n)))
    })
}

/// Puts the `build/<stage>` sub-steps right after `build`, replacing earlier copies.
fn record_substeps(input: &mut StepInput, substeps: &[crate::api::StepStatus]) {
    let steps = &mut input.status.steps;
    steps.retain(|s| !s.name.starts_with("build/"));
    let at = steps
        .iter()
        .position(|s| s.name == "build")
        .map(|i| i + 1)
        .unwrap_or(0);
    for (i, s) in substeps.iter().enumerate() {
        steps.insert(at + i, s.clone());
    }
}
