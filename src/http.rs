//! The operator's HTTP port: probes and metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;

pub struct HttpState {
    pub registry: Registry,
    /// Set once the controllers' caches have synced.
    pub ready: AtomicBool,
    /// Route ownership as the running controllers see it, for `/api/admin/routes`.
    pub routes: crate::controller::route_claim::CurrentTable,
    /// The read API and dashboard (`crate::web`), when served on this port.
    pub web: Option<Arc<crate::web::WebState>>,
}

pub fn router(state: Arc<HttpState>) -> Router {
    let web = state.web.clone();
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/api/admin/routes",
            get(crate::controller::route_claim::view::fleet),
        )
        .with_state(state);
    // Added last so that its bearer-token check covers every `/api/` path above as well.
    match web {
        Some(web) => crate::web::mount(app, web),
        None => app,
    }
}

async fn readyz(State(state): State<Arc<HttpState>>) -> impl IntoResponse {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced")
    }
}

async fn metrics(State(state): State<Arc<HttpState>>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            "encoding failed".into(),
        ),
    }
}

/// Serves on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<HttpState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "serving probes, metrics and the read API");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
