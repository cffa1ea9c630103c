//! The GitRepository and Kustomization the test points at its repository, and how it reads
//! Flux's verdict from them.

use std::time::Duration;

use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::common::wait;

/// Both objects' name.
pub const NAME: &str = "samples";

fn resource(group: &str, kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, "v1", kind))
}

pub fn git_repositories(client: &Client, ns: &str) -> Api<DynamicObject> {
    let ar = resource("source.toolkit.fluxcd.io", "GitRepository");
    Api::namespaced_with(client.clone(), ns, &ar)
}

pub fn kustomizations(client: &Client, ns: &str) -> Api<DynamicObject> {
    let ar = resource("kustomize.toolkit.fluxcd.io", "Kustomization");
    Api::namespaced_with(client.clone(), ns, &ar)
}

/// A GitRepository on `main` of `url`, and a Kustomization of `path` in it that applies into
/// the namespace and waits for every object it applied to be healthy (kstatus).
pub async fn apply(client: &Client, ns: &str, url: &str, path: &str) {
    let params = PatchParams::apply("chitty-flux-test").force();
    let repo = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": NAME},
        "spec": {"url": url, "ref": {"branch": "main"}, "interval": "1m", "timeout": "20s"},
    });
    git_repositories(client, ns)
        .patch(NAME, &params, &Patch::Apply(repo))
        .await
        .expect("the GitRepository is applied");
    let kustomization = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": NAME},
        "spec": {
            "sourceRef": {"kind": "GitRepository", "name": NAME},
            "path": path,
            "targetNamespace": ns,
            "prune": true,
            "wait": true,
            // Every sample rolls out in this, chittycharge's one-minute canary included.
            "timeout": "4m",
            "interval": "10m",
            "retryInterval": "10s",
        },
    });
    kustomizations(client, ns)
        .patch(NAME, &params, &Patch::Apply(kustomization))
        .await
        .expect("the Kustomization is applied");
}

/// The Kustomization's Ready condition as Flux wrote it: (status, reason, message), when it
/// speaks for the current generation.
pub fn ready(k: &DynamicObject) -> Option<(String, String, String)> {
    let status = k.data.get("status")?;
    let observed = status.get("observedGeneration").and_then(Value::as_i64);
    let conditions = status.get("conditions")?.as_array()?;
    let ready = conditions.iter().find(|c| c["type"] == "Ready")?;
    let text = |f: &str| ready[f].as_str().unwrap_or_default().to_string();
    let current = observed == k.metadata.generation
        && ready.get("observedGeneration").and_then(Value::as_i64) == k.metadata.generation;
    current.then(|| (text("status"), text("reason"), text("message")))
}

/// Asks kustomize-controller to reconcile now, as `flux reconcile` does; returns the token it
/// echoes in `status.lastHandledReconcileAt` once it has.
pub async fn request_reconcile(client: &Client, ns: &str) -> String {
    let token = jiff::Timestamp::now().to_string();
    let patch = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
    kustomizations(client, ns)
        .patch(NAME, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("the reconcile request is written");
    token
}

/// Whether the reconcile asked for with `token` has been handled.
pub fn handled(k: &DynamicObject, token: &str) -> bool {
    k.data["status"]["lastHandledReconcileAt"].as_str() == Some(token)
}

/// Deletes the Kustomization (kustomize-controller prunes what it applied, then drops its
/// finalizer) and then the GitRepository (source-controller removes its artifact), waiting
/// until each is gone, while both controllers and the operator still run.
pub async fn delete(client: &Client, ns: &str) {
    for api in [kustomizations(client, ns), git_repositories(client, ns)] {
        let _ = api.delete(NAME, &DeleteParams::default()).await;
        let _ = wait::eventually_within(
            &format!(
                "{} {NAME} deleted, its finalizer released",
                api.resource_url()
            ),
            Duration::from_secs(120),
            || api.get_opt(NAME),
            |r| matches!(r, Ok(None)),
        )
        .await;
    }
}
