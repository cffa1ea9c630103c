//! The fleet view, `GET /api/admin/routes`: every claim with its decision, and every contested
//! route with its holder and the claims that lost it, for dashboards and scripts. Served from the
//! [`RouteTable`](super::RouteTable) in memory; a request never reaches the apiserver.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;

use super::input::ServiceKey;
use crate::http::HttpState;
use crate::routing::{ClaimId, ClaimIndex, Conflict, Overlap, Reason};
use crate::web::Visible;
use crate::web::problem::ApiError;
use crate::web::query::{self, Params};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetView {
    /// Every claim, in `namespace/name` order.
    pub claims: Vec<ClaimView>,
    /// Every route claimed more than once, in route order.
    pub conflicts: Vec<Conflict>,
    /// Held exact hosts under a held wildcard: not conflicts, listed because they are often
    /// mistaken for one.
    pub overlaps: Vec<Overlap>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimView {
    pub claim: ClaimId,
    /// Normalised, or as written when it cannot be (`Invalid`).
    pub host: String,
    pub path: String,
    /// The ChittyService it routes to, `namespace/name`.
    pub service: String,
    pub accepted: bool,
    pub reason: Reason,
    pub holder: Option<ClaimId>,
}

impl FleetView {
    pub fn build(index: &ClaimIndex, service_of: &BTreeMap<ClaimId, ServiceKey>) -> Self {
        let resolution = index.resolution();
        let claims = resolution
            .decisions
            .iter()
            .map(|(id, decision)| {
                let (host, path) = match (&decision.key, index.get(id)) {
                    (Some(key), _) => (key.host().to_owned(), key.path().to_owned()),
                    (None, Some(claim)) => (claim.host.clone(), claim.path.clone()),
                    (None, None) => Default::default(),
                };
                let service = service_of
                    .get(id)
                    .map(|(ns, name)| format!("{ns}/{name}"))
                    .unwrap_or_default();
                ClaimView {
                    claim: id.clone(),
                    host,
                    path,
                    service,
                    accepted: decision.accepted,
                    reason: decision.reason,
                    holder: decision.holder.clone(),
                }
            })
            .collect();
        Self {
            claims,
            conflicts: resolution.conflicts,
            overlaps: resolution.overlaps,
        }
    }
}

/// One page of the fleet view: claims paged like the other lists (`limit` + `continue`, or
/// `page` + `pageSize`); conflicts and overlaps, which are few, listed whole on every page.
#[derive(Serialize)]
struct FleetPage<'a> {
    claims: &'a [ClaimView],
    conflicts: &'a [Conflict],
    overlaps: &'a [Overlap],
    #[serde(rename = "continue")]
    next: Option<String>,
}

const PARAMS: &[&str] = &["limit", "continue", "page", "pageSize"];

/// `GET /api/admin/routes`; 503 until the operator's caches have synced. Every tenant's hosts
/// are in it, so a caller must see every namespace (without the read API's middleware, as in
/// tests of the probes alone, nothing restricts the port).
pub async fn fleet(
    State(state): State<Arc<HttpState>>,
    visible: Option<Extension<Visible>>,
    raw: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    if visible.is_some_and(|Extension(v)| !v.is_all()) {
        return ApiError {
            status: StatusCode::FORBIDDEN,
            error: "the route view lists every namespace's claims; it needs list access to \
                    chittyservices in all namespaces"
                .into(),
            code: "FORBIDDEN",
            parameter: None,
        }
        .into_response();
    }
    let paging = match Params::parse(raw, PARAMS).and_then(|p| p.paging()) {
        Ok(paging) => paging,
        Err(error) => return error.into_response(),
    };
    match state.routes.get().fleet() {
        Some(view) => {
            let (claims, next) = query::page(&view.claims, |c| c.claim.as_str(), &paging);
            Json(FleetPage {
                claims,
                conflicts: &view.conflicts,
                overlaps: &view.overlaps,
                next,
            })
            .into_response()
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "route claims not synced yet",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::Claim;

    fn claim(ns: &str, name: &str, host: &str, second: i64) -> Claim {
        Claim {
            id: ClaimId::new(ns, name),
            host: host.into(),
            path: "/*".into(),
            created: jiff::Timestamp::from_second(1_750_000_000 + second).unwrap(),
            incumbent: false,
            service_found: true,
            service: "svc".into(),
            service_namespace: None,
        }
    }

    #[test]
    fn lists_claims_and_the_conflict_with_holder_and_losers() {
        let mut index = ClaimIndex::default();
        let mut links = BTreeMap::new();
        for (c, service) in [
            (claim("a", "connect", "MCP.chitty.cc", 1), "chittyconnect"),
            (claim("b", "mcp", "mcp.chitty.cc", 2), "chittymcp"),
            (claim("b", "bad", "a.*.chitty.cc", 3), "chittymcp"),
        ] {
            links.insert(
                c.id.clone(),
                (c.id.namespace().to_owned(), service.to_owned()),
            );
            index.upsert(c);
        }
        let json = serde_json::to_value(FleetView::build(&index, &links)).unwrap();
        assert_eq!(
            json["conflicts"],
            serde_json::json!([{"host": "mcp.chitty.cc", "path": "/", "holder": "a/connect", "losers": ["b/mcp"]}])
        );
        assert_eq!(
            json["claims"][0],
            serde_json::json!({"claim": "a/connect", "host": "mcp.chitty.cc", "path": "/",
                "service": "a/chittyconnect", "accepted": true, "reason": "Accepted", "holder": "a/connect"})
        );
        assert_eq!(json["claims"][1]["claim"], "b/bad");
        assert_eq!(json["claims"][1]["host"], "a.*.chitty.cc");
        assert_eq!(json["claims"][1]["reason"], "Invalid");
        assert_eq!(json["claims"][2]["reason"], "Conflicted");
    }
}
