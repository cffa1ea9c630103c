//! Rollout throughput against the local control plane: apply N ChittyServices (image source),
//! time until all are Ready, count the operator's apiserver requests per service, read its peak
//! and idle memory, count its writes while idle, and compare with the floor: a bare client
//! writing the objects and statuses the operator had to write, then waiting, as the operator
//! does, for the cluster to make the Deployments available.
//!
//! `cargo bench --bench rollout` (sizes from CHITTY_BENCH_SIZES, default "100,1000"); writes
//! target/bench/rollout.md. Needs `scripts/cluster.sh up` (it runs it).

mod support;

use support::{health_server, service};

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use support::Operator;

const CONCURRENCY: usize = 16;

struct Run {
    n: usize,
    ready: Duration,
    reads_per_service: f64,
    writes_per_service: f64,
    peak_rss_mib: f64,
    idle_rss_mib: f64,
    idle_writes_per_minute: f64,
    floor: Duration,
    floor_available: Duration,
}

async fn rollout_run(client: &Client, kubeconfig: &str, n: usize, port: u16) -> Run {
    let ns = format!("bench-rollout-{n}");
    support::namespace(client, &ns).await;
    let health = health_server().await;
    let operator = Operator::start(kubeconfig, &ns, port, &["--health-url-override", &health]);
    let http = reqwest::Client::new();
    operator.ready(&http).await;
    let (reads0, writes0) = operator.requests(&http).await;
    let services: Api<chitty_operator::api::ChittyService> = Api::namespaced(client.clone(), &ns);
    let started = Instant::now();
    let api = Arc::new(services.clone());
    futures::stream::iter(0..n)
        .for_each_concurrent(CONCURRENCY, |i| {
            let api = api.clone();
            async move {
                let name = format!("svc-{i:05}");
                api.patch(
                    &name,
                    &PatchParams::apply("bench"),
                    &Patch::Apply(service(&name)),
                )
                .await
                .unwrap();
            }
        })
        .await;
    loop {
        let all = services.list(&ListParams::default()).await.unwrap().items;
        let ready = all
            .iter()
            .filter(|s| {
                s.status.as_ref().is_some_and(|st| {
                    chitty_operator::api::conditions::is_true(
                        &st.conditions,
                        chitty_operator::api::conditions::types::READY,
                    )
                })
            })
            .count();
        if ready == n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "{ready}/{n} Ready after 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ready = started.elapsed();
    let (reads1, writes1) = operator.requests(&http).await;
    let peak = operator.memory_kib("VmHWM:");

    // Idle: nothing changes in the world, so writes must stay still.
    let idle_writes_per_minute = support::idle_writes_per_minute(
        &operator,
        &http,
        Duration::from_secs(5),
        Duration::from_secs(30),
    )
    .await;
    let idle_rss = operator.memory_kib("VmRSS:");
    drop(operator);

    // The operator's pods must be gone before the floor run, or they hold the nodes' pod slots.
    support::delete_namespace(client, &ns).await;
    let (floor, floor_available) = floor_run(client, n).await;
    Run {
        n,
        ready,
        reads_per_service: (reads1 - reads0) as f64 / n as f64,
        writes_per_service: (writes1 - writes0) as f64 / n as f64,
        peak_rss_mib: peak as f64 / 1024.0,
        idle_rss_mib: idle_rss as f64 / 1024.0,
        idle_writes_per_minute,
        floor,
        floor_available,
    }
}

/// A bare client writing, per service, what the operator must: the user's ChittyService (timed in
/// the operator's run too), the rollout, its Deployment and Service, and one status each for the
/// rollout and the service; at the same concurrency, nothing reconciling them.
async fn floor_run(client: &Client, n: usize) -> (Duration, Duration) {
    let ns = format!("bench-floor-{n}");
    support::namespace(client, &ns).await;
    let started = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(CONCURRENCY, |i| {
            let client = client.clone();
            let ns = ns.clone();
            async move { floor_writes(&client, &ns, &format!("svc-{i:05}")).await }
        })
        .await;
    let floor = started.elapsed();
    // The part of the rollout time no operator can remove: the cluster making those
    // Deployments available (scheduler, controller-manager, kwok).
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), &ns);
    loop {
        let available = deployments
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(1))
            .count();
        if available == n || started.elapsed() > Duration::from_secs(1800) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let available = started.elapsed();
    let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .delete(&ns, &DeleteParams::default())
        .await;
    (floor, available)
}

async fn floor_writes(client: &Client, ns: &str, name: &str) {
    use chitty_operator::api::{ChittyDeployment, ChittyService};
    use chitty_operator::workload;
    use k8s_openapi::api::{apps::v1::Deployment, core::v1::Service};
    let pp = PatchParams::apply("bench-floor");
    let services: Api<ChittyService> = Api::namespaced(client.clone(), ns);
    let applied = services
        .patch(name, &pp, &Patch::Apply(service(name)))
        .await
        .unwrap();
    let rollouts: Api<ChittyDeployment> = Api::namespaced(client.clone(), ns);
    let rollout = json!({"apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
        "metadata": {"name": name},
        "spec": {"serviceRef": {"name": name}, "revision": "0123456789abcdef", "trigger": "Initial",
                 "strategy": "immediate", "snapshot": service(name)["spec"]}});
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

#[tokio::main]
async fn main() {
    let (client, kubeconfig) = support::local_cluster().await;

    let sizes: Vec<usize> = std::env::var("CHITTY_BENCH_SIZES")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut report = String::from(
        "# Rollout benchmark\n\n| services | all Ready | floor: bare client writes | ratio | floor until Deployments available | ratio | GETs/service | writes/service | peak RSS | idle RSS | idle writes/min |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (i, n) in sizes.into_iter().enumerate() {
        let r = rollout_run(&client, &kubeconfig, n, 18500 + i as u16).await;
        let line = format!(
            "| {} | {:.1} s | {:.1} s | {:.2}x | {:.1} s | {:.2}x | {:.1} | {:.1} | {:.0} MiB | {:.0} MiB | {:.1} |\n",
            r.n,
            r.ready.as_secs_f64(),
            r.floor.as_secs_f64(),
            r.ready.as_secs_f64() / r.floor.as_secs_f64(),
            r.floor_available.as_secs_f64(),
            r.ready.as_secs_f64() / r.floor_available.as_secs_f64(),
            r.reads_per_service,
            r.writes_per_service,
            r.peak_rss_mib,
            r.idle_rss_mib,
            r.idle_writes_per_minute
        );
        print!("{line}");
        report.push_str(&line);
    }
    support::write_report("rollout.md", &report);
}
