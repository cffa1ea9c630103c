//! The apps/v1 Deployment that runs one track of a service.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::{Resource, ResourceExt};

use super::{ROLLOUT_LABEL, TRACK_LABEL, Track, common_labels, deployment_name, pod_template};
use crate::api::{ChittyService, ChittyServiceSpec};
use crate::labels;

/// What a Deployment runs: the spec snapshot of a rollout and the image it resolved.
pub struct Workload<'a> {
    pub service: &'a ChittyService,
    pub snapshot: &'a ChittyServiceSpec,
    pub image: &'a str,
    pub revision: &'a str,
    pub rollout: &'a str,
    pub track: Track,
    /// `None` leaves `spec.replicas` out of the applied object, so that under server-side apply
    /// the HorizontalPodAutoscaler, not the operator, owns the field.
    pub replicas: Option<i32>,
}

pub fn build(w: &Workload) -> Deployment {
    let name = deployment_name(&w.service.name_any(), w.track);
    let mut meta_labels = common_labels(w.service);
    meta_labels.insert(TRACK_LABEL.into(), w.track.as_str().into());
    meta_labels.insert(labels::REVISION.into(), w.revision.into());
    meta_labels.insert(ROLLOUT_LABEL.into(), w.rollout.into());
    let selector = BTreeMap::from([
        (labels::SERVICE.to_string(), w.service.name_any()),
        (TRACK_LABEL.to_string(), w.track.as_str().to_string()),
    ]);
    Deployment {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: w.service.namespace(),
            labels: Some(meta_labels),
            owner_references: w.service.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: w.replicas,
            selector: LabelSelector {
                match_labels: Some(selector),
                ..Default::default()
            },
            progress_deadline_seconds: Some(600),
            template: pod_template::build(w),
            ..Default::default()
        }),
        status: None,
    }
}

/// Whether the Deployment has rolled out what it was last given: observed, updated and available.
pub fn is_available(d: &Deployment) -> (bool, String) {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let generation = d.metadata.generation.unwrap_or(0);
    let Some(status) = &d.status else {
        return (false, "waiting for the Deployment controller".into());
    };
    if status.observed_generation.unwrap_or(0) < generation {
        return (
            false,
            "waiting for the Deployment controller to observe the change".into(),
        );
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let message = format!("{available}/{want} replicas available, {updated} updated");
    (
        updated >= want && available >= want && total <= want,
        message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> ChittyService {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "chittyfinance", "namespace": "prop", "uid": "u-1"},
            "spec": {"type": "worker", "version": "1.2.0", "environment": "production", "port": 9000,
                     "source": {"image": "r/finance:1.2.0"},
                     "env": [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}]}
        }))
        .unwrap()
    }

    #[test]
    fn canary_and_stable_select_only_their_own_pods() {
        let svc = service();
        let w = |track| Workload {
            service: &svc,
            snapshot: &svc.spec,
            image: "r/finance:1.2.0",
            revision: "abc",
            rollout: "r1",
            track,
            replicas: Some(1),
        };
        let stable = build(&w(Track::Stable));
        let canary = build(&w(Track::Canary));
        assert_eq!(stable.metadata.name.as_deref(), Some("chittyfinance"));
        assert_eq!(
            canary.metadata.name.as_deref(),
            Some("chittyfinance-canary")
        );
        let sel = |d: &Deployment| {
            d.spec
                .as_ref()
                .unwrap()
                .selector
                .match_labels
                .clone()
                .unwrap()
        };
        assert_ne!(sel(&stable), sel(&canary));
        assert_eq!(
            stable.metadata.owner_references.as_ref().unwrap()[0].uid,
            "u-1"
        );
    }

    #[test]
    fn secrets_stay_references() {
        let svc = service();
        let d = build(&Workload {
            service: &svc,
            snapshot: &svc.spec,
            image: "i",
            revision: "abc",
            rollout: "r1",
            track: Track::Stable,
            replicas: Some(2),
        });
        let text = serde_json::to_string(&d).unwrap();
        assert!(text.contains("secretKeyRef"));
        assert!(text.contains(r#""containerPort":9000"#));
    }

    #[test]
    fn autoscaled_deployments_leave_replicas_to_the_autoscaler() {
        let svc = service();
        let d = build(&Workload {
            service: &svc,
            snapshot: &svc.spec,
            image: "i",
            revision: "abc",
            rollout: "r1",
            track: Track::Stable,
            replicas: None,
        });
        let applied = serde_json::to_value(&d).unwrap();
        assert!(applied["spec"].get("replicas").is_none(), "{applied}");
    }

    #[test]
    fn availability_needs_the_new_replicas_ready() {
        let mut d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "a", "generation": 2}, "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}
        }))
        .unwrap();
        assert!(!is_available(&d).0, "an old pod is still there");
        d.status.as_mut().unwrap().replicas = Some(2);
        assert!(is_available(&d).0);
    }
}
