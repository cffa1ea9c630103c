//! How a service rolls out: the strategy, the canary, and the advisor's guard rails (approval,
//! deployment windows).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::patterns;

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, Default)]
#[x_kube(validation = Rule::new("self.type == 'canary' || !has(self.canary)")
    .message("strategy.canary is only allowed when strategy.type is canary"))]
#[serde(rename_all = "camelCase")]
pub struct Strategy {
    /// `immediate` replaces the running revision; `canary` runs the new one beside it first;
    /// `auto` lets the operator choose.
    #[serde(default, rename = "type")]
    pub strategy_type: StrategyType,
    /// Canary settings; defaults apply when `type` is `canary` and this is omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanarySpec>,
    /// With `immediate` or `canary`, let the deploy advisor's `Wait` or `Abort` stop a rollout
    /// too (with `auto` its plan is always followed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub guard: bool,
    /// `required`: each rollout waits, once planned, until a person approves it (annotation
    /// `chitty.cc/approved-by` on the ChittyDeployment). `none`: never. Unset: the operator's
    /// default (`--require-approval-in-production`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalPolicy>,
    /// When rollouts of this service may start, if it runs in production; replaces the
    /// operator's windows (`--deploy-window`). Outside them a rollout waits for the next.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub windows: Vec<DeployWindow>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalPolicy {
    Required,
    None,
}

/// Weekdays and a time range in a time zone: `{days: Mon-Fri, start: "09:00", end: "17:00",
/// timeZone: America/Chicago}`. An end not after the start runs past midnight.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct DeployWindow {
    /// `Mon-Fri`, `Sat,Sun`, `Mon,Wed-Fri`, or `*` for every day.
    #[x_kube(validation = Rule::new("self.matches(r'^(?i)(\\*|daily|(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?(,(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?)*)$')").message("days must be weekdays such as Mon-Fri, Sat,Sun or Mon,Wed-Fri, or * for every day"))]
    #[schemars(length(min = 1, max = 64))]
    pub days: String,
    /// Opening time, `HH:MM` (24 h).
    #[x_kube(validation = Rule::new("self.matches(r'^([01][0-9]|2[0-3]):[0-5][0-9]$')").message("start must be a time of day such as 09:00"))]
    #[schemars(length(max = 5))]
    pub start: String,
    /// Closing time, `HH:MM` (24 h).
    #[x_kube(validation = Rule::new("self.matches(r'^([01][0-9]|2[0-3]):[0-5][0-9]$')").message("end must be a time of day such as 17:00"))]
    #[schemars(length(max = 5))]
    pub end: String,
    /// IANA time zone (`Europe/Berlin`); UTC when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub time_zone: Option<String>,
}

#[derive(
    Serialize, Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum StrategyType {
    #[default]
    Immediate,
    Canary,
    Auto,
}

#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq, Hash)]
#[x_kube(
    validation = Rule::new("!has(self.steps) || size(self.steps) > 0")
        .message("canary.steps must list at least one step, or be omitted for the one step of percent and monitorDuration"),
    validation = Rule::new("!has(self.steps) || self.steps.all(s, self.steps.exists_one(t, t.weight == s.weight)) && self.steps.map(s, s.weight).isSorted()")
        .message("canary.steps weights must increase from step to step (10, 50, 100), each between 1 and 100"),
)]
#[serde(rename_all = "camelCase")]
pub struct CanarySpec {
    /// Share of replicas that run the new revision during the canary, 1-99.
    #[serde(default = "default_canary_percent")]
    #[schemars(range(min = 1, max = 99))]
    pub percent: i32,
    /// How long the canary must stay healthy before promotion (`5m`), at most 24h.
    #[serde(default = "default_canary_monitor")]
    #[x_kube(
        validation = patterns::rules::duration(),
        validation = patterns::rules::duration_within("0s", "24h", "monitorDuration must be at most 24h")
    )]
    #[schemars(length(max = 32))]
    pub monitor_duration: String,
    /// The canary's steps (`[{weight: 10, pause: 5m}, {weight: 50, pause: 10m}]`); without them
    /// one step of `percent` for `monitorDuration`. After the last step the canary is promoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20))]
    pub steps: Option<Vec<super::CanaryStep>>,
    /// What each step must show, measured on the canary alone; without it a step fails only on
    /// `health.failureThreshold` failed probes in a row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<super::CanaryAnalysis>,
}

impl CanarySpec {
    /// The steps this canary goes through: its own, or the one step of the shorthand.
    pub fn effective_steps(&self) -> Vec<super::CanaryStep> {
        match &self.steps {
            Some(steps) if !steps.is_empty() => steps.clone(),
            _ => vec![super::CanaryStep {
                weight: self.percent,
                pause: self.monitor_duration.clone(),
            }],
        }
    }
}

impl Default for CanarySpec {
    fn default() -> Self {
        Self {
            percent: default_canary_percent(),
            monitor_duration: default_canary_monitor(),
            steps: None,
            analysis: None,
        }
    }
}

fn default_canary_percent() -> i32 {
    10
}
fn default_canary_monitor() -> String {
    "5m".into()
}
