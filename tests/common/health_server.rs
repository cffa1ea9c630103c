//! A health endpoint the test controls: answers `GET /health` with the status it is told to.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

#[derive(Default)]
struct Shared {
    status: AtomicU16,
    hits: AtomicU64,
}

pub struct HealthServer {
    shared: Arc<Shared>,
    pub url: String,
}

impl HealthServer {
    /// Starts healthy (200) on a free loopback port.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            status: AtomicU16::new(200),
            hits: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/health", get(health))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { shared, url }
    }

    pub fn set_status(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::SeqCst)
    }
}

async fn health(State(shared): State<Arc<Shared>>) -> (StatusCode, &'static str) {
    shared.hits.fetch_add(1, Ordering::SeqCst);
    let code = StatusCode::from_u16(shared.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK);
    (code, r#"{"status":"ok","service":"test"}"#)
}
