//! The ChittyService controller: one ChittyDeployment per new revision, pruned history, and a
//! truthful status.

pub mod finalizer;
pub mod gateway;
pub mod gateway_status;
pub mod health;
pub mod refused;
pub mod registry;
pub mod route_summary;
pub mod routes;
pub mod status;
pub mod traffic;

use std::sync::Arc;

use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use std::collections::BTreeMap;

use super::{CATCH_UP, Context, now};
use crate::api::conditions::events;
use crate::api::{ChittyDeployment, ChittyDeploymentSpec, ChittyService, LocalServiceRef};
use crate::controller::events::publish;
use crate::labels;
use crate::pipeline::rollouts::{self, NewRollout, RolloutAction};

pub const NAME: &str = "chittyservice";

pub async fn reconcile(service: Arc<ChittyService>, ctx: Arc<Context>) -> crate::Result<Action> {
    let _timer = ctx.metrics.reconcile(NAME);
    if service.meta().deletion_timestamp.is_some() {
        ctx.refusals.forget(&service);
        ctx.probes.settle_service(&service, false);
        return finalizer::on_delete(&ctx, &service).await;
    }
    match converge(&service, &ctx).await {
        // Retrying alone cannot fix a refusal: say so on status now, then back off (the error
        // goes on to the error policy, which spaces the retries out per object).
        Err(e) => match e.refusal() {
            Some(why) => {
                refused::report(&ctx, &service, &why).await?;
                Err(e)
            }
            None => Err(e),
        },
        ok => ok,
    }
}

async fn converge(service: &Arc<ChittyService>, ctx: &Arc<Context>) -> crate::Result<Action> {
    let (service, ctx) = (service.clone(), ctx.clone());
    if ctx.cache_behind(&*service) {
        return Ok(Action::requeue(CATCH_UP));
    }
    finalizer::ensure(&ctx, &service).await?;
    let revision = crate::revision::of(&service.spec);
    let mut owned = super::rollouts_of(&ctx.caches, &service);

    // A spec an older CRD admitted but the operator cannot act on gets no rollout; the
    // serving revision keeps serving and the status names every problem.
    let problems = crate::pipeline::spec_check::problems(&service.spec);
    if problems.is_empty()
        && let RolloutAction::Create(new) = rollouts::decide(&service, &revision, &owned)
    {
        let created = create_rollout(&ctx, &service, &revision, &new).await?;
        owned.push(created);
    }
    let pruned = prune_history(&ctx, &service, &owned).await?;
    owned.retain(|d| !pruned.contains(&d.name_any()));
    // The canary's share comes from the rollouts already in hand, not a second copy of them.
    let routing = routes::reconcile(&ctx, &service, traffic::of(&owned)).await?;

    let now = now();
    let current = rollouts::newest(&owned);
    let serving = rollouts::serving(&owned);
    // The serving revision is watched whatever the newest rollout did (a rolled-back service is
    // still checked); while a rollout runs, its health step does the probing.
    let checked = match (serving, current) {
        (Some(serving), Some(newest)) if !rollouts::is_in_flight(newest) => {
            Some(health::check_service(&ctx, &service, serving, &now))
        }
        _ => None,
    };
    let mut again = checked.as_ref().map(health::Checked::again);
    let watched = checked.is_some();
    let probed = match checked {
        Some(health::Checked::Probed(p)) => Some(p),
        _ => None,
    };
    let mut refused = ctx.refusals.of(&service);
    if !problems.is_empty() {
        refused.insert(
            0,
            crate::Refusal {
                reason: crate::api::conditions::reasons::INVALID_SPEC,
                message: format!("the spec is invalid: {}", problems.join("; ")),
            },
        );
    }
    let seen = status::Observed {
        revision: &revision,
        refused: &refused,
        current,
        last_successful: rollouts::last_successful(&owned),
        owned: &owned,
        routing: &routing,
        now: &now,
    };
    let mut desired = status::compute(&service, &seen);
    if let Some(p) = &probed {
        desired.health = Some(p.summary.clone());
    } else if watched
        && desired
            .health
            .as_ref()
            .is_none_or(|h| h.status == crate::api::HealthState::Unknown)
        && let (Some(newest), Some(serving)) = (current, serving)
        && let Some(seed) = health::seeded_by_rollout(newest, serving, &now)
    {
        desired.health = Some(seed);
    }
    // Applied on every reconcile between rollouts, not only those that took a new result: the
    // others carry the stored health over, and must not turn a down service Ready again.
    if watched {
        let stored = service
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default();
        status::apply_health(&mut desired, &stored, &now);
    }
    // What runs is reported between rollouts; while one runs, its Deployment's size moves with
    // it and the rollout's end writes the result, so the service is not written at every step.
    desired.replicas = match current {
        Some(newest) if rollouts::is_in_flight(newest) => {
            service.status.as_ref().and_then(|s| s.replicas)
        }
        _ => serving_replicas(&ctx, &service),
    };
    let health = desired.health.clone().unwrap_or_default();
    let registry = registry::sync(&ctx, &service, &owned, health.status).await;
    desired.registry_record = registry.record;
    if let Some(words) = &registry.mismatch {
        registry::mark_mismatch(
            &mut desired.conditions,
            words,
            service.metadata.generation,
            &now,
        );
    }
    let api: Api<ChittyService> = ctx.api_for(&*service);
    if ctx
        .write_status(&api, &*service, service.status.as_ref(), &desired)
        .await?
    {
        let previous = service.status.as_ref().map(|s| s.conditions.as_slice());
        routes::announce(
            &ctx,
            &service,
            previous.unwrap_or_default(),
            &desired.conditions,
        )
        .await;
    }
    if health::settle(&ctx, &service, watched, desired.health.as_ref()) {
        again = again.map(|a| a.max(crate::probe::book::QUIET_RECHECK));
    }
    if let Some(p) = probed.filter(|p| p.changed) {
        let mut seen_service = (*service).clone();
        seen_service.status = Some(desired.clone());
        health::on_change(&ctx, &seen_service, p.previous, &p.summary, &owned).await?;
    }
    if let Some(retry) = registry.retry {
        again = Some(again.map_or(retry, |a| a.min(retry)));
    }
    Ok(again
        .map(Action::requeue)
        .unwrap_or_else(Action::await_change))
}

