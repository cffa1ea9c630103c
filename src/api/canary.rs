//! A canary in steps: the weights and pauses a rollout goes through, the analysis that judges the
//! canary alone at each step, what the rollout reports of it, and the annotations a person uses
//! to steer one in flight.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::patterns;

/// Annotation on a ChittyDeployment steering its canary: `pause`, `resume`, `promote` (skip the
/// remaining steps) or `abort`. Each new value is acted on once and told in an Event.
pub const CANARY_CONTROL: &str = "chitty.cc/canary";
/// Who set [`CANARY_CONTROL`], for the Event (the API server's audit log has the account).
pub const CANARY_CONTROL_BY: &str = "chitty.cc/canary-by";

/// One step: send `weight` percent of traffic to the canary, then hold for `pause` while the
/// analysis watches it.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStep {
    /// Percent of traffic (and, without weighted routing, of pods) on the canary, 1-100.
    #[schemars(range(min = 1, max = 100))]
    pub weight: i32,
    /// How long the step holds (`5m`), at most 24h.
    #[x_kube(
        validation = patterns::rules::duration(),
        validation = patterns::rules::duration_within("0s", "24h", "a step's pause must be at most 24h")
    )]
    #[schemars(length(max = 32))]
    pub pause: String,
}

/// What a canary step must show to pass, measured by probing the canary alone.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CanaryAnalysis {
    /// Lowest share of successful probes over a step, percent (`99.5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub success_rate: Option<f64>,
    /// Highest p95 probe latency over a step (`500ms`), at most 60s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = patterns::rules::duration(),
        validation = patterns::rules::duration_within("1ms", "60s", "maxLatency must be between 1ms and 60s")
    )]
    #[schemars(length(max = 32))]
    pub max_latency: Option<String>,
    /// Failed probes (an error, or slower than `maxLatency`) a step tolerates; one more aborts at
    /// once, without waiting for the step's end. Default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub failure_limit: Option<i32>,
    /// Where the canary answers on its own, when the operator cannot reach its Service
    /// `<service>-canary` directly (a preview host); the health path is appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = patterns::rules::http_url())]
    #[schemars(length(max = 512))]
    pub url: Option<String>,
}

impl CanaryAnalysis {
    pub const DEFAULT_FAILURE_LIMIT: i32 = 2;

    pub fn failure_limit(&self) -> i32 {
        self.failure_limit.unwrap_or(Self::DEFAULT_FAILURE_LIMIT)
    }
}

// The revision hashes the spec through serde; equality and hashing by the written values.
impl Eq for CanaryAnalysis {}

impl std::hash::Hash for CanaryAnalysis {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.success_rate.map(f64::to_bits).hash(h);
        self.max_latency.hash(h);
        self.failure_limit.hash(h);
        self.url.hash(h);
    }
}

/// The analysis of the current step so far.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct StepAnalysis {
    /// Probes of the canary in this step.
    pub probes: i32,
    /// Probes that failed (an error, or slower than `maxLatency`).
    pub failures: i32,
    /// Share of successful probes, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    /// p95 probe latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_latency_ms: Option<i64>,
    /// What the last failed probe saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
    /// Latencies of this step's probes in milliseconds (the latest 100), for the p95.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latencies_ms: Vec<i64>,
}
