//! A ChittyService's routes: one owned RouteClaim per spec route (claims that left the spec are
//! removed), `status.routes` and the `Routed` condition mirrored from the claims' decisions, and
//! the Ingress carrying exactly the routes the service holds.
//!
//! The decisions themselves are the RouteClaim controller's; this side only reads them back from
//! the claims' status, so a service is never told it holds a route its claim does not say it holds.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::Ingress;
use kube::api::ObjectMeta;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};

use crate::api::conditions::{self, reasons, types};
use crate::api::{ChittyService, RouteClaim, RouteClaimSpec, ServiceRef, Target};
use crate::controller::Context;
use crate::controller::apply::{apply, delete_if_present};
use crate::controller::events::{publish, publish_about};
use crate::labels;
use crate::workload::ingress::{self, HeldRoute, IngressSettings};
use crate::workload::ingress_nginx;

pub use crate::api::ROUTE_PENDING as PENDING;
use crate::workload::traffic::Traffic;

pub use crate::routing::claim_name;

pub use super::route_summary::{Problem, Routing, gate_readiness, summarize};

/// Converges the service's RouteClaims and Ingress and reports its routes. Claims created now are
/// `Pending` until their decision comes back through the claim watch. `traffic` is the canary's
/// share, which the routing objects carry where the routing can weigh it.
pub async fn reconcile(
    ctx: &Context,
    service: &ChittyService,
    traffic: Traffic,
) -> crate::Result<Routing> {
    let api: Api<RouteClaim> = ctx.api_for(service);
    let wanted = desired_claims(service);
    let (owned, hand_made) = claims_for(ctx, service);
    for claim in wanted.values() {
        let current = owned.iter().find(|c| c.name_any() == claim.name_any());
        if !current.is_some_and(|c| claim_is_current(c, claim)) {
            apply(&api, claim).await?;
        }
    }
    for stale in owned.iter().filter(|c| !wanted.contains_key(&c.name_any())) {
        delete_if_present(&api, &stale.name_any()).await?;
        tracing::info!(service = %service.name_any(), claim = %stale.name_any(), "removed route claim that left the spec");
    }
    let owned_refs: Vec<&RouteClaim> = owned.iter().collect();
    let hand_refs: Vec<&RouteClaim> = hand_made.iter().collect();
    let mut routing = summarize(service, &owned_refs, &hand_refs);
    // With the routes as they were, an Ingress that is missing or differs was changed by hand.
    let routes_unchanged = service
        .status
        .as_ref()
        .is_some_and(|s| s.routes == routing.summaries && !s.routes.is_empty());
    // In gateway mode the routes are HTTPRoutes, and an Ingress of the service's is removed.
    let ingresses = match ctx.config.routing.gateway_backend() {
        Some(gateway) => {
            let routes =
                super::gateway::sync(ctx, service, &routing.held, gateway, traffic).await?;
            super::gateway_status::mirror(&mut routing, &routes, gateway);
            desired_ingresses(ctx, service, &[], traffic)
        }
        None => desired_ingresses(ctx, service, &routing.held, traffic),
    };
    if let Some(applied) = sync_ingresses(ctx, service, ingresses).await?
        && routes_unchanged
    {
        let note = format!(
            "Ingress {} differed from the routes the service holds (edited or deleted by hand); restored",
            applied.name_any()
        );
        let reason = crate::api::conditions::events::DRIFT_REPAIRED;
        publish_about(ctx, service, &applied, EventType::Normal, reason, note).await;
    }
    Ok(routing)
}

/// The claims the spec asks for, by name; a route spelled twice is claimed once.
pub fn desired_claims(service: &ChittyService) -> BTreeMap<String, RouteClaim> {
    let mut wanted = BTreeMap::new();
    for route in &service.spec.routes {
        let name = claim_name(&service.name_any(), route);
        wanted.entry(name.clone()).or_insert_with(|| RouteClaim {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: service.namespace(),
                labels: Some(BTreeMap::from([
                    (labels::SERVICE.to_string(), service.name_any()),
                    (labels::MANAGED_BY.to_string(), labels::MANAGER.to_string()),
                    crate::shard::bucket::label_for(service),
                ])),
                owner_references: service.controller_owner_ref(&()).map(|o| vec![o]),
                ..Default::default()
            },
            spec: RouteClaimSpec {
                host: route.host.clone(),
                path: route.path.clone(),
                service_ref: ServiceRef {
                    name: service.name_any(),
                    namespace: None,
                },
                tls: route.tls,
                tls_secret_name: route.tls_secret_name.clone(),
            },
            status: None,
        });
    }
    wanted
}

fn claim_is_current(existing: &RouteClaim, desired: &RouteClaim) -> bool {
    let labelled = desired
        .labels()
        .iter()
        .all(|(k, v)| existing.labels().get(k) == Some(v));
    let owned = desired
        .owner_references()
        .iter()
        .all(|o| existing.owner_references().contains(o));
    existing.spec == desired.spec && labelled && owned
}

/// From the cache: the claims this very service owns, and the claims made by hand in its
/// namespace that route to it. Claims in other namespaces may name it too and compete for routes,
/// but never route traffic into it: that would let any namespace attach hosts to another's service.
/// Looked up by service (`claim_lookup`), not scanned from the fleet's claims.
fn claims_for(ctx: &Context, service: &ChittyService) -> (Vec<RouteClaim>, Vec<RouteClaim>) {
    let (owned, named) = ctx.caches.claim_lookup.of(service);
    let read = |refs: Vec<kube::runtime::reflector::ObjectRef<RouteClaim>>| -> Vec<RouteClaim> {
        (refs.iter())
            .filter_map(|r| ctx.caches.claims.get(r))
            .map(|c| (*c).clone())
            .collect()
    };
    let owned = read(owned);
    let mut hand_made = read(named);
    hand_made.sort_by_key(ResourceExt::name_any);
    (owned, hand_made)
}

