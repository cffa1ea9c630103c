//! Bounds on the read API's work: at most [`MAX_IN_FLIGHT`] `/api/` and discovery requests at
//! once (more are answered 503 at once, not queued), and none longer than [`REQUEST_TIMEOUT`].
//! Probes and metrics are left out, so that a flood of reads cannot fail a liveness check.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::problem::ApiError;

/// Requests served at once; a dashboard makes a handful, a busy fleet's scripts a few dozen.
pub const MAX_IN_FLIGHT: usize = 256;
/// Longer than a standby's forwarding timeout (10 s) plus a TokenReview and a few
/// SubjectAccessReviews, so that those fail first with their own answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Limits {
    in_flight: Semaphore,
    timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(MAX_IN_FLIGHT, REQUEST_TIMEOUT)
    }
}

impl Limits {
    pub fn new(max_in_flight: usize, timeout: Duration) -> Self {
        Self {
            in_flight: Semaphore::new(max_in_flight),
            timeout,
        }
    }
}

/// Paths whose work is bounded: what the read API computes, not probes or metrics.
fn limited(path: &str) -> bool {
    super::auth::protected(path) || path == super::DISCOVERY
}

fn unavailable(error: &str) -> Response {
    let mut response = ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        error: error.into(),
        code: "UNAVAILABLE",
        parameter: None,
    }
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Middleware over the whole port (outermost, so that reviews of callers count too).
pub async fn bound(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    if !limited(request.uri().path()) {
        return next.run(request).await;
    }
    let Ok(_permit) = limits.in_flight.try_acquire() else {
        return unavailable("too many requests in flight; try again shortly");
    };
    match tokio::time::timeout(limits.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => unavailable("the request took too long and was abandoned"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app(limits: Limits) -> Router {
        Router::new()
            .route(
                "/api/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    "never"
                }),
            )
            .route("/healthz", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(limits),
                bound,
            ))
    }

    fn get_request(path: &str) -> Request {
        Request::builder()
            .uri(path)
            .body(Default::default())
            .unwrap()
    }

    #[tokio::test]
    async fn a_request_past_the_timeout_is_answered_503() {
        let answer = app(Limits::new(4, Duration::from_millis(50)))
            .oneshot(get_request("/api/slow"))
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.headers()[header::RETRY_AFTER], "1");
    }

    #[tokio::test]
    async fn past_the_limit_requests_are_refused_and_probes_still_answer() {
        let app = app(Limits::new(0, Duration::from_secs(1)));
        let refused = app.clone().oneshot(get_request("/api/slow")).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        let probe = app.oneshot(get_request("/healthz")).await.unwrap();
        assert_eq!(probe.status(), StatusCode::OK);
    }
}
