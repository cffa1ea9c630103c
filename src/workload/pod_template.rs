//! The pod a service's Deployment runs: its container, probes, security context and the
//! platform settings of `spec.pod`. Unset, it passes the `restricted` Pod Security Standard.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, LocalObjectReference, PodSpec, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use super::deployment::Workload;
use super::{TRACK_LABEL, probes, security};
use crate::api::{ChittyServiceSpec, PodSettings};
use crate::labels;

pub fn build(w: &Workload) -> PodTemplateSpec {
    let pod = w.snapshot.pod.clone().unwrap_or_default();
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels(w, &pod)),
            annotations: (!pod.annotations.is_empty()).then(|| pod.annotations.clone()),
            ..Default::default()
        }),
        spec: Some(pod_spec(w, &pod)),
    }
}

/// The service's own pod labels over the ones `spec.pod.labels` adds: ours win, so selectors and
/// the revision label always mean what the operator says.
fn pod_labels(w: &Workload, pod: &PodSettings) -> BTreeMap<String, String> {
    let mut merged = pod.labels.clone();
    merged.extend([
        (labels::SERVICE.to_string(), w.service.name_any()),
        (TRACK_LABEL.to_string(), w.track.as_str().to_string()),
        (labels::REVISION.to_string(), w.revision.to_string()),
        ("app.kubernetes.io/name".to_string(), w.service.name_any()),
        (
            "app.kubernetes.io/version".to_string(),
            w.snapshot.version.clone(),
        ),
    ]);
    merged
}

fn pod_spec(w: &Workload, pod: &PodSettings) -> PodSpec {
    let read_only_root = pod.read_only_root();
    let mut security_context = security::pod_context(pod.run_as_user, pod.fs_group);
    security_context.run_as_non_root = Some(true);
    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    PodSpec {
        containers: vec![container(w, pod)],
        service_account_name: pod.service_account_name.clone(),
        // Without a ServiceAccount of its own an app has no business with the API: no token. With
        // one, the ServiceAccount's own setting decides, as the platform team configured it.
        automount_service_account_token: pod.service_account_name.is_none().then_some(false),
        image_pull_secrets: non_empty(&pod.image_pull_secrets).map(|names| {
            names
                .into_iter()
                .map(|name| LocalObjectReference { name })
                .collect()
        }),
        node_selector: (!pod.node_selector.is_empty()).then(|| pod.node_selector.clone()),
        tolerations: (!pod.tolerations.is_empty()).then(|| pod.tolerations.clone()),
        security_context: Some(security_context),
        volumes: read_only_root.then(|| vec![security::scratch_volume(security::TMP_VOLUME)]),
        ..Default::default()
    }
}

