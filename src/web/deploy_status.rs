//! `GET /api/deploy/status`: the seed's deploy summary, one entry a service for its latest
//! rollout, with filters and paging; and `GET /api/deploy/status/{namespace}/{service}`: one
//! service's rollout history with every step.

use std::sync::Arc;

use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Serialize;

use super::fleet::{Fleet, ServiceRow, phase};
use super::problem::ApiError;
use super::query::{self, Params};
use super::{Visible, WebState, json};
use crate::api::{
    CanaryStatus, ChittyDeployment, ChittyService, DeploymentPhase, Environment, StepPhase,
    StrategyType, Trigger,
};

/// A rollout's outcome in the seed's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutStatus {
    Pending,
    InProgress,
    Completed,
    Failed,
    RolledBack,
    Superseded,
}

impl RolloutStatus {
    pub const WORDS: &[&str] = &[
        "pending",
        "in_progress",
        "completed",
        "failed",
        "rolled_back",
        "superseded",
    ];

    pub fn of(phase: DeploymentPhase) -> Self {
        match phase {
            DeploymentPhase::Pending => Self::Pending,
            DeploymentPhase::Running => Self::InProgress,
            DeploymentPhase::Succeeded => Self::Completed,
            DeploymentPhase::Failed => Self::Failed,
            DeploymentPhase::RolledBack => Self::RolledBack,
            DeploymentPhase::Superseded => Self::Superseded,
            // The ecosystem's deploy status knows no abort; as after a rollback, the previous
            // version serves.
            DeploymentPhase::Aborted => Self::RolledBack,
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "pending" => Self::Pending,
            "in_progress" => Self::InProgress,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "rolled_back" => Self::RolledBack,
            "superseded" => Self::Superseded,
            _ => return None,
        })
    }
}

pub fn environment_word(e: Environment) -> &'static str {
    match e {
        Environment::Staging => "staging",
        Environment::Production => "production",
    }
}

pub fn parse_environment(word: &str) -> Option<Environment> {
    match word {
        "staging" => Some(Environment::Staging),
        "production" => Some(Environment::Production),
        _ => None,
    }
}

pub const ENVIRONMENTS: &[&str] = &["staging", "production"];

/// One service's latest rollout, in the seed's summary shape plus what a dashboard needs.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry<'a> {
    /// The ChittyDeployment's name; null before the first rollout exists.
    pub deployment_id: Option<&'a str>,
    pub service: &'a str,
    pub namespace: &'a str,
    pub environment: &'static str,
    pub version: &'a str,
    pub status: RolloutStatus,
    pub current_step: Option<&'a str>,
    /// Share of steps finished, 0 to 1.
    pub progress: f64,
    pub steps: Vec<StepSummary<'a>>,
    pub chitty_id: Option<&'a str>,
    pub url: Option<&'a str>,
    pub health: &'static str,
    pub started_at: Option<&'a Time>,
    pub finished_at: Option<&'a Time>,
    /// When the rollout completed; null unless it did.
    pub deployed_at: Option<&'a Time>,
    /// Milliseconds the rollout took, once finished.
    pub duration: Option<i64>,
    pub error: Option<&'a str>,
    pub rolled_back_to: Option<&'a str>,
    /// The deploy advisor's plan of the rollout.
    pub plan: Option<&'a crate::api::PlanStatus>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepSummary<'a> {
    pub name: &'a str,
    pub phase: StepPhase,
    pub message: Option<&'a str>,
}

#[derive(Serialize, Default, Debug, PartialEq)]
pub struct Overall {
    pub total: usize,
    pub completed: usize,
    pub in_progress: usize,
    pub pending: usize,
    /// Failed and rolled back.
    pub failed: usize,
    pub rolled_back: usize,
    /// `completed / total`, as the seed computes it; 0 when there is nothing.
    #[serde(rename = "successRate")]
    pub success_rate: f64,
}

#[derive(Serialize)]
pub struct Summary<'a> {
    pub deployments: Vec<Entry<'a>>,
    pub overall: Overall,
    /// Pass as `continue` for the next page; null on the last.
    #[serde(rename = "continue")]
    pub next: Option<String>,
}

pub fn health_of(service: &ChittyService) -> &'static str {
    service
        .status
        .as_ref()
        .and_then(|s| s.health.as_ref())
        .map_or("unknown", |h| h.status.as_str())
}