/// The serving Deployment's replica count as it runs (an autoscaler may have set it).
fn serving_replicas(ctx: &Context, service: &ChittyService) -> Option<i32> {
    let name =
        crate::workload::deployment_name(&service.name_any(), crate::workload::Track::Stable);
    let reference = kube::runtime::reflector::ObjectRef::new(&name)
        .within(&service.namespace().unwrap_or_default());
    ctx.caches
        .workloads
        .get(&reference)
        .filter(|d| {
            d.owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && Some(&o.uid) == service.uid().as_ref())
        })
        .and_then(|d| d.unpack().ok())
        .and_then(|d| d.spec.and_then(|s| s.replicas))
}

async fn create_rollout(
    ctx: &Context,
    service: &ChittyService,
    revision: &str,
    new: &NewRollout,
) -> crate::Result<ChittyDeployment> {
    let api: Api<ChittyDeployment> = ctx.api_for(service);
    let rollout = ChittyDeployment {
        metadata: ObjectMeta {
            name: Some(new.name.clone()),
            namespace: service.namespace(),
            labels: Some(BTreeMap::from([
                (labels::SERVICE.to_string(), service.name_any()),
                (labels::REVISION.to_string(), revision.to_string()),
                (labels::MANAGED_BY.to_string(), labels::MANAGER.to_string()),
                crate::shard::bucket::label_for(service),
            ])),
            owner_references: service.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        spec: ChittyDeploymentSpec {
            service_ref: LocalServiceRef {
                name: service.name_any(),
                uid: service.uid(),
            },
            revision: revision.to_string(),
            snapshot: service.spec.clone(),
            trigger: new.trigger,
            strategy: new.strategy,
        },
        status: None,
    };
    match api.create(&PostParams::default(), &rollout).await {
        Ok(created) => {
            tracing::info!(service = %service.name_any(), rollout = %new.name, trigger = ?new.trigger, "created rollout");
            let note = format!(
                "rollout {} of revision {revision} ({:?})",
                new.name, new.trigger
            );
            publish(
                ctx,
                service,
                EventType::Normal,
                events::ROLLOUT_CREATED,
                note,
            )
            .await;
            Ok(created)
        }
        // Created by an earlier reconcile whose result the cache hasn't shown yet: the name is
        // deterministic, so this is the same rollout.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(api.get(&new.name).await?),
        Err(e) => Err(e.into()),
    }
}

async fn prune_history(
    ctx: &Context,
    service: &ChittyService,
    owned: &[ChittyDeployment],
) -> crate::Result<Vec<String>> {
    let limit = service.spec.revision_history_limit.max(1) as usize;
    let api: Api<ChittyDeployment> = ctx.api_for(service);
    let prunable = rollouts::prunable(owned, limit);
    for name in &prunable {
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => tracing::debug!(rollout = %name, "pruned rollout history"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(prunable)
}
