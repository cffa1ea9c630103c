//! Rolling back a Cloudflare target for real: a Job puts the last good rollout back on
//! Cloudflare (`wrangler rollback` to the Worker version it recorded, or a redeploy of its
//! revision where none was recorded, as for Pages), and the rollout says `RolledBack` only once
//! that Job succeeded. A failed rollback ends the rollout `Failed`, saying so and why.

use k8s_openapi::api::batch::v1::Job;
use kube::{Api, ResourceExt};

use super::steps::StepInput;
use super::steps::deploy_edge::{bindable_routes, failure};
use super::steps::job_pod;
use crate::api::{ChittyDeployment, DeploymentPhase, EdgeJob, ServiceType};
use crate::controller::apply::{apply, get_opt};
use crate::pipeline::machine;
use crate::workload::build_job::{JobState, job_state};
use crate::workload::cloudflare;

/// Whether a rollback Job is in flight for this rollout.
pub fn in_flight(status: &crate::api::ChittyDeploymentStatus) -> bool {
    (status.cloudflare.as_ref())
        .and_then(|c| c.rollback.as_ref())
        .is_some_and(EdgeJob::is_running)
}

/// Starts (or finds) the Job that returns the service to `to`, then looks at it.
pub async fn start(input: &mut StepInput<'_>, to: &ChittyDeployment) -> crate::Result<()> {
    let ns = input.namespace();
    let jobs: Api<Job> = Api::namespaced(input.ctx.client.clone(), &ns);
    let name = cloudflare::rollback_job_name(&input.rollout.name_any());
    let recorded = to.status.as_ref().and_then(|s| s.cloudflare.as_ref());
    let version = recorded.and_then(|c| Some((c.version_id.clone()?, c.worker_name.clone()?)));
    let worker = input.rollout.spec.snapshot.service_type != ServiceType::Frontend;
    let (job, what) = match version {
        Some((version, worker_name)) if worker => {
            let reason = input.status.error.clone().unwrap_or_default();
            (
                cloudflare::roll_back_job(
                    &input.ctx.config.build,
                    input.service,
                    input.rollout,
                    &version,
                    &worker_name,
                    &crate::names::truncated(&reason, 200),
                ),
                format!(
                    "wrangler rollback to Worker version {version} of {}",
                    to.name_any()
                ),
            )
        }
        _ => (
            cloudflare::deploy_job(
                &input.ctx.config.build,
                input.service,
                input.rollout,
                &name,
                &to.spec.snapshot,
                &bindable_routes(input.service),
            ),
            format!(
                "redeploying {}'s version {} (no Worker version was recorded to return to)",
                to.name_any(),
                to.spec.snapshot.version
            ),
        ),
    };
    if get_opt(&jobs, &name).await?.is_none() {
        apply(&jobs, &job).await?;
    }
    let cf = input.status.cloudflare.get_or_insert_with(Default::default);
    if cf.rollback.is_none() {
        cf.rollback = Some(EdgeJob {
            job: name,
            state: EdgeJob::RUNNING.into(),
            message: Some(what),
            to: Some(to.name_any()),
            routes: vec![],
        });
    }
    watch(input).await
}

/// Ends the rollout once its rollback Job has: `RolledBack` when it succeeded, `Failed` (with
/// "rollback failed" and the Job's reason) when it did not.
pub async fn watch(input: &mut StepInput<'_>) -> crate::Result<()> {
    let Some(rollback) = (input.status.cloudflare.as_ref()).and_then(|c| c.rollback.clone()) else {
        return Ok(());
    };
    let ns = input.namespace();
    let jobs: Api<Job> = Api::namespaced(input.ctx.client.clone(), &ns);
    let now = input.now.clone();
    let state = match get_opt(&jobs, &rollback.job).await? {
        Some(job) => match job_state(&job) {
            JobState::Running => return Ok(()),
            JobState::Succeeded => Ok(()),
            JobState::Failed(why) => {
                let pod = job_pod(input.ctx, &ns, &rollback.job).await?;
                Err(failure(pod.as_ref(), &job, why))
            }
        },
        None => Err(format!("the rollback Job {} is gone", rollback.job)),
    };
    let error = input.status.error.clone().unwrap_or_default();
    let cf = input.status.cloudflare.get_or_insert_with(Default::default);
    let record = cf.rollback.as_mut().expect("checked above");
    match state {
        Ok(()) => {
            record.state = EdgeJob::SUCCEEDED.into();
            input.status.rolled_back_to = rollback.to.clone();
            machine::finish(input.status, DeploymentPhase::RolledBack, &now);
            super::steps::integrations::send_event(
                input,
                crate::clients::EventType::ServiceRolledBack,
            )
            .await;
        }
        Err(why) => {
            record.state = EdgeJob::FAILED.into();
            record.message = Some(why.clone());
            machine::finish(input.status, DeploymentPhase::Failed, &now);
            input.status.error = Some(format!(
                "{error}; rollback failed: rollback Job {} failed: {why}; the failed revision may still be live on Cloudflare",
                rollback.job
            ));
        }
    }
    Ok(())
}
