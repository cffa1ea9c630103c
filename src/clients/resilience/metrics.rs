//! Prometheus metrics for the external-service clients, labelled by service.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::breaker::BreakerState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    service: String,
    outcome: String,
}

type HistogramFamily = Family<ServiceLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 5 ms .. ~41 s: covers a fast local call up to a full 10 s timeout and beyond.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Cheap to clone: every clone updates the same series.
#[derive(Clone, Debug)]
pub struct ClientMetrics {
    requests: Family<OutcomeLabels, Counter>,
    retries: Family<ServiceLabels, Counter>,
    latency: HistogramFamily,
    breaker_state: Family<ServiceLabels, Gauge>,
}

impl Default for ClientMetrics {
    /// Metrics that are collected but not exported (tests, or no registry).
    fn default() -> Self {
        Self {
            requests: Family::default(),
            retries: Family::default(),
            latency: HistogramFamily::new_with_constructor(latency_histogram),
            breaker_state: Family::default(),
        }
    }
}

impl ClientMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "chitty_client_requests",
            "Attempts at calls to external ChittyOS services, by outcome",
            m.requests.clone(),
        );
        registry.register(
            "chitty_client_retries",
            "Retries of calls to external ChittyOS services",
            m.retries.clone(),
        );
        registry.register(
            "chitty_client_request_duration_seconds",
            "Latency of single attempts at calls to external ChittyOS services",
            m.latency.clone(),
        );
        registry.register(
            "chitty_client_breaker_state",
            "Circuit breaker state per external service (0 closed, 1 open, 2 half-open)",
            m.breaker_state.clone(),
        );
        m
    }

    fn labels(service: &str) -> ServiceLabels {
        ServiceLabels {
            service: service.to_owned(),
        }
    }

    pub(crate) fn observe_attempt(&self, service: &str, outcome: &'static str, took: Duration) {
        self.requests
            .get_or_create(&OutcomeLabels {
                service: service.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&Self::labels(service))
            .observe(took.as_secs_f64());
    }

    pub(crate) fn count_refused(&self, service: &str, outcome: &'static str) {
        self.requests
            .get_or_create(&OutcomeLabels {
                service: service.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub(crate) fn inc_retries(&self, service: &str) {
        self.retries.get_or_create(&Self::labels(service)).inc();
    }

    pub(crate) fn set_breaker(&self, service: &str, state: BreakerState) {
        self.breaker_state
            .get_or_create(&Self::labels(service))
            .set(state as i64);
    }

    /// Retries so far for `service` (for tests and diagnostics).
    pub fn retries(&self, service: &str) -> u64 {
        self.retries.get_or_create(&Self::labels(service)).get()
    }

    /// The breaker gauge for `service`: 0 closed, 1 open, 2 half-open.
    pub fn breaker_state(&self, service: &str) -> i64 {
        self.breaker_state
            .get_or_create(&Self::labels(service))
            .get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_metrics_are_exported_with_service_labels() {
        let mut registry = Registry::default();
        let m = ClientMetrics::register(&mut registry);
        m.observe_attempt("chittyid", "success", Duration::from_millis(12));
        m.inc_retries("chittyid");
        m.set_breaker("registry", BreakerState::Open);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        assert!(out.contains(r#"chitty_client_retries_total{service="chittyid"} 1"#));
        assert!(
            out.contains(r#"chitty_client_requests_total{service="chittyid",outcome="success"} 1"#)
        );
        assert!(out.contains(r#"chitty_client_breaker_state{service="registry"} 1"#));
        assert!(
            out.contains("chitty_client_request_duration_seconds_count{service=\"chittyid\"} 1")
        );
        assert_eq!(m.retries("chittyid"), 1);
        assert_eq!(m.breaker_state("registry"), 1);
    }
}
