//! The status tree as data: each service, its rollouts with their steps, and what it owns, each
//! with a state in words and a [`Health`]. Pure (a [`Snapshot`] in, nodes out); its JSON is the
//! stable shape `status -o json` prints.

use chitty_operator::api::conditions::{self, types};
use chitty_operator::api::{
    ChittyDeployment, ChittyService, DeploymentPhase, RouteClaim, ServicePhase, StepPhase,
};
use chitty_operator::labels;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::DynamicObject;
use serde::Serialize;

use crate::snapshot::Snapshot;
use crate::style::Health;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceNode {
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub phase: Option<String>,
    pub health: Health,
    /// The `Ready` condition, once the operator has written one.
    pub ready: Option<ConditionView>,
    /// What the health probes say (healthy, degraded, down, unknown).
    pub probe: Option<String>,
    pub url: Option<String>,
    pub suspended: bool,
    /// Newest first.
    pub rollouts: Vec<RolloutNode>,
    pub owned: Vec<OwnedNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionView {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl From<&Condition> for ConditionView {
    fn from(c: &Condition) -> Self {
        Self {
            type_: c.type_.clone(),
            status: c.status.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutNode {
    pub name: String,
    pub version: String,
    pub trigger: String,
    pub phase: Option<String>,
    pub health: Health,
    /// The rollout the service's status names as current.
    pub current: bool,
    pub current_step: Option<String>,
    pub progress: i32,
    pub error: Option<String>,
    pub steps: Vec<StepNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepNode {
    pub name: String,
    pub phase: String,
    pub health: Health,
    pub duration_ms: Option<i64>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnedNode {
    pub kind: String,
    pub name: String,
    pub health: Health,
    /// The object's state in a few words.
    pub state: String,
}

/// One node per service in the snapshot, in namespace and name order.
pub fn build(snapshot: &Snapshot) -> Vec<ServiceNode> {
    let mut services: Vec<&ChittyService> = snapshot.services.iter().collect();
    services.sort_by_key(|s| (s.namespace(), s.name_any()));
    services.into_iter().map(|s| node(s, snapshot)).collect()
}

fn node(service: &ChittyService, snapshot: &Snapshot) -> ServiceNode {
    let (ns, name) = (service.namespace().unwrap_or_default(), service.name_any());
    let status = service.status.clone().unwrap_or_default();
    let mine = |o: &dyn ResourceLike| o.ns() == ns && o.label() == Some(name.as_str());
    let mut rollouts: Vec<&ChittyDeployment> = (snapshot.rollouts.iter())
        .filter(|d| d.namespace().unwrap_or_default() == ns && d.spec.service_ref.name == name)
        .collect();
    rollouts
        .sort_by_key(|d| std::cmp::Reverse((d.creation_timestamp().map(|t| t.0), d.name_any())));
    let current = status.current_deployment.as_deref();
    let mut owned = Vec::new();
    owned.extend(
        (snapshot.deployments.iter())
            .filter(|o| mine(*o))
            .map(deployment),
    );
    owned.extend(
        (snapshot.kube_services.iter())
            .filter(|o| mine(*o))
            .map(kube_service),
    );
    owned.extend(
        (snapshot.autoscalers.iter())
            .filter(|o| mine(*o))
            .map(autoscaler),
    );
    owned.extend(
        (snapshot.ingresses.iter())
            .filter(|o| mine(*o))
            .map(ingress),
    );
    owned.extend(
        (snapshot.http_routes.iter())
            .filter(|o| mine(*o))
            .map(http_route),
    );
    owned.extend(
        (snapshot.claims.iter())
            .filter(|c| c.namespace().unwrap_or_default() == ns && c.spec.service_ref.name == name)
            .map(claim),
    );
    ServiceNode {
        version: service.spec.version.clone(),
        phase: status.phase.map(|p| p.as_str().to_string()),
        health: service_health(service),
        ready: conditions::find(&status.conditions, types::READY).map(ConditionView::from),
        probe: status
            .health
            .as_ref()
            .map(|h| h.status.as_str().to_string()),
        url: status.url.clone(),
        suspended: service.spec.suspend,
        rollouts: (rollouts.into_iter())
            .map(|d| rollout(d, current == Some(d.name_any().as_str())))
            .collect(),
        owned,
        namespace: ns,
        name,
    }
}

/// The service's look: its phase, and Ready where the phase says nothing yet.
pub fn service_health(service: &ChittyService) -> Health {
    let status = service.status.as_ref();
    match status.and_then(|s| s.phase) {
        Some(ServicePhase::Ready) => Health::Ok,
        Some(ServicePhase::Suspended) => Health::Idle,
        Some(ServicePhase::Degraded | ServicePhase::Failed) => Health::Failed,
        Some(ServicePhase::Pending | ServicePhase::Progressing) | None => {
            if status.is_some_and(|s| conditions::is_true(&s.conditions, types::STALLED)) {
                Health::Failed
            } else {
                Health::Progressing
            }
        }
    }
}

pub fn rollout_health(phase: Option<DeploymentPhase>) -> Health {
    match phase {
        Some(DeploymentPhase::Succeeded) => Health::Ok,
        Some(DeploymentPhase::Failed | DeploymentPhase::RolledBack | DeploymentPhase::Aborted) => {
            Health::Failed
        }
        Some(DeploymentPhase::Superseded) => Health::Idle,
        Some(DeploymentPhase::Pending | DeploymentPhase::Running) | None => Health::Progressing,
    }
}

fn rollout(d: &ChittyDeployment, current: bool) -> RolloutNode {
    let status = d.status.clone().unwrap_or_default();
    RolloutNode {
        name: d.name_any(),
        version: d.spec.snapshot.version.clone(),
        trigger: format!("{:?}", d.spec.trigger),
        phase: status.phase.map(|p| p.as_str().to_string()),
        health: rollout_health(status.phase),
        current,
        current_step: status.current_step.clone(),
        progress: status.progress,
        error: status.error.clone(),
        steps: (status.steps.iter())
            .map(|s| StepNode {
                name: s.name.clone(),
                phase: format!("{:?}", s.phase),
                health: match s.phase {
                    StepPhase::Succeeded => Health::Ok,
                    StepPhase::Running => Health::Progressing,
                    StepPhase::Failed => Health::Failed,
                    StepPhase::Pending | StepPhase::Skipped => Health::Idle,
                },
                duration_ms: s.duration_ms,
                message: s.message.clone(),
            })
            .collect(),
    }
}

/// The two things every owned kind is matched on: its namespace and its service label.
trait ResourceLike {
    fn ns(&self) -> String;
    fn label(&self) -> Option<&str>;
}

impl<K: ResourceExt> ResourceLike for K {
    fn ns(&self) -> String {
        self.namespace().unwrap_or_default()
    }
    fn label(&self) -> Option<&str> {
        self.labels().get(labels::SERVICE).map(String::as_str)
    }
}

fn owned(kind: &str, name: String, health: Health, state: String) -> OwnedNode {
    OwnedNode {
        kind: kind.to_string(),
        name,
        health,
        state,
    }
}

fn deployment(d: &Deployment) -> OwnedNode {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let status = d.status.clone().unwrap_or_default();
    let available = status.available_replicas.unwrap_or(0);
    let stuck = (status.conditions.iter().flatten())
        .any(|c| c.type_ == "Progressing" && c.status == "False");
    let health = match () {
        _ if stuck => Health::Failed,
        _ if available >= want && status.updated_replicas.unwrap_or(0) >= want => Health::Ok,
        _ => Health::Progressing,
    };
    owned(
        "Deployment",
        d.name_any(),
        health,
        format!("{available}/{want} available"),
    )
}

fn kube_service(s: &Service) -> OwnedNode {
    let spec = s.spec.clone().unwrap_or_default();
    let ports: Vec<String> = (spec.ports.iter().flatten())
        .map(|p| p.port.to_string())
        .collect();
    let state = format!(
        "{} {}:{}",
        spec.type_.as_deref().unwrap_or("ClusterIP"),
        spec.cluster_ip.as_deref().unwrap_or("-"),
        ports.join(",")
    );
    owned("Service", s.name_any(), Health::Ok, state)
}

fn autoscaler(h: &HorizontalPodAutoscaler) -> OwnedNode {
    let spec = h.spec.clone().unwrap_or_default();
    let status = h.status.clone().unwrap_or_default();
    let unable = (status.conditions.iter().flatten())
        .any(|c| c.type_ == "AbleToScale" && c.status == "False");
    let state = format!(
        "{}-{} replicas, {} now",
        spec.min_replicas.unwrap_or(1),
        spec.max_replicas,
        status.current_replicas.unwrap_or(0)
    );
    let health = if unable { Health::Failed } else { Health::Ok };
    owned("HorizontalPodAutoscaler", h.name_any(), health, state)
}

fn ingress(i: &Ingress) -> OwnedNode {
    let rules = i
        .spec
        .as_ref()
        .and_then(|s| s.rules.clone())
        .unwrap_or_default();
    let hosts: Vec<String> = rules.iter().filter_map(|r| r.host.clone()).collect();
    owned(
        "Ingress",
        i.name_any(),
        Health::Ok,
        format!("hosts {}", hosts.join(", ")),
    )
}

fn http_route(r: &DynamicObject) -> OwnedNode {
    let accepted = r.data["status"]["parents"]
        .as_array()
        .is_some_and(|parents| {
            parents.iter().any(|p| {
                (p["conditions"].as_array().into_iter().flatten())
                    .any(|c| c["type"] == "Accepted" && c["status"] == "True")
            })
        });
    let (health, state) = match accepted {
        true => (Health::Ok, "accepted by its gateway"),
        false => (Health::Progressing, "not accepted by a gateway yet"),
    };
    owned("HTTPRoute", r.name_any(), health, state.to_string())
}

fn claim(c: &RouteClaim) -> OwnedNode {
    let route = crate::route_table::route_of(&c.spec.host, &c.spec.path);
    let accepted =
        (c.status.as_ref()).and_then(|s| conditions::find(&s.conditions, types::ACCEPTED));
    let holder = c.status.as_ref().and_then(|s| s.holder.clone());
    let (health, state) = match accepted {
        None => (Health::Progressing, format!("{route}: not decided yet")),
        Some(a) if a.status == "True" => (Health::Ok, format!("holds {route}")),
        Some(a) => {
            let by = holder.map(|h| format!(", held by {h}")).unwrap_or_default();
            (Health::Failed, format!("{route}: {}{by}", a.reason))
        }
    };
    owned("RouteClaim", c.name_any(), health, state)
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
