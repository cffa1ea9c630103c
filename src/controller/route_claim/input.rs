//! What the rule reads from one RouteClaim object: its id, its route, its age, whether it already
//! holds its route (read back from status, so incumbency survives restarts), and its service.

use jiff::Timestamp;
use kube::ResourceExt;

use crate::api::RouteClaim;
use crate::api::conditions::{self, types};
use crate::routing::{Claim, ClaimId, RouteKey};

/// A ChittyService as `(namespace, name)`.
pub type ServiceKey = (String, String);

pub fn claim_id(claim: &RouteClaim) -> ClaimId {
    ClaimId::new(claim.namespace().unwrap_or_default(), claim.name_any())
}

/// The ChittyService the claim routes to; `serviceRef.namespace` defaults to the claim's own.
pub fn service_of(claim: &RouteClaim) -> ServiceKey {
    let own = claim.namespace().unwrap_or_default();
    let reference = &claim.spec.service_ref;
    (
        reference.namespace_or(&own).to_owned(),
        reference.name.clone(),
    )
}

/// `metadata.creationTimestamp`; an object without one never outranks one with it.
pub fn created(claim: &RouteClaim) -> Timestamp {
    claim
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(Timestamp::MAX, |t| t.0)
}

/// The claim's status says it holds the route its spec names now. `Accepted=True` alone is not
/// enough: the route it was accepted for (`heldRoute`) must be the one the spec normalises to, or
/// an edit of `spec.host` would arrive on another route already "holding" it.
pub fn is_incumbent(claim: &RouteClaim) -> bool {
    let Some(status) = &claim.status else {
        return false;
    };
    let Some(held) = &status.held_route else {
        return false;
    };
    conditions::is_true(&status.conditions, types::ACCEPTED)
        && RouteKey::parse(&claim.spec.host, &claim.spec.path)
            .is_ok_and(|key| key.to_string() == *held)
}

pub fn to_claim(claim: &RouteClaim, service_found: bool) -> Claim {
    let own = claim.namespace().unwrap_or_default();
    let reference = &claim.spec.service_ref;
    Claim {
        service: reference.name.clone(),
        service_namespace: reference.namespace.clone().filter(|ns| *ns != own),
        id: claim_id(claim),
        host: claim.spec.host.clone(),
        path: claim.spec.path.clone(),
        created: created(claim),
        incumbent: is_incumbent(claim),
        service_found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(host: &str, status: serde_json::Value) -> RouteClaim {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "RouteClaim",
            "metadata": {"name": "mcp", "namespace": "team-a", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"host": host, "path": "/*", "serviceRef": {"name": "chittymcp"}},
            "status": status,
        }))
        .unwrap()
    }

    fn accepted_for(route: &str) -> serde_json::Value {
        serde_json::json!({
            "heldRoute": route,
            "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}]
        })
    }

    #[test]
    fn incumbent_only_for_the_route_it_was_accepted_for() {
        assert!(is_incumbent(&claim(
            "MCP.chitty.cc.",
            accepted_for("mcp.chitty.cc/*")
        )));
        assert!(
            !is_incumbent(&claim("other.chitty.cc", accepted_for("mcp.chitty.cc/*"))),
            "editing the host must not carry incumbency to the new host"
        );
        assert!(!is_incumbent(&claim(
            "mcp.chitty.cc",
            serde_json::json!({"conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
                "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
        )));
        let mut lost = accepted_for("mcp.chitty.cc/*");
        lost["conditions"][0]["status"] = "False".into();
        assert!(!is_incumbent(&claim("mcp.chitty.cc", lost)));
    }

    #[test]
    fn service_reference_defaults_to_the_claims_namespace() {
        let mut c = claim("mcp.chitty.cc", serde_json::Value::Null);
        assert_eq!(service_of(&c), ("team-a".into(), "chittymcp".into()));
        c.spec.service_ref.namespace = Some("team-b".into());
        assert_eq!(service_of(&c), ("team-b".into(), "chittymcp".into()));
        assert_eq!(
            to_claim(&c, true).created,
            "2026-01-01T00:00:00Z".parse().unwrap()
        );
    }
}
