//! The Job that deploys a `cloudflare`-target service with wrangler: `wrangler deploy` for a
//! worker, `wrangler pages deploy` for a frontend, with credentials from the referenced Secret.

use k8s_openapi::api::batch::v1::Job;
use kube::{Resource, ResourceExt};

use super::{ROLLOUT_LABEL, common_labels, security};
use crate::api::{ChittyDeployment, ChittyService, Environment, ServiceType};
use crate::config::BuildDefaults;

pub fn job_name(rollout: &str) -> String {
    crate::names::bounded(rollout, "-wrangler")
}

/// The wrangler command line for the service type and environment.
pub fn wrangler_command(kind: ServiceType, environment: Environment, project: &str) -> String {
    let env = match environment {
        Environment::Staging => "staging",
        Environment::Production => "production",
    };
    match kind {
        ServiceType::Frontend => {
            format!("npx wrangler pages deploy dist --project-name {project} --branch {env}")
        }
        _ => format!("npx wrangler deploy --env {env}"),
    }
}

pub fn build(
    defaults: &BuildDefaults,
    service: &ChittyService,
    rollout: &ChittyDeployment,
    routes: &[String],
) -> Job {
    let snapshot = &rollout.spec.snapshot;
    let cf = snapshot
        .cloudflare
        .as_ref()
        .expect("cloudflare jobs are made only for cloudflare targets");
    let command = wrangler_command(
        snapshot.service_type,
        snapshot.environment,
        &service.name_any(),
    );
    let secret_env = |name: &str, key: &str| serde_json::json!({"name": name, "valueFrom": {"secretKeyRef": {"name": cf.credentials_secret, "key": key}}});
    let mut env = vec![
        secret_env("CLOUDFLARE_API_TOKEN", "apiToken"),
        secret_env("CLOUDFLARE_ACCOUNT_ID", "accountId"),
        // Only the routes this service holds: the Worker is never bound to a route it lost.
        serde_json::json!({"name": "CHITTY_ROUTES", "value": routes.join(",")}),
        serde_json::json!({"name": "HOME", "value": security::TOOL_HOME}),
    ];
    let mut script = String::new();
    if let Some(git) = &snapshot.source.git {
        env.push(serde_json::json!({"name": "GIT_URL", "value": git.url}));
        env.push(serde_json::json!({"name": "GIT_REVISION", "value": git.revision}));
        script.push_str(r#"git init -q . && git remote add origin "$GIT_URL" && git fetch -q --depth 1 origin "$GIT_REVISION" && git checkout -q FETCH_HEAD && npm ci && "#);
    }
    script.push_str(&command);
    let (scratch_volumes, scratch_mounts) = security::tool_scratch();
    let mut mounts = vec![security::mount("workspace", "/workspace")];
    mounts.extend(scratch_mounts);
    let mut volumes = vec![security::scratch_volume("workspace")];
    volumes.extend(scratch_volumes);
    // Every step is git, npm or wrangler from the builder image, so the whole pod runs non-root.
    let mut pod_security = security::pod_context(None, None);
    pod_security.run_as_non_root = Some(true);
    let mut pod_labels = common_labels(service);
    pod_labels.insert(ROLLOUT_LABEL.into(), rollout.name_any());
    let owner = rollout
        .controller_owner_ref(&())
        .map(|o| serde_json::to_value(vec![o]).expect("owner serializes"));
    serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(&rollout.name_any()), "namespace": rollout.namespace(), "labels": pod_labels, "ownerReferences": owner},
        "spec": {
            "backoffLimit": 1,
            "activeDeadlineSeconds": defaults.timeout_seconds,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": false,
                    "securityContext": pod_security,
                    "containers": [{
                        "name": "wrangler",
                        "image": defaults.builder_image,
                        "workingDir": "/workspace",
                        "command": ["sh", "-ec", script],
                        "env": env,
                        "volumeMounts": mounts,
                        "securityContext": security::tool_container(defaults.run_as_user),
                        "resources": defaults.container_resources(),
                    }],
                    "volumes": volumes,
                },
            },
        },
    }))
    .expect("Job is well-formed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_deploy_to_their_environment_and_frontends_to_pages() {
        assert_eq!(
            wrangler_command(ServiceType::Worker, Environment::Production, "x"),
            "npx wrangler deploy --env production"
        );
        assert!(
            wrangler_command(ServiceType::Frontend, Environment::Staging, "site")
                .starts_with("npx wrangler pages deploy")
        );
    }

    #[test]
    fn wrangler_runs_non_root_with_bounded_resources() {
        let spec = serde_json::json!({"type": "worker", "version": "1.0.0", "environment": "staging",
            "target": "cloudflare", "source": {"image": "r/x:1"},
            "cloudflare": {"credentialsSecret": "cf", "url": "https://x.chitty.cc"}});
        let service: ChittyService = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "x", "namespace": "ns", "uid": "u-1"}, "spec": spec}))
        .unwrap();
        let rollout: ChittyDeployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
            "metadata": {"name": "x-r1", "namespace": "ns", "uid": "u-2"},
            "spec": {"serviceRef": {"name": "x"}, "revision": "abc", "snapshot": spec,
                     "trigger": "Initial", "strategy": "immediate"}}))
        .unwrap();
        let defaults = crate::config::OperatorConfig::defaults().build;
        let pod = build(&defaults, &service, &rollout, &[])
            .spec
            .unwrap()
            .template
            .spec
            .unwrap();
        assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
        let c = &pod.containers[0];
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.run_as_user, Some(defaults.run_as_user));
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        let mounts: Vec<&str> = c
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| m.mount_path.as_str())
            .collect();
        assert!(
            mounts.contains(&"/tmp") && mounts.contains(&security::TOOL_HOME),
            "{mounts:?}"
        );
        assert!(c.resources.as_ref().unwrap().limits.is_some());
    }
}
