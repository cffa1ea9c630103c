//! `spec.pod`: what a platform team needs to say about a service's pods (identity, image pulls,
//! command, scheduling, security and probes). Every field is optional; unset, the operator's
//! defaults hold, and those pass the `restricted` Pod Security Standard.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Toleration;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::patterns;

/// Pod-level settings of a `cluster` target's Deployment.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PodSettings {
    /// ServiceAccount the pods run as. When set, the ServiceAccount's own
    /// `automountServiceAccountToken` decides whether its token is mounted; when omitted, the pods
    /// run as the namespace's `default` account with no token mounted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = patterns::rules::dns_label())]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,

    /// Secrets in the service's namespace used to pull the image from a private registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 1, max = 253)))]
    pub image_pull_secrets: Vec<String>,

    /// When the kubelet pulls the image; Kubernetes' default (`Always` for `:latest`, otherwise
    /// `IfNotPresent`) when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "ImagePullPolicy::optional_schema")]
    pub image_pull_policy: Option<ImagePullPolicy>,

    /// Replaces the image's entrypoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 4096)))]
    pub command: Vec<String>,

    /// Replaces the image's default arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 4096)))]
    pub args: Vec<String>,

    /// Extra labels on the pods. The operator's own labels win over these, and the selector
    /// labels `chitty.cc/service` and `chitty.cc/track` are refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 64))]
    #[x_kube(validation = Rule::new("!('chitty.cc/service' in self) && !('chitty.cc/track' in self)")
        .message("pod.labels must not set chitty.cc/service or chitty.cc/track: the operator selects its pods by them"))]
    pub labels: BTreeMap<String, String>,

    /// Extra annotations on the pods (for example for a service mesh or a metrics scraper).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 64))]
    pub annotations: BTreeMap<String, String>,

    /// Node labels a node must have to run the pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32))]
    pub node_selector: BTreeMap<String, String>,

    /// Taints the pods tolerate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub tolerations: Vec<Toleration>,

    /// Mount the container's root filesystem read-only (the default, `true`); an `emptyDir` is
    /// mounted at `/tmp` so scratch files still work. Set `false` for an app that writes elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_root_filesystem: Option<bool>,

    /// User ID the container runs as, when the image does not name a non-root user itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub run_as_user: Option<i64>,

    /// Group that owns mounted volumes, so a non-root user can write to them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub fs_group: Option<i64>,

    /// Changes to the liveness and startup probes the operator derives from `spec.health`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<ProbeOverrides>,
}

impl PodSettings {
    /// Whether the root filesystem is mounted read-only: yes unless the service relaxes it.
    pub fn read_only_root(&self) -> bool {
        self.read_only_root_filesystem.unwrap_or(true)
    }
}

/// The kubelet's image pull policies.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImagePullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl ImagePullPolicy {
    /// The plain enum, without the `null` member schemars adds for an `Option`: the field is
    /// simply omitted when unset, and the apiserver's refusal then lists only real policies.
    fn optional_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<Self>()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// Overrides of the derived probes; readiness always follows `spec.health`, since the rollout's
/// health step and the Service's endpoints depend on it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProbeOverrides {
    /// The liveness probe: a container that fails it is restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<ProbeOverride>,
    /// The startup probe: holds liveness off until the app has started once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<ProbeOverride>,
}

/// One probe's settings; each unset field keeps the value derived from `spec.health`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ProbeOverride {
    /// `false` leaves this probe out of the pod.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// HTTP path to probe; `spec.health.path` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = patterns::rules::route_path())]
    #[schemars(length(max = 256))]
    pub path: Option<String>,
    /// Seconds after the container starts before the first probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 3600))]
    pub initial_delay_seconds: Option<i32>,
    /// Seconds between probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub period_seconds: Option<i32>,
    /// Seconds one probe may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_seconds: Option<i32>,
    /// Consecutive failed probes before the kubelet acts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub failure_threshold: Option<i32>,
}

impl Default for ProbeOverride {
    fn default() -> Self {
        Self {
            enabled: true,
            path: None,
            initial_delay_seconds: None,
            period_seconds: None,
            timeout_seconds: None,
            failure_threshold: None,
        }
    }
}

fn enabled_by_default() -> bool {
    true
}
