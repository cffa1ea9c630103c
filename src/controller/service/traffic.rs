//! The canary's share of a service's traffic, as the routing objects the ChittyService controller
//! writes (Ingress, HTTPRoute) must carry it: read from the service's rollout in flight, whose
//! controller decides the weight step by step. Nothing in flight, or a canary that ended: all to
//! stable.

use crate::api::{ChittyDeployment, DeploymentPhase};
use crate::workload::traffic::Traffic;

/// Pure: the weight of the running rollout (of the service's `rollouts`) whose canary is taking
/// traffic.
pub fn of(rollouts: &[ChittyDeployment]) -> Traffic {
    let weight = rollouts.iter().find_map(|d| {
        let status = d.status.as_ref()?;
        if status.phase != Some(DeploymentPhase::Running) {
            return None;
        }
        let canary = status.canary.as_ref()?;
        let taking = matches!(canary.state.as_deref(), Some("Progressing" | "Paused"));
        taking.then_some(canary.weight?)
    });
    Traffic {
        canary_weight: weight,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(phase: &str, state: &str, weight: i32) -> ChittyDeployment {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
            "metadata": {"name": "web-r2", "namespace": "ns"},
            "spec": {"serviceRef": {"name": "web"}, "revision": "r", "trigger": "SpecChange", "strategy": "canary",
                     "snapshot": {"type": "worker", "version": "2.0.0", "environment": "staging", "source": {"image": "r/w:2"}}},
            "status": {"phase": phase, "canary": {"canaryReplicas": 1, "stableReplicas": 3, "percent": weight, "state": state, "weight": weight}}
        }))
        .unwrap()
    }

    #[test]
    fn a_canary_in_its_steps_takes_its_weight_and_an_ended_one_none() {
        assert_eq!(
            of(&[rollout("Running", "Progressing", 30)]).canary_weight,
            Some(30)
        );
        assert_eq!(
            of(&[rollout("Running", "Paused", 50)]).canary_weight,
            Some(50)
        );
        assert_eq!(
            of(&[rollout("Running", "Starting", 10)]).canary_weight,
            None,
            "not available yet"
        );
        assert_eq!(of(&[rollout("Running", "Aborted", 0)]).canary_weight, None);
        assert_eq!(of(&[rollout("Aborted", "Aborted", 0)]).canary_weight, None);
        assert_eq!(
            of(&[rollout("Succeeded", "Promoted", 100)]).canary_weight,
            None
        );
        assert_eq!(of(&[]).canary_weight, None);
    }
}
