//! The floor of a rollout benchmark: a bare client writing, per service, what the operator must
//! (the user's ChittyService, its rollout, Deployment and Service, a RouteClaim per route with
//! its decision, the Ingress of the held routes, and one status each for the rollout and the
//! service), at the benchmark's concurrency with nothing reconciling them; then waiting, as the
//! operator does, for the cluster to make the Deployments available.
//!
//! As benches/rollout.rs's floor (which has no routes), with routes and with a watch instead of
//! a list every 250 ms to see the Deployments available: at 10,000 a list takes longer than that.

use std::time::{Duration, Instant};

use chitty_operator::api::{ChittyDeployment, ChittyService, RouteClaim};
use chitty_operator::controller::service::routes::desired_claims;
use chitty_operator::workload;
use chitty_operator::workload::ingress::{HeldRoute, IngressSettings};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::tally::Tally;

#[derive(Clone, Copy, Debug)]
pub struct Floor {
    /// Until the client's writes were all done.
    pub writes: Duration,
    /// Until the cluster made all the Deployments available.
    pub available: Duration,
    /// How many were available when `timeout` ran out, if it did.
    pub unavailable: Option<usize>,
}

impl Floor {
    /// A floor measured by an earlier run at the same N on the same cluster, given as
    /// CHITTY_BENCH_FLOOR="<writes s>,<available s>" (the run prints both): at 10,000 services
    /// the floor takes as long as the operator's run, and it does not change with the operator.
    pub fn given() -> Result<Option<Self>, String> {
        let Ok(given) = std::env::var("CHITTY_BENCH_FLOOR") else {
            return Ok(None);
        };
        let seconds: Vec<f64> = given
            .split(',')
            .map(|s| s.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("CHITTY_BENCH_FLOOR={given:?}: {e}"))?;
        match seconds[..] {
            [writes, available] if writes > 0.0 && available > 0.0 => Ok(Some(Self {
                writes: Duration::from_secs_f64(writes),
                available: Duration::from_secs_f64(available),
                unavailable: None,
            })),
            _ => Err(format!(
                "CHITTY_BENCH_FLOOR={given:?}: want two positive numbers of seconds, \"<writes>,<available>\""
            )),
        }
    }
}

/// Writes `n` services' objects (service `i` is `manifest(i)`) into the fresh namespace `ns`,
/// `concurrency` at a time, and waits up to `timeout` for their Deployments. The caller deletes
/// `ns` (see `delete_namespace_and_wait`: its pods hold node slots until it is gone).
pub async fn floor_run(
    client: &Client,
    ns: &str,
    n: usize,
    concurrency: usize,
    manifest: impl Fn(usize) -> serde_json::Value,
    timeout: Duration,
) -> Floor {
    super::namespace(client, ns).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let mut available = Tally::watch(deployments, |d: &Deployment| {
        d.status.as_ref().and_then(|s| s.available_replicas) >= Some(1)
    })
    .await;
    let started = Instant::now();
    futures::stream::iter((0..n).map(&manifest))
        .for_each_concurrent(concurrency, |service| floor_writes(client, ns, service))
        .await;
    let writes = started.elapsed();
    let (available, unavailable) = match available.all(n, started, timeout).await {
        Ok(took) => (took, None),
        Err(count) => (started.elapsed(), Some(count)),
    };
    Floor {
        writes,
        available,
        unavailable,
    }
}

async fn floor_writes(client: &Client, ns: &str, manifest: serde_json::Value) {
    let name = manifest["metadata"]["name"].as_str().unwrap().to_string();
    let name = name.as_str();
    let pp = PatchParams::apply("bench-floor");
    let services: Api<ChittyService> = Api::namespaced(client.clone(), ns);
    let applied = services
        .patch(name, &pp, &Patch::Apply(&manifest))
        .await
        .unwrap();
    let rollouts: Api<ChittyDeployment> = Api::namespaced(client.clone(), ns);
    let rollout = json!({"apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
        "metadata": {"name": name},
        "spec": {"serviceRef": {"name": name}, "revision": "0123456789abcdef", "trigger": "Initial",
                 "strategy": "immediate", "snapshot": manifest["spec"]}});
    rollouts
        .patch(name, &pp, &Patch::Apply(rollout))
        .await
        .unwrap();
    // The very objects the operator applies, pod template and all: what a bigger pod costs the
    // apiserver and the controller-manager is the cluster's work, not the operator's overhead.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let deployment = workload::deployment::build(&workload::deployment::Workload {
        service: &applied,
        snapshot: &applied.spec,
        image: applied.spec.source.image.as_deref().unwrap_or_default(),
        revision: "0123456789abcdef",
        rollout: name,
        track: workload::Track::Stable,
        replicas: Some(applied.spec.replicas),
    });
    deployments
        .patch(name, &pp, &Patch::Apply(&deployment))
        .await
        .unwrap();
    let svc: Api<Service> = Api::namespaced(client.clone(), ns);
    let object = workload::service::build(&applied, false);
    svc.patch(name, &pp, &Patch::Apply(&object)).await.unwrap();
    route_writes(client, ns, &applied, &pp).await;
    let merge = PatchParams::default();
    rollouts
        .patch_status(
            name,
            &merge,
            &Patch::Merge(json!({"status": {"phase": "Succeeded"}})),
        )
        .await
        .unwrap();
    services
        .patch_status(
            name,
            &merge,
            &Patch::Merge(json!({"status": {"phase": "Ready", "observedGeneration": 1}})),
        )
        .await
        .unwrap();
}

/// Each route's claim and its decision (every route is uncontested here, so held), and the
/// Ingress carrying them.
async fn route_writes(client: &Client, ns: &str, service: &ChittyService, pp: &PatchParams) {
    let claims: Api<RouteClaim> = Api::namespaced(client.clone(), ns);
    let mut held = Vec::new();
    for (name, claim) in desired_claims(service) {
        claims
            .patch(&name, pp, &Patch::Apply(&claim))
            .await
            .unwrap();
        let holder = format!("{ns}/{name}");
        let decision = json!({"status": {"observedGeneration": 1, "holder": holder,
            "conditions": [{"type": "Accepted", "status": "True", "reason": "Held",
                            "message": "holds the route", "observedGeneration": 1,
                            "lastTransitionTime": jiff::Timestamp::now().to_string()}]}});
        claims
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(decision))
            .await
            .unwrap();
        held.push(HeldRoute {
            host: claim.spec.host.clone(),
            path: "/".into(),
            tls: claim.spec.tls,
            tls_secret_name: claim.spec.tls_secret_name.clone(),
        });
    }
    let settings = IngressSettings {
        class: None,
        cert_manager_issuer: None,
    };
    if let Some(ingress) = workload::ingress::build(service, &held, &settings) {
        let ingresses: Api<Ingress> = Api::namespaced(client.clone(), ns);
        ingresses
            .patch(&ingress.name_any(), pp, &Patch::Apply(&ingress))
            .await
            .unwrap();
    }
}
