//! The `Routed` condition in gateway mode: holding every claimed route is not enough, the Gateway
//! must also have accepted the service's HTTPRoutes and resolved their backends. What the Gateway
//! controller says in the routes' `status.parents` for our Gateway is mirrored onto the service,
//! its reason and message kept. Pure.

use kube::ResourceExt;

use super::route_summary::{Problem, Routing};
use crate::api::conditions::{Desired, reasons, types};
use crate::config::GatewayRef;
use crate::workload::gateway_api::{HTTPRoute, RouteCondition};

/// Folds the HTTPRoutes' acceptance into `routing`. Only a service that holds all its routes is
/// judged on them: a lost or undecided claim already says why it is not routed.
pub fn mirror(routing: &mut Routing, routes: &[HTTPRoute], gateway: &GatewayRef) {
    if !routing.condition.as_ref().is_some_and(|c| c.status) || routes.is_empty() {
        return;
    }
    let mut waiting = Vec::new();
    for route in routes {
        match verdict(route, gateway) {
            Verdict::Accepted => {}
            Verdict::Waiting => waiting.push(route.name_any()),
            Verdict::Refused(condition) => {
                let message = format!(
                    "Gateway {gateway} does not route HTTPRoute {} ({} {}): {}",
                    route.name_any(),
                    condition.type_,
                    condition.reason,
                    condition.message
                );
                let reason = if condition.reason.is_empty() {
                    reasons::GATEWAY_REFUSED.to_owned()
                } else {
                    condition.reason.clone()
                };
                routing.condition = Some(Desired::new(types::ROUTED, false, reason, &message));
                routing.problem = Some(Problem {
                    lost: true,
                    reason: reasons::GATEWAY_REFUSED,
                    message,
                });
                return;
            }
        }
    }
    if !waiting.is_empty() {
        let message = format!(
            "waiting for Gateway {gateway} to accept the HTTPRoute {}",
            waiting.join(", ")
        );
        routing.condition = Some(Desired::new(
            types::ROUTED,
            false,
            reasons::GATEWAY_PENDING,
            &message,
        ));
        routing.problem = Some(Problem {
            lost: false,
            reason: reasons::GATEWAY_PENDING,
            message,
        });
    }
}

enum Verdict<'a> {
    Accepted,
    /// No word from the Gateway controller on this generation of the route yet.
    Waiting,
    Refused(&'a RouteCondition),
}

