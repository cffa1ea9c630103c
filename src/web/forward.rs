//! A standby replica hands read requests to the leader.
//!
//! The chart's Service spreads requests over every replica, but only the leader's caches are
//! kept (the controllers own them). Rather than answer half of a dashboard's requests with 503,
//! a standby forwards `/api/` and discovery reads to the HTTP address the leader published in
//! its Lease identity (see `leader::holder_address`). It answers 503 itself only when no leader
//! is known or reachable.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};

use super::WebState;
use crate::leader::{LeaderElection, holder_address};

/// Marks a forwarded request, so that it is never forwarded again (two replicas that each
/// think the other leads must not bounce a request between them).
const FORWARDED: HeaderName = HeaderName::from_static("x-chitty-forwarded-by");
/// The Lease changes hands rarely; a request burst reads it once.
const LEADER_TTL: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(10);
/// Request headers the leader needs to answer as it would have answered directly.
const PASSED_ON: [HeaderName; 3] = [header::AUTHORIZATION, header::ACCEPT, header::IF_NONE_MATCH];
const PASSED_BACK: [HeaderName; 3] = [header::CONTENT_TYPE, header::ETAG, header::CACHE_CONTROL];

pub struct Forwarder {
    leases: Api<Lease>,
    lease_name: String,
    own_address: Option<String>,
    http: reqwest::Client,
    leader: Mutex<Option<(Instant, Option<String>)>>,
}

impl Forwarder {
    pub fn new(client: Client, election: &LeaderElection) -> Self {
        Self {
            leases: Api::namespaced(client, &election.namespace()),
            lease_name: election.lease_name.clone(),
            own_address: election.advertise_address.clone(),
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            leader: Mutex::new(None),
        }
    }

    /// The leader's HTTP address, read from the Lease at most every [`LEADER_TTL`].
    async fn leader_address(&self) -> Option<String> {
        if let Some((at, address)) = self
            .leader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            && at.elapsed() < LEADER_TTL
        {
            return address;
        }
        let holder = match self.leases.get_opt(&self.lease_name).await {
            Ok(lease) => lease
                .and_then(|l| l.spec)
                .and_then(|s| s.holder_identity)
                .and_then(|h| holder_address(&h).map(str::to_string)),
            Err(error) => {
                tracing::debug!(%error, "could not read the leader Lease");
                None
            }
        };
        let address = holder.filter(|a| Some(a) != self.own_address.as_ref());
        *self.leader.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), address.clone()));
        address
    }

    /// `path` with its query; `headers` of the original request.
    async fn forward(
        &self,
        address: &str,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<Response, reqwest::Error> {
        let mut outgoing = self
            .http
            .get(format!("http://{address}{path}"))
            .header(&FORWARDED, self.own_address.as_deref().unwrap_or("standby"));
        for name in PASSED_ON {
            if let Some(value) = headers.get(&name) {
                outgoing = outgoing.header(name, value);
            }
        }
        let answer = outgoing.send().await?;
        let status =
            StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut response = Response::builder().status(status);
        for name in PASSED_BACK {
            if let Some(value) = answer.headers().get(name.as_str()) {
                response = response.header(name, value.as_bytes());
            }
        }
        let body = answer.bytes().await?;
        Ok(response
            .body(Body::from(body))
            .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response()))
    }
}

/// Reads that only a leader can answer; the page and its assets are the same on every replica.
fn needs_leader(method: &Method, path: &str) -> bool {
    method == Method::GET && (path.starts_with("/api/") || path == super::DISCOVERY)
}

/// Middleware: on a standby, forwards what only the leader can answer; otherwise passes on.
pub async fn to_leader(
    State(state): State<Arc<WebState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(forwarder) = state.forward.get() else {
        return next.run(request).await;
    };
    if state.fleet.is_attached()
        || !needs_leader(request.method(), request.uri().path())
        || request.headers().contains_key(&FORWARDED)
    {
        return next.run(request).await;
    }
    let Some(address) = forwarder.leader_address().await else {
        return next.run(request).await;
    };
    // Taken out before awaiting: a request body is not `Sync`.
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
    let headers = request.headers().clone();
    match forwarder.forward(&address, &path, &headers).await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(%error, %address, "could not reach the leader; answering here");
            next.run(request).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_of_the_api_and_discovery_go_to_the_leader() {
        assert!(needs_leader(&Method::GET, "/api/services"));
        assert!(needs_leader(&Method::GET, "/api/admin/routes"));
        assert!(needs_leader(&Method::GET, super::super::DISCOVERY));
        assert!(!needs_leader(&Method::GET, "/"));
        assert!(!needs_leader(&Method::GET, "/assets/app.js"));
        assert!(!needs_leader(&Method::GET, "/metrics"));
        assert!(!needs_leader(&Method::POST, "/api/services"));
    }
}