/// A row's entry, with its latest rollout as decoded by the caller (`ServiceRow::latest`).
pub fn entry<'a>(row: &'a ServiceRow, rollout: Option<&'a ChittyDeployment>) -> Entry<'a> {
    let service = &row.service;
    let status = service.status.as_ref();
    let rs = rollout.and_then(|d| d.status.as_ref());
    let progress = match row.status {
        RolloutStatus::Completed => 1.0,
        _ => f64::from(rs.map_or(0, |s| s.progress).clamp(0, 100)) / 100.0,
    };
    Entry {
        deployment_id: rollout.and_then(|d| d.metadata.name.as_deref()),
        service: row.name(),
        namespace: row.namespace(),
        environment: environment_word(service.spec.environment),
        version: rollout.map_or(&service.spec.version, |d| &d.spec.snapshot.version),
        status: row.status,
        current_step: rs.and_then(|s| s.current_step.as_deref()),
        progress,
        steps: rs.map_or_else(Vec::new, |s| {
            s.steps
                .iter()
                .map(|step| StepSummary {
                    name: &step.name,
                    phase: step.phase,
                    message: step.message.as_deref(),
                })
                .collect()
        }),
        chitty_id: status.and_then(|s| s.chitty_id.as_deref()),
        url: status.and_then(|s| s.url.as_deref()),
        health: health_of(service),
        started_at: rs.and_then(|s| s.started_at.as_ref()),
        finished_at: rs.and_then(|s| s.completed_at.as_ref()),
        deployed_at: rs
            .filter(|_| row.status == RolloutStatus::Completed)
            .and_then(|s| s.completed_at.as_ref()),
        duration: rs.and_then(|s| s.duration_ms),
        error: rs.and_then(|s| s.error.as_deref()),
        rolled_back_to: rs.and_then(|s| s.rolled_back_to.as_deref()),
        plan: rs.and_then(|s| s.plan.as_ref()),
    }
}

pub fn overall<'a>(rows: impl IntoIterator<Item = &'a ServiceRow>) -> Overall {
    let mut o = Overall::default();
    for row in rows {
        o.total += 1;
        match row.status {
            RolloutStatus::Completed => o.completed += 1,
            RolloutStatus::InProgress => o.in_progress += 1,
            RolloutStatus::Pending => o.pending += 1,
            RolloutStatus::Failed => o.failed += 1,
            RolloutStatus::RolledBack => {
                o.failed += 1;
                o.rolled_back += 1;
            }
            RolloutStatus::Superseded => {}
        }
    }
    if o.total > 0 {
        // Two decimals, as the seed shows it (0.83).
        o.success_rate = (o.completed as f64 / o.total as f64 * 100.0).round() / 100.0;
    }
    o
}

/// What `GET /api/deploy/status` selects.
#[derive(Debug, Default)]
pub struct Filter {
    pub namespace: Option<String>,
    pub service: Option<String>,
    /// Any of these; all when empty.
    pub status: Vec<RolloutStatus>,
    pub environment: Option<Environment>,
    /// The namespaces the caller may see.
    pub visible: Visible,
}

impl Filter {
    pub fn matches(&self, row: &ServiceRow) -> bool {
        self.visible.allows(row.namespace())
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| row.namespace() == ns)
            && self.service.as_deref().is_none_or(|s| row.name() == s)
            && (self.status.is_empty() || self.status.contains(&row.status))
            && self
                .environment
                .is_none_or(|e| row.service.spec.environment == e)
    }
}

const PARAMS: &[&str] = &[
    "namespace",
    "service",
    "status",
    "environment",
    "limit",
    "continue",
    "page",
    "pageSize",
];

pub async fn list(
    State(state): State<Arc<WebState>>,
    Extension(visible): Extension<Visible>,
    raw: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw, PARAMS)?;
    let filter = Filter {
        namespace: params.label("namespace")?,
        service: params.label("service")?,
        status: params.choices("status", RolloutStatus::parse, RolloutStatus::WORDS)?,
        environment: params.choice("environment", parse_environment, ENVIRONMENTS)?,
        visible,
    };
    let paging = params.paging()?;
    let fleet = state.fleet.snapshot().await?;
    Ok(summary(&fleet, &filter, &paging))
}

/// The answer: the selected services' page, and the counts over all of them.
pub fn summary(fleet: &Fleet, filter: &Filter, paging: &query::Paging) -> Response {
    summary_with(fleet, filter, paging, |body| json(body))
}

