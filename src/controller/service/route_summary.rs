//! What a service's routes come to, from its claims as they are now: `status.routes`, the
//! `Routed` condition, what its Ingress carries, and how routing gates readiness. Pure: the
//! claims' decisions are the RouteClaim controller's, read back from their status.

use std::collections::BTreeSet;

use kube::ResourceExt;

use crate::api::conditions::{self, Desired, reasons, types};
use crate::api::{ChittyService, RouteClaim, RouteSummary, ServicePhase};
use crate::routing::{Reason, RouteKey};
use crate::workload::ingress::HeldRoute;

use super::routes::{PENDING, claim_name};

/// What the service's status says about its routes, and what its Ingress carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Routing {
    /// `status.routes`.
    pub summaries: Vec<RouteSummary>,
    /// The `Routed` condition; absent when the service claims no routes.
    pub condition: Option<Desired>,
    /// Why the service is not fully routed, for its `Ready` condition.
    pub problem: Option<Problem>,
    /// The routes it holds, normalised, for its Ingress.
    pub held: Vec<HeldRoute>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A route went to another claim (or was refused), rather than being still undecided.
    pub lost: bool,
    pub reason: &'static str,
    pub message: String,
}

/// One line of `status.routes`, with what the rest of the summary needs to know about it.
struct Entry<'a> {
    summary: RouteSummary,
    key: Option<RouteKey>,
    claim: Option<&'a RouteClaim>,
    /// The claim's `Accepted` reason and message, once decided for its current generation.
    decided: Option<(String, String)>,
}

/// The routes part of the status, from the claims as they are now. Pure.
pub fn summarize(
    service: &ChittyService,
    owned: &[&RouteClaim],
    hand_made: &[&RouteClaim],
) -> Routing {
    let name = service.name_any();
    let mut entries: Vec<Entry> = Vec::new();
    let mut seen = BTreeSet::new();
    for route in &service.spec.routes {
        let claim_name = claim_name(&name, route);
        if !seen.insert(claim_name.clone()) {
            continue;
        }
        let claim = owned.iter().copied().find(|c| c.name_any() == claim_name);
        entries.push(entry(&route.host, &route.path, claim_name, claim));
    }
    for claim in hand_made {
        let c = &claim.spec;
        entries.push(entry(&c.host, &c.path, claim.name_any(), Some(claim)));
    }
    if entries.is_empty() {
        return Routing::default();
    }

    let held_keys: BTreeSet<&RouteKey> = entries
        .iter()
        .filter(|e| e.summary.accepted)
        .filter_map(|e| e.key.as_ref())
        .collect();
    let mut lost = Vec::new();
    let mut pending = Vec::new();
    for e in &entries {
        if e.summary.accepted {
            continue;
        }
        match &e.decided {
            // Held by another of this service's own claims (a hand-made twin): not lost.
            Some(_) if e.key.as_ref().is_some_and(|k| held_keys.contains(k)) => {}
            // The service exists (it is being reconciled): the claim controller has not seen it yet.
            Some((reason, _)) if reason == Reason::ServiceNotFound.as_str() => pending.push(e),
            Some(_) => lost.push(e),
            None => pending.push(e),
        }
    }

    let (condition, problem) = if let Some(first) = lost.first() {
        let reason = match first.decided.as_ref().map(|(r, _)| r.as_str()) {
            Some("NotAllowed") => reasons::ROUTE_NOT_ALLOWED,
            Some("Invalid") => reasons::ROUTE_INVALID,
            _ => reasons::ROUTE_CONFLICT,
        };
        let message = lost
            .iter()
            .map(|e| {
                let why = e.decided.as_ref().map(|(_, m)| m.as_str()).unwrap_or("");
                format!("claim {}: {why}", e.summary.claim)
            })
            .collect::<Vec<_>>()
            .join("; ");
        let message = format!(
            "{} of {} routes not held: {message}",
            lost.len(),
            entries.len()
        );
        (
            Desired::new(types::ROUTED, false, reason, message.clone()),
            Some(Problem {
                lost: true,
                reason,
                message,
            }),
        )
    } else if !pending.is_empty() {
        let names: Vec<&str> = pending.iter().map(|e| e.summary.claim.as_str()).collect();
        let message = format!(
            "waiting for the decision on route claim {}",
            names.join(", ")
        );
        (
            Desired::new(
                types::ROUTED,
                false,
                reasons::ROUTES_PENDING,
                message.clone(),
            ),
            Some(Problem {
                lost: false,
                reason: reasons::ROUTES_PENDING,
                message,
            }),
        )
    } else {
        let mut routes: Vec<String> = held_keys.iter().map(ToString::to_string).collect();
        let more = routes.len().saturating_sub(8);
        routes.truncate(8);
        let mut list = routes.join(", ");
        if more > 0 {
            list.push_str(&format!(" and {more} more"));
        }
        let message = format!("holds all {} routes it claims: {list}", entries.len());
        (
            Desired::new(types::ROUTED, true, reasons::ROUTES_HELD, message),
            None,
        )
    };

    let mut held: Vec<HeldRoute> = entries
        .iter()
        .filter(|e| e.summary.accepted)
        .filter_map(|e| {
            let (key, claim) = (e.key.as_ref()?, e.claim?);
            Some(HeldRoute {
                host: key.host().to_owned(),
                path: key.path().to_owned(),
                tls: claim.spec.tls,
                tls_secret_name: claim.spec.tls_secret_name.clone(),
            })
        })
        .collect();
    held.sort();
    held.dedup_by(|a, b| a.host == b.host && a.path == b.path);
    Routing {
        summaries: entries.into_iter().map(|e| e.summary).collect(),
        condition: Some(condition),
        problem,
        held,
    }
}

