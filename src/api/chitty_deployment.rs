//! `ChittyDeployment`: one rollout attempt of one revision of a ChittyService.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::chitty_service::ChittyServiceSpec;
use super::patterns;
use super::strategy::StrategyType;

/// Annotation on a ChittyDeployment asking its controller to roll a succeeded rollout back to the
/// service's previous success; the value says why. The operator sets it when a critical service
/// goes down after its rollout; a person with patch rights on the rollout may set it too.
pub const ROLLBACK_REQUEST: &str = "chitty.cc/rollback-requested";

#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "chitty.cc",
    version = "v1alpha1",
    kind = "ChittyDeployment",
    namespaced,
    status = "ChittyDeploymentStatus",
    derive = "PartialEq",
    shortname = "cdeploy",
    category = "chitty",
    doc = "One rollout attempt of one revision of a ChittyService, with its ordered steps and outcome.",
    printcolumn(
        name = "Service",
        type_ = "string",
        json_path = ".spec.serviceRef.name"
    ),
    printcolumn(name = "Revision", type_ = "string", json_path = ".spec.revision"),
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".spec.snapshot.version"
    ),
    printcolumn(name = "Plan", type_ = "string", json_path = ".status.plan.decision"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Step", type_ = "string", json_path = ".status.currentStep"),
    printcolumn(name = "Progress", type_ = "integer", json_path = ".status.progress"),
    printcolumn(
        name = "Canary",
        type_ = "integer",
        json_path = ".status.canary.weight",
        priority = 1
    ),
    printcolumn(
        name = "Trigger",
        type_ = "string",
        json_path = ".spec.trigger",
        priority = 1
    ),
    printcolumn(
        name = "Error",
        type_ = "string",
        json_path = ".status.error",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("self == oldSelf").message("ChittyDeployment spec is immutable; change the ChittyService to start a new rollout"))]
#[serde(rename_all = "camelCase")]
pub struct ChittyDeploymentSpec {
    /// The ChittyService this rollout belongs to (same namespace).
    pub service_ref: LocalServiceRef,
    /// Stable hash of the deploy-relevant parts of the service spec.
    #[x_kube(validation = Rule::new("self.matches(r'^[a-f0-9]{10,64}$')").message("revision must be the lower-case hex revision hash of the service spec"))]
    pub revision: String,
    /// What to deploy: the service spec as it was when this rollout was created.
    pub snapshot: ChittyServiceSpec,
    /// What started this rollout.
    pub trigger: Trigger,
    /// The strategy of this rollout; with `auto`, the deploy advisor's plan (in status) decides.
    pub strategy: StrategyType,
}

#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct LocalServiceRef {
    #[x_kube(validation = patterns::rules::dns_label())]
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// UID of the ChittyService, so a recreated service with the same name is not confused with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// The service's spec changed to a revision not deployed before.
    SpecChange,
    /// The spec returned to a revision that succeeded before (a GitOps revert).
    Revert,
    /// The first rollout of the service.
    Initial,
}

#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChittyDeploymentStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pending, Running, Succeeded, Failed, RolledBack, Superseded, Aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<DeploymentPhase>,
    /// The step running now, or the step that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step: Option<String>,
    /// Percentage of steps finished, 0-100.
    #[serde(default)]
    pub progress: i32,
    /// The ordered steps of this rollout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepStatus>,
    /// The image this rollout deploys, once known (after build, or from the source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// Why the rollout failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Health probes of this rollout so far (the health step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<ProbeStatus>,
    /// The canary's progress, for canary rollouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStatus>,
    /// How the deploy advisor planned this rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<super::PlanStatus>,
    /// Whether it needed approval, and who decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<super::ApprovalStatus>,
    /// The ChittyDeployment this one rolled back to, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_to: Option<String>,
    /// For a Cloudflare target: the Worker version deployed, its routes, and any rollback or
    /// routes-only update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudflare: Option<super::CloudflareStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProbeStatus {
    #[serde(default)]
    pub consecutive_successes: i32,
    #[serde(default)]
    pub consecutive_failures: i32,
    /// What the last failed probe saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the last probe ran; the next waits `health.interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_at: Option<Time>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStatus {
    /// Pods running the new revision.
    pub canary_replicas: i32,
    /// Pods left on the stable revision meanwhile.
    pub stable_replicas: i32,
    pub percent: i32,
    /// The rollout whose revision is stable during the canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_deployment: Option<String>,
    /// When the current canary step began (the first once the canary was available).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_since: Option<Time>,
    /// Starting, Progressing, Paused, Promoted or Aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The step under way, 1-based, and how many there are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<i32>,
    /// Percent of traffic the canary has now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// How the weight is applied: GatewayWeights, IngressNginxCanary or PodRatio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    /// When the current step's pause ends (the time left is until then); unset while paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_ends_at: Option<Time>,
    /// While paused by a person: the pause left in the step, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_remaining_ms: Option<i64>,
    /// The analysis of the current step so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<super::StepAnalysis>,
    /// The last `chitty.cc/canary` command acted on, as `command by who`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeploymentPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    RolledBack,
    Superseded,
    /// A canary step failed its analysis, or a person aborted it: traffic went back to the
    /// stable revision, which keeps serving until the service's spec changes again.
    Aborted,
}

impl DeploymentPhase {
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Pending | Self::Running)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::RolledBack => "RolledBack",
            Self::Superseded => "Superseded",
            Self::Aborted => "Aborted",
        }
    }
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct StepStatus {
    /// build, deploy, identity, register, routes, health, notify (sub-steps as `build/test`).
    pub name: String,
    pub phase: StepPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(
    Serialize, Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, Default,
)]
pub enum StepPhase {
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
}
