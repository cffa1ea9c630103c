//! `ChittyService`: the desired state of one ChittyOS service.

use k8s_openapi::api::core::v1::{EnvFromSource, EnvVar, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::patterns;
use super::{Autoscaling, PodSettings, ServiceRef, Strategy};

#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "chitty.cc",
    version = "v1alpha1",
    kind = "ChittyService",
    namespaced,
    status = "ChittyServiceStatus",
    derive = "PartialEq",
    shortname = "csvc",
    shortname = "chittysvc",
    category = "chitty",
    doc = "A ChittyOS service: what to build and run, where it is reachable, and how to roll it out.",
    // The name becomes the service's Deployment and Service names (and `<name>-canary`) and a
    // label value on everything it owns: a DNS label with room for the suffix.
    validation = Rule::new("self.metadata.name.size() <= 56 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')")
        .message("metadata.name must be at most 56 lower-case letters, digits and '-', starting with a letter and ending with a letter or digit: it names the service's Deployment and Service and labels everything it owns"),
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "Env", type_ = "string", json_path = ".spec.environment"),
    printcolumn(name = "Version", type_ = "string", json_path = ".spec.version"),
    printcolumn(name = "ChittyID", type_ = "string", json_path = ".status.chittyId"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Health", type_ = "string", json_path = ".status.health.status"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Replicas",
        type_ = "integer",
        json_path = ".status.replicas",
        priority = 1
    ),
    printcolumn(
        name = "URL",
        type_ = "string",
        json_path = ".status.url",
        priority = 1
    ),
    printcolumn(
        name = "Deployment",
        type_ = "string",
        json_path = ".status.currentDeployment",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("self.target != 'cloudflare' || self.type in ['worker', 'frontend']")
        .message("target 'cloudflare' is only for worker and frontend services; a fullstack service runs on the cluster"),
    validation = Rule::new("self.target != 'cloudflare' || has(self.cloudflare)")
        .message("target 'cloudflare' needs spec.cloudflare (credentialsSecret and url)"),
    validation = Rule::new("!has(self.build) || has(self.source.git)")
        .message("spec.build applies only to services built from source.git"),
    // wrangler deploys from the project's source and its wrangler configuration; an image has neither.
    validation = Rule::new("self.target != 'cloudflare' || has(self.source.git)")
        .message("target 'cloudflare' deploys the project with wrangler from its repository: set source.git, not source.image"),
    // Cloudflare's gradual deployments are not driven by this operator yet; a canary there would
    // be silently ignored, so it is refused instead.
    validation = Rule::new("self.target != 'cloudflare' || self.strategy.type != 'canary'")
        .message("strategy canary is not supported for target 'cloudflare' (the operator does not drive Cloudflare gradual deployments): use immediate or auto, which deploy at once and roll back on failed health"),
)]
#[serde(rename_all = "camelCase")]
pub struct ChittyServiceSpec {
    /// What kind of service this is: a `worker` (API), a `frontend` (static site) or `fullstack` (both).
    #[serde(rename = "type")]
    pub service_type: ServiceType,

    /// The service's version, semver (`1.4.2`, `v2.0.0-rc.1`).
    #[x_kube(validation = patterns::rules::semver())]
    #[schemars(length(max = 64))]
    pub version: String,

    /// The environment this service runs in.
    pub environment: Environment,

    /// Where the service comes from: a git repository to build, or a prebuilt image.
    pub source: Source,

    /// Where the service runs: `cluster` (a Deployment here) or `cloudflare` (a Worker or Pages project).
    #[serde(default)]
    pub target: Target,

    /// Cloudflare deployment settings; required when `target` is `cloudflare`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudflare: Option<CloudflareSpec>,

    /// How to build the image from `source.git`; the operator's per-type defaults apply to unset fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildSpec>,

    /// Number of pods for a `cluster` target; ignored while `autoscaling` is set.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: i32,

