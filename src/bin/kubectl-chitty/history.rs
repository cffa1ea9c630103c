//! `history` as data: a service's rollouts, oldest first, each with its version, trigger,
//! duration, outcome and the deploy advisor's plan. Pure; its JSON is the stable shape
//! `history -o json` prints (`plan` and `approval` as the ChittyDeployment status has them).

use chitty_operator::api::{ApprovalStatus, ChittyDeployment, PlanStatus};
use kube::ResourceExt;
use serde::Serialize;

use crate::style::Health;
use crate::tree::rollout_health;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    pub namespace: String,
    pub service: String,
    pub rollouts: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub name: String,
    pub version: String,
    pub revision: String,
    pub trigger: String,
    pub strategy: String,
    /// Pending, Running, Succeeded, Failed, RolledBack, Superseded.
    pub phase: Option<String>,
    pub health: Health,
    pub started_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    pub rolled_back_to: Option<String>,
    pub plan: Option<PlanStatus>,
    pub approval: Option<ApprovalStatus>,
}

pub fn build(namespace: &str, service: &str, rollouts: &[ChittyDeployment]) -> History {
    let mut mine: Vec<&ChittyDeployment> = (rollouts.iter())
        .filter(|d| d.spec.service_ref.name == service)
        .collect();
    mine.sort_by_key(|d| (d.creation_timestamp().map(|t| t.0), d.name_any()));
    History {
        namespace: namespace.to_string(),
        service: service.to_string(),
        rollouts: mine.into_iter().map(entry).collect(),
    }
}

fn entry(d: &ChittyDeployment) -> Entry {
    let status = d.status.clone().unwrap_or_default();
    Entry {
        name: d.name_any(),
        version: d.spec.snapshot.version.clone(),
        revision: d.spec.revision.clone(),
        trigger: format!("{:?}", d.spec.trigger),
        strategy: format!("{:?}", d.spec.strategy).to_lowercase(),
        phase: status.phase.map(|p| p.as_str().to_string()),
        health: rollout_health(status.phase),
        started_at: status.started_at.map(|t| t.0.to_string()),
        duration_ms: status.duration_ms,
        error: status.error,
        rolled_back_to: status.rolled_back_to,
        plan: status.plan,
        approval: status.approval,
    }
}
