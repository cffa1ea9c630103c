//! What the cluster benchmarks share: the local control plane, a client for it, namespaces, and
//! the operator binary run as a separate process (so its memory and requests are its own).

#![allow(dead_code)] // each bench uses its own part of this

pub mod cpu;
pub mod fleet;
pub mod floor;
pub mod tally;
pub mod timing;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::json;

pub fn repo() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

pub fn sh(args: &[&str]) -> String {
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

fn cluster(verb: &str) -> String {
    sh(&["bash", &format!("{}/scripts/cluster.sh", repo()), verb])
}

/// A new local control plane: the old one deleted and another brought up. At 10,000 services,
/// deleting a namespace takes the namespace controller far longer than this.
#[allow(dead_code)]
pub async fn fresh_cluster() -> (Client, String) {
    cluster("down");
    local_cluster().await
}

/// Brings the local control plane up (reusing a running one), installs the CRDs, and returns a
/// client and the kubeconfig path.
pub async fn local_cluster() -> (Client, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    cluster("up");
    let kubeconfig = cluster("kubeconfig");
    let kc = Kubeconfig::read_from(&kubeconfig).unwrap();
    let client = Client::try_from(
        Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .unwrap(),
    )
    .unwrap();
    let kubectl = cluster("env")
        .lines()
        .find_map(|l| l.strip_prefix("export PATH="))
        .map(|p| format!("{}/kubectl", p.trim_matches('"').split(':').next().unwrap()))
        .unwrap();
    let crds = format!("{}/crds/", repo());
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
    (client, kubeconfig)
}

pub async fn delete_namespace(client: &Client, name: &str) {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let _ = api.delete(name, &DeleteParams::default()).await;
    for _ in 0..600 {
        if api.get_opt(name).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Deletes a namespace and waits until it is gone, however long its objects take (at 10,000
/// services, longer than `delete_namespace` waits): its pods hold the nodes' slots until then.
pub async fn delete_namespace_and_wait(
    client: &Client,
    name: &str,
    timeout: Duration,
) -> Result<(), String> {
    delete_namespace(client, name).await;
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let started = std::time::Instant::now();
    while api
        .get_opt(name)
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        if started.elapsed() > timeout {
            return Err(format!(
                "namespace {name} still there {} s after its deletion",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

/// A fresh, empty namespace of this name.
pub async fn namespace(client: &Client, name: &str) {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    delete_namespace(client, name).await;
    let ns = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &ns).await.unwrap();
}

/// The operator binary, watching one namespace, with its HTTP port on `port`.
pub struct Operator {
    child: Child,
    pub base_url: String,
}

impl Operator {
    pub fn start(kubeconfig: &str, namespace: &str, port: u16, extra: &[&str]) -> Self {
        Self::start_logging(kubeconfig, namespace, port, extra, Stdio::null())
    }

    /// As `start`, with the operator's log (stderr, warnings and errors) going to `log`, so a
    /// process that refuses its flags says why.
    pub fn start_logging(
        kubeconfig: &str,
        namespace: &str,
        port: u16,
        extra: &[&str],
        log: Stdio,
    ) -> Self {
        let binary = env!("CARGO_BIN_EXE_chitty-operator");
        // CHITTY_BENCH_WRAP runs the operator under a profiler (`heaptrack`, `perf record --`);
        // the memory figures are then the wrapper's, not the operator's.
        let wrap = std::env::var("CHITTY_BENCH_WRAP").unwrap_or_default();
        let mut command = match wrap.split_whitespace().collect::<Vec<_>>().split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        let child = command
            .args([
                "run",
                "--namespace",
                namespace,
                "--http-addr",
                &format!("127.0.0.1:{port}"),
                "--log-format",
                "json",
                // The benches' health endpoint listens on loopback, refused by default.
                "--probe-allow-cidr",
                "127.0.0.1/32",
                // The benchmarks measure the operator's work, not the delegation of their hosts.
                "--route-policy",
                "open",
            ])
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("operator starts");
        Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Waits until the operator's caches have synced.
    pub async fn ready(&self, http: &reqwest::Client) {
        for _ in 0..300 {
            if http
                .get(format!("{}/readyz", self.base_url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the operator did not become ready within 30 s");
    }

    /// A `/proc/<pid>/status` memory field (`VmHWM:`, `VmRSS:`), in KiB.
    pub fn memory_kib(&self, field: &str) -> u64 {
        memory_kib_of(self.child.id(), field)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How the process ended, when it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Apiserver requests the operator has made so far: (GETs, everything else).
    pub async fn requests(&self, http: &reqwest::Client) -> (u64, u64) {
        let text = match http.get(format!("{}/metrics", self.base_url)).send().await {
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

    /// Each sample of the metrics whose names start with `prefix`, by its name and labels.
    pub async fn samples(&self, http: &reqwest::Client, prefix: &str) -> Vec<(String, f64)> {
        let text = match http.get(format!("{}/metrics", self.base_url)).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => return Vec::new(),
        };
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| {
                let (key, value) = l.rsplit_once(' ')?;
                Some((key.to_string(), value.parse().ok()?))
            })
            .collect()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `/proc/<pid>/status` memory field (`VmHWM:`, `VmRSS:`) of process `pid`, in KiB; 0 once it
/// has gone.
pub fn memory_kib_of(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Writes a report under `target/bench/` and prints it.
pub fn write_report(file: &str, report: &str) {
    std::fs::write(bench_dir().join(file), report).unwrap();
    println!("{report}");
}

/// Writes the figures behind a report under `target/bench/`, for tools that compare runs.
pub fn write_json(file: &str, figures: &serde_json::Value) {
    let text = serde_json::to_string_pretty(figures).unwrap();
    std::fs::write(bench_dir().join(file), text + "\n").unwrap();
}

pub fn bench_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(repo()).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The operator's apiserver writes per minute while nothing changes: `settle` for what is in
/// flight to finish, then a count over `window`.
pub async fn idle_writes_per_minute(
    operator: &Operator,
    http: &reqwest::Client,
    settle: Duration,
    window: Duration,
) -> f64 {
    tokio::time::sleep(settle).await;
    let (_, before) = operator.requests(http).await;
    tokio::time::sleep(window).await;
    let (_, after) = operator.requests(http).await;
    (after - before) as f64 * 60.0 / window.as_secs_f64()
}

/// The size a bench runs at: the first number among its arguments (`cargo bench --bench x -- 20`),
/// else the variable `var`, else `default`.
pub fn size(var: &str, default: usize) -> usize {
    std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .or_else(|| std::env::var(var).ok().and_then(|v| v.parse().ok()))
        .unwrap_or(default)
}

/// A health endpoint that always answers 200, for the operator's `--health-url-override`: the
/// pods of the local cluster are fake and answer nothing.
pub async fn health_server() -> String {
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(|| async { r#"{"status":"ok"}"# }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The ChittyService the rollout benchmarks create N of: one replica of a prebuilt image.
pub fn service(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService", "metadata": {"name": name},
        "spec": {"type": "worker", "version": "1.0.0", "environment": "staging", "replicas": 1,
                 "source": {"image": format!("registry.local/{name}:1.0.0")},
                 "health": {"interval": "2s", "timeout": "1s"}}
    })
}