    /// Horizontal autoscaling of a cluster target; while set, an autoscaling/v2
    /// HorizontalPodAutoscaler owned by the service sets the replica count and `replicas` is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,

    /// The port the service listens on inside its pods.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,

    /// Services that must be Ready before this one rolls out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub depends_on: Vec<ServiceRef>,

    /// Capabilities this service offers, as registered in ChittyRegistry (`payments`, `identity`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 63)))]
    pub capabilities: Vec<String>,

    /// Host/path routes this service claims; each becomes a RouteClaim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = Rule::new("self.all(r, self.exists_one(o, o.host == r.host && o.path == r.path))")
        .message("routes must not list the same host and path twice"))]
    pub routes: Vec<Route>,

    /// How the operator decides the service is healthy.
    #[serde(default)]
    pub health: HealthCheck,

    /// How a new revision replaces the running one.
    #[serde(default)]
    pub strategy: Strategy,

    /// Parameters for minting the service's ChittyID; operator defaults apply when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentitySpec>,

    /// A critical service's failure is reported as degraded to the whole ecosystem.
    #[serde(default)]
    pub critical: bool,

    /// Stops new rollouts; the running revision keeps serving.
    #[serde(default)]
    pub suspend: bool,

    /// How many finished ChittyDeployments to keep for this service.
    #[serde(default = "default_revision_history_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub revision_history_limit: i32,

    /// Environment variables for the service's containers, literal or from Secret / ConfigMap keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub env: Vec<EnvVar>,

    /// Whole Secrets or ConfigMaps exposed as environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub env_from: Vec<EnvFromSource>,

    /// Compute resources for each pod of the service: `requests` and `limits`, each a map of
    /// resource name to quantity (`cpu: 500m`, `memory: 256Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::resources::schema")]
    pub resources: Option<ResourceRequirements>,

    /// How the pods of a `cluster` target run: service account, image pulls, command, scheduling,
    /// security context and probes. The defaults pass the `restricted` Pod Security Standard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodSettings>,
}

fn default_replicas() -> i32 {
    1
}
fn default_port() -> i32 {
    8080
}
fn default_revision_history_limit() -> i32 {
    10
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ServiceType {
    Worker,
    Frontend,
    Fullstack,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Frontend => "frontend",
            Self::Fullstack => "fullstack",
        }
    }
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Staging,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

#[derive(
    Serialize, Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    #[default]
    Cluster,
    Cloudflare,
}

/// Exactly one of `git` or `image`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(validation = Rule::new("has(self.git) != has(self.image)")
    .message("source must set exactly one of git (a repository to build) or image (a prebuilt image)"))]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// A git repository and revision to build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSource>,
    /// A prebuilt container image; no build step runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = patterns::rules::image())]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,
}

#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct GitSource {
    /// Repository URL (`https://github.com/chittyos/chittyrental`).
    #[x_kube(validation = patterns::rules::git_url())]
    #[schemars(length(max = 512))]
    pub url: String,
    /// Branch, tag or commit to build; pin a commit for reproducible rollouts.
    #[serde(default = "default_git_revision")]
    #[schemars(length(min = 1, max = 255))]
    pub revision: String,
}

fn default_git_revision() -> String {
    "main".into()
}

#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct CloudflareSpec {
    /// Secret in the service's namespace holding `apiToken` and `accountId` for wrangler.
    #[x_kube(validation = patterns::rules::dns_label())]
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: String,
    /// The public URL the Worker or Pages project answers on.
    #[x_kube(validation = patterns::rules::http_url())]
    #[schemars(length(max = 512))]
    pub url: String,
    /// A frontend's build output, relative to the repository root, that `wrangler pages deploy`
    /// uploads after the build (default `dist`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$') && !self.matches('(^|/)[.][.]?(/|$)')").message("outputDir must be a relative path inside the repository, such as dist or apps/web/dist"))]
    #[schemars(length(min = 1, max = 255))]
    pub output_dir: Option<String>,
}

