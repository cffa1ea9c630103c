//! Condition vocabulary shared by all three kinds, and the pure merge that keeps
//! `lastTransitionTime` still unless a condition's status really changes.
//!
//! kstatus reads `Ready` (always present once reconciled), and the abnormal-true conditions
//! `Reconciling` and `Stalled`, which are present only while they are true.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub mod types {
    pub const READY: &str = "Ready";
    pub const RECONCILING: &str = "Reconciling";
    pub const STALLED: &str = "Stalled";
    pub const DEPENDENCIES_READY: &str = "DependenciesReady";
    pub const IDENTITY_READY: &str = "IdentityReady";
    pub const REGISTERED: &str = "Registered";
    pub const ROUTED: &str = "Routed";
    pub const ACCEPTED: &str = "Accepted";
    pub const STRATEGY_RESOLVED: &str = "StrategyResolved";
    /// On a ChittyDeployment: the deploy advisor's plan (reason: the decision).
    pub const PLANNED: &str = "Planned";
}

pub mod reasons {
    pub const ROLLOUT_PENDING: &str = "RolloutPending";
    pub const ROLLOUT_IN_PROGRESS: &str = "RolloutInProgress";
    pub const ROLLOUT_SUCCEEDED: &str = "RolloutSucceeded";
    pub const ROLLOUT_FAILED: &str = "RolloutFailed";
    pub const SUSPENDED: &str = "Suspended";
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const RECONCILE_ERROR: &str = "ReconcileError";
    /// The apiserver refused an object the operator sent (invalid, or forbidden by a policy or
    /// a quota): a person must change the spec or the cluster; the operator retries with backoff.
    pub const OBJECT_REFUSED: &str = "ObjectRefused";
    /// An object the operator would write exists and belongs to someone else; it is left as is.
    pub const NAME_IN_USE: &str = "NameInUse";
    pub const NEW_REVISION: &str = "NewRevision";
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    pub const DEPENDENCIES_READY: &str = "DependenciesReady";
    pub const DEPENDENCY_CYCLE: &str = "DependencyCycle";
    pub const ROLLED_BACK: &str = "RolledBack";
    /// A canary failed its analysis or was aborted by a person; the stable revision serves.
    pub const CANARY_ABORTED: &str = "Aborted";
    pub const SUPERSEDED: &str = "Superseded";
    pub const HEALTH_CHECK_FAILING: &str = "HealthCheckFailing";
    pub const MINTED: &str = "Minted";
    pub const REGISTERED: &str = "Registered";
    /// The registry record under the service's ChittyID belongs to another service.
    pub const IDENTITY_MISMATCH: &str = "IdentityMismatch";
    /// `strategy: auto`: each rollout follows the deploy advisor's plan.
    pub const ADVISED: &str = "Advised";
    /// The advisor's plan holds the rollout until a time (a window, a dependency, a busy fleet).
    pub const WAITING: &str = "Waiting";
    /// The advisor aborted the rollout as too risky.
    pub const ADVISOR_ABORTED: &str = "AdvisorAborted";
    /// The rollout waits for a person's approval.
    pub const AWAITING_APPROVAL: &str = "AwaitingApproval";
    /// A person rejected the rollout.
    pub const REJECTED: &str = "Rejected";
    // The `Routed` condition of a ChittyService.
    pub const ROUTES_HELD: &str = "RoutesHeld";
    pub const ROUTES_PENDING: &str = "RoutesPending";
    pub const ROUTE_CONFLICT: &str = "RouteConflict";
    pub const ROUTE_NOT_ALLOWED: &str = "RouteNotAllowed";
    pub const ROUTE_INVALID: &str = "RouteInvalid";
    /// Gateway mode: the Gateway has not yet said whether it accepts the service's HTTPRoutes.
    pub const GATEWAY_PENDING: &str = "GatewayPending";
    /// Gateway mode: the Gateway refused an HTTPRoute or could not resolve its backends (the
    /// `Routed` condition carries the Gateway's own reason; `Ready` this one).
    pub const GATEWAY_REFUSED: &str = "GatewayRefused";
    // The `Ready` condition of a ChittyDomain.
    pub const DELEGATED: &str = "Delegated";
    /// An older ChittyDomain delegates the same host; this one has no effect.
    pub const OVERLAPPED: &str = "Overlapped";
}

