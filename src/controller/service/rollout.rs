//! Which ChittyDeployment a ChittyService needs next: a pure decision over the service and the
//! rollouts it already owns, so a restart at any point reaches the same answer.

use crate::api::{ChittyDeployment, ChittyService, DeploymentPhase, StrategyType, Trigger};

/// What the service controller should do about rollouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutAction {
    /// The newest rollout is already for the current revision (or the service is suspended).
    UpToDate,
    /// Create this ChittyDeployment.
    Create(NewRollout),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRollout {
    pub name: String,
    pub trigger: Trigger,
    pub strategy: StrategyType,
}

/// The newest rollout among those owned by a service: latest creation, name as tie-break.
pub fn newest(deployments: &[ChittyDeployment]) -> Option<&ChittyDeployment> {
    deployments.iter().max_by(|a, b| {
        let key = |d: &ChittyDeployment| {
            (
                d.metadata.creation_timestamp.clone().map(|t| t.0),
                d.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    })
}

fn phase(d: &ChittyDeployment) -> Option<DeploymentPhase> {
    d.status.as_ref().and_then(|s| s.phase)
}

/// The newest rollout that succeeded.
pub fn last_successful(deployments: &[ChittyDeployment]) -> Option<&ChittyDeployment> {
    newest_matching(deployments, |d| {
        phase(d) == Some(DeploymentPhase::Succeeded)
    })
}

fn newest_matching(
    deployments: &[ChittyDeployment],
    keep: impl Fn(&ChittyDeployment) -> bool,
) -> Option<&ChittyDeployment> {
    let matching: Vec<ChittyDeployment> = deployments.iter().filter(|d| keep(d)).cloned().collect();
    let name = newest(&matching)?.metadata.name.clone();
    deployments.iter().find(|d| d.metadata.name == name)
}

/// Name of the rollout for a revision at a generation. Deterministic, so that a crash between
/// creating it and recording it in status re-finds the same object instead of making a second.
pub fn rollout_name(service: &str, generation: i64, revision: &str) -> String {
    let short = &revision[..revision.len().min(8)];
    let suffix = format!("-g{generation}-{short}");
    // Object names may be 253 characters; service names are labels (63), so this always fits.
    format!("{service}{suffix}")
}

/// Decides whether the service needs a new rollout for `revision`.
pub fn decide(
    service: &ChittyService,
    revision: &str,
    owned: &[ChittyDeployment],
) -> RolloutAction {
    if service.spec.suspend {
        return RolloutAction::UpToDate;
    }
    if newest(owned).is_some_and(|d| d.spec.revision == revision) {
        return RolloutAction::UpToDate;
    }
    let trigger = if owned.is_empty() {
        Trigger::Initial
    } else if owned
        .iter()
        .any(|d| d.spec.revision == revision && phase(d) == Some(DeploymentPhase::Succeeded))
    {
        Trigger::Revert
    } else {
        Trigger::SpecChange
    };
    let generation = service.metadata.generation.unwrap_or(0);
    let name = rollout_name(
        service.metadata.name.as_deref().unwrap_or_default(),
        generation,
        revision,
    );
    RolloutAction::Create(NewRollout {
        name,
        trigger,
        strategy: resolve_strategy(service.spec.strategy.strategy_type),
    })
}

/// The concrete strategy for a rollout. `auto` means immediate until the advisor exists; the
/// service's `StrategyResolved` condition tells users so.
pub fn resolve_strategy(requested: StrategyType) -> StrategyType {
    match requested {
        StrategyType::Auto => StrategyType::Immediate,
        other => other,
    }
}

/// Finished rollouts beyond the history limit, oldest first; the newest rollout and the last
/// successful one are always kept, because status and rollbacks point at them.
pub fn prunable(owned: &[ChittyDeployment], limit: usize) -> Vec<String> {
    let mut keep_always: Vec<Option<String>> = vec![
        newest(owned).and_then(|d| d.metadata.name.clone()),
        last_successful(owned).and_then(|d| d.metadata.name.clone()),
    ];
    keep_always.dedup();
    let mut finished: Vec<&ChittyDeployment> = owned
        .iter()
        .filter(|d| phase(d).is_some_and(DeploymentPhase::is_finished))
        .filter(|d| !keep_always.contains(&d.metadata.name))
        .collect();
    finished.sort_by_key(|d| {
        (
            d.metadata.creation_timestamp.clone().map(|t| t.0),
            d.metadata.name.clone(),
        )
    });
    let excess = (finished.len() + keep_always.len()).saturating_sub(limit);
    finished
        .iter()
        .take(excess)
        .filter_map(|d| d.metadata.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ChittyDeploymentSpec, ChittyDeploymentStatus, LocalServiceRef};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn service(generation: i64) -> ChittyService {
        let mut s: ChittyService = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "chittyrental", "namespace": "prop", "generation": generation},
            "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                     "source": {"image": "registry.local/rental:1"}}
        }))
        .unwrap();
        s.metadata.generation = Some(generation);
        s
    }

    fn rollout(
        name: &str,
        revision: &str,
        minute: u8,
        phase: Option<DeploymentPhase>,
    ) -> ChittyDeployment {
        let svc = service(1);
        let mut d = ChittyDeployment::new(
            name,
            ChittyDeploymentSpec {
                service_ref: LocalServiceRef {
                    name: "chittyrental".into(),
                    uid: None,
                },
                revision: revision.into(),
                snapshot: svc.spec,
                trigger: Trigger::SpecChange,
                strategy: StrategyType::Immediate,
            },
        );
        d.metadata.creation_timestamp = Some(Time(
            format!("2026-01-01T00:{minute:02}:00Z").parse().unwrap(),
        ));
        d.status = phase.map(|p| ChittyDeploymentStatus {
            phase: Some(p),
            ..Default::default()
        });
        d
    }

    #[test]
    fn first_revision_is_an_initial_rollout() {
        let action = decide(&service(1), "aaaa1111bbbb2222", &[]);
        let RolloutAction::Create(new) = action else {
            panic!("expected a rollout")
        };
        assert_eq!(new.trigger, Trigger::Initial);
        assert_eq!(new.name, "chittyrental-g1-aaaa1111");
    }

    #[test]
    fn same_revision_needs_no_rollout() {
        let owned = [rollout("a", "aaaa1111bbbb2222", 1, None)];
        assert_eq!(
            decide(&service(2), "aaaa1111bbbb2222", &owned),
            RolloutAction::UpToDate
        );
    }

    #[test]
    fn returning_to_a_successful_revision_is_a_revert() {
        let owned = [
            rollout("a", "aaaa", 1, Some(DeploymentPhase::Succeeded)),
            rollout("b", "bbbb", 2, Some(DeploymentPhase::Succeeded)),
        ];
        let RolloutAction::Create(new) = decide(&service(3), "aaaa", &owned) else {
            panic!()
        };
        assert_eq!(new.trigger, Trigger::Revert);
    }

    #[test]
    fn suspended_service_starts_nothing() {
        let mut svc = service(1);
        svc.spec.suspend = true;
        assert_eq!(decide(&svc, "aaaa", &[]), RolloutAction::UpToDate);
    }

    #[test]
    fn auto_strategy_runs_as_immediate() {
        assert_eq!(
            resolve_strategy(StrategyType::Auto),
            StrategyType::Immediate
        );
        assert_eq!(resolve_strategy(StrategyType::Canary), StrategyType::Canary);
    }

    #[test]
    fn pruning_keeps_newest_and_last_successful() {
        let owned = [
            rollout("r1", "1", 1, Some(DeploymentPhase::Succeeded)),
            rollout("r2", "2", 2, Some(DeploymentPhase::Failed)),
            rollout("r3", "3", 3, Some(DeploymentPhase::Succeeded)),
            rollout("r4", "4", 4, Some(DeploymentPhase::RolledBack)),
            rollout("r5", "5", 5, Some(DeploymentPhase::Failed)),
        ];
        assert_eq!(
            prunable(&owned, 3),
            vec!["r1".to_string(), "r2".to_string()]
        );
        assert!(prunable(&owned, 10).is_empty());
    }
}
