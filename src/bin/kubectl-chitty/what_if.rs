//! `routes --what-if`: the operator's own conflict rule (`chitty_operator::routing`, pure) over
//! the live claims with the ones a manifest would add or change. Nothing here talks to the
//! cluster; the caller brings the live objects and the route policy.

use std::collections::{BTreeMap, BTreeSet};

use chitty_operator::api::{ChittyService, RouteClaim};
use chitty_operator::controller::route_claim::input::{claim_id, service_of, to_claim};
use chitty_operator::controller::service::routes::desired_claims;
use chitty_operator::labels;
use chitty_operator::routing::{self, ClaimId, RoutePolicy};
use kube::ResourceExt;
use serde::Serialize;

use crate::manifest::Proposed;
use crate::route_table::route_of;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Every claim of the manifest, then every live claim whose standing would change.
    pub rows: Vec<Row>,
    /// What the answer could not take into account.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// `namespace/name`.
    pub claim: String,
    pub route: String,
    /// `namespace/name` of the ChittyService it routes to.
    pub service: String,
    pub source: Source,
    /// Whether it would hold the route.
    pub accepted: bool,
    pub reason: String,
    pub holder: Option<String>,
    /// The rule's own words.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The claim comes from (or is changed by) the manifest.
    Manifest,
    /// A live claim the manifest would take a route from, or give one to.
    Live,
}

pub fn decide(
    live_claims: &[RouteClaim],
    live_services: &[ChittyService],
    proposed: &Proposed,
    policy: &RoutePolicy,
) -> Outcome {
    let live: BTreeMap<ClaimId, RouteClaim> = live_claims
        .iter()
        .map(|c| (claim_id(c), c.clone()))
        .collect();
    let mut claims = live.clone();
    let mut from_manifest = BTreeSet::new();
    for service in &proposed.services {
        let wanted = desired_claims(service);
        // The operator deletes the claims of a service's routes that its new spec drops.
        let ns = service.namespace().unwrap_or_default();
        claims.retain(|_, c| {
            !(c.namespace().as_deref() == Some(ns.as_str())
                && c.labels().get(labels::SERVICE) == Some(&service.name_any())
                && c.labels().get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGER)
                && !wanted.contains_key(&c.name_any()))
        });
        for claim in wanted.into_values() {
            from_manifest.insert(upsert(&mut claims, claim));
        }
    }
    for claim in &proposed.claims {
        from_manifest.insert(upsert(&mut claims, claim.clone()));
    }
    let key = |s: &ChittyService| (s.namespace().unwrap_or_default(), s.name_any());
    let before_services: BTreeSet<(String, String)> = live_services.iter().map(key).collect();
    let mut services = before_services.clone();
    services.extend(proposed.services.iter().map(key));
    // Live claims are compared with what the rule decides for the cluster as it is, not with
    // their status, so a claim the operator has not decided yet is not taken for a change.
    let decide_all = |claims: &BTreeMap<ClaimId, RouteClaim>,
                      services: &BTreeSet<(String, String)>| {
        let inputs: Vec<routing::Claim> = (claims.values())
            .map(|c| to_claim(c, services.contains(&service_of(c))))
            .collect();
        routing::resolve(&inputs, policy)
    };
    let before = decide_all(&live, &before_services);
    let resolution = decide_all(&claims, &services);
    let mut rows = Vec::new();
    for (id, claim) in &claims {
        let Some(decision) = resolution.decisions.get(id) else {
            continue;
        };
        let source = if from_manifest.contains(id) {
            Source::Manifest
        } else if (before.decisions.get(id))
            .is_some_and(|b| (b.accepted, &b.holder) != (decision.accepted, &decision.holder))
        {
            Source::Live
        } else {
            continue;
        };
        let (service_ns, service) = service_of(claim);
        rows.push(Row {
            claim: id.to_string(),
            route: route_of(&claim.spec.host, &claim.spec.path),
            service: format!("{service_ns}/{service}"),
            source,
            accepted: decision.accepted,
            reason: decision.reason.to_string(),
            holder: decision.holder.as_ref().map(ToString::to_string),
            message: decision.message.clone(),
        });
    }
    rows.sort_by_key(|r| (r.source == Source::Live, r.route.clone(), r.claim.clone()));
    let notes = (proposed.ignored.iter())
        .map(|o| format!("{o} is not a ChittyService or RouteClaim and was left out"))
        .collect();
    Outcome { rows, notes }
}

/// Puts a manifest's claim in the set. A claim that exists keeps its age and what its status
/// says it holds: applying it again changes neither (unless its route changes, which the
/// operator's incumbency check sees for itself).
fn upsert(claims: &mut BTreeMap<ClaimId, RouteClaim>, mut claim: RouteClaim) -> ClaimId {
    let id = claim_id(&claim);
    if let Some(live) = claims.get(&id) {
        claim.metadata.creation_timestamp = live.metadata.creation_timestamp.clone();
        claim.status = live.status.clone();
    }
    claims.insert(id.clone(), claim);
    id
}

#[cfg(test)]
#[path = "what_if_tests.rs"]
mod tests;
