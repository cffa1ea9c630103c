//! A health endpoint that answers 200 after a delay the test sets. With a high
//! `successThreshold` it holds a rollout at its health step, counting checks up one per delay,
//! for as long as the test needs; set the delay to zero and the rollout finishes.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

pub struct SlowHealth {
    delay_ms: Arc<AtomicU64>,
    pub url: String,
}

impl SlowHealth {
    pub async fn start(delay: Duration) -> Self {
        let delay_ms = Arc::new(AtomicU64::new(delay.as_millis() as u64));
        let app = Router::new()
            .route("/health", get(health))
            .with_state(delay_ms.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { delay_ms, url }
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
}

async fn health(State(delay_ms): State<Arc<AtomicU64>>) -> StatusCode {
    let delay = delay_ms.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    StatusCode::OK
}
