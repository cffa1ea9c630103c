//! Least privilege for the operator itself, for real: the chart's ValidatingAdmissionPolicy, bound
//! to a ServiceAccount of this test's own, refuses a privileged pod template written as that
//! account (with the policy's message) and admits the very Deployment the operator generates, and
//! its image build Job only while the Job carries the build label (its one baseline exception).

mod common;
#[path = "packaging/support.rs"]
mod support;

use std::time::{Duration, Instant};

use chitty_operator::api::ChittyDeployment;
use chitty_operator::config::OperatorConfig;
use chitty_operator::workload;
use common::TestEnv;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use support::*;

/// What the policy says when a container is privileged (charts/chitty-operator/templates/
/// _admissionpolicy.tpl).
const PRIVILEGED_MESSAGE: &str =
    "pod security (operator): privileged containers and host ports are not allowed";

/// Deletes the policy and its binding (cluster-scoped; the namespace goes with the TestEnv).
struct PolicyCleanup(String);

impl Drop for PolicyCleanup {
    fn drop(&mut self) {
        let _ = common::kubectl_try(&[
            "delete",
            "validatingadmissionpolicy,validatingadmissionpolicybinding",
            &self.0,
            "--ignore-not-found",
        ]);
    }
}

fn privileged_deployment() -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "privileged"},
        "spec": {
            "selector": {"matchLabels": {"app": "privileged"}},
            "template": {
                "metadata": {"labels": {"app": "privileged"}},
                "spec": {"containers": [{
                    "name": "app",
                    "image": "registry.local/app:1",
                    "securityContext": {"privileged": true},
                }]},
            },
        },
    }))
    .unwrap()
}

#[tokio::test]
async fn the_policy_refuses_privileged_pod_templates_and_admits_the_operators_own_workloads() {
    let env = TestEnv::without_operator("vap").await;
    let ns = env.ns.name.clone();
    // The namespace's name is unique per run, so the cluster-scoped policy named after it is too.
    let fullname = format!("{ns}-op");
    let policy = format!("{fullname}-pod-security");
    let account = format!("system:serviceaccount:{ns}:operator");

    let rendered = helm_template(
        "vap",
        &ns,
        &[
            "--show-only",
            "templates/admissionpolicy.yaml",
            "--set",
            &format!("fullnameOverride={fullname}"),
            "--set",
            "serviceAccount.name=operator",
            "--set",
            &format!("watchNamespace={ns}"),
        ],
    );
    let docs = documents(&rendered);
    assert_eq!(
        only(&docs, "ValidatingAdmissionPolicy")["metadata"]["name"],
        policy.as_str()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.yaml");
    std::fs::write(&file, &rendered).unwrap();
    let _cleanup = PolicyCleanup(policy.clone());
    common::kubectl(&["apply", "-f", file.to_str().unwrap()]);
    // RBAC lets the account do anything in the namespace: only the policy stands in its way.
    common::kubectl(&[
        "create",
        "rolebinding",
        "operator-admin",
        "-n",
        &ns,
        "--clusterrole=cluster-admin",
        &format!("--serviceaccount={ns}:operator"),
    ]);

    let mut config = common::kube_config().await;
    config.auth_info.impersonate = Some(account);
    let as_operator = Client::try_from(config).unwrap();
    let deployments: Api<Deployment> = Api::namespaced(as_operator.clone(), &ns);
    let jobs: Api<Job> = Api::namespaced(as_operator, &ns);

    // The apiserver loads policies, bindings and RBAC from informers: retry until it refuses.
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let refusal = loop {
        match deployments.create(&dry_run, &privileged_deployment()).await {
            Err(kube::Error::Api(status)) if status.message.contains(&policy) => break status,
            other if Instant::now() > deadline => {
                panic!("the policy never refused the privileged Deployment: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    };
    assert_eq!(refusal.code, 403, "{refusal:?}");
    assert!(
        refusal.message.contains(PRIVILEGED_MESSAGE),
        "{}",
        refusal.message
    );

    // The operator's own Deployment, applied as the operator applies it.
    env.apply(&common::service("web").replicas(1)).await;
    let service = env.services.get("web").await.unwrap();
    let deployment = workload::deployment::build(&workload::deployment::Workload {
        service: &service,
        snapshot: &service.spec,
        image: service.spec.source.image.as_deref().unwrap_or_default(),
        revision: "0123456789abcdef",
        rollout: "web-1",
        track: workload::Track::Stable,
        replicas: Some(1),
    });
    let name = deployment.metadata.name.clone().unwrap();
    deployments
        .patch(
            &name,
            &PatchParams::apply("chitty-operator").force(),
            &Patch::Apply(&deployment),
        )
        .await
        .unwrap_or_else(|e| panic!("the operator's own Deployment was refused: {e}"));

    // The image build Job: its kaniko container runs as root, which the policy allows only in a
    // Job carrying the build label; without it, the same Job is refused as not restricted.
    env.apply(&common::service("site").git()).await;
    let site = env.services.get("site").await.unwrap();
    let rollout: ChittyDeployment = serde_json::from_value(json!({
        "apiVersion": "chitty.cc/v1alpha1",
        "kind": "ChittyDeployment",
        "metadata": {"name": "site-1", "namespace": ns},
        "spec": {"serviceRef": {"name": "site"}, "revision": "0123456789abcdef",
                 "trigger": "Initial", "strategy": "immediate", "snapshot": site.spec},
    }))
    .unwrap();
    let job = workload::build_job::build(
        &OperatorConfig::defaults().build,
        &site,
        &rollout,
        "registry.local/site:0123456789abcdef",
    );
    jobs.create(&dry_run, &job)
        .await
        .unwrap_or_else(|e| panic!("the operator's build Job was refused: {e}"));
    let mut unlabelled = job.clone();
    unlabelled
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .remove(workload::BUILD_JOB_LABEL);
    match jobs.create(&dry_run, &unlabelled).await {
        Err(kube::Error::Api(status)) => assert!(
            status
                .message
                .contains("pod security (operator, restricted)"),
            "{}",
            status.message
        ),
        other => panic!("an unlabelled Job with a root container was admitted: {other:?}"),
    }

    env.teardown().await;
}
