//! Resilience shared by every external-service client: a per-attempt timeout, retries (only on
//! network errors, timeouts, 429 and 5xx) with jittered exponential backoff that honours
//! `Retry-After`, a circuit breaker per service, and metrics. The mint rate limiter lives here
//! too but is applied by the identity client alone.

mod backoff;
mod breaker;
mod metrics;
mod rate_limit;

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use backoff::{RetryPolicy, parse_retry_after};
pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use metrics::ClientMetrics;
pub use rate_limit::{MintRateLimiter, RateLimitConfig};

/// Timeout, retry and breaker settings for one external service.
#[derive(Debug, Clone, PartialEq)]
pub struct ResilienceConfig {
    /// Bound on one attempt, from sending the request to reading the whole body.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub breaker: BreakerConfig,
}

impl ResilienceConfig {
    /// ChittyID: 10 s timeout, breaker opens after 3 failures in 30 s.
    pub fn chitty_id() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::chitty_id(),
        }
    }

    /// ChittyRegistry: 10 s timeout, breaker opens after 5 failures in 60 s.
    pub fn registry() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::registry(),
        }
    }

    /// Notification webhooks: like the registry (each webhook has its own breaker).
    pub fn notify() -> Self {
        Self::registry()
    }
}

/// What one HTTP attempt produced (body already read, so the timeout covered it).
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// Why a call failed after the resilience layer gave up. Carries no body text and no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("network error: {0}")]
    Network(String),
    #[error("server error (HTTP {status})")]
    Server { status: u16 },
    #[error("rate limited (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    #[error("circuit breaker open; next attempt in {retry_after:?}")]
    CircuitOpen { retry_after: Duration },
}

