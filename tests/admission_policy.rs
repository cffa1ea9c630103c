//! Least privilege for the operator itself, for real: the chart's ValidatingAdmissionPolicy, bound
//! to a ServiceAccount of this test's own, refuses a privileged pod template written as that
//! account (with the policy's message) and admits the very Deployment the operator generates.

mod common;
#[path = "packaging/support.rs"]
mod support;

use std::time::{Duration, Instant};

use chitty_operator::workload;
use common::TestEnv;
use k8s_openapi::api::apps::v1::Deployment;
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
async fn the_policy_refuses_a_privileged_pod_template_and_admits_the_operators_own() {
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
    let deployments: Api<Deployment> = Api::namespaced(as_operator, &ns);

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

    env.teardown().await;
}
