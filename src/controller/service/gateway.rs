//! Gateway mode: a cluster service's held routes as HTTPRoutes attached to the configured
//! Gateway (see `workload::httproute`), applied when they differ, and those no longer wanted (the
//! service holds no route of that path set any more, or runs on Cloudflare) deleted.

use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::api::{ChittyService, Target};
use crate::config::GatewayRef;
use crate::controller::Context;
use crate::controller::apply::{apply, delete_if_present};
use crate::labels;
use crate::workload::gateway_api::HTTPRoute;
use crate::workload::httproute;
use crate::workload::ingress::HeldRoute;

/// Converges the service's HTTPRoutes; returns them as they are now (with the Gateway's status),
/// for the `Routed` condition. A route deleted or edited by hand is written back.
pub async fn sync(
    ctx: &Context,
    service: &ChittyService,
    held: &[HeldRoute],
    gateway: &GatewayRef,
    traffic: crate::workload::traffic::Traffic,
) -> crate::Result<Vec<HTTPRoute>> {
    let desired = match service.spec.target {
        Target::Cluster => httproute::build(service, held, gateway, traffic),
        Target::Cloudflare => Default::default(),
    };
    let api: Api<HTTPRoute> = ctx.api_for(service);
    let ns = service.namespace().unwrap_or_default();
    let mut current = Vec::new();
    for (name, route) in &desired {
        let cached = ctx.caches.httproutes.get(&ObjectRef::new(name).within(&ns));
        match cached {
            Some(c) if owned_by(&c, service) && httproute::is_current(&c, route) => {
                current.push((*c).clone());
            }
            // Missing, changed, or (not ours) refused by `apply` with NameInUse.
            _ => {
                let applied = apply(&api, route).await?;
                tracing::info!(service = %service.name_any(), route = %name, "applied HTTPRoute");
                current.push(applied);
            }
        }
    }
    for stale in owned(ctx, service) {
        if !desired.contains_key(&stale.name_any()) {
            delete_if_present(&api, &stale.name_any()).await?;
            tracing::info!(service = %service.name_any(), route = %stale.name_any(), "removed HTTPRoute no longer wanted");
        }
    }
    Ok(current)
}

/// The HTTPRoutes in the cache that this very service controls.
fn owned(ctx: &Context, service: &ChittyService) -> Vec<HTTPRoute> {
    ctx.caches
        .httproutes
        .state()
        .iter()
        .filter(|r| r.namespace() == service.namespace())
        .filter(|r| r.labels().get(labels::SERVICE) == Some(&service.name_any()))
        .filter(|r| owned_by(r, service))
        .map(|r| (**r).clone())
        .collect()
}

fn owned_by(route: &HTTPRoute, service: &ChittyService) -> bool {
    route
        .owner_references()
        .iter()
        .any(|o| Some(&o.uid) == service.uid().as_ref() && o.controller == Some(true))
}
