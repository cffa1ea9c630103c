//! A RouteClaim's status as a pure function of its decision.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::conditions::{self, Desired, types};
use crate::api::{RouteClaim, RouteClaimStatus};
use crate::routing::Decision;

/// The whole status. `Accepted` carries the decision; `Ready` says the same for kstatus-aware
/// tools (a claim is ready when it holds its route). Deterministic, so an unchanged decision
/// gives an equal status and no write.
pub fn desired(claim: &RouteClaim, decision: &Decision, now: &Time) -> RouteClaimStatus {
    let previous = claim.status.clone().unwrap_or_default();
    let reason = decision.reason.as_str();
    let wanted = [
        Desired::new(
            types::ACCEPTED,
            decision.accepted,
            reason,
            decision.message.clone(),
        ),
        Desired::new(
            types::READY,
            decision.accepted,
            reason,
            decision.message.clone(),
        ),
    ];
    RouteClaimStatus {
        observed_generation: claim.metadata.generation,
        holder: decision.holder.as_ref().map(ToString::to_string),
        conflicts_with: decision
            .conflicts_with
            .iter()
            .map(ToString::to_string)
            .collect(),
        held_route: decision
            .key
            .as_ref()
            .filter(|_| decision.accepted)
            .map(ToString::to_string),
        conditions: conditions::merge(
            &previous.conditions,
            &wanted,
            claim.metadata.generation,
            now,
        ),
    }
}

/// What an Event should say when the status moves from `previous` to `next`: a change of
/// acceptance, of reason, or of holder. Message-only changes (a claim's place in line) are not
/// transitions.
pub fn transition(previous: Option<&RouteClaimStatus>, next: &RouteClaimStatus) -> Option<Change> {
    let gist = |s: &RouteClaimStatus| {
        conditions::find(&s.conditions, types::ACCEPTED)
            .map(|c| (c.status.clone(), c.reason.clone(), s.holder.clone()))
    };
    let after = gist(next)?;
    if previous.and_then(gist).as_ref() == Some(&after) {
        return None;
    }
    let condition = conditions::find(&next.conditions, types::ACCEPTED)?;
    Some(Change {
        accepted: condition.status == "True",
        reason: condition.reason.clone(),
        message: condition.message.clone(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub accepted: bool,
    pub reason: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{Claim, ClaimId, RoutePolicy, resolve};

    fn object() -> RouteClaim {
        let mut claim: RouteClaim = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "RouteClaim",
            "metadata": {"name": "mcp", "namespace": "b", "generation": 3},
            "spec": {"host": "mcp.chitty.cc", "path": "/*", "serviceRef": {"name": "chittymcp"}},
        }))
        .unwrap();
        claim.metadata.generation = Some(3);
        claim
    }

    fn decisions(b_incumbent: bool) -> (Decision, Decision) {
        let at = |s: i64| jiff::Timestamp::from_second(1_750_000_000 + s).unwrap();
        let claims = [
            Claim {
                id: ClaimId::new("a", "connect"),
                host: "mcp.chitty.cc".into(),
                path: "/".into(),
                created: at(1),
                incumbent: false,
                service_found: true,
                service: "svc".into(),
                service_namespace: None,
            },
            Claim {
                id: ClaimId::new("b", "mcp"),
                host: "mcp.chitty.cc".into(),
                path: "/*".into(),
                created: at(2),
                incumbent: b_incumbent,
                service_found: true,
                service: "svc".into(),
                service_namespace: None,
            },
        ];
        let mut r = resolve(&claims, &RoutePolicy::default()).decisions;
        (
            r.remove(&ClaimId::new("a", "connect")).unwrap(),
            r.remove(&ClaimId::new("b", "mcp")).unwrap(),
        )
    }

    fn now(day: u8) -> Time {
        Time(format!("2026-01-{day:02}T00:00:00Z").parse().unwrap())
    }

    #[test]
    fn a_lost_claim_names_its_holder_and_holds_no_route() {
        let (_, lost) = decisions(false);
        let status = desired(&object(), &lost, &now(1));
        assert_eq!(status.holder.as_deref(), Some("a/connect"));
        assert_eq!(status.conflicts_with, ["a/connect"]);
        assert_eq!(status.held_route, None);
        assert_eq!(status.observed_generation, Some(3));
        let accepted = conditions::find(&status.conditions, types::ACCEPTED).unwrap();
        assert_eq!(
            (accepted.status.as_str(), accepted.reason.as_str()),
            ("False", "Conflicted")
        );
        assert!(
            accepted.message.contains("held by a/connect"),
            "{}",
            accepted.message
        );
        assert!(!conditions::is_true(&status.conditions, types::READY));
    }

    #[test]
    fn an_accepted_claim_records_the_route_it_holds() {
        let (_, won) = decisions(true);
        let status = desired(&object(), &won, &now(1));
        assert_eq!(status.held_route.as_deref(), Some("mcp.chitty.cc/*"));
        assert!(conditions::is_true(&status.conditions, types::ACCEPTED));
        assert!(conditions::is_true(&status.conditions, types::READY));
    }

    #[test]
    fn same_decision_later_is_the_same_status_and_no_transition() {
        let (_, lost) = decisions(false);
        let mut claim = object();
        let first = desired(&claim, &lost, &now(1));
        claim.status = Some(first.clone());
        let again = desired(&claim, &lost, &now(2));
        assert_eq!(again, first);
        assert_eq!(transition(Some(&first), &again), None);
    }

    #[test]
    fn first_decision_and_takeover_are_transitions() {
        let (_, lost) = decisions(false);
        let (_, won) = decisions(true);
        let mut claim = object();
        let first = desired(&claim, &lost, &now(1));
        let change = transition(None, &first).unwrap();
        assert_eq!(
            (change.accepted, change.reason.as_str()),
            (false, "Conflicted")
        );
        claim.status = Some(first.clone());
        let taken = desired(&claim, &won, &now(2));
        let change = transition(Some(&first), &taken).unwrap();
        assert_eq!(
            (change.accepted, change.reason.as_str()),
            (true, "Accepted")
        );
    }
}
