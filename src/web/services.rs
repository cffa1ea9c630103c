//! `GET /api/services`: the fleet as ChittyRegistry lists its tools (`{success, count, ...}`,
//! snake_case records with `chitty_id`, `entity_type`, `endpoints`, `metadata`), one record a
//! ChittyService, identified or not yet.

use std::sync::Arc;

use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Serialize;

use super::deploy_status::{ENVIRONMENTS, environment_word, health_of, parse_environment};
use super::fleet::ServiceRow;
use super::problem::ApiError;
use super::query::{self, Params};
use super::{Visible, WebState, json};
use crate::api::{ChittyService, ServicePhase, ServiceType, Target, conditions};

#[derive(Serialize)]
pub struct Record<'a> {
    /// Null until the identity authority has minted one.
    pub chitty_id: Option<&'a str>,
    pub name: &'a str,
    pub namespace: &'a str,
    pub entity_type: &'static str,
    pub subtype: &'static str,
    pub description: String,
    pub version: &'a str,
    /// The service URL and its health endpoint, once it has a URL.
    pub endpoints: Vec<String>,
    /// The phase in lower case (`ready`, `progressing`, `degraded`, ...).
    pub status: String,
    pub phase: &'static str,
    pub health: &'static str,
    pub environment: &'static str,
    pub url: Option<&'a str>,
    pub registered_at: Option<&'a Time>,
    /// The latest change the operator recorded for the service.
    pub updated_at: Option<&'a Time>,
    pub metadata: Metadata<'a>,
}

#[derive(Serialize)]
pub struct Metadata<'a> {
    #[serde(rename = "type")]
    pub service_type: ServiceType,
    pub target: Target,
    pub critical: bool,
    pub suspended: bool,
    pub capabilities: &'a [String],
    pub current_deployment: Option<&'a str>,
    pub last_successful_deployment: Option<&'a str>,
    /// The most recent failed or rolled-back rollout and why.
    pub last_failure: Option<&'a str>,
    /// The `Ready` condition's message: what the operator says about the service now.
    pub message: Option<&'a str>,
}

pub fn phase_of(service: &ChittyService) -> ServicePhase {
    service
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .unwrap_or(ServicePhase::Pending)
}

/// The newest of the times the operator records on the service's status.
pub fn last_change(service: &ChittyService) -> Option<&Time> {
    let status = service.status.as_ref();
    let conditions = status.into_iter().flat_map(|s| &s.conditions);
    let health = status
        .and_then(|s| s.health.as_ref())
        .and_then(|h| h.last_transition.as_ref());
    let deployed = status
        .and_then(|s| s.deployments.as_ref())
        .and_then(|d| d.last_deployed_at.as_ref());
    conditions
        .map(|c| &c.last_transition_time)
        .chain(health)
        .chain(deployed)
        .chain(service.metadata.creation_timestamp.as_ref())
        .max_by_key(|t| t.0)
}

pub fn record(row: &ServiceRow) -> Record<'_> {
    let service = &row.service;
    let status = service.status.as_ref();
    let url = status.and_then(|s| s.url.as_deref());
    let phase = phase_of(service);
    Record {
        chitty_id: status.and_then(|s| s.chitty_id.as_deref()),
        name: row.name(),
        namespace: row.namespace(),
        entity_type: "T",
        subtype: "service",
        description: format!(
            "{} {} in {}",
            environment_word(service.spec.environment),
            match service.spec.service_type {
                ServiceType::Worker => "worker",
                ServiceType::Frontend => "frontend",
                ServiceType::Fullstack => "fullstack service",
            },
            row.namespace()
        ),
        version: &service.spec.version,
        endpoints: url
            .map(|u| {
                vec![
                    u.to_string(),
                    crate::probe::url(u, &service.spec.health.path),
                ]
            })
            .unwrap_or_default(),
        status: phase.as_str().to_ascii_lowercase(),
        phase: phase.as_str(),
        health: health_of(service),
        environment: environment_word(service.spec.environment),
        url,
        registered_at: service.metadata.creation_timestamp.as_ref(),
        updated_at: last_change(service),
        metadata: Metadata {
            service_type: service.spec.service_type,
            target: service.spec.target,
            critical: service.spec.critical,
            suspended: service.spec.suspend,
            capabilities: &service.spec.capabilities,
            current_deployment: status.and_then(|s| s.current_deployment.as_deref()),
            last_successful_deployment: status
                .and_then(|s| s.last_successful_deployment.as_deref()),
            last_failure: status
                .and_then(|s| s.deployments.as_ref())
                .and_then(|d| d.last_failure.as_deref()),
            message: status
                .and_then(|s| conditions::find(&s.conditions, conditions::types::READY))
                .map(|c| c.message.as_str()),
        },
    }
}

#[derive(Serialize)]
pub struct Listing<'a> {
    pub success: bool,
    /// Records in this response.
    pub count: usize,
    /// Records matching the filters, over all pages.
    pub total: usize,
    pub services: Vec<Record<'a>>,
    #[serde(rename = "continue")]
    pub next: Option<String>,
}

const PARAMS: &[&str] = &[
    "namespace",
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
    let namespace = params.label("namespace")?;
    let environment = params.choice("environment", parse_environment, ENVIRONMENTS)?;
    let paging = params.paging()?;
    let fleet = state.fleet.snapshot().await?;
    let selected: Vec<&ServiceRow> = fleet
        .services
        .iter()
        .filter(|r| visible.allows(r.namespace()))
        .filter(|r| namespace.as_deref().is_none_or(|ns| r.namespace() == ns))
        .filter(|r| environment.is_none_or(|e| r.service.spec.environment == e))
        .collect();
    let (page, next) = query::page(&selected, |r| r.key.as_str(), &paging);
    let body = Listing {
        success: true,
        count: page.len(),
        total: selected.len(),
        services: page.iter().map(|r| record(r)).collect(),
        next,
    };
    Ok(json(&body))
}
