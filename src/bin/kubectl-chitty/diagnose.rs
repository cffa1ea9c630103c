//! `explain` as data: why a service is not Ready, as findings in plain sentences. Pure: what was
//! fetched in, findings out; its JSON is the stable shape `explain -o json` prints.

use chitty_operator::api::conditions::{self, types};
use chitty_operator::api::{
    ChittyDeployment, ChittyService, DeploymentPhase, RouteClaim, StepPhase,
};
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use serde::Serialize;

use crate::render::{duration, one_line};

/// Warning Events shown, the newest.
const EVENTS_SHOWN: usize = 5;

/// What `explain` read about one service.
pub struct Evidence<'a> {
    pub service: &'a ChittyService,
    pub rollouts: &'a [ChittyDeployment],
    pub claims: &'a [RouteClaim],
    /// Each `spec.dependsOn` entry as `namespace/name`, with the service if it exists.
    pub dependencies: Vec<(String, Option<ChittyService>)>,
    /// Warning Events of the namespace; those about this service's objects are used.
    pub warnings: &'a [Event],
    pub now: jiff::Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    pub namespace: String,
    pub service: String,
    pub ready: bool,
    /// The first sentence: Ready, or not Ready and the operator's own reason.
    pub summary: String,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub kind: FindingKind,
    /// What the finding is about: a step, a condition type, a route, a dependency, an object.
    pub subject: String,
    pub sentence: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FindingKind {
    Suspended,
    Step,
    Rollout,
    Condition,
    Route,
    Dependency,
    Event,
}

pub fn explain(evidence: &Evidence) -> Explanation {
    let service = evidence.service;
    let (namespace, name) = (service.namespace().unwrap_or_default(), service.name_any());
    let status = service.status.clone().unwrap_or_default();
    let ready = conditions::find(&status.conditions, types::READY);
    let observed = status.observed_generation.is_some()
        && status.observed_generation == service.metadata.generation;
    let is_ready = observed && ready.is_some_and(|c| c.status == "True");
    let summary = match ready {
        Some(c) if is_ready => format!("{namespace}/{name} is Ready: {}", one_line(&c.message)),
        Some(c) => format!(
            "{namespace}/{name} is not Ready ({}): {}",
            c.reason,
            one_line(&c.message)
        ),
        None => format!("{namespace}/{name} is not Ready: the operator has not reported on it yet"),
    };
    let mut findings = Vec::new();
    if !is_ready {
        if !observed && ready.is_some() {
            findings.push(finding(
                FindingKind::Condition,
                "observedGeneration",
                "The operator has not yet reported on the newest change to the spec.".into(),
            ));
        }
        if service.spec.suspend {
            findings.push(finding(
                FindingKind::Suspended,
                "spec.suspend",
                format!("Rollouts are suspended (spec.suspend is true); `kubectl chitty resume {name}` lets them start again."),
            ));
        }
        findings.extend(rollout_findings(evidence.rollouts));
        findings.extend(condition_findings(&status.conditions, "the service"));
        findings.extend(evidence.claims.iter().filter_map(route_finding));
        findings.extend(dependency_findings(&evidence.dependencies));
        findings.extend(event_findings(evidence, &name));
        dedupe(&mut findings);
    }
    Explanation {
        namespace,
        service: name,
        ready: is_ready,
        summary,
        findings,
    }
}

fn finding(kind: FindingKind, subject: &str, sentence: String) -> Finding {
    Finding {
        kind,
        subject: subject.to_string(),
        sentence,
    }
}

/// The newest rollout: the step that failed or is under way, and what it waits for.
fn rollout_findings(rollouts: &[ChittyDeployment]) -> Vec<Finding> {
    let Some(newest) = chitty_operator::pipeline::rollouts::newest(rollouts) else {
        return vec![];
    };
    let status = newest.status.clone().unwrap_or_default();
    let (name, version) = (newest.name_any(), &newest.spec.snapshot.version);
    let mut out = Vec::new();
    let failed = status.steps.iter().find(|s| s.phase == StepPhase::Failed);
    let running = status.steps.iter().find(|s| s.phase == StepPhase::Running);
    match (status.phase, failed, running) {
        (_, Some(step), _) => out.push(finding(
            FindingKind::Step,
            &step.name,
            format!(
                "Rollout {name} (v{version}) failed at step {}: {}",
                step.name,
                one_line(step.message.as_deref().unwrap_or("no message"))
            ),
        )),
        (_, None, Some(step)) => {
            out.push(finding(
                FindingKind::Step,
                &step.name,
                format!(
                    "Rollout {name} (v{version}) is at step {}: {}",
                    step.name,
                    one_line(step.message.as_deref().unwrap_or("under way"))
                ),
            ));
        }
        (Some(DeploymentPhase::Pending) | None, None, None) => {
            let why = conditions::find(&status.conditions, types::READY)
                .map_or("it has not started yet".to_string(), |c| {
                    one_line(&c.message)
                });
            out.push(finding(
                FindingKind::Rollout,
                &name,
                format!("Rollout {name} (v{version}) waits to start: {why}"),
            ));
        }
        _ => {}
    }
    if matches!(
        status.phase,
        Some(DeploymentPhase::RolledBack | DeploymentPhase::Failed)
    ) {
        let to = (status.rolled_back_to.as_ref())
            .map_or(String::new(), |to| format!(" and was rolled back to {to}"));
        let why = status.error.as_deref().map(one_line).unwrap_or_default();
        out.push(finding(
            FindingKind::Rollout,
            &name,
            format!(
                "Rollout {name} (v{version}) ended {}{to}: {why}",
                status.phase.map_or("", |p| p.as_str())
            ),
        ));
    }
    out.extend(condition_findings(
        &status.conditions,
        &format!("rollout {name}"),
    ));
    out
}

