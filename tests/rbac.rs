//! Least privilege, for real: the chart is installed into the local cluster, the operator runs
//! in-process as the chart's ServiceAccount (impersonated), a full scenario converges, no write of
//! it is refused, and what the account may do equals tests/rbac/expected-can-i.txt.

mod common;
#[path = "packaging/support.rs"]
mod support;

use std::io::BufRead;

use common::health_server::HealthServer;
use common::manifest::ServiceManifest;
use common::{RunningOperator, TestEnv, TestNamespace};
use serde_json::json;
use support::*;

/// A fixed release name: ClusterRole names and the Lease name in the expected list derive from it.
const RELEASE: &str = "chitty-rbac-test";

/// The chart's full name for RELEASE: its ServiceAccount, ClusterRole and Lease are so named.
const FULLNAME: &str = "chitty-rbac-test-chitty-operator";

/// Deletes the cluster-scoped objects of the test install (its namespace goes with TestNamespace).
struct ClusterScopedCleanup;

impl Drop for ClusterScopedCleanup {
    fn drop(&mut self) {
        let _ = common::kubectl_try(&[
            "delete",
            "clusterrole,clusterrolebinding",
            FULLNAME,
            "--ignore-not-found",
        ]);
        let _ = common::kubectl_try(&[
            "delete",
            "validatingadmissionpolicy,validatingadmissionpolicybinding",
            &format!("{FULLNAME}-pod-security"),
            "--ignore-not-found",
        ]);
    }
}

/// `kubectl auth can-i --list` as the account in `namespace`, one normalised line per row
/// (whitespace collapsed, rows sorted), header first.
fn can_i(account: &str, namespace: &str) -> Vec<String> {
    let out = common::kubectl(&["auth", "can-i", "--list", "--as", account, "-n", namespace]);
    let mut lines = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
    let header = lines.next().expect("a header row");
    let mut rows: Vec<String> = lines.filter(|l| !l.is_empty()).collect();
    rows.sort();
    std::iter::once(header).chain(rows).collect()
}

/// The expected list's sections (`# <name>` lines, then rows).
fn expected_sections() -> Vec<(String, Vec<String>)> {
    let path = common::repo().join("tests/rbac/expected-can-i.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            sections.push((name.trim().to_string(), Vec::new()));
        } else if line.starts_with('#') || line.trim().is_empty() {
            continue;
        } else {
            let row = line.split_whitespace().collect::<Vec<_>>().join(" ");
            sections.last_mut().expect("a section first").1.push(row);
        }
    }
    sections
}

/// Lines the audit log got after `from` (a line count) for requests made as `account` and
/// refused (403).
fn refused_writes(account: &str, from: usize) -> Vec<String> {
    let file = std::fs::File::open(common::audit_log()).unwrap();
    std::io::BufReader::new(file)
        .lines()
        .skip(from)
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(&line).ok())
        .filter(|e| e["impersonatedUser"]["username"] == account)
        .filter(|e| e["responseStatus"]["code"] == 403)
        .map(|e| {
            format!(
                "{} {} {}",
                e["verb"], e["objectRef"]["resource"], e["objectRef"]["subresource"]
            )
        })
        .collect()
}

