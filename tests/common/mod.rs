//! Harness for end-to-end tests: a real local control plane (brought up on first use), one
//! namespace per test, and the operator running in-process, watching only that namespace.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chitty_operator::config::OperatorConfig;
use chitty_operator::metrics::Metrics;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use prometheus_client::registry::Registry;
use serde::de::DeserializeOwned;

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The local cluster's kubeconfig, after making sure the cluster is up and the CRDs installed.
pub fn kubeconfig() -> &'static PathBuf {
    static KUBECONFIG: OnceLock<PathBuf> = OnceLock::new();
    KUBECONFIG.get_or_init(|| {
        run(Command::new("bash")
            .arg(repo().join("scripts/cluster.sh"))
            .arg("up"));
        let path = run(Command::new("bash")
            .arg(repo().join("scripts/cluster.sh"))
            .arg("kubeconfig"));
        let path = PathBuf::from(path.trim());
        kubectl_with(
            &path,
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "-f",
                &format!("{}/", repo().join("crds").display()),
            ],
        );
        kubectl_with(
            &path,
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "crd",
                "-l",
                "app.kubernetes.io/part-of=chitty-operator",
            ],
        );
        path
    })
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn kubectl_bin() -> PathBuf {
    let env = run(Command::new("bash")
        .arg(repo().join("scripts/cluster.sh"))
        .arg("env"));
    let path_line = env
        .lines()
        .find(|l| l.starts_with("export PATH="))
        .expect("cluster.sh env prints PATH");
    let dir = path_line
        .trim_start_matches("export PATH=")
        .trim_matches('"')
        .split(':')
        .next()
        .unwrap()
        .to_string();
    PathBuf::from(dir).join("kubectl")
}

/// A binary from the project's tool cache (kubectl, helm, ...): what `scripts/cluster.sh env`
/// puts first on PATH. Needs no running cluster.
pub fn tool(name: &str) -> PathBuf {
    kubectl_bin().with_file_name(name)
}

fn kubectl_with(kubeconfig: &Path, args: &[&str]) -> String {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    let bin = BIN.get_or_init(kubectl_bin);
    run(Command::new(bin)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args))
}

/// Runs the project's kubectl against the local cluster; panics on failure.
pub fn kubectl(args: &[&str]) -> String {
    kubectl_with(kubeconfig(), args)
}

/// Runs kubectl and returns (success, stdout + stderr), for commands expected to fail.
pub fn kubectl_try(args: &[&str]) -> (bool, String) {
    let bin = kubectl_bin();
    let out = Command::new(bin)
        .arg("--kubeconfig")
        .arg(kubeconfig())
        .args(args)
        .output()
        .expect("kubectl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

pub async fn kube_config() -> Config {
    let kc = Kubeconfig::read_from(kubeconfig()).expect("kubeconfig reads");
    Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig is valid")
}

/// A plain client for the test's own reads and writes.
pub async fn client() -> Client {
    Client::try_from(kube_config().await).expect("client builds")
}

/// A namespace of the test's own, deleted when the test ends.
pub struct TestNamespace {
    pub name: String,
}

impl TestNamespace {
    pub async fn create(client: &Client, prefix: &str) -> Self {
        let suffix: u32 = std::process::id()
            ^ (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos());
        let name = format!("{prefix}-{:x}", suffix % 0xffffff);
        let api: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(
            serde_json::json!({"metadata": {"name": name, "labels": {"chitty.cc/test": "true"}}}),
        )
        .unwrap();
        api.create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
        Self { name }
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if std::env::var_os("CHITTY_KEEP_NAMESPACES").is_none() {
            let _ = kubectl_try(&["delete", "namespace", &self.name, "--wait=false"]);
        }
    }
}

/// The operator running in-process for one namespace.
pub struct RunningOperator {
    pub metrics: Arc<Metrics>,
    /// Where its HTTP port (probes, metrics, read API, dashboard) listens.
    pub http: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl RunningOperator {
    pub async fn start(namespace: &str) -> Self {
        Self::start_with(namespace, |_| {}).await
    }

    /// Starts with the test's own changes to the default configuration.
    pub async fn start_with(namespace: &str, adjust: impl FnOnce(&mut OperatorConfig)) -> Self {
        Self::start_with_config(namespace, kube_config().await, adjust).await
    }

    /// Starts with a kube config of the test's own (e.g. one that impersonates a ServiceAccount).
    pub async fn start_with_config(
        namespace: &str,
        kube_config: Config,
        adjust: impl FnOnce(&mut OperatorConfig),
    ) -> Self {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        let client =
            chitty_operator::kube_client::from_config(kube_config, &metrics).expect("client");
        let mut config = OperatorConfig::defaults();
        config.namespace = Some(namespace.to_string());
        config.http_addr = "127.0.0.1:0".parse().unwrap();
        config.concurrency = 4;
        adjust(&mut config);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        // Bound here, so the test knows the port before the operator starts serving on it.
        let listener = tokio::net::TcpListener::bind(config.http_addr)
            .await
            .expect("the HTTP port binds");
        let http = listener.local_addr().unwrap();
        let handle = tokio::spawn(chitty_operator::operator::serve_on(
            listener,
            client,
            config,
            metrics.clone(),
            registry,
            shutdown,
        ));
        Self {
            metrics,
            http,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// `http://127.0.0.1:<port><path>` on the operator's HTTP port.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Stops the operator gracefully and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), handle).await;
        }
    }
}

impl Drop for RunningOperator {
    fn drop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.abort();
        }
    }
}

/// Polls until `check` accepts the object, or fails the test with the last state seen.
pub async fn wait_for<K, F>(api: &Api<K>, name: &str, what: &str, mut check: F) -> K
where
    K: Clone + DeserializeOwned + std::fmt::Debug + kube::Resource,
    F: FnMut(&K) -> bool,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        if let Ok(obj) = api.get(name).await {
            if check(&obj) {
                return obj;
            }
            last = Some(obj);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out waiting for {name}: {what}; last seen: {last:#?}");
}

/// Polls until `check` holds for the value `read` produces.
pub async fn eventually<T, Fut>(
    what: &str,
    mut read: impl FnMut() -> Fut,
    check: impl Fn(&T) -> bool,
) -> T
where
    Fut: std::future::Future<Output = T>,
    T: std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let value = read().await;
        if check(&value) {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}; last value: {value:#?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub async fn delete_namespace_now(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let _ = api.delete(name, &DeleteParams::default()).await;
}

pub mod health_server;
