//! Operator processes for the sharding tests: each shard a real process (so it can be killed),
//! identified in the audit log by its user agent.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
