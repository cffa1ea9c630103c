//! The registry record outlives nothing: a finalizer retires it when its ChittyService is
//! deleted. Deletion never hangs on an unreachable registry: after a bounded effort it goes on,
//! records an Event and logs the orphan for an operator to clean.

use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use std::time::Duration;

use crate::api::ChittyService;
use crate::api::conditions::events;
use crate::controller::Context;
use crate::controller::events::publish;
use crate::integrations::Binding;

pub const FINALIZER: &str = "chitty.cc/registry-record";

pub fn has_finalizer(service: &ChittyService) -> bool {
    service.finalizers().iter().any(|f| f == FINALIZER)
}

/// Adds the finalizer when a registry is configured, before anything can be registered.
pub async fn ensure(ctx: &Context, service: &ChittyService) -> crate::Result<()> {
    if ctx.integrations.registry.is_none() || has_finalizer(service) {
        return Ok(());
    }
    let mut finalizers = service.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    patch_finalizers(ctx, service, finalizers).await
}

/// On deletion: retire the record, then let the object go.
pub async fn on_delete(ctx: &Context, service: &ChittyService) -> crate::Result<Action> {
    if !has_finalizer(service) {
        return Ok(Action::await_change());
    }
    let id = service.status.as_ref().and_then(|s| s.chitty_id.clone());
    let (Some(registry), Some(id)) = (ctx.integrations.registry.clone(), id) else {
        return release(ctx, service).await;
    };
    // Only this service's own record is retired: a ChittyID someone wrote into its status
    // must not take another service's record with it.
    let retired =
        match crate::integrations::binding_of(&*registry, &ctx.integrations.bindings, service, &id)
            .await
        {
            Ok(Binding::Theirs(words)) => {
                tracing::warn!(service = %service.name_any(), chitty_id = %id, "{words}");
                let note = format!("not retired: {words}");
                publish(
                    ctx,
                    service,
                    EventType::Warning,
                    events::REGISTRY_RECORD_ORPHANED,
                    note,
                )
                .await;
                return release(ctx, service).await;
            }
            Ok(Binding::Free | Binding::Ours) => registry.retire(&id).await,
            Err(error) => Err(error),
        };
    match retired {
        Ok(outcome) => {
            let note = format!("ChittyRegistry record {id}: {outcome:?}");
            publish(
                ctx,
                service,
                EventType::Normal,
                events::REGISTRY_RECORD_RETIRED,
                note,
            )
            .await;
            release(ctx, service).await
        }
        Err(error) => {
            let waited = service
                .meta()
                .deletion_timestamp
                .as_ref()
                .map(|t| jiff::Timestamp::now().duration_since(t.0).unsigned_abs())
                .unwrap_or_default();
            let patience = ctx.config.ecosystem.retire_timeout;
            if waited < patience {
                tracing::info!(service = %service.name_any(), %error, "registry unavailable; retrying retirement");
                return Ok(Action::requeue(Duration::from_secs(5)));
            }
            tracing::warn!(
                service = %service.name_any(), namespace = ?service.namespace(), chitty_id = %id, %error,
                "orphaned registry record: deletion proceeds; retire it by hand"
            );
            let note = format!(
                "ChittyRegistry did not retire {id} within {patience:?} ({error}); the record is orphaned"
            );
            publish(
                ctx,
                service,
                EventType::Warning,
                events::REGISTRY_RECORD_ORPHANED,
                note,
            )
            .await;
            release(ctx, service).await
        }
    }
}

async fn release(ctx: &Context, service: &ChittyService) -> crate::Result<Action> {
    let remaining = service
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    patch_finalizers(ctx, service, remaining).await?;
    Ok(Action::await_change())
}

/// Replaces the finalizer list, guarded by resourceVersion so a concurrent edit is not lost.
async fn patch_finalizers(
    ctx: &Context,
    service: &ChittyService,
    finalizers: Vec<String>,
) -> crate::Result<()> {
    let api: Api<ChittyService> = ctx.api_for(service);
    let patch = serde_json::json!({
        "metadata": {"finalizers": finalizers, "resourceVersion": service.resource_version()}
    });
    match api
        .patch(
            &service.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