impl CloudflareSpec {
    pub fn output_dir(&self) -> &str {
        self.output_dir.as_deref().unwrap_or("dist")
    }
}

/// Per-service overrides of the operator's build defaults for its type.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "camelCase")]
pub struct BuildSpec {
    /// Image that runs clone, install, test and build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = patterns::rules::image())]
    #[schemars(length(max = 512))]
    pub builder_image: Option<String>,
    /// Shell command that installs dependencies (`npm ci`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub install: Option<String>,
    /// Shell command that runs the tests (`npm test`); a failure fails the rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub test: Option<String>,
    /// Shell command that builds the artifact (`npm run build`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub command: Option<String>,
}

#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// Host name, exact (`api.chitty.cc`) or with one leading wildcard label (`*.chitty.cc`).
    #[x_kube(validation = patterns::rules::route_host())]
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// Path prefix; `/` and `/*` both mean the whole host.
    #[serde(default = "default_route_path")]
    #[x_kube(validation = patterns::rules::route_path())]
    #[schemars(length(min = 1, max = 256))]
    pub path: String,
    /// Serve this route over TLS.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
    /// Secret holding the TLS certificate; generated from the host when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = patterns::rules::dns_label())]
    #[schemars(length(max = 253))]
    pub tls_secret_name: Option<String>,
}

pub(crate) fn default_route_path() -> String {
    "/".into()
}

#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// Path of the health endpoint, per the ChittyOS convention `/health`.
    #[serde(default = "default_health_path")]
    #[x_kube(validation = patterns::rules::route_path())]
    #[schemars(length(max = 256))]
    pub path: String,
    /// Absolute base URL to probe instead of the in-cluster Service (`https://api.chitty.cc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = patterns::rules::http_url())]
    #[schemars(length(max = 512))]
    pub url: Option<String>,
    /// Time between probes (`10s`), from 1s to 24h: a shorter one would turn one service into a
    /// stream of probes and status writes.
    #[serde(default = "default_health_interval")]
    #[x_kube(
        validation = patterns::rules::duration(),
        validation = patterns::rules::duration_within("1s", "24h", "interval must be between 1s and 24h")
    )]
    #[schemars(length(max = 32))]
    pub interval: String,
    /// How long one probe may take (`5s`), from 100ms to 30s: probes share a bounded pool, and a
    /// longer one would hold a slot that long.
    #[serde(default = "default_health_timeout")]
    #[x_kube(
        validation = patterns::rules::duration(),
        validation = patterns::rules::duration_within("100ms", "30s", "timeout must be between 100ms and 30s")
    )]
    #[schemars(length(max = 32))]
    pub timeout: String,
    /// Consecutive failed probes before the service counts as unhealthy.
    #[serde(default = "default_failure_threshold")]
    #[schemars(range(min = 1, max = 100))]
    pub failure_threshold: i32,
    /// Consecutive passed probes before a rollout's health step passes.
    #[serde(default = "default_success_threshold")]
    #[schemars(range(min = 1, max = 100))]
    pub success_threshold: i32,
    /// How long a rollout may take to become healthy before it is rolled back (`10m`), from 1s to
    /// 24h.
    #[serde(default = "default_progress_deadline")]
    #[x_kube(
        validation = patterns::rules::duration(),
        validation = patterns::rules::duration_within("1s", "24h", "progressDeadline must be between 1s and 24h")
    )]
    #[schemars(length(max = 32))]
    pub progress_deadline: String,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            path: default_health_path(),
            url: None,
            interval: default_health_interval(),
            timeout: default_health_timeout(),
            failure_threshold: default_failure_threshold(),
            success_threshold: default_success_threshold(),
            progress_deadline: default_progress_deadline(),
        }
    }
}

