//! Operator processes for the sharding tests: each shard a real process (so it can be killed),
//! identified in the audit log by its user agent.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chitty_operator::api::ChittyService;
use chitty_operator::api::conditions::types;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::common;

/// Lease timing short enough for the takeover to happen within a test, long enough that a busy
/// two-core machine does not make a healthy shard miss a renewal.
pub const LEASE_DURATION: &str = "15s";
pub const RENEW_MARGIN: &str = "6s";
pub const TAKEOVER_AFTER: &str = "5s";
pub const LEASE: &str = "chitty";

/// One shard's process.
pub struct Shard {
    pub index: u16,
    child: Child,
    pub base_url: String,
}

/// What every shard of one test shares.
pub struct Fleet {
    pub namespace: String,
    pub lease_namespace: String,
    pub count: u16,
    pub health: String,
}

impl Fleet {
    /// Starts shard `index` under the pod name `pod` (the pod of a Deployment, as in a cluster).
    pub fn start(&self, index: u16, pod: &str) -> Shard {
        let port = free_port();
        let child = self
            .command(index, port, pod)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the operator starts");
        Shard {
            index,
            child,
            base_url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The command line of shard `index`, for tests that read its exit.
    pub fn command(&self, index: u16, port: u16, pod: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chitty-operator"));
        command
            .args(["run", "--namespace", &self.namespace])
            .args(["--http-addr", &format!("127.0.0.1:{port}")])
            .args(["--log-format", "json", "--route-policy", "open"])
            .args(["--health-url-override", &self.health])
            .args(["--probe-allow-cidr", "127.0.0.1/32"])
            .args(["--leader-elect", "true", "--lease-name", LEASE])
            .args(["--lease-namespace", &self.lease_namespace])
            .args(["--lease-duration", LEASE_DURATION])
            .args(["--lease-renew-margin", RENEW_MARGIN])
            .args(["--shard-count", &self.count.to_string()])
            .args(["--shard-index", &index.to_string()])
            .args(["--shard-takeover-after", TAKEOVER_AFTER])
            .env("KUBECONFIG", common::kubeconfig())
            .env("POD_NAME", pod)
            .env("RUST_LOG", "info");
        command
    }
}

impl Shard {
    /// Waits until the process answers ready (leading with synced caches, or standing by).
    pub async fn ready(&self, http: &reqwest::Client) {
        let url = format!("{}/readyz", self.base_url);
        common::wait::eventually_within(
            &format!("shard {} ready", self.index),
            Duration::from_secs(120),
            || async {
                http.get(&url)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            },
            |code| *code == 200,
        )
        .await;
    }

    /// Waits until the process's `chitty_shard_paused` gauge reads `paused`: it holds its Lease
    /// but does not work, because another shard count is live (or works again).
    pub async fn paused(&self, http: &reqwest::Client, paused: bool) {
        let url = format!("{}/metrics", self.base_url);
        let want = format!("chitty_shard_paused {}", u8::from(paused));
        common::wait::eventually_within(
            &format!(
                "shard {} {}",
                self.index,
                if paused { "paused" } else { "working" }
            ),
            Duration::from_secs(90),
            || async {
                let text = match http.get(&url).send().await {
                    Ok(response) => response.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                text.lines().any(|line| line == want)
            },
            |found| *found,
        )
        .await;
    }

    /// SIGKILL: the process stops at once, its Leases unreleased, as when a node dies.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The user agent of shard `index` of `count`, as the operator sends it.
pub fn agent(index: u16, count: u16) -> String {
    format!(
        "{} (shard {index} of {count})",
        chitty_operator::kube_client::AGENT
    )
}

/// The audit log's write events in `namespace`, from line `from` on: (user agent, resource,
/// subresource, name, response code).
pub fn audited_writes(namespace: &str, from: usize) -> Vec<(String, String, String, String, i64)> {
    let text = std::fs::read_to_string(common::audit_log()).unwrap_or_default();
    text.lines()
        .skip(from)
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|e| e["objectRef"]["namespace"] == namespace)
        .map(|e| {
            let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            (
                s(&e["userAgent"]),
                s(&e["objectRef"]["resource"]),
                s(&e["objectRef"]["subresource"]),
                s(&e["objectRef"]["name"]),
                e["responseStatus"]["code"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

/// Which user agents wrote each service's objects (its own, its rollouts, its Deployment and
/// Service, its claims; claim statuses are the route rule's, checked apart).
pub fn writers(
    namespace: &str,
    from: usize,
    names: &BTreeSet<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_service: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (agent, resource, subresource, object, _) in audited_writes(namespace, from) {
        if !agent.contains("chitty-operator") || resource == "leases" || resource == "events" {
            continue;
        }
        if resource == "routeclaims" && subresource == "status" {
            continue;
        }
        // Rollouts and claims are named after their service: `<service>-<suffix>`.
        let owner = names
            .iter()
            .find(|s| object == **s || object.starts_with(&format!("{s}-")));
        if let Some(owner) = owner {
            by_service.entry(owner.clone()).or_default().insert(agent);
        }
    }
    by_service
}

pub async fn lease_holder(leases: &Api<Lease>, name: &str) -> String {
    leases
        .get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec?.holder_identity)
        .unwrap_or_default()
}

/// Rolled out at `version`: Ready, or (the loser of a contested host) serving but refused its
/// route, which is the route rule's verdict and not a failure of the shard.
fn ready_at(s: &ChittyService, version: &str) -> bool {
    s.spec.version == version
        && s.status.as_ref().is_some_and(|st| {
            let ready = st.conditions.iter().find(|c| c.type_ == types::READY);
            st.observed_generation == s.metadata.generation
                && ready.is_some_and(|c| c.status == "True" || c.reason == "RouteConflict")
        })
}

/// Waits until every named service is Ready at `version`.
pub async fn all_ready(services: &Api<ChittyService>, names: &BTreeSet<String>, version: &str) {
    common::wait::eventually_within(
        &format!("{} services Ready at {version}", names.len()),
        Duration::from_secs(1200),
        || async {
            let list = services.list(&ListParams::default()).await.unwrap();
            (list.items.iter())
                .filter(|s| names.contains(&s.name_any()) && ready_at(s, version))
                .count()
        },
        |ready| *ready == names.len(),
    )
    .await;
}

/// Sets `spec.version` of every named service.
pub async fn bump(services: &Api<ChittyService>, names: &BTreeSet<String>, version: &str) {
    for name in names {
        let patch = json!({"spec": {"version": version}});
        services
            .patch(name, &Default::default(), &kube::api::Patch::Merge(patch))
            .await
            .unwrap();
    }
}
