//! A Pod object standing in for an in-process replica: the operator's labels, Ready, with
//! podIP 127.0.0.1, so that a standby which looks the Lease holder's pod up reaches a replica
//! the test runs on loopback. Its nodeSelector matches no node, so neither the scheduler nor
//! kwok ever changes the status the test writes.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// The label the operator's default peer selector asks for.
pub const REPLICA_LABELS: (&str, &str) = ("app.kubernetes.io/name", "chitty-operator");

/// Creates pod `name` in `ns` as a Ready replica at 127.0.0.1.
pub async fn create(client: &Client, ns: &str, name: &str) {
    let labels = serde_json::json!({REPLICA_LABELS.0: REPLICA_LABELS.1});
    create_labelled(client, ns, name, labels).await;
}

/// As [`create`], with labels of the test's choosing (a pod that is not a replica).
pub async fn create_labelled(client: &Client, ns: &str, name: &str, labels: serde_json::Value) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "nodeSelector": {"chitty.cc/no-such-node": "true"},
            "containers": [{"name": "operator", "image": "chitty-operator"}],
        }
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let status = serde_json::json!({"status": {
        "phase": "Running",
        "podIP": "127.0.0.1",
        "podIPs": [{"ip": "127.0.0.1"}],
        "conditions": [{"type": "Ready", "status": "True"}],
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
}
