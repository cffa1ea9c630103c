//! The verbs that steer a service, each a patch the operator already understands, in one table
//! so a verb the operator learns (promote, pause, abort) is one row here. Choosing the object and
//! the patch is pure; `act` sends it.

use anyhow::{anyhow, bail};
use chitty_operator::api::{
    APPROVED_BY, CANARY_CONTROL, CANARY_CONTROL_BY, ChittyDeployment, ChittyService,
    DeploymentPhase, REJECTED_BY, REJECTION_REASON, ROLLBACK_REQUEST,
};
use chitty_operator::pipeline::rollouts;
use kube::ResourceExt;
use serde::Serialize;
use serde_json::{Value, json};

/// Who decides and why, as given on the command line.
#[derive(Debug, Clone)]
pub struct Who {
    pub by: String,
    pub reason: Option<String>,
}

pub enum Action {
    /// A merge patch of the ChittyService's spec.
    ServiceSpec(fn() -> Value),
    /// Annotations on the service's rollout that `pick` chooses.
    AnnotateRollout {
        pick: Pick,
        annotations: fn(&Who) -> Vec<(&'static str, String)>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The newest rollout, which must have succeeded and have an earlier success to return to
    /// (what the operator's rollback handles).
    NewestSucceeded,
    /// The newest rollout waiting for a person's approval.
    AwaitingApproval,
    /// The rollout whose canary is in flight (deployed, not yet promoted or aborted).
    CanaryInFlight,
}

pub struct Verb {
    pub name: &'static str,
    /// What happened, for the confirmation (`rolled back`, `suspended`).
    pub done: &'static str,
    pub action: Action,
}

/// Every verb and what the operator understands by it.
pub const VERBS: &[Verb] = &[
    Verb {
        name: "rollback",
        done: "rollback requested",
        action: Action::AnnotateRollout {
            pick: Pick::NewestSucceeded,
            annotations: |who| {
                let why = (who.reason.clone())
                    .unwrap_or_else(|| format!("requested by {} with kubectl chitty", who.by));
                vec![(ROLLBACK_REQUEST, why)]
            },
        },
    },
    Verb {
        name: "suspend",
        done: "suspended",
        action: Action::ServiceSpec(|| json!({"spec": {"suspend": true}})),
    },
    Verb {
        name: "resume",
        done: "resumed",
        action: Action::ServiceSpec(|| json!({"spec": {"suspend": false}})),
    },
    Verb {
        name: "approve",
        done: "approved",
        action: Action::AnnotateRollout {
            pick: Pick::AwaitingApproval,
            annotations: |who| vec![(APPROVED_BY, who.by.clone())],
        },
    },
    Verb {
        name: "reject",
        done: "rejected",
        action: Action::AnnotateRollout {
            pick: Pick::AwaitingApproval,
            annotations: |who| {
                let mut set = vec![(REJECTED_BY, who.by.clone())];
                set.extend(who.reason.clone().map(|r| (REJECTION_REASON, r)));
                set
            },
        },
    },
    Verb {
        name: "promote",
        done: "promoted",
        action: Action::AnnotateRollout {
            pick: Pick::CanaryInFlight,
            annotations: |who| canary_command("promote", who),
        },
    },
    Verb {
        name: "pause",
        done: "paused",
        action: Action::AnnotateRollout {
            pick: Pick::CanaryInFlight,
            annotations: |who| canary_command("pause", who),
        },
    },
    Verb {
        name: "unpause",
        done: "unpaused",
        action: Action::AnnotateRollout {
            pick: Pick::CanaryInFlight,
            annotations: |who| canary_command("resume", who),
        },
    },
    Verb {
        name: "abort",
        done: "aborted",
        action: Action::AnnotateRollout {
            pick: Pick::CanaryInFlight,
            annotations: |who| canary_command("abort", who),
        },
    },
];

/// The operator's canary command annotations (`chitty.cc/canary`, `chitty.cc/canary-by`).
fn canary_command(word: &str, who: &Who) -> Vec<(&'static str, String)> {
    vec![
        (CANARY_CONTROL, word.to_owned()),
        (CANARY_CONTROL_BY, who.by.clone()),
    ]
}

pub fn verb(name: &str) -> &'static Verb {
    VERBS
        .iter()
        .find(|v| v.name == name)
        .expect("every subcommand that steers has a row in VERBS")
}

/// The patch to send: to which object, and what it says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Planned {
    pub verb: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub patch: Value,
}