fn entry<'a>(
    host: &str,
    path: &str,
    claim_name: String,
    claim: Option<&'a RouteClaim>,
) -> Entry<'a> {
    let decided = claim.and_then(|c| {
        let status = c.status.as_ref()?;
        if status.observed_generation != c.metadata.generation {
            return None;
        }
        let accepted = conditions::find(&status.conditions, types::ACCEPTED)?;
        Some((accepted, status.holder.clone()))
    });
    let accepted = decided.as_ref().is_some_and(|(c, _)| c.status == "True");
    let summary = RouteSummary {
        host: host.to_owned(),
        path: path.to_owned(),
        claim: claim_name,
        accepted,
        reason: Some(
            decided
                .as_ref()
                .map_or(PENDING.to_owned(), |(c, _)| c.reason.clone()),
        ),
        holder: decided
            .as_ref()
            .filter(|_| !accepted)
            .and_then(|(_, holder)| holder.clone()),
    };
    Entry {
        summary,
        key: RouteKey::parse(host, path).ok(),
        claim,
        decided: decided.map(|(c, _)| (c.reason.clone(), c.message.clone())),
    }
}

/// Folds the routes into readiness: a service that would be Ready is not while a route is lost
/// (Degraded) or undecided (Progressing, Reconciling). The `Routed` condition is added as well.
pub fn gate_readiness(
    routing: &Routing,
    phase: ServicePhase,
    desired: &mut Vec<Desired>,
) -> ServicePhase {
    let mut phase = phase;
    if let Some(problem) = &routing.problem
        && let Some(ready) = desired
            .iter_mut()
            .find(|d| d.type_ == types::READY && d.status)
    {
        *ready = Desired::new(types::READY, false, problem.reason, problem.message.clone());
        if phase == ServicePhase::Ready {
            phase = if problem.lost {
                ServicePhase::Degraded
            } else {
                ServicePhase::Progressing
            };
        }
        if !problem.lost && !desired.iter().any(|d| d.type_ == types::RECONCILING) {
            desired.push(Desired::new(
                types::RECONCILING,
                true,
                problem.reason,
                problem.message.clone(),
            ));
        }
    }
    desired.extend(routing.condition.clone());
    phase
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::controller::service::routes::desired_claims;

    /// A service with these spec routes; the routes' own tests build theirs with it too.
    pub(in crate::controller::service) fn service(routes: serde_json::Value) -> ChittyService {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "chittymcp", "namespace": "chitty", "uid": "svc-uid"},
            "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                     "source": {"image": "registry.local/mcp:1"}, "routes": routes}
        }))
        .unwrap()
    }

    /// The claim as the RouteClaim controller leaves it after deciding.
    fn decided(claim: &RouteClaim, reason: &str, holder: &str, message: &str) -> RouteClaim {
        let mut claim = claim.clone();
        claim.metadata.generation = Some(1);
        claim.status = Some(serde_json::from_value(serde_json::json!({
            "observedGeneration": 1,
            "holder": holder,
            "conditions": [{"type": "Accepted", "status": if reason == "Accepted" {"True"} else {"False"},
                            "reason": reason, "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"}]
        })).unwrap());
        claim
    }

    fn routed(routing: &Routing) -> (bool, String) {
        let c = routing.condition.clone().unwrap();
        (c.status, c.reason)
    }

    #[test]
    fn undecided_claims_are_pending_and_the_service_waits() {
        let svc = service(serde_json::json!([{"host": "mcp.chitty.cc"}]));
        let routing = summarize(&svc, &[], &[]);
        assert_eq!(routing.summaries[0].reason.as_deref(), Some(PENDING));
        assert!(!routing.summaries[0].accepted);
        assert_eq!(
            routed(&routing),
            (false, reasons::ROUTES_PENDING.to_owned())
        );
        assert!(!routing.problem.unwrap().lost);
        assert!(routing.held.is_empty());
    }

    #[test]
    fn a_lost_route_names_its_holder_and_stays_out_of_the_ingress() {
        let svc = service(serde_json::json!([
            {"host": "mcp.chitty.cc", "path": "/*"},
            {"host": "own.chitty.cc", "tls": true},
        ]));
        let claims = desired_claims(&svc);
        let mcp = decided(
            &claims[&claim_name("chittymcp", &svc.spec.routes[0])],
            "Conflicted",
            "chitty/chittyconnect-1234abcd",
            "mcp.chitty.cc/* is held by chitty/chittyconnect-1234abcd, which was created earlier",
        );
        let own = decided(
            &claims[&claim_name("chittymcp", &svc.spec.routes[1])],
            "Accepted",
            "chitty/chittymcp-x",
            "held",
        );
        let routing = summarize(&svc, &[&mcp, &own], &[]);
        assert_eq!(
            routed(&routing),
            (false, reasons::ROUTE_CONFLICT.to_owned())
        );
        let lost = &routing.summaries[0];
        assert_eq!(
            (
                lost.accepted,
                lost.reason.as_deref(),
                lost.holder.as_deref()
            ),
            (
                false,
                Some("Conflicted"),
                Some("chitty/chittyconnect-1234abcd")
            )
        );
        assert_eq!(routing.summaries[1].holder, None);
        let problem = routing.problem.clone().unwrap();
        assert!(problem.lost);
        assert!(
            problem
                .message
                .contains("held by chitty/chittyconnect-1234abcd"),
            "{}",
            problem.message
        );
        assert_eq!(
            routing.held,
            [HeldRoute {
                host: "own.chitty.cc".into(),
                path: "/".into(),
                tls: true,
                tls_secret_name: None
            }]
        );
    }

    #[test]
    fn a_claim_decided_for_an_older_generation_is_pending() {
        let svc = service(serde_json::json!([{"host": "mcp.chitty.cc"}]));
        let claims = desired_claims(&svc);
        let mut claim = decided(claims.values().next().unwrap(), "Accepted", "x", "held");
        claim.metadata.generation = Some(2);
        let routing = summarize(&svc, &[&claim], &[]);
        assert_eq!(routing.summaries[0].reason.as_deref(), Some(PENDING));
    }

    #[test]
    fn hand_made_claims_are_listed_after_the_spec_routes() {
        let svc = service(serde_json::json!([{"host": "mcp.chitty.cc"}]));
        let spec_claim = decided(
            desired_claims(&svc).values().next().unwrap(),
            "Accepted",
            "chitty/x",
            "held",
        );
        let mut by_hand = spec_claim.clone();
        by_hand.metadata.name = Some("reserved-early".into());
        by_hand.metadata.owner_references = None;
        by_hand.spec.host = "early.chitty.cc".into();
        let routing = summarize(&svc, &[&spec_claim], &[&by_hand]);
        assert_eq!(routing.summaries.len(), 2);
        assert_eq!(routing.summaries[1].claim, "reserved-early");
        assert_eq!(routed(&routing), (true, reasons::ROUTES_HELD.to_owned()));
        assert_eq!(routing.held.len(), 2);
    }

    #[test]
    fn no_routes_means_no_routed_condition() {
        let routing = summarize(&service(serde_json::json!([])), &[], &[]);
        assert_eq!(routing, Routing::default());
    }

    #[test]
    fn lost_route_turns_a_ready_service_degraded_and_not_ready() {
        let routing = Routing {
            problem: Some(Problem {
                lost: true,
                reason: reasons::ROUTE_CONFLICT,
                message: "claim x: held by y".into(),
            }),
            condition: Some(Desired::new(
                types::ROUTED,
                false,
                reasons::ROUTE_CONFLICT,
                "claim x: held by y",
            )),
            ..Default::default()
        };
        let mut desired = vec![Desired::new(types::READY, true, "RolloutSucceeded", "ok")];
        let phase = gate_readiness(&routing, ServicePhase::Ready, &mut desired);
        assert_eq!(phase, ServicePhase::Degraded);
        assert_eq!(
            desired[0],
            Desired::new(
                types::READY,
                false,
                reasons::ROUTE_CONFLICT,
                "claim x: held by y"
            )
        );
        assert!(desired.iter().any(|d| d.type_ == types::ROUTED));
        assert!(!desired.iter().any(|d| d.type_ == types::RECONCILING));
    }

    #[test]
    fn a_failed_rollout_keeps_its_own_reason() {
        let routing = Routing {
            problem: Some(Problem {
                lost: true,
                reason: reasons::ROUTE_CONFLICT,
                message: "m".into(),
            }),
            ..Default::default()
        };
        let mut desired = vec![Desired::new(types::READY, false, "RolloutFailed", "boom")];
        let phase = gate_readiness(&routing, ServicePhase::Failed, &mut desired);
        assert_eq!(phase, ServicePhase::Failed);
        assert_eq!(desired[0].reason, "RolloutFailed");
    }
}
