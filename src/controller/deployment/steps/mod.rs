//! One module a step; each runs its step once and says how it went. Steps are idempotent: they
//! converge objects with server-side apply and read progress back, so re-running one after a
//! crash repeats no side effect.

pub mod build;
pub mod canary;
pub mod canary_control;
pub mod deploy;
pub mod deploy_edge;
pub mod health;
pub mod integrations;
pub mod routes;
#[cfg(test)]
mod tests;

use kube::ResourceExt;

use crate::advisor::Decision;
use crate::api::{
    CanarySpec, ChittyDeployment, ChittyDeploymentStatus, ChittyService, StrategyType,
};
use crate::controller::Context;
use crate::pipeline::machine::Outcome;
use crate::pipeline::plan::Step;

/// Everything a step may look at or change.
pub struct StepInput<'a> {
    pub ctx: &'a Context,
    pub service: &'a ChittyService,
    pub rollout: &'a ChittyDeployment,
    pub status: &'a mut ChittyDeploymentStatus,
    pub now: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
    /// The service's ChittyID, once known (from status, or minted in this reconcile).
    pub chitty_id: Option<String>,
    /// Conditions a step reports about itself (`IdentityReady`, `Registered`).
    pub conditions: Vec<crate::api::conditions::Desired>,
    /// When a waiting step wants to be looked at again, if it knows better than the default.
    pub retry_after: Option<std::time::Duration>,
    /// A ChittyID the identity step minted in this reconcile and that is not recorded yet.
    pub minted: Option<String>,
}

impl StepInput<'_> {
    pub fn namespace(&self) -> String {
        self.rollout.namespace().unwrap_or_else(|| "default".into())
    }

    /// The canary this rollout runs, if it runs one: the spec's for `strategy: canary`, the
    /// advisor's for `strategy: auto` when it planned a canary.
    pub fn canary(&self) -> Option<CanarySpec> {
        match self.rollout.spec.strategy {
            StrategyType::Immediate => None,
            StrategyType::Canary => {
                Some((self.rollout.spec.snapshot.strategy.canary.clone()).unwrap_or_default())
            }
            StrategyType::Auto => {
                let plan = self.status.plan.as_ref()?;
                (plan.followed && plan.decision == Decision::Canary.as_str()).then(|| {
                    let default = CanarySpec::default();
                    CanarySpec {
                        percent: plan.canary_percent.unwrap_or(default.percent),
                        monitor_duration: (plan.monitor_duration.clone())
                            .unwrap_or(default.monitor_duration),
                        ..default
                    }
                })
            }
        }
    }
}

/// The pod a Job ran, if it still exists (a build Job's, or a wrangler Job's).
pub async fn job_pod(
    ctx: &Context,
    ns: &str,
    job: &str,
) -> crate::Result<Option<k8s_openapi::api::core::v1::Pod>> {
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(ctx.client.clone(), ns);
    let params = kube::api::ListParams::default().labels(&format!("job-name={job}"));
    Ok(pods.list(&params).await?.items.into_iter().next())
}

/// Condition types that steps report on the rollout, and the service mirrors.
pub const STEP_CONDITIONS: [&str; 2] = [
    crate::api::conditions::types::IDENTITY_READY,
    crate::api::conditions::types::REGISTERED,
];

pub async fn run(step: Step, input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    match step {
        Step::Build => build::run(input).await,
        Step::Deploy => deploy::run(input).await,
        Step::Identity => {
            let outcome = integrations::identity(input).await?;
            // A minted ID is written to the service's status at once, before anything else can
            // fail; the mint itself is keyed by the service's UID, so a crash before this line
            // mints the same ID again.
            if let Some(id) = input.minted.take() {
                integrations::record_chitty_id(input, &id).await?;
            }
            Ok(outcome)
        }
        Step::Register => integrations::register(input).await,
        Step::Routes => routes::run(input).await,
        Step::Health => health::run(input).await,
        Step::Notify => integrations::notify(input).await,
    }
}