/// An Event on the service when it gains or loses its routes (not while they are undecided, by
/// the claims or by the Gateway).
pub async fn announce(
    ctx: &Context,
    service: &ChittyService,
    previous: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    current: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) {
    let Some(now) = conditions::find(current, types::ROUTED) else {
        return;
    };
    let before = conditions::find(previous, types::ROUTED);
    if before.is_some_and(|b| b.status == now.status && b.reason == now.reason)
        || now.reason == reasons::ROUTES_PENDING
        || now.reason == reasons::GATEWAY_PENDING
    {
        return;
    }
    let kind = if now.status == "True" {
        EventType::Normal
    } else {
        EventType::Warning
    };
    publish(ctx, service, kind, &now.reason, now.message.clone()).await;
}

/// The Ingresses a service should have, by name (see `workload::ingress_nginx`): none without
/// held routes or on Cloudflare.
fn desired_ingresses(
    ctx: &Context,
    service: &ChittyService,
    held: &[HeldRoute],
    traffic: Traffic,
) -> BTreeMap<String, Ingress> {
    let settings = IngressSettings {
        class: ctx.config.routing.ingress_class.as_deref(),
        cert_manager_issuer: ctx.config.routing.cert_manager_issuer.as_deref(),
    };
    match service.spec.target {
        Target::Cluster if !held.is_empty() => {
            let nginx = ctx.config.routing.ingress_nginx();
            let traffic = if nginx { traffic } else { Traffic::default() };
            ingress_nginx::build_all(service, held, &settings, nginx, traffic)
        }
        _ => BTreeMap::new(),
    }
}

/// Each Ingress the service may have: applied when it differs from `desired`, deleted when not
/// desired. An Ingress of the same name that this service does not own is left alone.
/// The first of the route-carrying Ingresses applied, when one was.
async fn sync_ingresses(
    ctx: &Context,
    service: &ChittyService,
    mut desired: BTreeMap<String, Ingress>,
) -> crate::Result<Option<Ingress>> {
    let mut first_applied = None;
    let canary = ingress_nginx::canary_ingress_name(service);
    for name in ingress_nginx::ingress_names(service) {
        let applied = sync_ingress(ctx, service, &name, desired.remove(&name)).await?;
        // The canary Ingress follows the rollout's steps, not the routes: its writes are no drift.
        if name != canary {
            first_applied = first_applied.or(applied);
        }
    }
    Ok(first_applied)
}

/// One Ingress of the service, by name. The Ingress as applied, when it was.
async fn sync_ingress(
    ctx: &Context,
    service: &ChittyService,
    name: &str,
    desired: Option<Ingress>,
) -> crate::Result<Option<Ingress>> {
    let api: Api<Ingress> = ctx.api_for(service);
    // The cache holds only the operator's own Ingresses: it answers "nothing to do" for the
    // common case; anything else (including a same-named Ingress that is not ours) is read.
    let cached = ctx
        .caches
        .ingresses
        .get(
            &kube::runtime::reflector::ObjectRef::new(name)
                .within(&service.namespace().unwrap_or_default()),
        )
        .map(|c| c.object())
        .transpose()?;
    match (&cached, &desired) {
        (None, None) => return Ok(None),
        (Some(c), Some(d)) if owned_by(c, service) && ingress::is_current(c, d) => {
            return Ok(None);
        }
        _ => {}
    }
    let existing = api.get_opt(name).await?;
    let ours = existing.as_ref().is_some_and(|i| owned_by(i, service));
    match (existing, desired) {
        (Some(_), Some(_)) if !ours => {
            tracing::warn!(ingress = %name, "an Ingress of this name exists and is not the service's own; leaving it alone");
        }
        (Some(existing), Some(desired)) if ingress::is_current(&existing, &desired) => {}
        (_, Some(desired)) => return Ok(Some(apply(&api, &desired).await?)),
        (Some(_), None) if ours => delete_if_present(&api, name).await?,
        _ => {}
    }
    Ok(None)
}

fn owned_by(ingress: &Ingress, service: &ChittyService) -> bool {
    ingress
        .owner_references()
        .iter()
        .any(|o| Some(&o.uid) == service.uid().as_ref() && o.controller == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::service::route_summary::tests::service;

    #[test]
    fn one_claim_per_route_named_by_the_normalised_route() {
        let svc = service(serde_json::json!([
            {"host": "mcp.chitty.cc", "path": "/*", "tls": true},
            {"host": "MCP.chitty.cc.", "path": "/"},
            {"host": "api.chitty.cc", "path": "/mcp"},
        ]));
        let claims = desired_claims(&svc);
        assert_eq!(claims.len(), 2, "two spellings of one route share a claim");
        let first = &claims[&claim_name("chittymcp", &svc.spec.routes[0])];
        assert_eq!(
            claim_name("chittymcp", &svc.spec.routes[1]),
            first.name_any()
        );
        assert!(first.name_any().starts_with("chittymcp-"));
        assert_eq!(first.name_any().len(), "chittymcp-".len() + 8);
        assert!(first.spec.tls, "the first spelling's settings win");
        assert_eq!(first.spec.service_ref.name, "chittymcp");
        assert_eq!(first.labels()[labels::SERVICE], "chittymcp");
        assert_eq!(first.labels()[labels::MANAGED_BY], labels::MANAGER);
        assert_eq!(first.owner_references()[0].uid, "svc-uid");
    }
}
