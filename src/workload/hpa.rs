//! The autoscaling/v2 HorizontalPodAutoscaler that scales a service's stable Deployment while
//! `spec.autoscaling` is set. Canary Deployments are sized by the rollout, never by the autoscaler.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt};

use super::{Track, common_labels, deployment_name};
use crate::api::{Autoscaling, ChittyService};

/// The autoscaler for the service's stable Deployment, named after it.
pub fn build(service: &ChittyService, autoscaling: &Autoscaling) -> HorizontalPodAutoscaler {
    let target = deployment_name(&service.name_any(), Track::Stable);
    HorizontalPodAutoscaler {
        metadata: ObjectMeta {
            name: Some(target.clone()),
            namespace: service.namespace(),
            labels: Some(common_labels(service)),
            owner_references: service.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: target,
            },
            min_replicas: Some(autoscaling.min_replicas),
            max_replicas: autoscaling.max_replicas,
            metrics: Some(metrics(autoscaling)),
            behavior: None,
        }),
        status: None,
    }
}

/// One Resource metric per target set, cpu before memory so the list order is stable.
fn metrics(autoscaling: &Autoscaling) -> Vec<MetricSpec> {
    [
        ("cpu", autoscaling.target_cpu_utilization),
        ("memory", autoscaling.target_memory_utilization),
    ]
    .into_iter()
    .filter_map(|(resource, percent)| percent.map(|p| utilization(resource, p)))
    .collect()
}

fn utilization(resource: &str, percent: i32) -> MetricSpec {
    MetricSpec {
        type_: "Resource".into(),
        resource: Some(ResourceMetricSource {
            name: resource.into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(percent),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

/// Whether the existing autoscaler already says what `desired` says: the fields we set in its
/// spec, our labels, and our controller owner. `behavior` is not ours (we never set it), so a
/// platform team tuning it does not make the operator re-apply; labels others add are ignored.
pub fn is_current(existing: &HorizontalPodAutoscaler, desired: &HorizontalPodAutoscaler) -> bool {
    let spec_matches = match (&existing.spec, &desired.spec) {
        (Some(e), Some(d)) => {
            e.scale_target_ref == d.scale_target_ref
                && e.min_replicas == d.min_replicas
                && e.max_replicas == d.max_replicas
                && e.metrics == d.metrics
        }
        (None, None) => true,
        _ => false,
    };
    let existing_labels = existing.labels();
    let labels_match = desired
        .labels()
        .iter()
        .all(|(k, v)| existing_labels.get(k) == Some(v));
    let existing_owners = existing.owner_references();
    let owner_matches = desired
        .owner_references()
        .iter()
        .all(|o| existing_owners.contains(o));
    spec_matches && labels_match && owner_matches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> ChittyService {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "chittyfinance", "namespace": "prop", "uid": "u-1"},
            "spec": {"type": "worker", "version": "1.2.0", "environment": "production",
                     "source": {"image": "r/finance:1.2.0"}}
        }))
        .unwrap()
    }

    fn autoscaling(cpu: Option<i32>, memory: Option<i32>) -> Autoscaling {
        Autoscaling {
            min_replicas: 2,
            max_replicas: 10,
            target_cpu_utilization: cpu,
            target_memory_utilization: memory,
        }
    }

    #[test]
    fn scales_the_stable_deployment_and_is_owned_by_the_service() {
        let hpa = build(&service(), &autoscaling(Some(70), None));
        assert_eq!(hpa.metadata.name.as_deref(), Some("chittyfinance"));
        assert_eq!(hpa.metadata.namespace.as_deref(), Some("prop"));
        assert_eq!(hpa.owner_references()[0].uid, "u-1");
        assert_eq!(hpa.owner_references()[0].controller, Some(true));
        assert_eq!(
            hpa.labels().get(crate::labels::SERVICE).map(String::as_str),
            Some("chittyfinance")
        );
        let spec = hpa.spec.unwrap();
        assert_eq!(spec.scale_target_ref.kind, "Deployment");
        assert_eq!(
            spec.scale_target_ref.api_version.as_deref(),
            Some("apps/v1")
        );
        assert_eq!(spec.scale_target_ref.name, "chittyfinance");
        assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 10));
    }

    #[test]
    fn each_target_set_becomes_one_utilization_metric() {
        let hpa = build(&service(), &autoscaling(Some(70), Some(80)));
        let metrics = hpa.spec.unwrap().metrics.unwrap();
        let targets: Vec<(String, Option<i32>)> = metrics
            .iter()
            .map(|m| {
                let r = m.resource.as_ref().unwrap();
                assert_eq!(m.type_, "Resource");
                assert_eq!(r.target.type_, "Utilization");
                (r.name.clone(), r.target.average_utilization)
            })
            .collect();
        assert_eq!(
            targets,
            [("cpu".into(), Some(70)), ("memory".into(), Some(80))]
        );

        let memory_only = build(&service(), &autoscaling(None, Some(60)));
        let metrics = memory_only.spec.unwrap().metrics.unwrap();
        assert_eq!(metrics.len(), 1);
        assert_eq!(metrics[0].resource.as_ref().unwrap().name, "memory");
    }

    #[test]
    fn current_ignores_what_others_add_but_not_changed_bounds() {
        let desired = build(&service(), &autoscaling(Some(70), None));
        let mut existing = desired.clone();
        existing
            .labels_mut()
            .insert("team.example/owner".into(), "platform".into());
        existing.spec.as_mut().unwrap().behavior = Some(Default::default());
        assert!(is_current(&existing, &desired));

        let mut changed = desired.clone();
        changed.spec.as_mut().unwrap().max_replicas = 3;
        assert!(!is_current(&changed, &desired));

        let mut unowned = desired.clone();
        unowned.metadata.owner_references = None;
        assert!(!is_current(&unowned, &desired));

        let mut relabelled = desired.clone();
        relabelled.labels_mut().remove(crate::labels::SERVICE);
        assert!(!is_current(&relabelled, &desired));
    }
}
