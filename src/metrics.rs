//! Prometheus metrics: reconciles per controller, and the operator's own writes to the apiserver.

use std::sync::Arc;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabel {
    pub controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub controller: &'static str,
    pub error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerbLabel {
    pub verb: String,
}

#[derive(Clone)]
pub struct Metrics {
    pub reconciles: Family<ControllerLabel, Counter>,
    pub failures: Family<ErrorLabels, Counter>,
    pub duration: Family<ControllerLabel, Histogram>,
    /// Every request the operator sends to the apiserver, by HTTP method (a watch counts once,
    /// when it opens). The mutating ones are the number an idle operator must keep still.
    pub kube_requests: Family<VerbLabel, Counter>,
    /// 1 while this replica runs the controllers (holds the leader Lease, or runs without
    /// election), else 0.
    pub leading: prometheus_client::metrics::gauge::Gauge,
    /// Requests the API server refused (403), by verb and resource: an RBAC rule is missing.
    pub kube_refusals: Family<crate::kube_client::RefusalLabels, Counter>,
    /// Health probes after rollout, by outcome; the latency lives here, not in status.
    pub probes: Family<OutcomeLabel, Histogram>,
    /// Objects the API server sent that did not decode whole (a status field out of range, an
    /// unreadable spec), by kind: the operator read around them (see `api::decode`).
    pub decode_failures: Family<KindLabel, Counter>,
    /// How much longer than asked the services wait between health probes: 1 within
    /// `--probe-budget`, else the fleet's probes a second asked for over the budget.
    pub probe_stretch: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// 1 while this shard holds its Lease but does not work, because a live shard Lease
    /// announces another `--shard-count` (see `shard::count`), else 0.
    pub shard_paused: Gauge,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

impl Metrics {
    /// Creates the metrics and registers them.
    pub fn register(registry: &mut Registry) -> Arc<Self> {
        let metrics = Self {
            reconciles: Family::default(),
            failures: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new([
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
            }),
            kube_requests: Family::default(),
            leading: Default::default(),
            kube_refusals: Family::default(),
            probes: Family::new_with_constructor(|| {
                Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
            }),
            decode_failures: Family::default(),
            probe_stretch: Default::default(),
            shard_paused: Default::default(),
        };
        let r = registry.sub_registry_with_prefix("chitty");
        r.register(
            "reconciliations",
            "Reconciles started, by controller",
            metrics.reconciles.clone(),
        );
        r.register(
            "reconcile_failures",
            "Reconciles that failed, by controller and error kind",
            metrics.failures.clone(),
        );
        r.register(
            "reconcile_duration_seconds",
            "Time spent in one reconcile",
            metrics.duration.clone(),
        );
        r.register(
            "kube_requests",
            "Requests sent to the Kubernetes API, by HTTP method",
            metrics.kube_requests.clone(),
        );
        r.register(
            "kube_refused_requests",
            "Requests the Kubernetes API refused with 403 Forbidden (a missing RBAC rule), by verb and resource",
            metrics.kube_refusals.clone(),
        );
        r.register(
            "leader",
            "1 while this replica runs the controllers (holds the leader Lease), else 0",
            metrics.leading.clone(),
        );
        r.register(
            "health_probe_duration_seconds",
            "Health probes of running services, by outcome",
            metrics.probes.clone(),
        );
        r.register(
            "decode_failures",
            "Objects that did not decode whole and were read around, by kind",
            metrics.decode_failures.clone(),
        );
        r.register(
            "probe_interval_stretch",
            "How much longer than asked the services wait between health probes (1 within --probe-budget)",
            metrics.probe_stretch.clone(),
        );
        r.register(
            "shard_paused",
            "1 while this shard holds its Lease but does not work: a live shard Lease announces another shard count",
            metrics.shard_paused.clone(),
        );
        Arc::new(metrics)
    }

    /// Counts a reconcile and times it until the returned guard drops, so reconcilers hold no timing code.
    pub fn reconcile(&self, controller: &'static str) -> ReconcileTimer {
        self.reconciles
            .get_or_create(&ControllerLabel { controller })
            .inc();
        ReconcileTimer {
            started: Instant::now(),
            histogram: self
                .duration
                .get_or_create(&ControllerLabel { controller })
                .clone(),
        }
    }

    pub fn failure(&self, controller: &'static str, error: &crate::Error) {
        self.failures
            .get_or_create(&ErrorLabels {
                controller,
                error: error.metric_label(),
            })
            .inc();
    }

    pub fn observe_probe(&self, healthy: bool, latency: std::time::Duration) {
        let outcome = if healthy { "healthy" } else { "unhealthy" };
        self.probes
            .get_or_create(&OutcomeLabel { outcome })
            .observe(latency.as_secs_f64());
    }

    /// Sum of all mutating requests so far.
    pub fn kube_write_total(&self) -> u64 {
        ["POST", "PUT", "PATCH", "DELETE"]
            .iter()
            .map(|verb| {
                self.kube_requests
                    .get_or_create(&VerbLabel {
                        verb: (*verb).to_string(),
                    })
                    .get()
            })
            .sum()
    }
}

pub struct ReconcileTimer {
    started: Instant,
    histogram: Histogram,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.started.elapsed().as_secs_f64());
    }
}
