//! `deploy` for a Cloudflare target: the wrangler Job clones, installs and builds the revision,
//! then deploys it, a Worker bound to exactly the routes the service holds. When it succeeds the
//! rollout records the Worker version wrangler reported, which a later rollback restores.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, ResourceExt};

use super::{StepInput, job_pod};
use crate::api::{CloudflareStatus, ServiceType};
use crate::controller::apply::{apply, get_opt};
use crate::pipeline::machine::Outcome;
use crate::workload::build_job::{JobState, failed_stage, job_state, substeps};
use crate::workload::cloudflare::{self, patterns, result};

pub async fn run(input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    let ns = input.namespace();
    let jobs: Api<Job> = Api::namespaced(input.ctx.client.clone(), &ns);
    let name = cloudflare::deploy_job_name(&input.rollout.name_any());
    let job = match get_opt(&jobs, &name).await? {
        Some(job) => job,
        None => {
            // The Worker is bound to the routes it holds, so those must be decided first.
            if let Some(waiting) = super::routes::wait_for_decisions(input) {
                return Ok(Outcome::Waiting(waiting));
            }
            let routes = bindable_routes(input.service);
            let snapshot = &input.rollout.spec.snapshot;
            let job = cloudflare::deploy_job(
                &input.ctx.config.build,
                input.service,
                input.rollout,
                &name,
                snapshot,
                &routes,
            );
            apply(&jobs, &job).await?
        }
    };
    Ok(match job_state(&job) {
        JobState::Running => Outcome::Waiting(format!("wrangler Job {name} is running")),
        JobState::Succeeded => {
            let pod = job_pod(input.ctx, &ns, &name).await?;
            let deployed = result::from_pod(pod.as_ref()).unwrap_or_default();
            let routes = cloudflare::jobs::routes_of(&job);
            let message = match &deployed.version_id {
                Some(v) => format!(
                    "deployed Worker version {v} with wrangler, bound to {} route patterns",
                    routes.len()
                ),
                None => format!(
                    "deployed with wrangler, bound to {} route patterns",
                    routes.len()
                ),
            };
            input.status.cloudflare = Some(CloudflareStatus {
                version_id: deployed.version_id.or(deployed.deployment_id),
                worker_name: deployed.worker_name,
                routes,
                ..Default::default()
            });
            Outcome::Done(message)
        }
        JobState::Failed(why) => {
            let pod = job_pod(input.ctx, &ns, &name).await?;
            Outcome::Failed(format!(
                "wrangler Job {name} failed: {}",
                failure(pod.as_ref(), &job, why)
            ))
        }
    })
}

/// Routes a Worker is bound to; a Pages project answers on its own domains and binds none.
pub fn bindable_routes(service: &crate::api::ChittyService) -> Vec<String> {
    match service.spec.service_type {
        ServiceType::Frontend => vec![],
        _ => patterns::held(service),
    }
}

/// Why a Job failed: the failed stage and its last output where the pod tells, else the Job's
/// own reason (a deadline, a refused pod).
pub fn failure(pod: Option<&Pod>, job: &Job, why: String) -> String {
    let stages = cloudflare::jobs::container_names(job);
    let names: Vec<&str> = stages.iter().map(String::as_str).collect();
    let steps = substeps(pod, &names);
    match failed_stage(&steps) {
        Some(stage) => format!(
            "{} {}",
            stage.name.trim_start_matches("build/"),
            stage.message.clone().unwrap_or_else(|| "failed".into())
        ),
        None => why,
    }
}