impl CallError {
    /// When it is worth trying again, if the failure says.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            Self::CircuitOpen { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// Runs calls to one external service under its timeout, retry policy and breaker.
#[derive(Debug)]
pub struct Resilience {
    service: String,
    config: ResilienceConfig,
    breaker: Mutex<CircuitBreaker>,
    metrics: ClientMetrics,
}

impl Resilience {
    /// `service` is the metrics label and log field (`chittyid`, `registry`, `notify-<name>`).
    pub fn new(
        service: impl Into<String>,
        config: ResilienceConfig,
        metrics: ClientMetrics,
    ) -> Self {
        let service = service.into();
        metrics.set_breaker(&service, BreakerState::Closed);
        Self {
            breaker: Mutex::new(CircuitBreaker::new(config.breaker.clone())),
            service,
            config,
            metrics,
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.with_breaker(|b| b.state())
    }

    fn with_breaker<T>(&self, f: impl FnOnce(&mut CircuitBreaker) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update; the state is still usable.
        let mut b = self.breaker.lock().unwrap_or_else(|p| p.into_inner());
        let out = f(&mut b);
        self.metrics.set_breaker(&self.service, b.state());
        out
    }

    /// Runs `attempt` until it yields a non-retryable reply or the policy gives up. 2xx and
    /// 4xx replies (except 429) come back as `Ok` for the client to interpret. `attempt`
    /// returns `Err(message)` for transport failures.
    pub async fn call<F, Fut>(&self, mut attempt: F) -> Result<HttpReply, CallError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<HttpReply, String>>,
    {
        let policy = &self.config.retry;
        let mut retry = 0u32;
        loop {
            if let Err(wait) = self.with_breaker(|b| b.try_acquire(Instant::now())) {
                self.metrics.count_refused(&self.service, "circuit_open");
                return Err(CallError::CircuitOpen { retry_after: wait });
            }
            let started = Instant::now();
            let result = tokio::time::timeout(self.config.timeout, attempt()).await;
            let took = started.elapsed();
            let (error, outcome) = match result {
                Err(_) => (CallError::Timeout(self.config.timeout), "timeout"),
                Ok(Err(msg)) => (CallError::Network(msg), "network"),
                Ok(Ok(reply)) if reply.status == 429 => (
                    CallError::RateLimited {
                        retry_after: reply.retry_after,
                    },
                    "rate_limited",
                ),
                Ok(Ok(reply)) if reply.status >= 500 => (
                    CallError::Server {
                        status: reply.status,
                    },
                    "server_error",
                ),
                Ok(Ok(reply)) => {
                    let outcome = if reply.status < 400 {
                        "success"
                    } else {
                        "client_error"
                    };
                    self.metrics.observe_attempt(&self.service, outcome, took);
                    // Any deliberate answer shows the service is up.
                    self.with_breaker(|b| b.record_success());
                    return Ok(reply);
                }
            };
            self.metrics.observe_attempt(&self.service, outcome, took);
            if matches!(error, CallError::RateLimited { .. }) {
                // A 429 is the service working as designed, not a fault to trip on.
                self.with_breaker(|b| b.record_success());
            } else {
                self.with_breaker(|b| b.record_failure(Instant::now()));
            }
            let asked = error.retry_after();
            if retry >= policy.max_retries || asked.is_some_and(|ra| ra > policy.max_retry_after) {
                return Err(error);
            }
            let delay = policy.next_delay(retry, asked);
            tracing::debug!(service = %self.service, retry = retry + 1, ?delay, %error, "retrying call");
            self.metrics.inc_retries(&self.service);
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast(max_retries: u32, threshold: u32) -> ResilienceConfig {
        ResilienceConfig {
            timeout: Duration::from_millis(50),
            retry: RetryPolicy {
                max_retries,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
                jitter: 0.25,
                max_retry_after: Duration::from_millis(100),
            },
            breaker: BreakerConfig {
                failure_threshold: threshold,
                window: Duration::from_secs(30),
                cool_down: Duration::from_secs(30),
            },
        }
    }

    fn reply(status: u16) -> Result<HttpReply, String> {
        Ok(HttpReply {
            status,
            retry_after: None,
            body: Vec::new(),
        })
    }

    #[tokio::test]
    async fn retries_server_errors_until_success() {
        let r = Resilience::new("t", fast(3, 10), ClientMetrics::default());
        let n = AtomicU32::new(0);
        let out = r
            .call(|| async {
                if n.fetch_add(1, Ordering::SeqCst) < 2 {
                    reply(503)
                } else {
                    reply(200)
                }
            })
            .await
            .unwrap();
        assert_eq!(out.status, 200);
        assert_eq!(n.load(Ordering::SeqCst), 3);
        assert_eq!(r.metrics.retries("t"), 2);
    }

    #[tokio::test]
    async fn client_errors_are_not_retried() {
        let r = Resilience::new("t", fast(3, 10), ClientMetrics::default());
        let n = AtomicU32::new(0);
        let out = r
            .call(|| async {
                n.fetch_add(1, Ordering::SeqCst);
                reply(401)
            })
            .await
            .unwrap();
        assert_eq!(out.status, 401);
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn timeouts_and_network_errors_are_retried_then_reported() {
        let r = Resilience::new("t", fast(1, 10), ClientMetrics::default());
        let err = r
            .call(std::future::pending::<Result<HttpReply, String>>)
            .await
            .unwrap_err();
        assert_eq!(err, CallError::Timeout(Duration::from_millis(50)));
        let n = AtomicU32::new(0);
        let err = r
            .call(|| async {
                n.fetch_add(1, Ordering::SeqCst);
                Err::<HttpReply, _>("connection refused".to_owned())
            })
            .await
            .unwrap_err();
        assert_eq!(err, CallError::Network("connection refused".into()));
        assert_eq!(n.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn breaker_stops_calls_once_open() {
        let r = Resilience::new("t", fast(10, 3), ClientMetrics::default());
        let n = AtomicU32::new(0);
        let err = r
            .call(|| async {
                n.fetch_add(1, Ordering::SeqCst);
                reply(500)
            })
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::CircuitOpen { .. }), "{err:?}");
        assert_eq!(n.load(Ordering::SeqCst), 3);
        assert_eq!(r.breaker_state(), BreakerState::Open);
        assert_eq!(r.metrics.breaker_state("t"), 1);
        let again = r.call(|| async { reply(200) }).await.unwrap_err();
        assert!(matches!(again, CallError::CircuitOpen { .. }));
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_long_retry_after_ends_the_call_instead_of_sleeping() {
        let r = Resilience::new("t", fast(3, 10), ClientMetrics::default());
        let n = AtomicU32::new(0);
        let err = r
            .call(|| async {
                n.fetch_add(1, Ordering::SeqCst);
                Ok(HttpReply {
                    status: 429,
                    retry_after: Some(Duration::from_secs(60)),
                    body: Vec::new(),
                })
            })
            .await
            .unwrap_err();
        assert_eq!(
            err,
            CallError::RateLimited {
                retry_after: Some(Duration::from_secs(60))
            }
        );
        assert_eq!(n.load(Ordering::SeqCst), 1);
        assert_eq!(r.breaker_state(), BreakerState::Closed);
    }
}
