//! The identity, register and notify steps against the chitty-sim stand-in over real HTTP,
//! with the operator running against the local control plane.

mod common;

use common::http;
use common::sim_admin::{set_fault, stats};

use std::time::Duration;

use chitty_operator::api::conditions::{self, types};
use chitty_operator::api::{ChittyDeployment, ChittyService, DeploymentPhase};
use chitty_operator::clients::SecretToken;
use chitty_operator::clients::chitty_id::format::ChittyId;
use chitty_operator::config::{OperatorConfig, Webhook};
use chitty_operator::sim::{self, SimConfig, SimHandle};
use common::health_server::HealthServer;
use common::manifest::ServiceManifest;
use common::{TestEnv, service};
use k8s_openapi::api::core::v1::Event;
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use serde_json::{Value, json};

const TOKEN: &str = "sim-token";

/// The operator's configuration with every ecosystem client pointed at the stand-in.
fn wired(
    sim: &SimHandle,
    registry_token: &'static str,
) -> impl Fn(&mut OperatorConfig, &str) + Send + Sync + 'static {
    let url = sim.base_url();
    move |config, _| {
        let eco = &mut config.ecosystem;
        eco.chitty_id_url = Some(url.clone());
        eco.chitty_id_token = Some(SecretToken::new(TOKEN));
        eco.registry_url = Some(url.clone());
        eco.registry_token = Some(SecretToken::new(registry_token));
        eco.notify_webhooks = vec![
            Webhook {
                name: "contextconsciousness".into(),
                url: format!("{url}/notify/contextconsciousness"),
            },
            // A receiver that is not there: it must never hold or fail a rollout.
            Webhook {
                name: "gone".into(),
                url: "http://127.0.0.1:9/notify".into(),
            },
        ];
        eco.timeout = Duration::from_secs(2);
        eco.retire_timeout = Duration::from_secs(3);
    }
}

/// A production service with an identity and a capability, probed at `health`.
fn manifest(name: &str, version: &str, health: &HealthServer) -> ServiceManifest {
    service(name)
        .version(version)
        .environment("production")
        .set("capabilities", json!(["payments"]))
        .set("identity", json!({"jurisdiction": "USA", "region": 1}))
        .health_spec(json!({"url": health.url, "interval": "1s", "timeout": "1s"}))
}

fn chitty_id(s: &ChittyService) -> String {
    s.status
        .as_ref()
        .and_then(|st| st.chitty_id.clone())
        .expect("a ChittyID is recorded")
}

#[tokio::test]
async fn a_service_gets_one_valid_chittyid_for_life() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let health = HealthServer::start().await;
    let env = TestEnv::with("identity", wired(&sim, TOKEN)).await;
    env.apply(&manifest("chittycharge", "1.2.3", &health)).await;
    let first = chitty_id(&env.wait_ready_at("chittycharge", "1.2.3").await);
    let parsed: ChittyId = first
        .parse()
        .expect("the recorded ID validates (format and mod-97)");
    assert_eq!(
        parsed.entity_type(),
        chitty_operator::clients::chitty_id::format::EntityType::Thing
    );

    env.apply(&manifest("chittycharge", "1.3.0", &health)).await;
    let second = chitty_id(&env.wait_ready_at("chittycharge", "1.3.0").await);
    assert_eq!(first, second, "later rollouts reuse the ID");
    assert_eq!(stats(&sim).await["id"]["idsMinted"], 1);
    let svc = env.services.get("chittycharge").await.unwrap();
    assert!(conditions::is_true(
        &svc.status.unwrap().conditions,
        types::IDENTITY_READY
    ));
    env.teardown().await;
}

#[tokio::test]
async fn a_crash_between_mint_and_record_mints_no_second_id() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let health = HealthServer::start().await;
    // The authority mints at once but answers late, so the operator dies after the ID exists
    // and before it could record it.
    set_fault(
        &sim,
        "id",
        json!({"mode": "slowreply", "latencyMs": 1500, "count": 1}),
    )
    .await;
    let mut env = TestEnv::with("mint-crash", wired(&sim, TOKEN)).await;
    env.apply(&manifest("chittyfinance", "1.2.0", &health))
        .await;
    common::eventually(
        "the mint call reached the authority",
        || stats(&sim),
        |s| s["id"]["mintCalls"].as_u64() >= Some(1),
    )
    .await;
    env.kill_operator(); // mid-call: the result is never recorded

    let svc = env.services.get("chittyfinance").await.unwrap();
    assert!(
        svc.status.and_then(|s| s.chitty_id).is_none(),
        "nothing was recorded before the kill"
    );
    env.start_operator().await;
    let id = chitty_id(&env.wait_ready_at("chittyfinance", "1.2.0").await);
    let s = stats(&sim).await;
    assert_eq!(
        s["id"]["idsMinted"], 1,
        "one identity, however often the mint was sent: {s}"
    );
    assert!(
        s["id"]["idempotentReplays"].as_u64() >= Some(1),
        "the retry replayed the same key: {s}"
    );
    id.parse::<ChittyId>().unwrap();
    env.teardown().await;
}