/// What the operator's `/metrics` says the API server refused it (403), reads included: the
/// audit log records writes only, and a refused watch is only retried, never fatal.
async fn refused_by_the_api(operator: &RunningOperator) -> Vec<String> {
    chitty_operator::tls::install_default_provider();
    let body = reqwest::get(operator.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.lines()
        .filter(|l| l.starts_with("chitty_kube_refused_requests_total{"))
        .filter(|l| l.rsplit_once(' ').is_some_and(|(_, n)| n != "0"))
        .map(str::to_string)
        .collect()
}

/// The service at `version`: from an image, or (`from_git`) built from git by a build Job.
fn service(version: &str, from_git: bool, health: &str, host: &str) -> ServiceManifest {
    let manifest = common::service("chittyrental")
        .version(version)
        .replicas(1)
        .routes(json!([{"host": host}]))
        .health(health);
    if from_git { manifest.git() } else { manifest }
}

/// Applies the service and waits until it is Ready at its version.
async fn converge(env: &TestEnv, manifest: ServiceManifest) {
    env.apply(&manifest).await;
    env.wait_ready_at("chittyrental", manifest.spec_version())
        .await;
}

#[tokio::test]
async fn the_operator_runs_on_exactly_the_charts_permissions() {
    // The operator runs as the chart's account, so the environment runs none of its own.
    let env = TestEnv::without_operator("rbac-apps").await;
    let release_ns = TestNamespace::create(&env.client, "rbac-operator").await;
    let apps_ns = &env.ns;
    let account = format!("system:serviceaccount:{}:{FULLNAME}", release_ns.name);

    // The whole chart (not only its RBAC): the pods must pass the restricted Pod Security level.
    common::kubectl(&[
        "label",
        "namespace",
        &release_ns.name,
        "pod-security.kubernetes.io/enforce=restricted",
    ]);
    let rendered = helm_template(RELEASE, &release_ns.name, &[]);
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("chart.yaml");
    std::fs::write(&manifest, &rendered).unwrap();
    let _cleanup = ClusterScopedCleanup;
    common::kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=chitty-rbac-test",
        "-f",
        manifest.to_str().unwrap(),
    ]);
    let docs = documents(&rendered);
    assert_pod_template_admitted(only(&docs, "Deployment"), &release_ns.name);

    // What the account may do, next to the checked-in list.
    let sections = expected_sections();
    let expected = |name: &str| {
        sections
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("section '{name}' in tests/rbac/expected-can-i.txt"))
            .1
            .clone()
    };
    let mut in_apps = expected("in a watched namespace");
    let mut in_release = expected("in the release namespace");
    in_apps[1..].sort();
    in_release[1..].sort();
    assert_eq!(
        can_i(&account, &apps_ns.name),
        in_apps,
        "permissions in a watched namespace; update tests/rbac/expected-can-i.txt only with the RBAC"
    );
    assert_eq!(
        can_i(&account, &release_ns.name),
        in_release,
        "permissions in the release namespace (adds the leader Lease)"
    );

    // The operator, as that account, with leader election on the chart's Lease.
    let from_line = common::audit_lines();
    let mut config = common::kube_config().await;
    config.auth_info.impersonate = Some(account.clone());
    let lease_namespace = release_ns.name.clone();
    let operator = RunningOperator::start_with_config(&apps_ns.name, config, move |c| {
        c.leader_election.enabled = true;
        c.leader_election.lease_name = FULLNAME.into();
        c.leader_election.lease_namespace = Some(lease_namespace);
    })
    .await;

    let health = HealthServer::start().await;
    let host = format!("{}.rbac.chitty.cc", apps_ns.name);
    // Deployment, Service, RouteClaim, Ingress, status, events; then a build Job and its pods.
    converge(&env, service("1.0.0", false, &health.url, &host)).await;
    converge(&env, service("1.1.0", true, &health.url, &host)).await;
    env.services
        .delete("chittyrental", &Default::default())
        .await
        .unwrap();
    common::wait::wait_gone(
        &env.services,
        "chittyrental",
        "the service's finalizer ran and it is gone",
    )
    .await;

    assert!(operator.metrics.leading.get() == 1, "it held the Lease");
    let refused = {
        let account = account.clone();
        tokio::task::spawn_blocking(move || refused_writes(&account, from_line))
            .await
            .unwrap()
    };
    assert!(
        refused.is_empty(),
        "writes the chart's RBAC refused: {refused:?}"
    );
    let refused = refused_by_the_api(&operator).await;
    assert!(
        refused.is_empty(),
        "requests the chart's RBAC refused: {refused:?}"
    );
    operator.stop().await;
    release_ns.delete_and_wait(&env.client).await;
    env.teardown().await;
}