/// Chooses the object and the patch, or says why the verb cannot apply now.
pub fn plan(
    verb: &Verb,
    service: &ChittyService,
    owned: &[ChittyDeployment],
    who: &Who,
) -> anyhow::Result<Planned> {
    let (namespace, name) = (service.namespace().unwrap_or_default(), service.name_any());
    let planned = |kind: &str, object: String, patch: Value| Planned {
        verb: verb.name.to_string(),
        kind: kind.to_string(),
        namespace: namespace.clone(),
        name: object,
        patch,
    };
    match &verb.action {
        Action::ServiceSpec(patch) => Ok(planned("ChittyService", name, patch())),
        Action::AnnotateRollout { pick, annotations } => {
            let rollout = pick_rollout(*pick, &name, owned)?;
            let set: serde_json::Map<String, Value> = (annotations(who).into_iter())
                .map(|(k, v)| (k.to_string(), Value::String(v)))
                .collect();
            let patch = json!({"metadata": {"annotations": set}});
            Ok(planned("ChittyDeployment", rollout.name_any(), patch))
        }
    }
}

fn pick_rollout<'a>(
    pick: Pick,
    service: &str,
    owned: &'a [ChittyDeployment],
) -> anyhow::Result<&'a ChittyDeployment> {
    let phase = |d: &ChittyDeployment| d.status.as_ref().and_then(|s| s.phase);
    match pick {
        Pick::NewestSucceeded => {
            let newest = rollouts::newest(owned)
                .ok_or_else(|| anyhow!("{service} has no rollouts to roll back"))?;
            if phase(newest) != Some(DeploymentPhase::Succeeded) {
                let now = phase(newest).map_or("Pending", |p| p.as_str());
                bail!(
                    "the newest rollout of {service}, {}, is {now}; only a succeeded rollout can be rolled back",
                    newest.name_any()
                );
            }
            if rollouts::rollback_target(newest, owned).is_none() {
                bail!(
                    "{service} has no earlier successful rollout to return to from {}",
                    newest.name_any()
                );
            }
            Ok(newest)
        }
        Pick::AwaitingApproval => {
            let waiting: Vec<ChittyDeployment> = (owned.iter())
                .filter(|d| {
                    let approval = d.status.as_ref().and_then(|s| s.approval.as_ref());
                    !phase(d).is_some_and(DeploymentPhase::is_finished)
                        && approval.is_some_and(|a| {
                            a.required && a.approved_by.is_none() && a.rejected_by.is_none()
                        })
                })
                .cloned()
                .collect();
            let newest = rollouts::newest(&waiting)
                .ok_or_else(|| anyhow!("no rollout of {service} is waiting for approval"))?;
            let name = newest.name_any();
            Ok(owned
                .iter()
                .find(|d| d.name_any() == name)
                .expect("picked from owned"))
        }
        Pick::CanaryInFlight => owned
            .iter()
            .find(|d| {
                let canary = d.status.as_ref().and_then(|s| s.canary.as_ref());
                phase(d) == Some(DeploymentPhase::Running)
                    && canary.is_some_and(|c| {
                        !matches!(c.state.as_deref(), Some("Promoted" | "Aborted"))
                    })
            })
            .ok_or_else(|| anyhow!("no canary of {service} is in flight")),
    }
}

#[cfg(test)]
#[path = "verbs_tests.rs"]
mod tests;