#[tokio::test]
async fn fallback_ids_are_never_recorded_and_the_condition_says_why() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let health = HealthServer::start().await;
    set_fault(&sim, "id", json!({"mode": "fallback", "count": 1000})).await;
    let env = TestEnv::with("fallback", wired(&sim, TOKEN)).await;
    env.apply(&manifest("chittyrental", "0.9.0", &health)).await;
    let waiting = common::wait_for(
        &env.services,
        "chittyrental",
        "IdentityReady=False",
        |s: &ChittyService| {
            s.status.as_ref().is_some_and(|st| {
                conditions::find(&st.conditions, types::IDENTITY_READY)
                    .is_some_and(|c| c.status == "False")
            })
        },
    )
    .await;
    let st = waiting.status.unwrap();
    assert!(st.chitty_id.is_none(), "an error ID is not an identity");
    let c = conditions::find(&st.conditions, types::IDENTITY_READY).unwrap();
    assert_eq!(c.reason, "AuthorityUnavailable", "{c:?}");

    set_fault(&sim, "id", json!({"mode": "none"})).await;
    let id = chitty_id(&env.wait_ready_at("chittyrental", "0.9.0").await);
    assert!(!id.contains("ERR"));
    env.teardown().await;
}

#[tokio::test]
async fn the_registry_record_follows_the_service_and_is_retired_on_delete() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let health = HealthServer::start().await;
    let env = TestEnv::with("registry", wired(&sim, TOKEN)).await;
    env.apply(&manifest("chittyregistry", "1.0.4", &health))
        .await;
    let id = chitty_id(&env.wait_ready_at("chittyregistry", "1.0.4").await);
    let record = |id: String| {
        let url = format!("{}/api/v1/tools/{id}", sim.base_url());
        async move { http().get(url).send().await.unwrap() }
    };
    let body: Value = record(id.clone()).await.json().await.unwrap();
    let tool = if body.get("tool").is_some() {
        body["tool"].clone()
    } else {
        body.clone()
    };
    assert_eq!(tool["version"], "1.0.4", "{body}");
    assert_eq!(tool["subtype"], "service");
    assert!(
        tool["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().ends_with("/health"))
    );

    env.apply(&manifest("chittyregistry", "1.0.5", &health))
        .await;
    env.wait_ready_at("chittyregistry", "1.0.5").await;
    let body: Value = record(id.clone()).await.json().await.unwrap();
    let tool = if body.get("tool").is_some() {
        body["tool"].clone()
    } else {
        body.clone()
    };
    assert_eq!(tool["version"], "1.0.5");

    env.services
        .delete("chittyregistry", &DeleteParams::default())
        .await
        .unwrap();
    let _gone = common::eventually(
        "the service is gone",
        || env.services.get_opt("chittyregistry"),
        |r| matches!(r, Ok(None)),
    )
    .await;
    assert_eq!(record(id).await.status(), 404, "the record was retired");
    env.teardown().await;
}

#[tokio::test]
async fn deletion_does_not_hang_on_an_unreachable_registry() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let health = HealthServer::start().await;
    let env = TestEnv::with("orphan", wired(&sim, TOKEN)).await;
    env.apply(&manifest("chittyverify", "1.0.0", &health)).await;
    env.wait_ready_at("chittyverify", "1.0.0").await;
    set_fault(&sim, "registry", json!({"mode": "error", "status": 503})).await;
    env.services
        .delete("chittyverify", &DeleteParams::default())
        .await
        .unwrap();
    let _gone = common::eventually(
        "deletion completes after the bounded wait",
        || env.services.get_opt("chittyverify"),
        |r| matches!(r, Ok(None)),
    )
    .await;
    let events: Api<Event> = Api::namespaced(env.client.clone(), env.ns());
    let all = events.list(&ListParams::default()).await.unwrap().items;
    assert!(
        all.iter()
            .any(|e| e.reason.as_deref() == Some("RegistryRecordOrphaned")),
        "an Event records the orphan"
    );
    env.teardown().await;
}