/// The summary handed to `finish` (it borrows the page's rollouts, decoded here).
pub fn summary_with<R>(
    fleet: &Fleet,
    filter: &Filter,
    paging: &query::Paging,
    finish: impl FnOnce(&Summary<'_>) -> R,
) -> R {
    let selected: Vec<&ServiceRow> = fleet
        .services
        .iter()
        .filter(|r| filter.matches(r))
        .collect();
    let (page, next) = query::page(&selected, |r| r.key.as_str(), paging);
    // Only the page's rollouts are decoded.
    let latest: Vec<Option<ChittyDeployment>> = page.iter().map(|r| r.latest()).collect();
    let body = Summary {
        deployments: (page.iter().zip(&latest))
            .map(|(r, d)| entry(r, d.as_ref()))
            .collect(),
        overall: overall(selected.iter().copied()),
        next,
    };
    finish(&body)
}

/// One rollout in full.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout<'a> {
    pub deployment_id: &'a str,
    pub revision: &'a str,
    pub version: &'a str,
    pub trigger: Trigger,
    pub strategy: StrategyType,
    pub status: RolloutStatus,
    pub current_step: Option<&'a str>,
    pub progress: f64,
    pub image: Option<&'a str>,
    pub started_at: Option<&'a Time>,
    pub finished_at: Option<&'a Time>,
    pub duration: Option<i64>,
    pub error: Option<&'a str>,
    pub rolled_back_to: Option<&'a str>,
    pub canary: Option<&'a CanaryStatus>,
    /// The deploy advisor's plan: decision, confidence, reasons, inputs.
    pub plan: Option<&'a crate::api::PlanStatus>,
    /// Who approved or rejected it, when it needed approval.
    pub approval: Option<&'a crate::api::ApprovalStatus>,
    pub steps: &'a [crate::api::StepStatus],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct History<'a> {
    pub namespace: &'a str,
    pub service: &'a str,
    pub phase: &'static str,
    pub version: &'a str,
    pub environment: &'static str,
    pub chitty_id: Option<&'a str>,
    pub url: Option<&'a str>,
    pub health: &'static str,
    pub current_deployment: Option<&'a str>,
    pub last_successful_deployment: Option<&'a str>,
    /// Newest first, as many as the service's `revisionHistoryLimit` keeps.
    pub deployments: Vec<Rollout<'a>>,
}

pub fn rollout(d: &ChittyDeployment) -> Rollout<'_> {
    let status = RolloutStatus::of(phase(d));
    let s = d.status.as_ref();
    Rollout {
        deployment_id: d.metadata.name.as_deref().unwrap_or(""),
        revision: &d.spec.revision,
        version: &d.spec.snapshot.version,
        trigger: d.spec.trigger,
        strategy: d.spec.strategy,
        status,
        current_step: s.and_then(|s| s.current_step.as_deref()),
        progress: match status {
            RolloutStatus::Completed => 1.0,
            _ => f64::from(s.map_or(0, |s| s.progress).clamp(0, 100)) / 100.0,
        },
        image: s.and_then(|s| s.image.as_deref()),
        started_at: s.and_then(|s| s.started_at.as_ref()),
        finished_at: s.and_then(|s| s.completed_at.as_ref()),
        duration: s.and_then(|s| s.duration_ms),
        error: s.and_then(|s| s.error.as_deref()),
        rolled_back_to: s.and_then(|s| s.rolled_back_to.as_deref()),
        canary: s.and_then(|s| s.canary.as_ref()),
        plan: s.and_then(|s| s.plan.as_ref()),
        approval: s.and_then(|s| s.approval.as_ref()),
        steps: s.map_or(&[], |s| s.steps.as_slice()),
    }
}