/// Conditions that are not as they should be: normal-true types not True, and the abnormal-true
/// `Stalled` and `Reconciling` while True. `Ready` is the summary's, not repeated.
fn condition_findings(list: &[Condition], of: &str) -> Vec<Finding> {
    (list.iter())
        .filter(|c| c.type_ != types::READY)
        .filter(|c| match c.type_.as_str() {
            types::STALLED | types::RECONCILING => c.status == "True",
            _ => c.status != "True",
        })
        .map(|c| {
            finding(
                FindingKind::Condition,
                &c.type_,
                format!(
                    "{} is {} on {of} ({}): {}",
                    c.type_,
                    c.status,
                    c.reason,
                    one_line(&c.message)
                ),
            )
        })
        .collect()
}

/// A claim that does not hold its route: who does, and the rule's own words.
fn route_finding(claim: &RouteClaim) -> Option<Finding> {
    let route = crate::route_table::route_of(&claim.spec.host, &claim.spec.path);
    let status = claim.status.clone().unwrap_or_default();
    let accepted = conditions::find(&status.conditions, types::ACCEPTED);
    let sentence = match accepted {
        Some(c) if c.status == "True" => return None,
        Some(c) => {
            let holder =
                (status.holder.as_ref()).map_or(String::new(), |h| format!(", held by {h}"));
            format!(
                "Route {route} is lost ({}{holder}): {}",
                c.reason,
                one_line(&c.message)
            )
        }
        None => format!(
            "Route {route} is not decided yet (claim {}).",
            claim.name_any()
        ),
    };
    Some(finding(FindingKind::Route, &route, sentence))
}

fn dependency_findings(dependencies: &[(String, Option<ChittyService>)]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, service) in dependencies {
        let sentence = match service {
            None => format!("Dependency {name} does not exist."),
            Some(s) => {
                let list = s
                    .status
                    .as_ref()
                    .map(|st| st.conditions.as_slice())
                    .unwrap_or_default();
                match conditions::find(list, types::READY) {
                    Some(c) if c.status == "True" => continue,
                    Some(c) => format!(
                        "Dependency {name} is not Ready ({}): {}",
                        c.reason,
                        one_line(&c.message)
                    ),
                    None => format!("Dependency {name} is not Ready yet."),
                }
            }
        };
        out.push(finding(FindingKind::Dependency, name, sentence));
    }
    out
}

/// The newest Warning Events about the service, its rollouts (and their Jobs), its Deployments
/// and its claims, oldest first.
fn event_findings(evidence: &Evidence, service: &str) -> Vec<Finding> {
    let rollouts: Vec<String> = evidence.rollouts.iter().map(|r| r.name_any()).collect();
    let claims: Vec<String> = evidence.claims.iter().map(|c| c.name_any()).collect();
    let about = |name: &str| {
        name == service
            || name == format!("{service}-canary")
            || claims.iter().any(|c| c == name)
            || rollouts.iter().any(|r| name.starts_with(r.as_str()))
    };
    let mut events: Vec<(jiff::Timestamp, &Event)> = (evidence.warnings.iter())
        .filter(|e| e.involved_object.name.as_deref().is_some_and(about))
        .map(|e| (when(e), e))
        .collect();
    events.sort_by_key(|(t, _)| *t);
    let skip = events.len().saturating_sub(EVENTS_SHOWN);
    (events.into_iter().skip(skip))
        .map(|(at, e)| {
            let object = format!(
                "{}/{}",
                e.involved_object.kind.as_deref().unwrap_or("object"),
                e.involved_object.name.as_deref().unwrap_or("")
            );
            let ago = evidence.now.duration_since(at).as_millis() as i64;
            let times = match e.count {
                Some(n) if n > 1 => format!(" (x{n})"),
                _ => String::new(),
            };
            finding(
                FindingKind::Event,
                &object,
                format!(
                    "Warning {} on {object}, {} ago{times}: {}",
                    e.reason.as_deref().unwrap_or("Unknown"),
                    duration(ago),
                    one_line(e.message.as_deref().unwrap_or(""))
                ),
            )
        })
        .collect()
}

fn when(e: &Event) -> jiff::Timestamp {
    (e.last_timestamp.as_ref().map(|t| t.0))
        .or(e.event_time.as_ref().map(|t| t.0))
        .or(e.first_timestamp.as_ref().map(|t| t.0))
        .or(e.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// The same sentence from two places (a service and its rollout say the same) is said once.
fn dedupe(findings: &mut Vec<Finding>) {
    let mut seen = std::collections::BTreeSet::new();
    findings.retain(|f| {
        let tail = f
            .sentence
            .split_once(": ")
            .map_or(f.sentence.clone(), |(_, m)| m.to_string());
        f.kind == FindingKind::Event || seen.insert(tail)
    });
}

#[cfg(test)]
#[path = "diagnose_tests.rs"]
mod tests;