#[tokio::test]
async fn a_read_only_registry_token_is_reported_and_does_not_block_forever() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let health = HealthServer::start().await;
    let env = TestEnv::with("readonly", wired(&sim, "wrong-token")).await;
    env.apply(&manifest("chittyauth", "3.0.0", &health)).await;
    let svc = common::wait_for(
        &env.services,
        "chittyauth",
        "Registered=False",
        |s: &ChittyService| {
            s.status.as_ref().is_some_and(|st| {
                conditions::find(&st.conditions, types::REGISTERED)
                    .is_some_and(|c| c.status == "False")
            })
        },
    )
    .await;
    let c = conditions::find(&svc.status.unwrap().conditions, types::REGISTERED)
        .unwrap()
        .clone();
    assert!(
        ["RegistryReadOnly", "RegistryUnauthorized"].contains(&c.reason.as_str()),
        "{c:?}"
    );
    assert!(
        !c.message.contains("wrong-token"),
        "the token never appears in status"
    );
    env.teardown().await;
}

#[tokio::test]
async fn deploys_are_announced_once_per_event_and_a_dead_receiver_blocks_nothing() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let health = HealthServer::start().await;
    let env = TestEnv::with("notify", wired(&sim, TOKEN)).await;
    env.apply(&manifest("chittychronicle", "2.0.0", &health))
        .await;
    let svc = env.wait_ready_at("chittychronicle", "2.0.0").await;
    let received: Value = http()
        .get(format!("{}/notify/contextconsciousness", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = received.get("events").cloned().unwrap_or(received.clone());
    let list = events.as_array().expect("a list of events");
    let deployed: Vec<&Value> = list
        .iter()
        .map(|e| e.get("event").filter(|v| v.is_object()).unwrap_or(e))
        .filter(|e| e["event"] == "service_deployed")
        .collect();
    assert_eq!(deployed.len(), 1, "{received}");
    let e = deployed[0];
    assert_eq!(e["name"], "chittychronicle");
    assert_eq!(e["version"], "2.0.0");
    assert_eq!(e["environment"], "production");
    assert_eq!(e["chittyId"], json!(chitty_id(&svc)));
    let rollouts: Api<ChittyDeployment> = Api::namespaced(env.client.clone(), env.ns());
    let r = rollouts
        .get(
            svc.status
                .as_ref()
                .unwrap()
                .current_deployment
                .as_ref()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        r.status.as_ref().unwrap().phase,
        Some(DeploymentPhase::Succeeded)
    );
    let notify = r
        .status
        .unwrap()
        .steps
        .into_iter()
        .find(|s| s.name == "notify")
        .unwrap();
    assert_eq!(notify.message.as_deref(), Some("notified 1 of 2 receivers"));
    env.teardown().await;
}

#[tokio::test]
async fn a_registry_failing_half_its_calls_still_converges() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let health = HealthServer::start().await;
    set_fault(
        &sim,
        "registry",
        json!({"mode": "error", "status": 503, "rate": 0.5}),
    )
    .await;
    let env = TestEnv::with("flaky-registry", wired(&sim, TOKEN)).await;
    for name in ["chittyledger", "chittycases", "chittyevidence"] {
        env.apply(&manifest(name, "1.0.0", &health)).await;
    }
    let mut ids = Vec::new();
    for name in ["chittyledger", "chittycases", "chittyevidence"] {
        let svc = common::wait_for(
            &env.services,
            name,
            "Ready and Registered",
            |s: &ChittyService| {
                s.status.as_ref().is_some_and(|st| {
                    conditions::is_true(&st.conditions, types::READY)
                        && conditions::is_true(&st.conditions, types::REGISTERED)
                })
            },
        )
        .await;
        ids.push((name, chitty_id(&svc)));
    }
    set_fault(&sim, "registry", json!({"mode": "none"})).await; // so the test's own reads are not refused
    for (name, id) in ids {
        let r = http()
            .get(format!("{}/api/v1/tools/{id}", sim.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name} is in the registry");
    }
    assert_eq!(stats(&sim).await["id"]["idsMinted"], 3);
    env.teardown().await;
}

#[tokio::test]
async fn the_mint_rate_limit_holds_when_two_hundred_services_arrive_at_once() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let health = HealthServer::start().await;
    let (per_minute, burst) = (30u64, 5u64);
    let wire = wired(&sim, TOKEN);
    let env = TestEnv::with("mint-rate", move |c, ns| {
        wire(c, ns);
        c.ecosystem.mint_rate_per_minute = per_minute as u32;
        c.ecosystem.mint_burst = burst as u32;
        c.ecosystem.notify_webhooks.clear();
        c.concurrency = 16;
    })
    .await;
    let started = std::time::Instant::now();
    // One kubectl apply for all 200, so they arrive at once.
    let items: Vec<Value> = (0..200)
        .map(|i| {
            service(&format!("svc-{i:03}"))
                .image(&format!("registry.local/s:{i}"))
                .health_spec(json!({"url": health.url, "interval": "1s"}))
                .to_json()
        })
        .collect();
    let file = std::env::temp_dir().join(format!("mint-rate-{}.json", env.ns()));
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(&file, list.to_string()).unwrap();
    common::kubectl(&["apply", "-n", env.ns(), "-f", &file.to_string_lossy()]);
    let first = common::eventually(
        "mints begin",
        || stats(&sim),
        |s| s["id"]["idsMinted"].as_u64() >= Some(1),
    )
    .await;
    drop(first);
    tokio::time::sleep(Duration::from_secs(12)).await;
    let minted = stats(&sim).await["id"]["idsMinted"].as_u64().unwrap();
    let allowed =
        burst + (started.elapsed().as_secs_f64() * per_minute as f64 / 60.0).ceil() as u64;
    assert!(minted >= burst, "the burst is used: {minted}");
    assert!(
        minted <= allowed,
        "{minted} mints in {:?}, the limit allows {allowed}",
        started.elapsed()
    );
    let waiting = env
        .services
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let limited = waiting
        .iter()
        .filter(|s| {
            s.status.as_ref().is_some_and(|st| {
                conditions::find(&st.conditions, types::IDENTITY_READY)
                    .is_some_and(|c| c.reason == "RateLimited")
            })
        })
        .count();
    assert!(limited > 0, "services waiting on the limit say so");
    let _ = std::fs::remove_file(file);
    env.teardown().await;
}

