//! What wakes which reconcile: mappings from a changed object to the objects to reconcile.

use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

use crate::api::ChittyService;
use crate::controller::CachedRollout;
use crate::controller::rollout_index::RolloutIndex;
use crate::workload::ROLLOUT_LABEL;

/// A workload Deployment wakes the rollout that last applied it (its label says which).
pub(super) fn rollout_of_workload(
    d: &impl Resource<DynamicType = ()>,
) -> Option<ObjectRef<CachedRollout>> {
    let rollout = d.labels().get(ROLLOUT_LABEL)?;
    Some(ObjectRef::new(rollout).within(&d.namespace()?))
}

/// The ChittyService that controls an object (its Ingress).
pub(super) fn owning_service<K: Resource<DynamicType = ()>>(
    obj: &K,
) -> Option<ObjectRef<ChittyService>> {
    let owner = obj
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true) && o.kind == ChittyService::kind(&()))?;
    Some(ObjectRef::new(&owner.name).within(&obj.namespace()?))
}

/// A rollout wakes the service that controls it (its owner reference says which).
pub(super) fn service_of_rollout(rollout: &CachedRollout) -> Option<ObjectRef<ChittyService>> {
    owning_service(rollout)
}

/// A ChittyService change wakes its own unfinished rollouts (suspension, supersession) and the
/// unfinished rollouts of services that depend on it (the dependency gate, the advisor's
/// dependency rules): an index lookup, not a scan of every rollout.
pub(super) fn rollouts_waiting_on(
    index: &RolloutIndex,
    service: &ChittyService,
) -> Vec<ObjectRef<CachedRollout>> {
    index.waiting_on(
        &service.namespace().unwrap_or_default(),
        &service.name_any(),
    )
}

/// A Cloudflare service's serving rollout keeps its Worker bound to the routes the service holds,
/// so a change of the service (its held routes are on its status) wakes that rollout too.
pub(super) fn serving_edge_rollout(service: &ChittyService) -> Option<ObjectRef<CachedRollout>> {
    if service.spec.target != crate::api::Target::Cloudflare {
        return None;
    }
    let serving = service.status.as_ref()?.current_deployment.as_deref()?;
    Some(ObjectRef::new(serving).within(&service.namespace()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ChittyDeployment;
    use crate::api::ChittyDeploymentStatus;
    use crate::api::DeploymentPhase;
    use crate::controller::packed::Packed;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher;

    fn service(ns: &str, name: &str) -> ChittyService {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                     "source": {"image": "r/x:1"}}
        }))
        .unwrap()
    }

    fn rollout(
        ns: &str,
        name: &str,
        of: &str,
        depends_on: serde_json::Value,
        phase: Option<DeploymentPhase>,
    ) -> ChittyDeployment {
        let mut d: ChittyDeployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"serviceRef": {"name": of}, "revision": "r1", "trigger": "Initial",
                     "strategy": "immediate",
                     "snapshot": {"type": "worker", "version": "1.0.0", "environment": "staging",
                                  "source": {"image": "r/x:1"}, "dependsOn": depends_on}}
        }))
        .unwrap();
        d.status = phase.map(|p| ChittyDeploymentStatus {
            phase: Some(p),
            ..Default::default()
        });
        d
    }

    fn names(refs: Vec<ObjectRef<CachedRollout>>) -> Vec<String> {
        let mut names: Vec<String> = refs.into_iter().map(|r| r.name).collect();
        names.sort();
        names
    }

    #[test]
    fn a_service_wakes_its_own_and_its_dependents_unfinished_rollouts() {
        let mut writer = Writer::<CachedRollout>::default();
        let index = RolloutIndex::default();
        for d in [
            rollout("a", "id-g2", "chittyid", serde_json::json!([]), None),
            rollout(
                "a",
                "id-g1",
                "chittyid",
                serde_json::json!([]),
                Some(DeploymentPhase::Succeeded),
            ),
            rollout(
                "a",
                "auth-g1",
                "auth",
                serde_json::json!([{"name": "chittyid"}]),
                Some(DeploymentPhase::Pending),
            ),
            rollout(
                "b",
                "far-g1",
                "far",
                serde_json::json!([{"name": "chittyid", "namespace": "a"}]),
                None,
            ),
            rollout(
                "b",
                "near-g1",
                "near",
                serde_json::json!([{"name": "chittyid"}]),
                None,
            ),
            rollout("a", "other-g1", "other", serde_json::json!([]), None),
        ] {
            let event = watcher::Event::Apply(Packed::of(&d));
            writer.apply_watcher_event(&event);
            index.on_event(&event, &writer.as_reader());
        }
        let woken = rollouts_waiting_on(&index, &service("a", "chittyid"));
        assert_eq!(names(woken), ["auth-g1", "far-g1", "id-g2"]);
    }

    #[test]
    fn a_workload_wakes_the_rollout_its_label_names() {
        let mut d = k8s_openapi::api::apps::v1::Deployment::default();
        d.metadata.namespace = Some("a".into());
        assert!(rollout_of_workload(&d).is_none(), "no label, no rollout");
        d.metadata.labels = Some([(ROLLOUT_LABEL.to_string(), "id-g2".to_string())].into());
        let woken = rollout_of_workload(&d).unwrap();
        assert_eq!(
            (woken.name.as_str(), woken.namespace.as_deref()),
            ("id-g2", Some("a"))
        );
    }

    #[test]
    fn only_a_controlling_chitty_service_owner_counts() {
        let owner = |kind: &str, controller: bool| {
            k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                api_version: "chitty.cc/v1alpha1".into(),
                kind: kind.into(),
                name: format!("{kind}-owner"),
                uid: "u".into(),
                controller: Some(controller),
                ..Default::default()
            }
        };
        let mut ingress = k8s_openapi::api::networking::v1::Ingress::default();
        ingress.metadata.namespace = Some("a".into());
        ingress.metadata.owner_references =
            Some(vec![owner("ChittyService", false), owner("Other", true)]);
        assert!(owning_service(&ingress).is_none());
        ingress.metadata.owner_references = Some(vec![owner("ChittyService", true)]);
        assert_eq!(
            owning_service(&ingress).unwrap().name,
            "ChittyService-owner"
        );
    }
}
