//! The pods the operator generates are admitted in a namespace that enforces the `restricted`
//! Pod Security Standard, and `spec.pod` reaches the Deployment. Build Jobs meet it in every
//! stage but kaniko's, and `baseline` as a whole.

mod common;

use std::time::Duration;

use chitty_operator::api::{ChittyDeployment, ChittyService};
use chitty_operator::config::OperatorConfig;
use chitty_operator::workload::{build_job, cloudflare};
use common::health_server::HealthServer;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// Labels the namespace so the apiserver's PodSecurity admission refuses any pod that breaks
/// the latest `restricted` profile.
async fn enforce_restricted(client: &Client, namespace: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let labels = serde_json::json!({"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }}});
    namespaces
        .patch(namespace, &PatchParams::default(), &Patch::Merge(&labels))
        .await
        .expect("namespace labelled");
}

/// A plain pod with no security settings is refused, so the test below proves something.
/// PodSecurity admission reads namespace labels from its own informer, so a label just written
/// takes a moment to count: poll until it does.
async fn assert_enforced(client: &Client, namespace: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let naive: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "naive"},
        "spec": {"containers": [{"name": "c", "image": "registry.local/naive:1"}]}
    }))
    .unwrap();
    let _ = common::wait::eventually(
        "the namespace to enforce the restricted profile",
        || admission_of(&pods, &naive),
        |refused| matches!(refused, Err(e) if e.contains("PodSecurity")),
    )
    .await;
}

/// Two pods of `name`, probed at `health`, with `pod` as its `spec.pod`.
fn service(name: &str, health: &str, pod: serde_json::Value) -> common::manifest::ServiceManifest {
    common::service(name)
        .replicas(2)
        .health(health)
        .set("pod", pod)
}

