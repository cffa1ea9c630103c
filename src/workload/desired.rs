//! What a service's workload should be right now, outside of a rollout: a pure function of the
//! service, the rollouts it owns and the Deployments the cache holds.
//!
//! Between rollouts the serving revision (the newest success) runs on the stable Deployment at the
//! service's current size, with no canary beside it, behind the service's Service, and scaled by
//! an HPA while `spec.autoscaling` is set. From the moment a rollout starts its deploy step until
//! it finishes, that rollout's pipeline owns the Deployments: this function hands them off, so the
//! convergence never undoes a rollout's work. A Deployment that was last applied by a rollout that
//! has not finished (its label says which) is handed off too, which closes the gap between a
//! rollout applying it and the cache showing that rollout's status.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;

use super::deployment::{Workload, build as build_deployment};
use super::{ROLLOUT_LABEL, Track, hpa, service as service_object};
use crate::api::{ChittyDeployment, ChittyService, Target};
use crate::pipeline::rollouts;

/// The workload objects a service should have, and what to remove.
#[derive(Debug, Default)]
pub struct DesiredWorkload {
    /// The stable Deployment; `None` while a rollout owns it (see `handed_off`) or while nothing
    /// serves yet.
    pub stable: Option<Deployment>,
    /// A canary Deployment left over from a finished rollout is removed.
    pub remove_canary: bool,
    /// The Service in front of the pods; present once something serves.
    pub service: Option<Service>,
    /// The autoscaler, while `spec.autoscaling` is set.
    pub autoscaler: Option<HorizontalPodAutoscaler>,
    /// An autoscaler the service owns but no longer asks for is removed.
    pub remove_autoscaler: bool,
    /// Why the Deployments are left to a rollout, when they are.
    pub handed_off: Option<String>,
}

/// What the cache holds of the service's workload.
#[derive(Default)]
pub struct Live<'a> {
    pub stable: Option<&'a Deployment>,
    pub canary: Option<&'a Deployment>,
}

/// `weighted`: traffic is split by weight (see `traffic`), so the service's own Service selects
/// only stable pods.
pub fn desired(
    service: &ChittyService,
    rollouts: &[ChittyDeployment],
    live: &Live,
    weighted: bool,
) -> DesiredWorkload {
    // A Worker or Pages project runs on Cloudflare; nothing of it lives in the cluster.
    if service.spec.target != Target::Cluster {
        return DesiredWorkload::default();
    }
    let Some(serving) = rollouts::serving(rollouts) else {
        return DesiredWorkload::default();
    };
    let mut out = DesiredWorkload {
        service: Some(service_object::build(service, weighted)),
        autoscaler: service
            .spec
            .autoscaling
            .as_ref()
            .map(|a| hpa::build(service, a)),
        remove_autoscaler: service.spec.autoscaling.is_none(),
        ..Default::default()
    };
    if let Some(why) = handed_off(rollouts, live) {
        out.handed_off = Some(why);
        return out;
    }
    out.stable = Some(stable_deployment(service, serving));
    out.remove_canary = live.canary.is_some();
    out
}

/// The stable Deployment running `rollout`'s revision at the service's full size: what a
/// finished rollout leaves, what a rollback restores and what a promoted canary becomes.
pub fn stable_deployment(service: &ChittyService, rollout: &ChittyDeployment) -> Deployment {
    let image = rollout
        .status
        .as_ref()
        .and_then(|s| s.image.clone())
        .unwrap_or_default();
    build_deployment(&Workload {
        service,
        snapshot: &rollout.spec.snapshot,
        image: &image,
        revision: &rollout.spec.revision,
        rollout: &rollout.name_any(),
        track: Track::Stable,
        replicas: replicas(service),
    })
}

/// The replica count the operator sets on the stable Deployment: none while an autoscaler owns
/// it, so that server-side apply leaves the field to the autoscaler.
pub fn replicas(service: &ChittyService) -> Option<i32> {
    service
        .spec
        .autoscaling
        .is_none()
        .then_some(service.spec.replicas)
}

