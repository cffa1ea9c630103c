//! Harness for end-to-end tests: a real local control plane (brought up on first use), one
//! namespace per test, and the operator running in-process, watching only that namespace.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::DeleteParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

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

pub async fn delete_namespace_now(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let _ = api.delete(name, &DeleteParams::default()).await;
}

/// An HTTP client for the test's own calls (chitty-sim, the operator's port), with the TLS
/// provider installed that reqwest needs.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Where the local apiserver writes its audit log (JSON lines, writes only; see
/// hack/audit-policy.yaml).
pub fn audit_log() -> PathBuf {
    let out = run(Command::new("bash")
        .arg(repo().join("scripts/cluster.sh"))
        .arg("audit-log"));
    PathBuf::from(out.trim())
}

/// How many lines the audit log has now: later lines are what a test caused.
pub fn audit_lines() -> usize {
    std::fs::read_to_string(audit_log())
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

pub mod env;
pub mod health_server;
pub mod manifest;
pub mod replica_pod;
pub mod sim_admin;
pub mod verdicts;
pub mod wait;

// Each test binary compiles this module and uses only some of these names.
#[allow(unused_imports)]
pub use env::{RunningOperator, TestEnv, TestNamespace};
#[allow(unused_imports)]
pub use manifest::service;
#[allow(unused_imports)]
pub use wait::{eventually, wait_for};