fn default_health_path() -> String {
    "/health".into()
}
fn default_health_interval() -> String {
    "10s".into()
}
fn default_health_timeout() -> String {
    "5s".into()
}
fn default_failure_threshold() -> i32 {
    3
}
fn default_success_threshold() -> i32 {
    1
}
fn default_progress_deadline() -> String {
    "10m".into()
}

#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "camelCase")]
pub struct IdentitySpec {
    /// ISO 3166 alpha-3 jurisdiction for the ChittyID (`USA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = patterns::rules::jurisdiction())]
    pub jurisdiction: Option<String>,
    /// ChittyID region digit, 1-9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 9))]
    pub region: Option<i32>,
    /// Trust level, 0-5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 5))]
    pub trust: Option<i32>,
}

/// Observed state of a ChittyService, kstatus-compatible.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChittyServiceStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// One word for the service's state: Pending, Progressing, Ready, Degraded, Failed, Suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ServicePhase>,
    /// The service's ChittyID, minted once by the identity authority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chitty_id: Option<String>,
    /// Where the service answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Revision hash of the current spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The ChittyDeployment rolling out (or that last rolled out) the current spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_deployment: Option<String>,
    /// The last ChittyDeployment that succeeded; what a rollback returns to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_deployment: Option<String>,
    /// The revision of `lastSuccessfulDeployment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_revision: Option<String>,
    /// Result of the latest health probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSummary>,
    /// One entry per route claimed for this service: its spec routes in order, then RouteClaims
    /// made by hand in its namespace that name it. Whether the service holds each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteSummary>,
    /// Counts of rollouts by outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployments: Option<DeploymentStats>,
    /// Replicas of the serving Deployment as it runs now (set by the autoscaler while
    /// `spec.autoscaling` is on, else `spec.replicas`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// What the operator last wrote to ChittyRegistry for this service: it follows the serving
    /// revision, so after a rollback the record names the restored version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_record: Option<RegistryRecordStatus>,
    /// Standard conditions: Ready, Reconciling, Stalled and the step conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServicePhase {
    Pending,
    Progressing,
    Ready,
    Degraded,
    Failed,
    Suspended,
}

impl ServicePhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Progressing => "Progressing",
            Self::Ready => "Ready",
            Self::Degraded => "Degraded",
            Self::Failed => "Failed",
            Self::Suspended => "Suspended",
        }
    }
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct HealthSummary {
    /// healthy, degraded (failing, below the threshold), down, or unknown.
    pub status: HealthState,
    /// When `status` last changed. Probe times and latencies go to metrics, not here, so a
    /// steady fleet causes no writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition: Option<Time>,
    #[serde(default)]
    pub consecutive_failures: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(
    Serialize, Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    #[default]
    Unknown,
    Healthy,
    Degraded,
    Down,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Down => "down",
        }
    }
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RouteSummary {
    pub host: String,
    pub path: String,
    /// The RouteClaim for this route.
    pub claim: String,
    /// Whether this service holds the route.
    pub accepted: bool,
    /// Why, in one word (Accepted, Conflicted, NotAllowed, ServiceNotFound, Invalid, Pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `namespace/name` of the claim that holds the route, when this service does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RegistryRecordStatus {
    /// The version the record advertises.
    pub version: String,
    /// The ChittyDeployment whose revision the record describes.
    pub deployment: String,
    /// The health the record advertises (healthy, degraded, down, unknown).
    pub health: String,
    /// The service's newest rollout when the record was written; a newer rollout's register
    /// step may have changed the record since, so the record is checked again after it.
    pub synced_after: String,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStats {
    #[serde(default)]
    pub total: i32,
    #[serde(default)]
    pub succeeded: i32,
    #[serde(default)]
    pub failed: i32,
    #[serde(default)]
    pub rolled_back: i32,
    /// Succeeded out of finished rollouts, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<i32>,
    /// Mean duration of the finished rollouts, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployed_at: Option<Time>,
    /// Duration of the last successful rollout in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_duration_ms: Option<i64>,
    /// The most recent failed or rolled-back rollout and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
}
