//! A health endpoint that keeps a rollout at its health step for as long as the test needs: it
//! answers 200 and 503 in turn, so with success and failure thresholds above 2 the step neither
//! passes nor fails, however often it probes (the margin absorbs a probe counted twice).
//! `settle` makes it answer 200 from then on.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

#[derive(Default)]
struct Shared {
    settled: AtomicBool,
    hits: AtomicU64,
}

pub struct UndecidedHealth {
    shared: Arc<Shared>,
    pub url: String,
}

impl UndecidedHealth {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/health", get(health))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { shared, url }
    }

    /// Healthy from now on.
    pub fn settle(&self) {
        self.shared.settled.store(true, Ordering::SeqCst);
    }
}

async fn health(State(shared): State<Arc<Shared>>) -> StatusCode {
    let hit = shared.hits.fetch_add(1, Ordering::SeqCst);
    if shared.settled.load(Ordering::SeqCst) || hit.is_multiple_of(2) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}
