//! `routes` as data: the claims grouped by the route they claim (normalised by the operator's
//! own rule), the holder first. Pure; its JSON is the stable shape `routes -o json` prints.

use std::collections::BTreeMap;

use chitty_operator::api::RouteClaim;
use chitty_operator::api::conditions::{self, types};
use chitty_operator::routing::RouteKey;
use kube::ResourceExt;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteGroup {
    /// The normalised route (`mcp.chitty.cc/*`), or the claim's text when it cannot be parsed.
    pub route: String,
    /// `namespace/name` of the claim that holds it, if one does.
    pub holder: Option<String>,
    /// The holder first, then the others by `namespace/name`.
    pub claims: Vec<ClaimRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRow {
    /// `namespace/name`.
    pub claim: String,
    /// `namespace/name` of the ChittyService it routes to.
    pub service: String,
    pub accepted: bool,
    /// Accepted, Conflicted, NotAllowed, ServiceNotFound, Invalid, or Pending before a decision.
    pub reason: String,
    /// The operator's words: who won and by which rule.
    pub message: String,
}

/// The route a claim is grouped under.
pub fn route_of(host: &str, path: &str) -> String {
    RouteKey::parse(host, path).map_or_else(|_| format!("{host} {path}"), |k| k.to_string())
}

/// Whether a claim's host is `host`, compared as the rule compares hosts (case, trailing dot).
pub fn host_matches(claim_host: &str, host: &str) -> bool {
    let norm =
        |h: &str| RouteKey::parse(h, "/").map_or(h.to_ascii_lowercase(), |k| k.host().to_string());
    norm(claim_host) == norm(host)
}

pub fn build(claims: &[RouteClaim], host: Option<&str>) -> Vec<RouteGroup> {
    let mut groups: BTreeMap<String, Vec<ClaimRow>> = BTreeMap::new();
    for claim in claims {
        if host.is_some_and(|h| !host_matches(&claim.spec.host, h)) {
            continue;
        }
        let route = route_of(&claim.spec.host, &claim.spec.path);
        groups.entry(route).or_default().push(row(claim));
    }
    (groups.into_iter())
        .map(|(route, mut claims)| {
            claims.sort_by(|a, b| (!a.accepted, &a.claim).cmp(&(!b.accepted, &b.claim)));
            let holder = claims.iter().find(|c| c.accepted).map(|c| c.claim.clone());
            RouteGroup {
                route,
                holder,
                claims,
            }
        })
        .collect()
}

fn row(claim: &RouteClaim) -> ClaimRow {
    let ns = claim.namespace().unwrap_or_default();
    let accepted =
        (claim.status.as_ref()).and_then(|s| conditions::find(&s.conditions, types::ACCEPTED));
    let service_ns = claim.spec.service_ref.namespace_or(&ns);
    ClaimRow {
        claim: format!("{ns}/{}", claim.name_any()),
        service: format!("{service_ns}/{}", claim.spec.service_ref.name),
        accepted: accepted.is_some_and(|c| c.status == "True"),
        reason: accepted.map_or("Pending".to_string(), |c| c.reason.clone()),
        message: accepted.map_or("not decided yet".to_string(), |c| c.message.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claim(ns: &str, name: &str, host: &str, accepted: Option<(&str, &str)>) -> RouteClaim {
        let status = accepted.map(|(status, reason)| json!({"conditions": [{
            "type": "Accepted", "status": status, "reason": reason, "message": format!("{reason} by rule"),
            "lastTransitionTime": "2026-01-01T00:00:00Z"}]}));
        serde_json::from_value(json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "RouteClaim",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"host": host, "path": "/*", "serviceRef": {"name": name}},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn claims_group_by_normalised_route_holder_first() {
        let claims = [
            claim("b", "late", "MCP.chitty.cc", Some(("False", "Conflicted"))),
            claim("a", "early", "mcp.chitty.cc.", Some(("True", "Accepted"))),
            claim("a", "new", "api.chitty.cc", None),
        ];
        let groups = build(&claims, None);
        let routes: Vec<&str> = groups.iter().map(|g| g.route.as_str()).collect();
        assert_eq!(routes, ["api.chitty.cc/*", "mcp.chitty.cc/*"]);
        assert_eq!(groups[0].holder, None);
        assert_eq!(groups[0].claims[0].reason, "Pending");
        assert_eq!(groups[1].holder.as_deref(), Some("a/early"));
        let order: Vec<&str> = groups[1].claims.iter().map(|c| c.claim.as_str()).collect();
        assert_eq!(order, ["a/early", "b/late"]);
        assert_eq!(build(&claims, Some("mcp.CHITTY.cc")).len(), 1);
    }
}