#[tokio::test]
async fn tokens_never_appear_in_logs_status_or_events() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    const SECRET: &str = "tok-9f8e7d6c5b4a";
    let mut env = TestEnv::without_operator("no-token").await;
    let health = HealthServer::start().await;
    let sim = sim::spawn_local(SimConfig {
        token: SecretToken::new(SECRET),
        ..Default::default()
    })
    .await
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chitty-operator"))
        .args([
            "run",
            "--namespace",
            env.ns(),
            "--http-addr",
            &format!("127.0.0.1:{port}"),
        ])
        .env("KUBECONFIG", common::kubeconfig())
        .env("RUST_LOG", "debug")
        .env("CHITTY_ID_URL", sim.base_url())
        .env("CHITTY_ID_TOKEN", SECRET)
        .env("CHITTY_REGISTRY_URL", sim.base_url())
        .env("CHITTY_REGISTRY_TOKEN", SECRET)
        // The health server listens on loopback, which probes refuse by default.
        .env("CHITTY_PROBE_ALLOW_CIDRS", "127.0.0.1/32")
        // The cluster is shared by the tests; none delegates this one's hosts.
        .env("CHITTY_ROUTE_POLICY", "open")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut logs = String::new();
        let _ = stdout.read_to_string(&mut logs);
        logs
    });
    env.apply(&manifest("chittycanon", "1.0.0", &health)).await;
    let svc = env.wait_ready_at("chittycanon", "1.0.0").await;
    assert!(svc.status.as_ref().unwrap().chitty_id.is_some());
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let logs = reader.join().unwrap();
    assert!(logs.len() > 1000, "debug logs were captured");
    assert!(!logs.contains(SECRET), "a token leaked into the logs");
    let everything = common::kubectl(&[
        "get",
        "chittyservices,chittydeployments,events",
        "-n",
        env.ns(),
        "-o",
        "yaml",
    ]);
    assert!(
        !everything.contains(SECRET),
        "a token leaked into status or events"
    );
    // The service's registry finalizer needs an operator to release it before the namespace
    // can go: an in-process one, holding the same registry token.
    env.configure(wired(&sim, SECRET));
    env.start_operator().await;
    env.teardown().await;
}