fn verdict<'a>(route: &'a HTTPRoute, gateway: &GatewayRef) -> Verdict<'a> {
    let route_ns = route.namespace().unwrap_or_default();
    let Some(parent) = route.status.iter().flat_map(|s| &s.parents).find(|p| {
        p.parent_ref.name == gateway.name
            && p.parent_ref.namespace.as_deref().unwrap_or(&route_ns) == gateway.namespace
            && p.parent_ref.kind.as_deref().unwrap_or("Gateway") == "Gateway"
    }) else {
        return Verdict::Waiting;
    };
    let current = |c: &&RouteCondition| {
        c.observed_generation.is_none() || c.observed_generation == route.metadata.generation
    };
    let find = |type_: &str| {
        parent
            .conditions
            .iter()
            .filter(current)
            .find(|c| c.type_ == type_)
    };
    match (find("Accepted"), find("ResolvedRefs")) {
        (Some(accepted), _) if accepted.status == "False" => Verdict::Refused(accepted),
        (_, Some(resolved)) if resolved.status == "False" => Verdict::Refused(resolved),
        (Some(accepted), _) if accepted.status == "True" => Verdict::Accepted,
        _ => Verdict::Waiting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway() -> GatewayRef {
        GatewayRef {
            namespace: "gw".into(),
            name: "public".into(),
        }
    }

    fn held() -> Routing {
        Routing {
            condition: Some(Desired::new(
                types::ROUTED,
                true,
                reasons::ROUTES_HELD,
                "holds all 1 routes it claims: a.chitty.cc/",
            )),
            ..Default::default()
        }
    }

    /// An HTTPRoute at generation 2 with these parents' statuses.
    fn route(parents: serde_json::Value) -> HTTPRoute {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "chittymcp", "namespace": "chitty", "generation": 2},
            "spec": {"parentRefs": [{"namespace": "gw", "name": "public"}], "rules": []},
            "status": {"parents": parents}
        }))
        .unwrap()
    }

    fn parent(name: &str, conditions: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"parentRef": {"namespace": "gw", "name": name},
                           "controllerName": "example.com/gateway", "conditions": conditions})
    }

    fn condition(type_: &str, status: &str, reason: &str, generation: i64) -> serde_json::Value {
        serde_json::json!({"type": type_, "status": status, "reason": reason,
                           "message": format!("{type_} says {reason}"), "observedGeneration": generation,
                           "lastTransitionTime": "2026-01-01T00:00:00Z"})
    }

    fn routed(routing: &Routing) -> (bool, String, String) {
        let c = routing.condition.clone().unwrap();
        (c.status, c.reason, c.message)
    }

    #[test]
    fn an_accepted_route_with_resolved_refs_stays_routed() {
        let mut routing = held();
        let accepted = route(serde_json::json!([parent(
            "public",
            serde_json::json!([
                condition("Accepted", "True", "Accepted", 2),
                condition("ResolvedRefs", "True", "ResolvedRefs", 2)
            ])
        )]));
        mirror(&mut routing, &[accepted], &gateway());
        assert_eq!(routing, held());
    }

    #[test]
    fn no_word_from_our_gateway_is_waiting() {
        for parents in [
            serde_json::json!([]),
            serde_json::json!([parent(
                "other",
                serde_json::json!([condition("Accepted", "True", "Accepted", 2)])
            )]),
            // Accepted, but an older generation of the route.
            serde_json::json!([parent(
                "public",
                serde_json::json!([condition("Accepted", "True", "Accepted", 1)])
            )]),
        ] {
            let mut routing = held();
            mirror(&mut routing, &[route(parents)], &gateway());
            let (status, reason, message) = routed(&routing);
            assert!(!status);
            assert_eq!(reason, reasons::GATEWAY_PENDING);
            assert_eq!(
                message,
                "waiting for Gateway gw/public to accept the HTTPRoute chittymcp"
            );
            assert!(!routing.problem.unwrap().lost);
        }
    }

    #[test]
    fn a_refusal_carries_the_gateways_reason_and_message() {
        let mut routing = held();
        let refused = route(serde_json::json!([parent(
            "public",
            serde_json::json!([condition("Accepted", "False", "NotAllowedByListeners", 2)])
        )]));
        mirror(&mut routing, &[refused], &gateway());
        let (status, reason, message) = routed(&routing);
        assert!(!status);
        assert_eq!(reason, "NotAllowedByListeners");
        assert!(
            message.contains("Accepted says NotAllowedByListeners"),
            "{message}"
        );
        assert!(routing.problem.unwrap().lost);
    }

    #[test]
    fn unresolved_backends_are_not_routed() {
        let mut routing = held();
        let unresolved = route(serde_json::json!([parent(
            "public",
            serde_json::json!([
                condition("Accepted", "True", "Accepted", 2),
                condition("ResolvedRefs", "False", "BackendNotFound", 2)
            ])
        )]));
        mirror(&mut routing, &[unresolved], &gateway());
        assert_eq!(routed(&routing).1, "BackendNotFound");
    }

    #[test]
    fn a_service_not_holding_its_routes_is_judged_on_its_claims() {
        let mut routing = Routing {
            condition: Some(Desired::new(
                types::ROUTED,
                false,
                reasons::ROUTES_PENDING,
                "waiting",
            )),
            ..Default::default()
        };
        let before = routing.clone();
        mirror(&mut routing, &[route(serde_json::json!([]))], &gateway());
        assert_eq!(routing, before);
    }
}
