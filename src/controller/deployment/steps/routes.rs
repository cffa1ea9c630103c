//! `routes`: waits until every route of the service has been decided, then reports which it holds
//! and which it lost, and to whom.
//!
//! Routes are claimed in place, not per revision: the ChittyService controller keeps one
//! RouteClaim per current spec route and mirrors their decisions into `status.routes`, which is
//! what this step reads. A lost route does not fail the rollout: the new revision runs fine, and
//! rolling it back would not win the route. The service's `Routed` and `Ready` conditions say the
//! route is lost and who holds it. If decisions never come (the route controller is not running),
//! the step gives up waiting after the health progress deadline and lets the rollout go on.

use std::time::Duration;

use super::StepInput;
use crate::api::ROUTE_PENDING as PENDING;
use crate::api::{ChittyService, RouteSummary};
use crate::pipeline::duration::parse_or;
use crate::pipeline::machine::Outcome;
use crate::routing::claim_name;

pub async fn run(input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    let routes = match decided_routes(input.service) {
        Ok(routes) => routes,
        Err(waiting) => {
            return Ok(if overdue(input, "routes") {
                Outcome::Done(format!(
                    "{waiting}; still undecided after {}, so the rollout goes on and the service's Routed condition will report them",
                    input.rollout.spec.snapshot.health.progress_deadline
                ))
            } else {
                Outcome::Waiting(waiting)
            });
        }
    };
    Ok(Outcome::Done(report(&routes)))
}

/// Before a Cloudflare Worker is bound, its routes must be decided, so it is bound only to routes
/// it holds. `Some(message)` while the deploy step should wait.
pub fn wait_for_decisions(input: &StepInput) -> Option<String> {
    match decided_routes(input.service) {
        Ok(_) => None,
        Err(_) if overdue(input, "deploy") => None,
        Err(waiting) => Some(waiting),
    }
}

/// The service's route summaries once every current spec route has a decision; otherwise what is
/// being waited for.
fn decided_routes(service: &ChittyService) -> Result<Vec<RouteSummary>, String> {
    let status = service.status.clone().unwrap_or_default();
    if service.spec.routes.is_empty() {
        return Ok(status.routes);
    }
    if status.observed_generation != service.metadata.generation {
        return Err("waiting for the service's routes to be claimed for its current spec".into());
    }
    let name = service.metadata.name.clone().unwrap_or_default();
    let undecided: Vec<String> = service
        .spec
        .routes
        .iter()
        .map(|route| claim_name(&name, route))
        .filter(|claim| {
            !status
                .routes
                .iter()
                .any(|r| r.claim == *claim && r.reason.as_deref() != Some(PENDING))
        })
        .collect();
    if undecided.is_empty() {
        Ok(status.routes)
    } else {
        Err(format!(
            "waiting for route claims to be decided: {}",
            undecided.join(", ")
        ))
    }
}

fn report(routes: &[RouteSummary]) -> String {
    let route = |r: &RouteSummary| format!("{}{}", r.host, r.path);
    let held: Vec<String> = routes.iter().filter(|r| r.accepted).map(route).collect();
    let lost: Vec<String> = routes
        .iter()
        .filter(|r| !r.accepted)
        .map(|r| {
            let reason = r.reason.as_deref().unwrap_or("not accepted");
            match &r.holder {
                Some(holder) => format!("{} (held by {holder}: {reason})", route(r)),
                None => format!("{} ({reason})", route(r)),
            }
        })
        .collect();
    match (held.is_empty(), lost.is_empty()) {
        (_, true) => format!("holds all {} routes: {}", held.len(), held.join(", ")),
        (true, false) => format!(
            "holds none of its routes: {}; see the service's Routed condition",
            lost.join(", ")
        ),
        (false, false) => format!(
            "holds {}; lost {}; see the service's Routed condition",
            held.join(", "),
            lost.join(", ")
        ),
    }
}

/// The step has waited longer than the service's health progress deadline.
fn overdue(input: &StepInput, step: &str) -> bool {
    let deadline = parse_or(
        &input.rollout.spec.snapshot.health.progress_deadline,
        Duration::from_secs(600),
    );
    let started = input
        .status
        .steps
        .iter()
        .find(|s| s.name == step)
        .and_then(|s| s.started_at.as_ref())
        .map_or(input.now.0, |t| t.0);
    input.now.0.duration_since(started).unsigned_abs() > deadline
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(host: &str, accepted: bool, reason: &str, holder: Option<&str>) -> RouteSummary {
        RouteSummary {
            host: host.into(),
            path: "/*".into(),
            claim: format!("svc-{host}"),
            accepted,
            reason: Some(reason.into()),
            holder: holder.map(Into::into),
        }
    }

    fn service(routes: &[&str], status_routes: Vec<RouteSummary>) -> ChittyService {
        let routes: Vec<serde_json::Value> = routes
            .iter()
            .map(|h| serde_json::json!({"host": h, "path": "/*"}))
            .collect();
        let mut s: ChittyService = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "svc", "namespace": "ns"},
            "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                     "source": {"image": "registry.local/svc:1"}, "routes": routes}
        }))
        .unwrap();
        s.metadata.generation = Some(2);
        let mut status_routes = status_routes;
        for r in &mut status_routes {
            r.claim = claim_name(
                "svc",
                &s.spec
                    .routes
                    .iter()
                    .find(|x| x.host == r.host)
                    .unwrap()
                    .clone(),
            );
        }
        s.status = Some(crate::api::ChittyServiceStatus {
            observed_generation: Some(2),
            routes: status_routes,
            ..Default::default()
        });
        s
    }

    #[test]
    fn waits_while_a_claim_is_pending() {
        let svc = service(
            &["a.chitty.cc", "b.chitty.cc"],
            vec![
                summary("a.chitty.cc", true, "Accepted", None),
                summary("b.chitty.cc", false, PENDING, None),
            ],
        );
        let waiting = decided_routes(&svc).unwrap_err();
        assert!(
            waiting.contains(&claim_name("svc", &svc.spec.routes[1])),
            "{waiting}"
        );
    }

    #[test]
    fn waits_for_the_status_of_the_current_generation() {
        let mut svc = service(
            &["a.chitty.cc"],
            vec![summary("a.chitty.cc", true, "Accepted", None)],
        );
        svc.metadata.generation = Some(3);
        assert!(decided_routes(&svc).is_err());
    }

    #[test]
    fn reports_held_and_lost_routes_with_their_holders() {
        let svc = service(
            &["a.chitty.cc", "mcp.chitty.cc"],
            vec![
                summary("a.chitty.cc", true, "Accepted", None),
                summary(
                    "mcp.chitty.cc",
                    false,
                    "Conflicted",
                    Some("chitty/chittyconnect-1a2b3c4d"),
                ),
            ],
        );
        let routes = decided_routes(&svc).unwrap();
        assert_eq!(
            report(&routes),
            "holds a.chitty.cc/*; lost mcp.chitty.cc/* (held by chitty/chittyconnect-1a2b3c4d: Conflicted); \
             see the service's Routed condition"
        );
    }

    #[test]
    fn all_held() {
        let svc = service(
            &["a.chitty.cc"],
            vec![summary("a.chitty.cc", true, "Accepted", None)],
        );
        assert_eq!(
            report(&decided_routes(&svc).unwrap()),
            "holds all 1 routes: a.chitty.cc/*"
        );
    }
}