/// Reasons of the Events the operator records (conditions and Events share one vocabulary where
/// they mean the same thing, so these sit beside the condition reasons).
pub mod events {
    pub const ROLLOUT_CREATED: &str = "RolloutCreated";
    pub const HEALTH_CHANGED: &str = "HealthChanged";
    /// An object the operator owns was edited or deleted by hand and has been put back.
    pub const DRIFT_REPAIRED: &str = "DriftRepaired";
    /// The serving Deployment took a new replica count, or an autoscaler took it over.
    pub const SCALED: &str = "Scaled";
    /// A person approved a rollout waiting for approval.
    pub const APPROVED: &str = "Approved";
    /// Approval annotations on a rollout that does not wait for approval, left without effect.
    pub const APPROVAL_IGNORED: &str = "ApprovalIgnored";
    pub const REGISTRY_RECORD_RETIRED: &str = "RegistryRecordRetired";
    pub const REGISTRY_RECORD_ORPHANED: &str = "RegistryRecordOrphaned";
    /// Status fields did not decode (an integer out of range); the operator removed them and
    /// rewrites the status.
    pub const UNDECODABLE_STATUS: &str = "UndecodableStatus";
    /// The object did not decode even without its status; the operator cannot act on it.
    pub const UNREADABLE_OBJECT: &str = "UnreadableObject";
}

/// A condition as a controller decides it, before times and generations are attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl Desired {
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

fn status_word(status: bool) -> &'static str {
    if status { "True" } else { "False" }
}

/// Builds the full condition list from what the controller decided now. A condition whose
/// status did not change keeps its `lastTransitionTime`; conditions not in `desired` are dropped,
/// which is how abnormal-true conditions disappear once they stop being true.
pub fn merge(
    previous: &[Condition],
    desired: &[Desired],
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    desired
        .iter()
        .map(|d| {
            let status = status_word(d.status);
            let transition = previous
                .iter()
                .find(|p| p.type_ == d.type_ && p.status == status)
                .map(|p| p.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            Condition {
                type_: d.type_.to_string(),
                status: status.to_string(),
                reason: d.reason.clone(),
                message: d.message.clone(),
                observed_generation: generation,
                last_transition_time: transition,
            }
        })
        .collect()
}

/// The condition of the given type, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of the given type is present and `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    #[test]
    fn unchanged_status_keeps_its_transition_time() {
        let first = merge(
            &[],
            &[Desired::new(types::READY, false, "A", "a")],
            Some(1),
            &at("2026-01-01T00:00:00Z"),
        );
        let second = merge(
            &first,
            &[Desired::new(types::READY, false, "B", "b")],
            Some(2),
            &at("2026-01-02T00:00:00Z"),
        );
        assert_eq!(second[0].last_transition_time, at("2026-01-01T00:00:00Z"));
        assert_eq!(second[0].reason, "B");
        assert_eq!(second[0].observed_generation, Some(2));
    }

    #[test]
    fn changed_status_moves_the_transition_time() {
        let first = merge(
            &[],
            &[Desired::new(types::READY, false, "A", "a")],
            None,
            &at("2026-01-01T00:00:00Z"),
        );
        let second = merge(
            &first,
            &[Desired::new(types::READY, true, "A", "a")],
            None,
            &at("2026-01-02T00:00:00Z"),
        );
        assert_eq!(second[0].last_transition_time, at("2026-01-02T00:00:00Z"));
        assert_eq!(second[0].status, "True");
    }

    #[test]
    fn conditions_left_out_are_dropped() {
        let now = at("2026-01-01T00:00:00Z");
        let first = merge(
            &[],
            &[
                Desired::new(types::READY, false, "A", "a"),
                Desired::new(types::RECONCILING, true, "B", "b"),
            ],
            None,
            &now,
        );
        let second = merge(
            &first,
            &[Desired::new(types::READY, true, "C", "c")],
            None,
            &now,
        );
        assert_eq!(second.len(), 1);
        assert!(find(&second, types::RECONCILING).is_none());
        assert!(is_true(&second, types::READY));
    }
}
