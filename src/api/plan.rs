//! The deploy advisor's plan and the approval of a rollout, as `ChittyDeployment.status` shows
//! them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Annotation by which a person approves a rollout waiting for approval; the value names who.
/// Patching it needs the same RBAC as patching the ChittyDeployment, so the audit log records it.
pub const APPROVED_BY: &str = "chitty.cc/approved-by";
/// Annotation by which a person rejects a rollout waiting for approval; the value names who.
pub const REJECTED_BY: &str = "chitty.cc/rejected-by";
/// Why it was rejected, with [`REJECTED_BY`].
pub const REJECTION_REASON: &str = "chitty.cc/rejection-reason";

/// How the advisor planned this rollout.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PlanStatus {
    /// `Immediate`, `Canary`, `Wait` or `Abort`.
    pub decision: String,
    /// Whether the rollout acts on the plan (`strategy: auto`, or `guard: true` for a wait or an
    /// abort); otherwise it is recorded as advice.
    pub followed: bool,
    /// How sure the rules are, 0-1.
    pub confidence: f64,
    /// The sentences that decided it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_percent: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_duration: Option<String>,
    /// For `Wait`: when the advisor looks again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_until: Option<Time>,
    /// What the plan was made from.
    #[serde(default)]
    pub inputs: PlanInputs,
    /// What the optional advisor model said, when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelNote>,
}

/// A summary of the advisor's inputs, in words and numbers.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PlanInputs {
    /// `first`, `same`, `patch`, `minor` or `major`, from the running version.
    #[serde(default)]
    pub change: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_version: Option<String>,
    /// Finished rollouts considered, how many failed, and how many in a row.
    #[serde(default)]
    pub history: String,
    /// Each dependency's health and last rollout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// Share of the ecosystem's services that are healthy, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_healthy_percent: Option<i32>,
    #[serde(default)]
    pub rollouts_in_progress: i32,
    /// The deployment window that applies, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
}

/// The model's answer beside the rules' plan.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ModelNote {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What became of it: adopted as more cautious, kept as advice, or why it was not used.
    pub note: String,
}

/// Whether a rollout needed approval, and who gave or refused it.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalStatus {
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the operator saw the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Time>,
}
