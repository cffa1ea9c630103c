//! `spec.autoscaling`: horizontal autoscaling of a cluster-target service by an autoscaling/v2
//! HorizontalPodAutoscaler that the operator owns (built by `crate::workload::hpa`).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Bounds and utilization targets for the service's HorizontalPodAutoscaler.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[x_kube(
    validation = Rule::new("self.minReplicas <= self.maxReplicas")
        .message("autoscaling.minReplicas must not exceed autoscaling.maxReplicas"),
    validation = Rule::new("has(self.targetCpuUtilization) || has(self.targetMemoryUtilization)")
        .message("autoscaling needs at least one target: targetCpuUtilization or targetMemoryUtilization"),
)]
#[serde(rename_all = "camelCase")]
pub struct Autoscaling {
    /// Fewest pods the autoscaler keeps running.
    #[serde(default = "default_min_replicas")]
    #[schemars(range(min = 1, max = 1000))]
    pub min_replicas: i32,

    /// Most pods the autoscaler may run.
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: i32,

    /// Average CPU use to hold, in percent of the pods' CPU requests (`spec.resources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub target_cpu_utilization: Option<i32>,

    /// Average memory use to hold, in percent of the pods' memory requests (`spec.resources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub target_memory_utilization: Option<i32>,
}

fn default_min_replicas() -> i32 {
    1
}
