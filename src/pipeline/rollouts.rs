//! A service's rollouts, read as a whole: which ChittyDeployment it needs next, which one serves
//! now, which one is in flight, and when a critical service must be rolled back. Pure decisions
//! over the service and the rollouts it owns, so a restart at any point reaches the same answer,
//! and every controller that needs them reads them from here.

use std::time::Duration;

use crate::api::{
    ChittyDeployment, ChittyService, DeploymentPhase, StepPhase, StrategyType, Trigger,
};
use crate::pipeline::plan::Step;

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

/// The rollout whose revision serves now: the newest that succeeded. A failed or rolled-back
/// rollout never serves (its workload was put back), whatever its age; with none, nothing has
/// served yet.
pub fn serving(deployments: &[ChittyDeployment]) -> Option<&ChittyDeployment> {
    last_successful(deployments)
}

/// Whether a rollout has not finished (it may still be waiting to start).
pub fn is_in_flight(d: &ChittyDeployment) -> bool {
    !phase(d).is_some_and(DeploymentPhase::is_finished)
}

/// Whether a rollout has started putting its workload in place: from then until it finishes,
/// its pipeline owns the service's Deployments.
pub fn has_started_deploy(d: &ChittyDeployment) -> bool {
    is_in_flight(d)
        && d.status.as_ref().is_some_and(|s| {
            s.steps
                .iter()
                .any(|st| st.name == Step::Deploy.as_str() && st.phase != StepPhase::Pending)
        })
}

/// A succeeded rollout asked to roll back, whose controller has not done it yet.
pub fn rollback_pending(d: &ChittyDeployment) -> bool {
    phase(d) == Some(DeploymentPhase::Succeeded)
        && d.metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(crate::api::ROLLBACK_REQUEST))
}

/// Whether a rollout's controller owns the service's Deployments now: from its deploy step until
/// it finishes, and while it carries out a rollback request.
pub fn holds_the_workload(d: &ChittyDeployment) -> bool {
    has_started_deploy(d) || rollback_pending(d)
}

/// A critical service went down: roll its newest rollout back when that rollout succeeded
/// within `window` of `now` and an earlier success exists to return to.
pub fn critical_rollback_due(
    newest: &ChittyDeployment,
    owned: &[ChittyDeployment],
    now: jiff::Timestamp,
    window: Duration,
) -> bool {
    let Some(status) = newest.status.as_ref() else {
        return false;
    };
    if status.phase != Some(DeploymentPhase::Succeeded) {
        return false;
    }
    let completed = status.completed_at.as_ref().map_or(now, |t| t.0);
    if now.duration_since(completed).unsigned_abs() > window {
        return false;
    }
    rollback_target(newest, owned).is_some()
}

/// What rolling `from` back returns to: the newest success other than `from`.
pub fn rollback_target<'a>(
    from: &ChittyDeployment,
    owned: &'a [ChittyDeployment],
) -> Option<&'a ChittyDeployment> {
    newest_matching(owned, |d| {
        d.metadata.name != from.metadata.name && phase(d) == Some(DeploymentPhase::Succeeded)
    })
}

/// Name of the rollout for a revision at a generation. Deterministic, so that a crash between
/// creating it and recording it in status re-finds the same object instead of making a second.
pub fn rollout_name(service: &str, generation: i64, revision: &str) -> String {
    let short = &revision[..revision.len().min(8)];
    let suffix = format!("-g{generation}-{short}");
    // The name is also a label value on the rollout's pods, so it keeps to 63 characters.
    crate::names::bounded(service, &suffix)
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
        // `auto` stays `auto`: the deploy advisor's plan, made when the rollout is about to
        // start, decides (see `advisor`).
        strategy: service.spec.strategy.strategy_type,
    })
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
    fn auto_strategy_is_left_to_the_advisor() {
        for strategy in [StrategyType::Auto, StrategyType::Canary] {
            let mut svc = service(1);
            svc.spec.strategy.strategy_type = strategy;
            let RolloutAction::Create(new) = decide(&svc, "aaaa", &[]) else {
                panic!("a first rollout");
            };
            assert_eq!(new.strategy, strategy);
        }
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

    #[test]
    fn the_serving_rollout_is_the_newest_success_even_after_a_failure() {
        let owned = [
            rollout("r1", "1", 1, Some(DeploymentPhase::Succeeded)),
            rollout("r2", "2", 2, Some(DeploymentPhase::RolledBack)),
            rollout("r3", "3", 3, Some(DeploymentPhase::Running)),
        ];
        assert_eq!(
            serving(&owned).unwrap().metadata.name.as_deref(),
            Some("r1")
        );
        assert!(
            serving(&owned[1..]).is_none(),
            "nothing succeeded: nothing serves"
        );
    }

    #[test]
    fn a_rollout_owns_the_workload_only_from_its_deploy_step_until_it_finishes() {
        let mut r = rollout("r1", "1", 1, Some(DeploymentPhase::Running));
        r.status.as_mut().unwrap().steps = crate::pipeline::plan::plan(&r.spec.snapshot);
        assert!(
            !has_started_deploy(&r),
            "waiting on dependencies or building"
        );
        let deploy = r
            .status
            .as_mut()
            .unwrap()
            .steps
            .iter_mut()
            .find(|s| s.name == "deploy")
            .unwrap();
        deploy.phase = StepPhase::Running;
        assert!(has_started_deploy(&r));
        r.status.as_mut().unwrap().phase = Some(DeploymentPhase::Succeeded);
        assert!(
            !has_started_deploy(&r),
            "finished: the serving revision is converged again"
        );
    }

    #[test]
    fn a_critical_rollback_needs_a_recent_success_and_somewhere_to_return_to() {
        let now: jiff::Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let window = Duration::from_secs(30 * 60);
        let mut newest = rollout("r2", "2", 5, Some(DeploymentPhase::Succeeded));
        newest.status.as_mut().unwrap().completed_at =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2026-01-01T00:06:00Z".parse().unwrap(),
            ));
        let older = rollout("r1", "1", 1, Some(DeploymentPhase::Succeeded));
        let owned = [older.clone(), newest.clone()];
        assert!(critical_rollback_due(&newest, &owned, now, window));
        assert_eq!(
            rollback_target(&newest, &owned)
                .unwrap()
                .metadata
                .name
                .as_deref(),
            Some("r1")
        );
        assert!(
            !critical_rollback_due(&newest, &owned[1..], now, window),
            "first rollout"
        );
        let late = now + jiff::SignedDuration::from_secs(3600);
        assert!(
            !critical_rollback_due(&newest, &owned, late, window),
            "outside the window"
        );
    }
}
