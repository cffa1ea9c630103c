//! What odd tenants cost the others: a fleet of well-behaved services rolled out alone, then
//! the same fleet beside deliberately odd ones (health endpoints that accept connections and
//! never answer, services whose Deployment the apiserver refuses, dependency cycles). Reports
//! the well-behaved services' time to Ready in both runs (target: within 10 %), and the
//! operator's total apiserver write rate at steady state with the odd ones present (target:
//! under 1 per second).
//!
//! `cargo bench --bench odd_fleet` (fleet size from CHITTY_BENCH_SIZE, default 1000; odd ones
//! from CHITTY_BENCH_ODD, default 50); writes target/bench/odd_fleet.md and .json. Needs the
//! local control plane (it runs `scripts/cluster.sh up`).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chitty_operator::api::ChittyService;
use chitty_operator::api::conditions::{is_true, types};
use futures::StreamExt;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use support::{Operator, health_server, service};

const CONCURRENCY: usize = 16;

/// A TCP endpoint that accepts connections and never answers: the worst health URL a tenant can
/// write, since every probe of it lasts its whole timeout.
async fn tarpit() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

/// The odd services: a third tarpits, a third refused Deployments, a third dependency cycles.
fn odd_services(count: usize, tarpit: &str) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let name = format!("odd-{i:03}");
            let mut manifest = service(&name);
            match i % 3 {
                0 => {
                    manifest["spec"]["health"] =
                        json!({"url": tarpit, "interval": "1s", "timeout": "30s"});
                }
                1 => {
                    // Each quantity is valid; requests over limits the apiserver refuses.
                    manifest["spec"]["resources"] =
                        json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}});
                }
                _ => {
                    // Each waits on the next of its kind, the last on the first.
                    let cycle: Vec<usize> = (2..count).step_by(3).collect();
                    let at = cycle.iter().position(|c| *c == i).unwrap();
                    let next = cycle[(at + 1) % cycle.len()];
                    manifest["spec"]["dependsOn"] = json!([{"name": format!("odd-{next:03}")}]);
                }
            }
            manifest
        })
        .collect()
}

async fn apply_all(api: &Api<ChittyService>, manifests: Vec<Value>) {
    let api = Arc::new(api.clone());
    futures::stream::iter(manifests)
        .for_each_concurrent(CONCURRENCY, |m| {
            let api = api.clone();
            async move {
                let name = m["metadata"]["name"].as_str().unwrap().to_string();
                api.patch(&name, &PatchParams::apply("bench"), &Patch::Apply(m))
                    .await
                    .unwrap();
            }
        })
        .await;
}

/// Time until every well-behaved service (`svc-*`) is Ready, from `started`.
async fn until_ready(api: &Api<ChittyService>, n: usize, started: Instant) -> Duration {
    loop {
        let all = api.list(&ListParams::default()).await.unwrap().items;
        let ready = all
            .iter()
            .filter(|s| {
                s.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("svc-"))
            })
            .filter(|s| {
                s.status
                    .as_ref()
                    .is_some_and(|st| is_true(&st.conditions, types::READY))
            })
            .count();
        if ready == n {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "{ready}/{n} Ready after 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

struct Run {
    ready: Duration,
    steady_writes_per_second: f64,
    odd_without_status: usize,
}

async fn run(client: &kube::Client, kubeconfig: &str, n: usize, odd: usize, port: u16) -> Run {
    let ns = format!("bench-odd-{odd}");
    support::namespace(client, &ns).await;
    let health = health_server().await;
    let tarpit = tarpit().await;
    let operator = Operator::start(
        kubeconfig,
        &ns,
        port,
        &[
            "--health-url-override",
            &health,
            "--probe-allow-cidr",
            "127.0.0.1/32",
        ],
    );
    let http = reqwest::Client::new();
    operator.ready(&http).await;
    let api: Api<ChittyService> = Api::namespaced(client.clone(), &ns);
    // The odd ones first, so they are already costing what they cost when the fleet arrives.
    apply_all(&api, odd_services(odd, &tarpit)).await;
    let started = Instant::now();
    apply_all(
        &api,
        (0..n).map(|i| service(&format!("svc-{i:05}"))).collect(),
    )
    .await;
    let ready = until_ready(&api, n, started).await;
    // Steady state: whatever the odd ones still cost, the fleet is settled.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let window = Duration::from_secs(60);
    let (_, before) = operator.requests(&http).await;
    tokio::time::sleep(window).await;
    let (_, after) = operator.requests(&http).await;
    let odd_without_status = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|s| {
            s.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("odd-"))
        })
        .filter(|s| s.status.as_ref().is_none_or(|st| st.conditions.is_empty()))
        .count();
    drop(operator);
    support::delete_namespace(client, &ns).await;
    Run {
        ready,
        steady_writes_per_second: (after - before) as f64 / window.as_secs_f64(),
        odd_without_status,
    }
}

#[tokio::main]
async fn main() {
    let (client, kubeconfig) = support::local_cluster().await;
    let n = support::size("CHITTY_BENCH_SIZE", 1000);
    let odd: usize = std::env::var("CHITTY_BENCH_ODD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let alone = run(&client, &kubeconfig, n, 0, 18600).await;
    let beside = run(&client, &kubeconfig, n, odd, 18601).await;
    let ratio = beside.ready.as_secs_f64() / alone.ready.as_secs_f64();
    let report = format!(
        "# Odd-fleet benchmark\n\n\
         | well-behaved services | odd services | all Ready | steady writes/s | odd ones without a status |\n\
         |---|---|---|---|---|\n\
         | {n} | 0 | {:.1} s | {:.2} | - |\n\
         | {n} | {odd} | {:.1} s | {:.2} | {} |\n\n\
         Time to Ready beside the odd ones: {ratio:.2}x the fleet alone (target: at most 1.10x).\n\
         Steady writes with the odd ones present: {:.2}/s (target: under 1/s).\n",
        alone.ready.as_secs_f64(),
        alone.steady_writes_per_second,
        beside.ready.as_secs_f64(),
        beside.steady_writes_per_second,
        beside.odd_without_status,
        beside.steady_writes_per_second,
    );
    support::write_report("odd_fleet.md", &report);
    support::write_json(
        "odd_fleet.json",
        &json!({
            "services": n, "odd": odd,
            "ready_alone_s": alone.ready.as_secs_f64(),
            "ready_beside_odd_s": beside.ready.as_secs_f64(),
            "ratio": ratio,
            "steady_writes_per_second": beside.steady_writes_per_second,
            "odd_without_status": beside.odd_without_status,
        }),
    );
}
