//! A standby replica hands public read requests to the leader.
//!
//! The chart's Service spreads requests over every replica, but only the leader's caches are
//! kept (the controllers own them). A standby forwards discovery reads, and `/api/` reads when
//! the API is open, to the leader's pod: the pod the Lease holder identity names, looked up in
//! the API server and trusted only as a Ready replica (see `leader_pod`), at its `podIP` and the
//! replicas' HTTP port. Nothing free-form in the Lease becomes an address.
//!
//! Credentials are never passed on. When `/api/` needs them, a standby answers 503 with
//! `Retry-After` instead (a retry through the Service usually reaches the leader): replicas then
//! need no secret of their own to share and rotate, and a caller's token never leaves the pod
//! that received it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, Client};

use super::WebState;
use super::leader_pod::{PeerSelector, peer_address};
use super::problem::ApiError;
use crate::leader::{LeaderElection, holder_pod};

/// Marks a forwarded request, so that it is never forwarded again (two replicas that each
/// think the other leads must not bounce a request between them).
const FORWARDED: HeaderName = HeaderName::from_static("x-chitty-forwarded-by");
/// The Lease changes hands rarely; a request burst reads it (and the pod) once.
const LEADER_TTL: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer a standby relays; the fleet's JSON is far smaller, and a standby must not
/// hold an unbounded body in memory for anyone.
pub const MAX_FORWARDED_BODY: usize = 8 * 1024 * 1024;
/// Seconds a caller waits before retrying a standby's 503.
const RETRY_AFTER_SECS: &str = "1";
/// Request headers the leader needs to answer as it would have answered directly; never
/// `Authorization`.
const PASSED_ON: [HeaderName; 2] = [header::ACCEPT, header::IF_NONE_MATCH];
const PASSED_BACK: [HeaderName; 2] = [header::ETAG, header::CACHE_CONTROL];

pub struct Forwarder {
    leases: Api<Lease>,
    pods: Api<Pod>,
    lease_name: String,
    own_pod: Option<String>,
    selector: PeerSelector,
    port: u16,
    http: reqwest::Client,
    leader: Mutex<Option<(Instant, Option<SocketAddr>)>>,
}

impl Forwarder {
    /// `port`: the replicas' HTTP port. Fails on a peer selector that names no label.
    pub fn new(client: Client, election: &LeaderElection, port: u16) -> anyhow::Result<Self> {
        let namespace = election.namespace();
        Ok(Self {
            leases: Api::namespaced(client.clone(), &namespace),
            pods: Api::namespaced(client, &namespace),
            lease_name: election.lease_name.clone(),
            own_pod: election.pod_name.clone(),
            selector: PeerSelector::parse(&election.peer_selector).map_err(anyhow::Error::msg)?,
            port,
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .unwrap_or_default(),
            leader: Mutex::new(None),
        })
    }

    /// The leader pod's read API address, looked up at most every [`LEADER_TTL`].
    async fn leader_address(&self) -> Option<SocketAddr> {
        if let Some((at, address)) = *self.leader.lock().unwrap_or_else(PoisonError::into_inner)
            && at.elapsed() < LEADER_TTL
        {
            return address;
        }
        let address = self.look_up_leader().await;
        *self.leader.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), address));
        address
    }

    async fn look_up_leader(&self) -> Option<SocketAddr> {
        let holder = match self.leases.get_opt(&self.lease_name).await {
            Ok(lease) => lease.and_then(|l| l.spec)?.holder_identity?,
            Err(error) => {
                tracing::debug!(%error, "could not read the leader Lease");
                return None;
            }
        };
        let pod_name = holder_pod(&holder)?;
        if Some(pod_name) == self.own_pod.as_deref() {
            return None;
        }
        let pod = match self.pods.get_opt(pod_name).await {
            Ok(pod) => pod?,
            Err(error) => {
                tracing::debug!(%error, pod = pod_name, "could not read the leader's pod");
                return None;
            }
        };
        peer_address(&pod, &self.selector, self.port)
            .inspect_err(|why| tracing::debug!(?why, pod = pod_name, "not forwarding to this pod"))
            .ok()
    }

    /// `path` with its query; `headers` of the original request.
    async fn forward(
        &self,
        address: SocketAddr,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<Response, Failed> {
        let mut outgoing = self
            .http
            .get(format!("http://{address}{path}"))
            .header(&FORWARDED, self.own_pod.as_deref().unwrap_or("standby"));
        for name in PASSED_ON {
            if let Some(value) = headers.get(&name) {
                outgoing = outgoing.header(name, value);
            }
        }
        let mut answer = outgoing.send().await?;
        if answer
            .content_length()
            .is_some_and(|n| n > MAX_FORWARDED_BODY as u64)
        {
            return Err(Failed::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = answer.chunk().await? {
            if body.len() + chunk.len() > MAX_FORWARDED_BODY {
                return Err(Failed::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let status =
            StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut response = Response::builder().status(status);
        for name in PASSED_BACK {
            if let Some(value) = answer.headers().get(name.as_str()) {
                response = response.header(name, value.as_bytes());
            }
        }
        Ok(json_only(response.body(Body::from(body)).unwrap_or_else(
            |_| StatusCode::BAD_GATEWAY.into_response(),
        )))
    }
}

/// Why a forwarded request got no relayable answer.
enum Failed {
    Unreachable(reqwest::Error),
    TooLarge,
}

impl From<reqwest::Error> for Failed {
    fn from(error: reqwest::Error) -> Self {
        Self::Unreachable(error)
    }
}

/// Whatever the leader said its body was, a relayed body is served as JSON that browsers must
/// not sniff into something else.
fn json_only(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A standby's answer to a request it will not forward because it carries credentials.
fn retry_elsewhere() -> Response {
    let mut response = ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        error: "this replica is on standby and does not pass credentials on; retry (the leader answers)"
            .into(),
        code: "UNAVAILABLE",
        parameter: None,
    }
    .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    response
}

/// Reads that only a leader can answer; the page and its assets are the same on every replica.
fn needs_leader(method: &Method, path: &str) -> bool {
    method == Method::GET && (path.starts_with("/api/") || path == super::DISCOVERY)
}

/// Whether a read may go to the leader without credentials: public paths always, `/api/` only
/// while it is open.
fn forwardable(path: &str, api_needs_credentials: bool) -> bool {
    !super::auth::protected(path) || !api_needs_credentials
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
    if !forwardable(request.uri().path(), state.auth.required()) {
        return retry_elsewhere();
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
    match forwarder.forward(address, &path, &headers).await {
        Ok(response) => response,
        Err(Failed::TooLarge) => ApiError {
            status: StatusCode::BAD_GATEWAY,
            error: format!("the leader's answer exceeds {MAX_FORWARDED_BODY} bytes"),
            code: "BAD_GATEWAY",
            parameter: None,
        }
        .into_response(),
        Err(Failed::Unreachable(error)) => {
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

    #[test]
    fn api_reads_are_forwarded_only_while_the_api_is_open() {
        assert!(forwardable("/api/services", false));
        assert!(!forwardable("/api/services", true));
        assert!(forwardable(super::super::DISCOVERY, true));
    }

    #[test]
    fn a_relayed_body_is_json_and_not_sniffed() {
        let relayed = Response::builder()
            .header(header::CONTENT_TYPE, "text/html")
            .body(Body::empty())
            .unwrap();
        let served = json_only(relayed);
        assert_eq!(served.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(served.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[test]
    fn a_standby_refusing_credentials_says_when_to_retry() {
        let answer = retry_elsewhere();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.headers()[header::RETRY_AFTER], "1");
    }
}