fn container(w: &Workload, pod: &PodSettings) -> Container {
    let spec = w.snapshot;
    let read_only_root = pod.read_only_root();
    let overrides = pod.probes.clone().unwrap_or_default();
    let mut env = vec![
        literal("CHITTY_ENVIRONMENT", environment(spec)),
        literal("CHITTY_SERVICE_VERSION", &spec.version),
    ];
    env.extend(spec.env.iter().cloned());
    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    Container {
        name: "service".into(),
        image: Some(w.image.into()),
        image_pull_policy: pod.image_pull_policy.map(|p| p.as_str().into()),
        command: non_empty(&pod.command),
        args: non_empty(&pod.args),
        ports: Some(vec![ContainerPort {
            name: Some(probes::HTTP_PORT.into()),
            container_port: spec.port,
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        readiness_probe: Some(probes::readiness(&spec.health)),
        liveness_probe: probes::liveness(&spec.health, overrides.liveness.as_ref()),
        startup_probe: probes::startup(&spec.health, overrides.startup.as_ref()),
        env: Some(env),
        env_from: (!spec.env_from.is_empty()).then(|| spec.env_from.clone()),
        resources: spec.resources.clone(),
        security_context: Some(security::restricted_container(read_only_root)),
        // Most apps and runtimes write scratch files to /tmp; with a read-only root it must be a
        // volume of its own.
        volume_mounts: read_only_root.then(|| vec![security::mount(security::TMP_VOLUME, "/tmp")]),
        ..Default::default()
    }
}

fn literal(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn environment(spec: &ChittyServiceSpec) -> &'static str {
    match spec.environment {
        crate::api::Environment::Staging => "staging",
        crate::api::Environment::Production => "production",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ChittyService;
    use crate::workload::Track;

    fn service() -> ChittyService {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "chittyfinance", "namespace": "prop", "uid": "u-1"},
            "spec": {"type": "worker", "version": "1.2.0", "environment": "production", "port": 9000,
                     "source": {"image": "r/finance:1.2.0"}}
        }))
        .unwrap()
    }

    fn stable(svc: &ChittyService) -> PodTemplateSpec {
        build(&Workload {
            service: svc,
            snapshot: &svc.spec,
            image: "r/finance:1.2.0",
            revision: "abc",
            rollout: "r1",
            track: Track::Stable,
            replicas: Some(1),
        })
    }

    fn pod_spec_of(t: &PodTemplateSpec) -> &PodSpec {
        t.spec.as_ref().unwrap()
    }

    fn with_pod(pod: serde_json::Value) -> ChittyService {
        let mut svc = service();
        svc.spec.pod = Some(serde_json::from_value(pod).unwrap());
        svc
    }

    #[test]
    fn the_default_pod_meets_the_restricted_pod_security_standard() {
        let svc = service();
        let t = stable(&svc);
        let pod = pod_spec_of(&t);
        let psc = pod.security_context.as_ref().unwrap();
        assert_eq!(psc.run_as_non_root, Some(true));
        assert_eq!(
            psc.seccomp_profile.as_ref().unwrap().type_,
            "RuntimeDefault"
        );
        let c = &pod.containers[0];
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.run_as_non_root, Some(true));
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(
            sc.capabilities.as_ref().unwrap().drop.as_deref(),
            Some(&["ALL".to_string()][..])
        );
        let mounts = c.volume_mounts.as_ref().unwrap();
        assert_eq!(mounts[0].mount_path, "/tmp");
        assert!(
            pod.volumes.as_ref().unwrap()[0].empty_dir.is_some(),
            "/tmp is an emptyDir"
        );
        assert_eq!(pod.automount_service_account_token, Some(false));
    }

    #[test]
    fn a_writable_root_needs_no_tmp_volume() {
        let svc = with_pod(
            serde_json::json!({"readOnlyRootFilesystem": false, "runAsUser": 1001, "fsGroup": 2000}),
        );
        let t = stable(&svc);
        let pod = pod_spec_of(&t);
        let c = &pod.containers[0];
        assert_eq!(
            c.security_context
                .as_ref()
                .unwrap()
                .read_only_root_filesystem,
            Some(false)
        );
        assert!(c.volume_mounts.is_none() && pod.volumes.is_none());
        let psc = pod.security_context.as_ref().unwrap();
        assert_eq!((psc.run_as_user, psc.fs_group), (Some(1001), Some(2000)));
    }

    #[test]
    fn pod_settings_reach_the_pod_template() {
        let svc = with_pod(serde_json::json!({
            "serviceAccountName": "finance", "imagePullSecrets": ["ghcr"], "imagePullPolicy": "Always",
            "command": ["/app/server"], "args": ["--port", "9000"],
            "nodeSelector": {"pool": "apps"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "apps", "effect": "NoSchedule"}],
            "annotations": {"prometheus.io/scrape": "true"}
        }));
        let t = stable(&svc);
        let template = &t;
        let pod = template.spec.as_ref().unwrap();
        let c = &pod.containers[0];
        assert_eq!(pod.service_account_name.as_deref(), Some("finance"));
        assert_eq!(
            pod.automount_service_account_token, None,
            "the ServiceAccount decides"
        );
        assert_eq!(pod.image_pull_secrets.as_ref().unwrap()[0].name, "ghcr");
        assert_eq!(c.image_pull_policy.as_deref(), Some("Always"));
        assert_eq!(c.command.as_deref(), Some(&["/app/server".to_string()][..]));
        assert_eq!(c.args.as_ref().unwrap().len(), 2);
        assert_eq!(pod.node_selector.as_ref().unwrap()["pool"], "apps");
        assert_eq!(
            pod.tolerations.as_ref().unwrap()[0].key.as_deref(),
            Some("dedicated")
        );
        let annotations = template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap();
        assert_eq!(annotations["prometheus.io/scrape"], "true");
    }

    #[test]
    fn the_operators_pod_labels_win_over_the_services() {
        let svc = with_pod(
            serde_json::json!({"labels": {"team": "finance", "chitty.cc/revision": "forged"}}),
        );
        let t = stable(&svc);
        let template = &t;
        let labels = template.metadata.as_ref().unwrap().labels.as_ref().unwrap();
        assert_eq!(labels["team"], "finance");
        assert_eq!(labels[crate::labels::REVISION], "abc");
        assert_eq!(labels[crate::labels::SERVICE], "chittyfinance");
    }

    #[test]
    fn probes_come_from_the_health_check_and_can_be_turned_off() {
        let svc = service();
        let t = stable(&svc);
        let c = &pod_spec_of(&t).containers[0];
        assert!(
            c.readiness_probe.is_some() && c.liveness_probe.is_some() && c.startup_probe.is_some()
        );
        let path = c
            .liveness_probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .path
            .clone();
        assert_eq!(path.as_deref(), Some("/health"));

        let svc = with_pod(serde_json::json!({"probes": {"liveness": {"enabled": false}}}));
        let t = stable(&svc);
        let c = &pod_spec_of(&t).containers[0];
        assert!(c.liveness_probe.is_none());
        assert!(c.startup_probe.is_some() && c.readiness_probe.is_some());
    }
}
