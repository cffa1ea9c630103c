//! What a standby forwards, and where, against the local control plane: the Lease names a pod,
//! and only a Ready pod with the replicas' labels is forwarded to, at its podIP and the replicas'
//! port; an address written into the Lease is never used, and the caller's token never leaves
//! the standby.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chitty_operator::config::OperatorConfig;
use common::{RunningOperator, TestEnv, replica_pod};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LEASE: &str = "chitty-operator";
const TOKEN: &str = "caller-secret-token";

/// A loopback server that records every request it gets and answers with an HTML body.
struct Capture {
    address: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Capture {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let requests = requests.clone();
            async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    let mut buffer = vec![0u8; 16 * 1024];
                    let read =
                        tokio::time::timeout(Duration::from_secs(2), socket.read(&mut buffer))
                            .await
                            .ok()
                            .and_then(Result::ok)
                            .unwrap_or(0);
                    requests
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buffer[..read]).into_owned());
                    let body = "{\"from\":\"capture\"}";
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                }
            }
        });
        Self {
            address,
            requests,
            task,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A Lease held, for an hour, by `holder`: the standby under test never acquires it.
async fn lease_held_by(client: &Client, ns: &str, holder: &str) {
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(jiff::Timestamp::now());
    let lease: Lease = serde_json::from_value(serde_json::json!({
        "metadata": {"name": LEASE},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 3600,
            "acquireTime": now,
            "renewTime": now,
        }
    }))
    .unwrap();
    Api::<Lease>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &lease)
        .await
        .unwrap();
}

/// A standby whose replicas' port is the capture server's: only the pod check stands between a
/// Lease writer and the capture server.
fn standby<'a>(ns: &'a str, peer_port: u16) -> impl FnOnce(&mut OperatorConfig) + 'a {
    move |config| {
        let election = &mut config.leader_election;
        election.enabled = true;
        election.lease_name = LEASE.into();
        election.lease_namespace = Some(ns.into());
        election.pod_name = Some("standby".into());
        election.peer_port = Some(peer_port);
    }
}

async fn get_with_token(operator: &RunningOperator, path: &str) -> reqwest::Response {
    chitty_operator::tls::install_default_provider();
    reqwest::Client::new()
        .get(operator.url(path))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
}

async fn wait_on_standby(operator: &RunningOperator) {
    common::eventually(
        "the replica is ready on standby",
        || async {
            reqwest::get(operator.url("/readyz"))
                .await
                .map(|r| r.status().as_u16())
                .ok()
        },
        |status| *status == Some(200),
    )
    .await;
}

#[tokio::test]
async fn a_lease_naming_a_capture_server_gets_no_request_and_no_token() {
    let env = TestEnv::without_operator("forward-capture").await;
    let (client, ns) = (&env.client, env.ns());
    let capture = Capture::start().await;
    // The holder's pod does not exist: the address after @ is all there is to go on.
    lease_held_by(client, ns, &format!("replica-x1y2z3@{}", capture.address)).await;
    let standby = RunningOperator::start_with(ns, standby(ns, capture.address.port())).await;
    wait_on_standby(&standby).await;

    let answer = get_with_token(&standby, "/api/services").await;
    assert_eq!(answer.status().as_u16(), 503, "no leader to forward to");

    // A pod of that name at 127.0.0.1, Ready, but without the replicas' labels.
    replica_pod::create_labelled(client, ns, "replica", serde_json::json!({"app": "other"})).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // past the standby's leader cache
    for path in ["/api/services", "/api/deploy/status"] {
        let answer = get_with_token(&standby, path).await;
        assert_eq!(answer.status().as_u16(), 503, "{path}: not forwarded");
    }
    get_with_token(&standby, "/.well-known/chitty.json").await;
    assert_eq!(
        capture.requests(),
        Vec::<String>::new(),
        "the capture server got no request"
    );
    standby.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_standby_forwards_to_a_ready_replica_pod_without_the_callers_token() {
    let env = TestEnv::without_operator("forward-replica").await;
    let (client, ns) = (&env.client, env.ns());
    let capture = Capture::start().await;
    replica_pod::create(client, ns, "replica").await;
    lease_held_by(client, ns, "replica-x1y2z3@198.51.100.1:1").await;
    let standby = RunningOperator::start_with(ns, standby(ns, capture.address.port())).await;
    wait_on_standby(&standby).await;

    let answer = get_with_token(&standby, "/api/services?limit=1").await;
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(answer.headers()["content-type"], "application/json");
    assert_eq!(answer.headers()["x-content-type-options"], "nosniff");
    assert_eq!(answer.text().await.unwrap(), "{\"from\":\"capture\"}");

    let requests = capture.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with("GET /api/services?limit=1 "),
        "{}",
        requests[0]
    );
    assert!(
        !requests[0].contains(TOKEN) && !requests[0].to_ascii_lowercase().contains("authorization"),
        "the caller's token stays on the standby: {}",
        requests[0]
    );
    standby.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_standby_of_a_closed_api_answers_503_with_retry_after_and_forwards_nothing() {
    let env = TestEnv::without_operator("forward-closed").await;
    let (client, ns) = (&env.client, env.ns());
    let capture = Capture::start().await;
    replica_pod::create(client, ns, "replica").await;
    lease_held_by(client, ns, "replica-x1y2z3").await;
    let standby = RunningOperator::start_with(ns, |config| {
        standby(ns, capture.address.port())(config);
        config.web.api_token = Some(TOKEN.to_string().into());
    })
    .await;
    wait_on_standby(&standby).await;

    let answer = get_with_token(&standby, "/api/services").await;
    assert_eq!(answer.status().as_u16(), 503);
    assert_eq!(answer.headers()["retry-after"], "1");
    assert!(
        capture.requests().is_empty(),
        "a request that needs credentials is not forwarded"
    );
    standby.stop().await;
    env.teardown().await;
}
