//! chitty-sim: a stand-in for the external ChittyOS services on one port, shaped like the real
//! ones (see `shared/ecosystem-apis.md`): ChittyID (`/v1/mint`, `/api/validate`), ChittyRegistry
//! (`/api/v1/tools`, `/api/v1/manifest`), a notification sink (`/notify/{channel}`), simulated
//! service health (`/svc/{name}/health`), an advisor model (`/v1/chat/completions`, answers
//! scripted through `/_sim/advisor/answer`), and an admin API (`/_sim/...`) that injects faults
//! and reports counters so tests can assert on outcomes.

// Handlers short-circuit with a ready `Response` as the error; boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod admin;
mod advisor;
mod faults;
mod identity;
mod notify;
mod registry;
mod reply;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};
use tokio::net::TcpListener;

pub use faults::{FaultMode, FaultSpec};

use crate::clients::SecretToken;

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Bearer token required for mints, registry writes and advisor model questions.
    pub token: SecretToken,
    /// When set, minted IDs, idempotency keys, registry records, received notifications and
    /// service health are loaded from and saved to this JSON file, so a restart keeps them.
    pub state_file: Option<PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            token: SecretToken::new("sim-token"),
            state_file: None,
        }
    }
}

/// The sim's routes, with state loaded from `config.state_file` if it exists.
pub fn router(config: SimConfig) -> std::io::Result<Router> {
    let sim = Arc::new(state::Sim::load(config)?);
    let app = Router::new()
        .route("/health", get(admin::health))
        .route("/v1/mint", post(identity::mint))
        .route("/api/validate", post(identity::validate))
        .route("/api/v1/tools", post(registry::upsert).get(registry::list))
        .route(
            "/api/v1/tools/{chitty_id}",
            get(registry::get_one).delete(registry::retire),
        )
        .route("/api/v1/manifest", get(registry::manifest))
        .route("/notify/{channel}", post(notify::receive).get(notify::list))
        .route("/v1/chat/completions", post(advisor::complete))
        .route("/svc/{name}/health", get(admin::service_health))
        .route("/_sim/svc/{name}", put(admin::set_service_health))
        .route(
            "/_sim/faults",
            get(admin::list_faults).delete(admin::clear_faults),
        )
        .route(
            "/_sim/faults/{service}",
            get(admin::get_fault).put(admin::set_fault),
        )
        .route("/_sim/advisor", get(advisor::script))
        .route("/_sim/advisor/answer", put(advisor::set_answer))
        .route("/_sim/stats", get(admin::stats))
        .route("/_sim/reset", post(admin::reset))
        .route_layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            admin::count_request,
        ))
        .with_state(sim);
    Ok(app)
}

/// Serves the sim on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, config: SimConfig) -> std::io::Result<()> {
    serve_with_shutdown(listener, config, std::future::pending()).await
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(config)?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A sim running in this process (for tests). Dropping it stops accepting connections and
/// closes idle ones.
#[derive(Debug)]
pub struct SimHandle {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`, the base URL for every client.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the sim on `127.0.0.1:0` in the current runtime.
pub async fn spawn_local(config: SimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = router(config)?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let stopped = async {
            let _ = rx.await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(error = %e, "chitty-sim stopped");
        }
    });
    Ok(SimHandle {
        addr,
        shutdown: Some(tx),
    })
}
