//! The operator's read surface, on the same port as its probes: the discovery document ChittyOS
//! clients bootstrap from, the deploy status API, the fleet list, their OpenAPI description and
//! a dashboard. Everything is answered from the reflector caches the controllers already keep
//! (`fleet`), so a request never reaches the API server.

pub mod auth;
pub mod charts;
pub mod config;
pub mod dashboard;
pub mod deploy_status;
pub mod discovery;
pub mod fleet;
pub mod forward;
pub mod kube_auth;
pub mod leader_pod;
pub mod limits;
pub mod openapi;
pub mod problem;
pub mod query;
pub mod review_cache;
pub mod service_page;
pub mod services;
mod token_file;
pub mod visible;

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kube::runtime::reflector::Store;
use serde::Serialize;

pub use config::WebConfig;
pub use visible::Visible;

use crate::api::ChittyService;

pub const DISCOVERY: &str = "/.well-known/chitty.json";
pub const DEPLOY_STATUS: &str = "/api/deploy/status";
pub const DEPLOY_HISTORY: &str = "/api/deploy/status/{namespace}/{service}";
pub const SERVICES: &str = "/api/services";
pub const OPENAPI: &str = "/openapi.json";
pub const SERVICE_HEALTH: &str = "/api/services/{namespace}/{service}/health";
pub const SERVICE_CHART: &str = "/api/services/{namespace}/{service}/charts/{chart}";
/// A service's dashboard page (HTML, like `/`).
pub const SERVICE_PAGE: &str = "/services/{namespace}/{service}";

/// The API paths this module serves (the OpenAPI document lists exactly these, plus
/// [`ROUTES_VIEW`]).
pub const API_PATHS: &[&str] = &[
    DISCOVERY,
    DEPLOY_STATUS,
    DEPLOY_HISTORY,
    SERVICES,
    SERVICE_HEALTH,
    SERVICE_CHART,
    OPENAPI,
];

/// The RouteClaims view, served by the routing module; documented here with the rest of the API
/// and read by the dashboard, which copes with its absence.
pub const ROUTES_VIEW: &str = "/api/admin/routes";

pub struct WebState {
    pub fleet: fleet::FleetCache,
    pub auth: auth::ApiAuth,
    pub public_url: Option<String>,
    /// When this process started: `updated_at` of an empty discovery document.
    pub started: jiff::Timestamp,
    /// Set when replicas elect a leader: a standby forwards reads to it.
    pub forward: std::sync::OnceLock<forward::Forwarder>,
    /// Set with `--api-auth=kubernetes`: reviews callers' tokens and access.
    pub reviewer: std::sync::OnceLock<kube_auth::KubeReviewer>,
    /// Each service's recent probes, recorded by the probe pool of whichever term leads.
    pub probe_history: crate::probe::history::ProbeHistory,
}

impl WebState {
    /// Fails when a token is configured but unusable, so the API is never open by mistake.
    pub fn new(config: &WebConfig) -> anyhow::Result<Self> {
        Ok(Self::with_auth(
            auth::ApiAuth::from_config(config)?,
            config.public_url.clone(),
        ))
    }

    pub fn with_auth(auth: auth::ApiAuth, public_url: Option<String>) -> Self {
        let now = jiff::Timestamp::now();
        Self {
            fleet: fleet::FleetCache::default(),
            auth,
            public_url,
            started: jiff::Timestamp::from_second(now.as_second()).unwrap_or(now),
            forward: Default::default(),
            reviewer: Default::default(),
            probe_history: Default::default(),
        }
    }

    /// Serves the fleet from these caches for as long as the returned guard lives: the
    /// controllers of one leadership term hold it, so a replica that loses its Lease stops
    /// answering from caches nobody updates any more.
    pub fn serve_from(
        self: &Arc<Self>,
        services: Store<ChittyService>,
        rollouts: Store<crate::controller::CachedRollout>,
    ) -> Serving {
        Serving {
            term: self.fleet.attach(services, rollouts),
            state: self.clone(),
        }
    }
}

/// See [`WebState::serve_from`].
#[must_use = "the fleet is served only while this lives"]
pub struct Serving {
    state: Arc<WebState>,
    term: u64,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.state.fleet.detach(self.term);
    }
}

/// This module's routes, without the token check.
pub fn routes(state: Arc<WebState>) -> Router {
    Router::new()
        .route(DISCOVERY, get(discovery::handler))
        .route(DEPLOY_STATUS, get(deploy_status::list))
        .route(DEPLOY_HISTORY, get(deploy_status::history))
        .route(SERVICES, get(services::list))
        .route(SERVICE_HEALTH, get(service_page::health))
        .route(SERVICE_CHART, get(service_page::chart))
        .route(OPENAPI, get(openapi::handler))
        .route("/", get(dashboard::page))
        .route(SERVICE_PAGE, get(dashboard::service_page))
        .route("/assets/{file}", get(dashboard::file))
        .with_state(state)
}

/// `app` with this module's routes added, and the token check over every `/api/` path of the
/// result, whichever module serves it; behind the check, a standby forwards reads to the leader.
/// Outermost, the read API's bounds on requests in flight and their duration.
pub fn mount(app: Router, state: Arc<WebState>) -> Router {
    app.merge(routes(state.clone()))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            forward::to_leader,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state,
            auth::require_token,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(limits::Limits::default()),
            limits::bound,
        ))
}

/// A JSON response from a body that borrows the snapshot, serialized before the borrow ends.
pub(crate) fn json<T: Serialize>(body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => problem::ApiError {
            status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            error: format!("response did not serialize: {e}"),
            code: "INTERNAL",
            parameter: None,
        }
        .into_response(),
    }
}
