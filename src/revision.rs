//! The revision of a ChittyService: a stable hash of the parts of its spec that change what runs.
//!
//! Scaling (`replicas`, `autoscaling`), routes, capabilities, dependencies, suspension and history
//! limits are reconciled in place and never start a rollout, so they are left out of the hash.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::api::{
    BuildSpec, ChittyServiceSpec, CloudflareSpec, Environment, HealthCheck, PodSettings,
    ServiceType, Source, Target,
};
use k8s_openapi::api::core::v1::{EnvFromSource, EnvVar, ResourceRequirements};

/// Number of hex digits kept: short enough for names, long enough that collisions don't happen.
pub const REVISION_LEN: usize = 16;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeployRelevant<'a> {
    service_type: ServiceType,
    version: &'a str,
    environment: Environment,
    source: &'a Source,
    target: Target,
    cloudflare: &'a Option<CloudflareSpec>,
    build: &'a Option<BuildSpec>,
    port: i32,
    health: &'a HealthCheck,
    env: &'a [EnvVar],
    env_from: &'a [EnvFromSource],
    resources: &'a Option<ResourceRequirements>,
    // Left out when unset, so specs written before `pod` existed keep their revision and the
    // upgrade starts no rollouts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pod: &'a Option<PodSettings>,
}

/// The revision hash of a spec, as lower-case hex.
pub fn of(spec: &ChittyServiceSpec) -> String {
    let relevant = DeployRelevant {
        service_type: spec.service_type,
        version: &spec.version,
        environment: spec.environment,
        source: &spec.source,
        target: spec.target,
        cloudflare: &spec.cloudflare,
        build: &spec.build,
        port: spec.port,
        health: &spec.health,
        env: &spec.env,
        env_from: &spec.env_from,
        resources: &spec.resources,
        pod: &spec.pod,
    };
    // serde_json writes struct fields in declaration order and k8s-openapi maps are BTreeMaps,
    // so the bytes, and the hash, depend only on the values.
    let bytes = serde_json::to_vec(&relevant).expect("spec serializes to JSON");
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..REVISION_LEN].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Route;

    fn spec() -> ChittyServiceSpec {
        serde_json::from_value(serde_json::json!({
            "type": "worker", "version": "1.0.0", "environment": "staging",
            "source": {"image": "registry.local/chittyrental:1.0.0"}
        }))
        .unwrap()
    }

    #[test]
    fn same_spec_same_revision() {
        assert_eq!(of(&spec()), of(&spec()));
        assert_eq!(of(&spec()).len(), REVISION_LEN);
    }

    #[test]
    fn a_spec_without_pod_settings_keeps_the_revision_it_had_before_they_existed() {
        assert_eq!(of(&spec()), "202b71565128cc40");
    }

    #[test]
    fn pod_settings_change_what_runs() {
        let mut s = spec();
        s.pod = Some(crate::api::PodSettings {
            read_only_root_filesystem: Some(false),
            ..Default::default()
        });
        assert_ne!(of(&s), of(&spec()));
    }

    #[test]
    fn version_or_image_change_is_a_new_revision() {
        let mut s = spec();
        s.version = "1.0.1".into();
        assert_ne!(of(&s), of(&spec()));
        let mut s = spec();
        s.source.image = Some("registry.local/chittyrental:1.0.1".into());
        assert_ne!(of(&s), of(&spec()));
    }

    #[test]
    fn scaling_routes_and_suspension_are_not_rollouts() {
        let mut s = spec();
        s.replicas = 5;
        s.suspend = true;
        s.critical = true;
        s.capabilities = vec!["payments".into()];
        s.routes = vec![Route {
            host: "api.chitty.cc".into(),
            path: "/".into(),
            tls: false,
            tls_secret_name: None,
        }];
        assert_eq!(of(&s), of(&spec()));
    }

    #[test]
    fn autoscaling_is_not_a_rollout() {
        let mut s = spec();
        s.autoscaling = Some(crate::api::Autoscaling {
            min_replicas: 2,
            max_replicas: 8,
            target_cpu_utilization: Some(75),
            target_memory_utilization: None,
        });
        assert_eq!(of(&s), of(&spec()));
    }
}