fn handed_off(rollouts: &[ChittyDeployment], live: &Live) -> Option<String> {
    if let Some(newest) = rollouts::newest(rollouts)
        && rollouts::holds_the_workload(newest)
    {
        return Some(format!("rollout {} is deploying", newest.name_any()));
    }
    for d in [live.stable, live.canary].into_iter().flatten() {
        let Some(by) = d.labels().get(ROLLOUT_LABEL) else {
            continue;
        };
        let finished = rollouts
            .iter()
            .find(|r| r.metadata.name.as_ref() == Some(by))
            .is_some_and(|r| !rollouts::is_in_flight(r));
        if !finished {
            return Some(format!("rollout {by} applied Deployment {}", d.name_any()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ChittyDeploymentStatus, DeploymentPhase};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn service(extra: serde_json::Value) -> ChittyService {
        let mut spec = serde_json::json!({"type": "worker", "version": "1.0.0", "environment": "staging",
                                          "source": {"image": "r/web:1"}, "replicas": 3});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"}, "spec": spec}))
        .unwrap()
    }

    fn rollout(name: &str, minute: u8, phase: DeploymentPhase, image: &str) -> ChittyDeployment {
        let svc = service(serde_json::json!({}));
        let mut d: ChittyDeployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"serviceRef": {"name": "web"}, "revision": format!("rev-{name}"),
                     "trigger": "SpecChange", "strategy": "immediate", "snapshot": svc.spec}}))
        .unwrap();
        d.metadata.creation_timestamp = Some(Time(
            format!("2026-01-01T00:{minute:02}:00Z").parse().unwrap(),
        ));
        let mut steps = crate::pipeline::plan::plan(&d.spec.snapshot);
        if phase == DeploymentPhase::Running {
            steps.iter_mut().find(|s| s.name == "deploy").unwrap().phase =
                crate::api::StepPhase::Running;
        }
        d.status = Some(ChittyDeploymentStatus {
            phase: Some(phase),
            image: Some(image.into()),
            steps,
            ..Default::default()
        });
        d
    }

    fn labelled(rollout: &str) -> Deployment {
        let mut d = Deployment::default();
        d.metadata.labels = Some([(ROLLOUT_LABEL.to_string(), rollout.to_string())].into());
        d
    }

    fn image_of(d: &Deployment) -> String {
        let spec = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        spec.containers[0].image.clone().unwrap()
    }

    #[test]
    fn after_a_rollback_the_last_success_runs_at_the_current_size_without_a_canary() {
        let svc = service(serde_json::json!({}));
        let owned = [
            rollout("r1", 1, DeploymentPhase::Succeeded, "r/web:1"),
            rollout("r2", 2, DeploymentPhase::RolledBack, "r/web:2"),
        ];
        let canary = labelled("r2");
        let live = Live {
            stable: None,
            canary: Some(&canary),
        };
        let want = desired(&svc, &owned, &live, false);
        let stable = want.stable.expect("the serving revision is converged");
        assert_eq!(image_of(&stable), "r/web:1");
        assert_eq!(stable.spec.as_ref().unwrap().replicas, Some(3));
        assert!(want.remove_canary);
        assert!(want.service.is_some());
        assert!(want.remove_autoscaler && want.autoscaler.is_none());
    }

    #[test]
    fn a_deploying_rollout_keeps_the_deployments() {
        let svc = service(serde_json::json!({}));
        let owned = [
            rollout("r1", 1, DeploymentPhase::Succeeded, "r/web:1"),
            rollout("r2", 2, DeploymentPhase::Running, "r/web:2"),
        ];
        let want = desired(&svc, &owned, &Live::default(), false);
        assert!(want.stable.is_none());
        assert!(!want.remove_canary);
        assert_eq!(want.handed_off.as_deref(), Some("rollout r2 is deploying"));
        assert!(
            want.service.is_some(),
            "the Service does not depend on the revision"
        );
    }

    #[test]
    fn a_rollback_request_keeps_the_deployments_with_the_rollout_until_it_is_carried_out() {
        let svc = service(serde_json::json!({}));
        let mut newest = rollout("r2", 2, DeploymentPhase::Succeeded, "r/web:2");
        newest.metadata.annotations =
            Some([(crate::api::ROLLBACK_REQUEST.to_string(), "down".to_string())].into());
        let owned = [
            rollout("r1", 1, DeploymentPhase::Succeeded, "r/web:1"),
            newest,
        ];
        assert!(
            desired(&svc, &owned, &Live::default(), false)
                .stable
                .is_none()
        );
    }

    #[test]
    fn a_deployment_applied_by_an_unknown_or_unfinished_rollout_is_left_alone() {
        let svc = service(serde_json::json!({}));
        let owned = [rollout("r1", 1, DeploymentPhase::Succeeded, "r/web:1")];
        let fresh = labelled("r9");
        let live = Live {
            stable: Some(&fresh),
            canary: None,
        };
        assert!(desired(&svc, &owned, &live, false).stable.is_none());
        let ours = labelled("r1");
        let live = Live {
            stable: Some(&ours),
            canary: None,
        };
        assert!(desired(&svc, &owned, &live, false).stable.is_some());
    }

    #[test]
    fn an_autoscaled_service_leaves_replicas_to_its_autoscaler() {
        let svc = service(
            serde_json::json!({"autoscaling": {"minReplicas": 2, "maxReplicas": 6,
                                                             "targetCpuUtilization": 70}}),
        );
        let owned = [rollout("r1", 1, DeploymentPhase::Succeeded, "r/web:1")];
        let want = desired(&svc, &owned, &Live::default(), false);
        assert_eq!(want.stable.unwrap().spec.unwrap().replicas, None);
        assert!(want.autoscaler.is_some());
        assert!(!want.remove_autoscaler);
    }

    #[test]
    fn nothing_is_converged_before_anything_served_or_for_cloudflare() {
        let svc = service(serde_json::json!({}));
        let owned = [rollout("r1", 1, DeploymentPhase::Failed, "r/web:1")];
        let want = desired(&svc, &owned, &Live::default(), false);
        assert!(want.stable.is_none() && want.service.is_none());
        let cf = service(serde_json::json!({"target": "cloudflare",
            "cloudflare": {"credentialsSecret": "cf", "url": "https://web.chitty.cc"}}));
        let owned = [rollout("r1", 1, DeploymentPhase::Succeeded, "r/web:1")];
        assert!(
            desired(&cf, &owned, &Live::default(), false)
                .stable
                .is_none()
        );
    }
}
