//! Routes-only updates of a Cloudflare Worker: after its deploy, the serving rollout keeps the
//! Worker bound to exactly the routes its service holds. A route won or lost later (an older claim
//! appears, a conflict is settled) is bound by a Job that runs `wrangler triggers deploy` with the
//! new set, without deploying code, and the rollout records the set once that Job succeeded.

use k8s_openapi::api::batch::v1::Job;
use kube::api::DeleteParams;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use super::steps::deploy_edge::{bindable_routes, failure};
use super::steps::job_pod;
use crate::api::{
    ChittyDeployment, ChittyDeploymentStatus, ChittyService, CloudflareStatus, DeploymentPhase,
    EdgeJob, ServiceType, Target,
};
use crate::controller::Context;
use crate::controller::apply::{apply, get_opt};
use crate::controller::events::publish;
use crate::workload::build_job::{JobState, job_state};
use crate::workload::cloudflare;

/// What the serving rollout does about its Worker's routes.
#[derive(Debug, PartialEq)]
pub enum RoutesAction {
    /// The Worker is bound to the held routes (or an update to them already failed: it is not
    /// retried until the held routes change again, so a broken token costs one Job, not a loop).
    Nothing,
    /// Bind these patterns.
    Start(Vec<String>),
    /// An update is running.
    Watch(EdgeJob),
}

/// Pure: what to do, from the held patterns and what the rollout recorded.
pub fn decide(held: &[String], recorded: &CloudflareStatus) -> RoutesAction {
    if let Some(update) = &recorded.routes_update {
        if update.is_running() {
            return RoutesAction::Watch(update.clone());
        }
        if update.state == EdgeJob::FAILED && update.routes == held {
            return RoutesAction::Nothing;
        }
    }
    if recorded.routes == held {
        RoutesAction::Nothing
    } else {
        RoutesAction::Start(held.to_vec())
    }
}

/// Whether this finished rollout serves a Cloudflare Worker and so keeps its routes.
pub fn applies(
    service: &ChittyService,
    rollout: &ChittyDeployment,
    status: &ChittyDeploymentStatus,
) -> bool {
    rollout.spec.snapshot.target == Target::Cloudflare
        && rollout.spec.snapshot.service_type != ServiceType::Frontend
        && status.phase == Some(DeploymentPhase::Succeeded)
        && status.cloudflare.is_some()
        && (service.status.as_ref()).and_then(|s| s.current_deployment.as_deref())
            == rollout.metadata.name.as_deref()
}

pub async fn keep(
    ctx: &Context,
    service: &ChittyService,
    rollout: &ChittyDeployment,
    status: &mut ChittyDeploymentStatus,
) -> crate::Result<()> {
    let held = bindable_routes(service);
    let recorded = status.cloudflare.get_or_insert_with(Default::default);
    let ns = rollout.namespace().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    match decide(&held, recorded) {
        RoutesAction::Nothing => Ok(()),
        RoutesAction::Start(routes) => {
            let job = cloudflare::routes_job(&ctx.config.build, service, rollout, &routes);
            let name = job.name_any();
            // A Job of this name binding this set earlier is finished; it goes before a new one.
            if let Some(old) = get_opt(&jobs, &name).await? {
                if old.metadata.deletion_timestamp.is_none() {
                    jobs.delete(&name, &DeleteParams::background()).await?;
                }
                return Ok(());
            }
            apply(&jobs, &job).await?;
            recorded.routes_update = Some(EdgeJob {
                job: name,
                state: EdgeJob::RUNNING.into(),
                message: Some(format!(
                    "binding the Worker to {} route patterns without a redeploy",
                    routes.len()
                )),
                to: None,
                routes,
            });
            Ok(())
        }
        RoutesAction::Watch(update) => {
            let Some(job) = get_opt(&jobs, &update.job).await? else {
                // Deleted under us: start over from what is held now.
                recorded.routes_update = None;
                return Ok(());
            };
            let outcome = match job_state(&job) {
                JobState::Running => return Ok(()),
                JobState::Succeeded => Ok(()),
                JobState::Failed(why) => {
                    let pod = job_pod(ctx, &ns, &update.job).await?;
                    Err(failure(pod.as_ref(), &job, why))
                }
            };
            let record = recorded.routes_update.as_mut().expect("watched above");
            match outcome {
                Ok(()) => {
                    record.state = EdgeJob::SUCCEEDED.into();
                    recorded.routes = update.routes.clone();
                }
                Err(why) => {
                    record.state = EdgeJob::FAILED.into();
                    let message = format!("routes-only update Job {} failed: {why}", update.job);
                    record.message = Some(message.clone());
                    publish(
                        ctx,
                        rollout,
                        EventType::Warning,
                        "RoutesUpdateFailed",
                        message,
                    )
                    .await;
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(routes: &[&str], update: Option<(&str, &[&str])>) -> CloudflareStatus {
        CloudflareStatus {
            routes: routes.iter().map(|r| r.to_string()).collect(),
            routes_update: update.map(|(state, routes)| EdgeJob {
                job: "j".into(),
                state: state.into(),
                routes: routes.iter().map(|r| r.to_string()).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn held(routes: &[&str]) -> Vec<String> {
        routes.iter().map(|r| r.to_string()).collect()
    }

    #[test]
    fn bound_routes_need_nothing_and_a_change_starts_an_update() {
        assert_eq!(
            decide(&held(&["a/*"]), &recorded(&["a/*"], None)),
            RoutesAction::Nothing
        );
        assert_eq!(
            decide(&held(&[]), &recorded(&["a/*"], None)),
            RoutesAction::Start(vec![]),
            "a lost route is unbound"
        );
    }

    #[test]
    fn a_running_update_is_watched_and_a_failed_one_is_not_retried_for_the_same_routes() {
        let running = recorded(&["a/*"], Some((EdgeJob::RUNNING, &["b/*"])));
        assert!(matches!(
            decide(&held(&["c/*"]), &running),
            RoutesAction::Watch(_)
        ));
        let failed = recorded(&["a/*"], Some((EdgeJob::FAILED, &["b/*"])));
        assert_eq!(decide(&held(&["b/*"]), &failed), RoutesAction::Nothing);
        assert_eq!(
            decide(&held(&["c/*"]), &failed),
            RoutesAction::Start(held(&["c/*"]))
        );
    }
}