pub async fn history(
    State(state): State<Arc<WebState>>,
    Extension(visible): Extension<Visible>,
    Path((namespace, service)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    query::check_label("namespace", &namespace)?;
    query::check_label("service", &service)?;
    let fleet = state.fleet.snapshot().await?;
    // A service the caller may not see is answered as one that does not exist.
    let row = Some(&fleet)
        .filter(|_| visible.allows(&namespace))
        .and_then(|fleet| fleet.service(&namespace, &service))
        .ok_or_else(|| ApiError::not_found(format!("no ChittyService {namespace}/{service}")))?;
    let svc = &row.service;
    let status = svc.status.as_ref();
    let rollouts = fleet.rollouts_of(&namespace, &service);
    let body = History {
        namespace: row.namespace(),
        service: row.name(),
        phase: status
            .and_then(|s| s.phase)
            .map_or("Pending", |p| p.as_str()),
        version: &svc.spec.version,
        environment: environment_word(svc.spec.environment),
        chitty_id: status.and_then(|s| s.chitty_id.as_deref()),
        url: status.and_then(|s| s.url.as_deref()),
        health: health_of(svc),
        current_deployment: status.and_then(|s| s.current_deployment.as_deref()),
        last_successful_deployment: status.and_then(|s| s.last_successful_deployment.as_deref()),
        deployments: rollouts.iter().map(rollout).collect(),
    };
    Ok(json(&body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::packed::Packed;
    use crate::web::fleet::tests::{rollout as make_rollout, service};
    use std::sync::Arc;

    fn fleet() -> Fleet {
        let ready = service("a", "ready");
        let running = service("a", "running");
        let mut failed = service("b", "failed");
        failed.spec.environment = Environment::Production;
        let rollouts = [
            make_rollout(
                &ready,
                "1111111111",
                "2026-05-01T00:00:00Z",
                DeploymentPhase::Succeeded,
            ),
            make_rollout(
                &running,
                "2222222222",
                "2026-05-01T00:00:00Z",
                DeploymentPhase::Running,
            ),
            make_rollout(
                &failed,
                "3333333333",
                "2026-05-01T00:00:00Z",
                DeploymentPhase::RolledBack,
            ),
        ];
        Fleet::build(
            &[ready, running, failed, service("b", "new")].map(Arc::new),
            &rollouts.map(|d| Arc::new(Packed::of(&d))),
        )
    }

    fn all() -> query::Paging {
        query::Paging::After {
            limit: 100,
            after: None,
        }
    }

    #[test]
    fn overall_counts_rolled_back_as_failed_and_rates_completed_over_total() {
        let f = fleet();
        let o = overall(&f.services);
        assert_eq!(
            o,
            Overall {
                total: 4,
                completed: 1,
                in_progress: 1,
                pending: 1,
                failed: 1,
                rolled_back: 1,
                success_rate: 0.25,
            }
        );
    }

    #[test]
    fn a_caller_sees_only_the_namespaces_it_may_and_counts_only_those() {
        let f = fleet();
        let only_b = Filter {
            visible: Visible::Only(Arc::new(["b".to_string()].into())),
            ..Default::default()
        };
        let body = summary_with(&f, &only_b, &all(), |s| serde_json::to_value(s).unwrap());
        let namespaces: Vec<&str> = body["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["namespace"].as_str().unwrap())
            .collect();
        assert_eq!(namespaces, ["b", "b"]);
        assert_eq!(body["overall"]["total"], 2, "the others are not counted");
        let asking_for_a = Filter {
            namespace: Some("a".into()),
            ..only_b
        };
        let body = summary_with(&f, &asking_for_a, &all(), |s| {
            serde_json::to_value(s).unwrap()
        });
        assert_eq!(body["deployments"], serde_json::json!([]));
    }

    #[test]
    fn filters_combine() {
        let f = fleet();
        let filter = Filter {
            namespace: Some("a".into()),
            status: vec![RolloutStatus::InProgress],
            ..Default::default()
        };
        let body = summary_with(&f, &filter, &all(), |s| serde_json::to_value(s).unwrap());
        let names: Vec<&str> = body["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["service"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["running"]);
        assert_eq!(body["overall"]["total"], 1);
        let prod = Filter {
            environment: Some(Environment::Production),
            ..Default::default()
        };
        let body = summary_with(&f, &prod, &all(), |s| serde_json::to_value(s).unwrap());
        assert_eq!(body["deployments"][0]["service"], "failed");
        let attention = Filter {
            status: vec![RolloutStatus::InProgress, RolloutStatus::RolledBack],
            ..Default::default()
        };
        let body = summary_with(&f, &attention, &all(), |s| serde_json::to_value(s).unwrap());
        assert_eq!(body["overall"]["total"], 2);
    }

    #[test]
    fn a_service_without_a_rollout_is_pending_with_no_deployment_id() {
        let f = fleet();
        let row = f.service("b", "new").unwrap();
        let latest = row.latest();
        let e = entry(row, latest.as_ref());
        assert_eq!(e.status, RolloutStatus::Pending);
        assert!(e.deployment_id.is_none());
        assert_eq!(e.progress, 0.0);
    }
}