/// Each `ReplicaFailure` condition (reason `FailedCreate` when admission refused a pod) of the
/// service's ReplicaSets, as `replicaset: reason: message`.
async fn replica_failures(replica_sets: &Api<ReplicaSet>, service: &str) -> Vec<String> {
    let selector = ListParams::default().labels(&format!("chitty.cc/service={service}"));
    let list = replica_sets
        .list(&selector)
        .await
        .expect("ReplicaSets list");
    list.items
        .iter()
        .flat_map(|rs| {
            let name = rs.metadata.name.clone().unwrap_or_default();
            rs.status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .filter(|c| c.type_ == "ReplicaFailure" && c.status == "True")
                .map(move |c| {
                    format!(
                        "{name}: {}: {}",
                        c.reason.as_deref().unwrap_or("?"),
                        c.message.as_deref().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Waits until the Deployment has all its replicas available, failing at once, with the
/// apiserver's reason, if a ReplicaSet reports that its pods were refused.
async fn wait_available(client: &Client, namespace: &str, name: &str, replicas: i32) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut last = None;
    loop {
        let failures = replica_failures(&replica_sets, name).await;
        assert!(
            failures.is_empty(),
            "pods of {name} were refused in a restricted namespace:\n{}",
            failures.join("\n")
        );
        if let Some(d) = deployments.get_opt(name).await.unwrap() {
            let available = d
                .status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0);
            if available >= replicas {
                return;
            }
            last = d.status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {replicas} available pods of {name}; last status: {last:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn generated_pods_are_admitted_under_the_restricted_standard() {
    let mut env = common::TestEnv::without_operator("podsec").await;
    let (client, ns) = (env.client.clone(), env.ns().to_string());
    enforce_restricted(&client, &ns).await;
    assert_enforced(&client, &ns).await;
    let health = HealthServer::start().await;
    env.start_operator().await;
    env.apply(&service("hardened", &health.url, serde_json::json!({})))
        .await;
    wait_available(&client, &ns, "hardened", 2).await;
    let pods: Api<Pod> = env.api();
    let admitted = pods
        .list(&ListParams::default().labels("chitty.cc/service=hardened"))
        .await
        .unwrap();
    assert!(admitted.items.len() >= 2, "{:#?}", admitted.items);

    // A service that relaxes the root filesystem and brings its own ServiceAccount.
    let accounts: Api<ServiceAccount> = env.api();
    let account: ServiceAccount =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "relaxed-app"}})).unwrap();
    accounts
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
    let relaxed = service(
        "relaxed",
        &health.url,
        serde_json::json!({"readOnlyRootFilesystem": false, "serviceAccountName": "relaxed-app"}),
    );
    env.apply(&relaxed).await;
    wait_available(&client, &ns, "relaxed", 2).await;
    let pod = env
        .deployments
        .get("relaxed")
        .await
        .unwrap()
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("relaxed-app"));
    let container = &pod.containers[0];
    let security = container.security_context.as_ref().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(false));
    assert_eq!(security.run_as_non_root, Some(true));
    assert!(
        container.volume_mounts.is_none(),
        "no /tmp volume on a writable root"
    );

    env.teardown().await;
}

/// The pod of a Job, as its controller would create it, for a server-side dry run.
fn pod_of(job: Job, name: &str) -> Pod {
    let template = job.spec.expect("Job has a spec").template;
    let mut metadata = template.metadata.unwrap_or_default();
    metadata.name = Some(name.into());
    Pod {
        metadata,
        spec: template.spec,
        status: None,
    }
}

async fn admission_of(pods: &Api<Pod>, pod: &Pod) -> Result<(), String> {
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    pods.create(&dry_run, pod)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn job_pods_meet_the_standard_each_stage_can() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "podsec-jobs").await;
    enforce_restricted(&client, &ns.name).await;
    assert_enforced(&client, &ns.name).await;
    let spec = serde_json::json!({"type": "worker", "version": "1.0.0", "environment": "staging",
        "target": "cloudflare", "source": {"git": {"url": "https://git.chitty.local/x.git", "revision": "main"}},
        "cloudflare": {"credentialsSecret": "cf", "url": "https://x.chitty.cc"}});
    let service: ChittyService = serde_json::from_value(serde_json::json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "metadata": {"name": "x", "namespace": ns.name, "uid": "u-1"}, "spec": spec}))
    .unwrap();
    let rollout: ChittyDeployment = serde_json::from_value(serde_json::json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
        "metadata": {"name": "x-r1", "namespace": ns.name, "uid": "u-2"},
        "spec": {"serviceRef": {"name": "x"}, "revision": "abc", "snapshot": spec,
                 "trigger": "Initial", "strategy": "immediate"}}))
    .unwrap();
    let defaults = OperatorConfig::defaults().build;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns.name);

    // Every Cloudflare Job (its build, deploy, routes-only update and rollback) runs only git,
    // npm and wrangler, non-root: all meet `restricted`.
    let routes = vec!["x.chitty.cc/*".to_string()];
    let snapshot = &rollout.spec.snapshot;
    let edge_jobs = [
        (
            build_job::build(&defaults, &service, &rollout, "unused"),
            "cf-build",
        ),
        (
            cloudflare::deploy_job(
                &defaults,
                &service,
                &rollout,
                "x-r1-wrangler",
                snapshot,
                &routes,
            ),
            "cf-deploy",
        ),
        (
            cloudflare::routes_job(&defaults, &service, &rollout, &routes),
            "cf-routes",
        ),
        (
            cloudflare::roll_back_job(&defaults, &service, &rollout, "v-1", "x", "health failed"),
            "cf-rollback",
        ),
    ];
    for (job, name) in edge_jobs {
        let admitted = admission_of(&pods, &pod_of(job, name)).await;
        assert!(admitted.is_ok(), "{name}: {admitted:?}");
    }

    // kaniko's `image` stage (a cluster target's build) runs as root with a few capabilities,
    // which `restricted` refuses; every other stage meets it, and the whole pod meets `baseline`.
    let mut cluster_rollout = rollout.clone();
    cluster_rollout.spec.snapshot.target = chitty_operator::api::Target::Cluster;
    let build = pod_of(
        build_job::build(&defaults, &service, &cluster_rollout, "r/x:abc"),
        "build",
    );
    // The error's text may quote the names with escapes; compare without them.
    let refused = admission_of(&pods, &build)
        .await
        .unwrap_err()
        .replace('\\', "");
    assert!(refused.contains(r#"container "image""#), "{refused}");
    for stage in ["clone", "install", "test"] {
        assert!(!refused.contains(&format!(r#""{stage}""#)), "{refused}");
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let baseline = serde_json::json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "baseline"}}});
    namespaces
        .patch(&ns.name, &PatchParams::default(), &Patch::Merge(&baseline))
        .await
        .unwrap();
    // Admission sees the relaxed label once its namespace informer has; until then it still
    // enforces `restricted`, so wait for the pod to pass rather than asserting at once.
    let _ = common::wait::eventually(
        "the build pod to be admitted under baseline",
        || admission_of(&pods, &build),
        Result::is_ok,
    )
    .await;
}
