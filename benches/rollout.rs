//! Rollout throughput against the local control plane: apply N ChittyServices (image source),
//! time until all are Ready, count the operator's apiserver requests per service, read its peak
//! and idle memory, count its writes while idle, and compare with the floor: a bare client
//! creating the objects the operator had to write.
//!
//! `cargo bench --bench rollout` (sizes from CHITTY_BENCH_SIZES, default "100,1000"); writes
//! target/bench/rollout.md. Needs `scripts/cluster.sh up` (it runs it).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::json;

const CONCURRENCY: usize = 16;

fn repo() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("command runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Operator {
    child: Child,
    metrics_url: String,
}

impl Operator {
    fn start(kubeconfig: &str, namespace: &str, health: &str, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_chitty-operator"))
            .args([
                "run",
                "--namespace",
                namespace,
                "--http-addr",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--health-url-override", health, "--log-format", "json"])
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("operator starts");
        Self {
            child,
            metrics_url: format!("http://127.0.0.1:{port}/metrics"),
        }
    }

    fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    async fn requests(&self, http: &reqwest::Client) -> (u64, u64) {
        let text = match http.get(&self.metrics_url).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => return (0, 0),
        };
        let mut reads = 0;
        let mut writes = 0;
        for line in text
            .lines()
            .filter(|l| l.starts_with("chitty_kube_requests_total{"))
        {
            let value: u64 = line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if line.contains("verb=\"GET\"") {
                reads += value
            } else {
                writes += value
            }
        }
        (reads, writes)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn health_server() -> String {
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(|| async { r#"{"status":"ok"}"# }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn service(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService", "metadata": {"name": name},
        "spec": {"type": "worker", "version": "1.0.0", "environment": "staging", "replicas": 1,
                 "source": {"image": format!("registry.local/{name}:1.0.0")},
                 "health": {"interval": "2s", "timeout": "1s"}}
    })
}

async fn delete_namespace(client: &Client, name: &str) {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let _ = api.delete(name, &DeleteParams::default()).await;
    for _ in 0..600 {
        if api.get_opt(name).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn namespace(client: &Client, name: &str) {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    delete_namespace(client, name).await;
    let ns = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &ns).await.unwrap();
}

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
    namespace(client, &ns).await;
    let health = health_server().await;
    let operator = Operator::start(kubeconfig, &ns, &health, port);
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .get(operator.metrics_url.replace("/metrics", "/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, idle_before) = operator.requests(&http).await;
    let idle_window = Duration::from_secs(30);
    tokio::time::sleep(idle_window).await;
    let (_, idle_after) = operator.requests(&http).await;
    let idle_rss = operator.memory_kib("VmRSS:");
    drop(operator);

    // The operator's pods must be gone before the floor run, or they hold the nodes' pod slots.
    delete_namespace(client, &ns).await;
    let (floor, floor_available) = floor_run(client, n).await;
    Run {
        n,
        ready,
        reads_per_service: (reads1 - reads0) as f64 / n as f64,
        writes_per_service: (writes1 - writes0) as f64 / n as f64,
        peak_rss_mib: peak as f64 / 1024.0,
        idle_rss_mib: idle_rss as f64 / 1024.0,
        idle_writes_per_minute: (idle_after - idle_before) as f64 * 60.0
            / idle_window.as_secs_f64(),
        floor,
        floor_available,
    }
}

/// A bare client creating what the operator had to write per service: the rollout, its
/// Deployment and its Service (status writes excluded), at the same concurrency.
async fn floor_run(client: &Client, n: usize) -> (Duration, Duration) {
    let ns = format!("bench-floor-{n}");
    namespace(client, &ns).await;
    let started = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(CONCURRENCY, |i| {
            let client = client.clone();
            let ns = ns.clone();
            async move {
                let name = format!("svc-{i:05}");
                let pp = PatchParams::apply("bench-floor");
                let deploy: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(client.clone(), &ns);
                let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                             "template": {"metadata": {"labels": {"app": name}},
                                          "spec": {"containers": [{"name": "s", "image": "registry.local/x:1"}]}}}});
                deploy.patch(&name, &pp, &Patch::Apply(d)).await.unwrap();
                let svc: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(client.clone(), &ns);
                let s = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                    "spec": {"selector": {"app": name}, "ports": [{"port": 8080}]}});
                svc.patch(&name, &pp, &Patch::Apply(s)).await.unwrap();
                let rollouts: Api<chitty_operator::api::ChittyDeployment> = Api::namespaced(client.clone(), &ns);
                let r = json!({"apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment", "metadata": {"name": name},
                    "spec": {"serviceRef": {"name": name}, "revision": "0123456789abcdef", "trigger": "Initial",
                             "strategy": "immediate", "snapshot": service(&name)["spec"]}});
                rollouts.patch(&name, &pp, &Patch::Apply(r)).await.unwrap();
            }
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

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    sh(&["bash", &format!("{}/scripts/cluster.sh", repo()), "up"]);
    let kubeconfig = sh(&[
        "bash",
        &format!("{}/scripts/cluster.sh", repo()),
        "kubeconfig",
    ]);
    let kc = Kubeconfig::read_from(&kubeconfig).unwrap();
    let client = Client::try_from(
        Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .unwrap(),
    )
    .unwrap();
    let crds = format!("{}/crds/", repo());
    let bin = sh(&["bash", &format!("{}/scripts/cluster.sh", repo()), "env"]);
    let kubectl = bin
        .lines()
        .find_map(|l| l.strip_prefix("export PATH="))
        .map(|p| format!("{}/kubectl", p.trim_matches('"').split(':').next().unwrap()))
        .unwrap();
    sh(&[
        &kubectl,
        "--kubeconfig",
        &kubeconfig,
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        &crds,
    ]);

    let sizes: Vec<usize> = std::env::var("CHITTY_BENCH_SIZES")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut report = String::from(
        "# Rollout benchmark\n\n| services | all Ready | floor: bare client writes | ratio | bare client until Deployments available | ratio | GETs/service | writes/service | peak RSS | idle RSS | idle writes/min |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
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
    let dir = format!("{}/target/bench", repo());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(format!("{dir}/rollout.md"), &report).unwrap();
    println!("\n{report}");
}
