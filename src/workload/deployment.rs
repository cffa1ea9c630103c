//! The apps/v1 Deployment that runs one track of a service.

use k8s_openapi::api::apps::v1::Deployment;
use kube::{Resource, ResourceExt};

use super::{ROLLOUT_LABEL, TRACK_LABEL, Track, common_labels, deployment_name};
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
    pub replicas: Option<i32>,
}

pub fn build(w: &Workload) -> Deployment {
    let name = deployment_name(&w.service.name_any(), w.track);
    let mut meta_labels = common_labels(w.service);
    meta_labels.insert(TRACK_LABEL.into(), w.track.as_str().into());
    meta_labels.insert(labels::REVISION.into(), w.revision.into());
    meta_labels.insert(ROLLOUT_LABEL.into(), w.rollout.into());
    let selector = serde_json::json!({
        labels::SERVICE: w.service.name_any(),
        TRACK_LABEL: w.track.as_str(),
    });
    let pod_labels = serde_json::json!({
        labels::SERVICE: w.service.name_any(),
        TRACK_LABEL: w.track.as_str(),
        labels::REVISION: w.revision,
        "app.kubernetes.io/name": w.service.name_any(),
        "app.kubernetes.io/version": w.snapshot.version,
    });
    let spec = w.snapshot;
    let mut container = serde_json::json!({
        "name": "service",
        "image": w.image,
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "readinessProbe": {
            "httpGet": {"path": spec.health.path, "port": "http"},
            "periodSeconds": 10,
            "failureThreshold": spec.health.failure_threshold,
        },
        "env": [{"name": "CHITTY_ENVIRONMENT", "value": environment(spec)},
                {"name": "CHITTY_SERVICE_VERSION", "value": spec.version}],
        "securityContext": {"allowPrivilegeEscalation": false},
    });
    if let Some(env) = container["env"].as_array_mut() {
        env.extend(
            spec.env
                .iter()
                .map(|e| serde_json::to_value(e).expect("EnvVar serializes")),
        );
    }
    if !spec.env_from.is_empty() {
        container["envFrom"] =
            serde_json::to_value(&spec.env_from).expect("EnvFromSource serializes");
    }
    if let Some(resources) = &spec.resources {
        container["resources"] = serde_json::to_value(resources).expect("resources serialize");
    }
    let owner = w
        .service
        .controller_owner_ref(&())
        .map(|o| serde_json::to_value(vec![o]).expect("owner serializes"));
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": w.service.namespace(),
            "labels": meta_labels,
            "ownerReferences": owner,
        },
        "spec": {
            "replicas": w.replicas,
            "selector": {"matchLabels": selector},
            "progressDeadlineSeconds": 600,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {"containers": [container], "automountServiceAccountToken": false},
            },
        },
    }))
    .expect("Deployment is well-formed")
}

fn environment(spec: &ChittyServiceSpec) -> &'static str {
    match spec.environment {
        crate::api::Environment::Staging => "staging",
        crate::api::Environment::Production => "production",
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
