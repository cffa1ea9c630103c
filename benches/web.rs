//! The read API with 10,000 ChittyServices cached: latency (p50, p99) of a page of
//! `/api/deploy/status`, of `/api/services` and of the full `/.well-known/chitty.json` under
//! concurrent load from a local client, and the process's memory. The caches are reflector
//! stores filled in memory (no cluster); the router is the operator's own, on loopback.
//!
//! `cargo bench --bench web` (plain `main`, `harness = false`)

use std::sync::Arc;
use std::time::{Duration, Instant};

use chitty_operator::api::{ChittyDeployment, ChittyService};
use chitty_operator::controller::CachedRollout;
use chitty_operator::controller::packed::Packed;
use chitty_operator::web::{self, WebState, auth::ApiAuth};
use kube::runtime::reflector::store;
use kube::runtime::watcher::Event;
use serde_json::json;

const SERVICES: usize = 10_000;
const NAMESPACES: usize = 50;
/// Every tenth service is rolling out; every twentieth has a rolled-back rollout in its history.
const ROLLING_EVERY: usize = 10;
const CONCURRENCY: usize = 8;
const REQUESTS_PER_TASK: usize = 250;

fn service(i: usize) -> ChittyService {
    let name = format!("svc-{i:05}");
    let ns = format!("team-{:02}", i % NAMESPACES);
    let rolling = i.is_multiple_of(ROLLING_EVERY);
    serde_json::from_value(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{i}"),
                     "resourceVersion": format!("{}", 1000 + i), "generation": 2,
                     "creationTimestamp": "2026-05-01T00:00:00Z"},
        "spec": {"type": "worker", "version": "1.4.2",
                 "environment": if i.is_multiple_of(3) { "production" } else { "staging" },
                 "source": {"image": format!("registry.chitty.local/{name}:1.4.2")},
                 "capabilities": ["payments", "identity"],
                 "routes": [{"host": format!("{name}.chitty.cc"), "path": "/", "tls": true}]},
        "status": {"observedGeneration": 2,
                   "phase": if rolling { "Progressing" } else { "Ready" },
                   "chittyId": format!("03-1-USA-{:04}-T-2605-1-37", i % 10_000),
                   "url": format!("https://{name}.chitty.cc"),
                   "currentDeployment": format!("{name}-{}", if rolling { "bbbbbbbbbb" } else { "aaaaaaaaaa" }),
                   "lastSuccessfulDeployment": format!("{name}-aaaaaaaaaa"),
                   "health": {"status": "healthy", "lastTransition": "2026-05-01T00:05:00Z", "consecutiveFailures": 0},
                   "deployments": {"total": 2, "succeeded": 1, "failed": 0, "rolledBack": 0},
                   "conditions": [{"type": "Ready", "status": if rolling { "False" } else { "True" },
                                   "reason": "RolloutSucceeded", "message": "rollout succeeded; version 1.4.2 is serving",
                                   "lastTransitionTime": "2026-05-01T00:05:00Z", "observedGeneration": 2}]}
    }))
    .expect("service builds")
}

fn packed(d: ChittyDeployment) -> CachedRollout {
    Packed::of(&d)
}

fn rollout(svc: &ChittyService, revision: &str, phase: &str, created: &str) -> ChittyDeployment {
    let name = format!("{}-{revision}", svc.metadata.name.as_deref().unwrap());
    let steps: Vec<serde_json::Value> = [
        "build", "deploy", "identity", "register", "routes", "health", "notify",
    ]
    .iter()
    .enumerate()
    .map(|(i, step)| {
        let phase = match (phase, i) {
            ("Running", 0..=4) | ("Succeeded", _) => "Succeeded",
            ("Running", 5) => "Running",
            _ => "Pending",
        };
        json!({"name": step, "phase": phase, "message": format!("{step} step message")})
    })
    .collect();
    serde_json::from_value(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
        "metadata": {"name": name, "namespace": svc.metadata.namespace, "uid": format!("uid-{name}"),
                     "resourceVersion": "7", "creationTimestamp": created},
        "spec": {"serviceRef": {"name": svc.metadata.name}, "revision": revision,
                 "snapshot": svc.spec, "trigger": "SpecChange", "strategy": "immediate"},
        "status": {"phase": phase, "currentStep": if phase == "Running" { "health" } else { "notify" },
                   "progress": if phase == "Running" { 71 } else { 100 }, "steps": steps,
                   "startedAt": created, "durationMs": 41000}
    }))
    .expect("rollout builds")
}

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.trim_start_matches(name).trim().to_string())
            .unwrap_or_else(|| "?".into())
    };
    format!("VmRSS {} (peak VmHWM {})", field("VmRSS:"), field("VmHWM:"))
}

/// What is timed: a label, the URL, request headers.
type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);

struct Figures {
    p50: Duration,
    p99: Duration,
    max: Duration,
    per_second: f64,
    bytes: usize,
}

async fn load(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Figures {
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_string());
            let headers: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(REQUESTS_PER_TASK);
                let mut bytes = 0;
                for _ in 0..REQUESTS_PER_TASK {
                    let t = Instant::now();
                    let mut request = client.get(&url);
                    for (k, v) in &headers {
                        request = request.header(k, v);
                    }
                    let response = request.send().await.expect("request");
                    assert!(response.status().is_success() || response.status() == 304);
                    bytes = response.bytes().await.expect("body").len();
                    times.push(t.elapsed());
                }
                (times, bytes)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut bytes = 0;
    for task in tasks {
        let (times, b) = task.await.expect("task");
        all.extend(times);
        bytes = b;
    }
    let wall = started.elapsed();
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Figures {
        p50: at(0.50),
        p99: at(0.99),
        max: *all.last().unwrap(),
        per_second: all.len() as f64 / wall.as_secs_f64(),
        bytes,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    println!("before filling the caches: {}", rss());
    let (services, mut service_writer) = store::<ChittyService>();
    // Packed, as the operator's cache keeps them.
    let (rollouts, mut rollout_writer) = store::<CachedRollout>();
    service_writer.apply_watcher_event(&Event::Init);
    rollout_writer.apply_watcher_event(&Event::Init);
    let mut rollout_count = 0;
    for i in 0..SERVICES {
        let svc = service(i);
        rollout_writer.apply_watcher_event(&Event::InitApply(packed(rollout(
            &svc,
            "aaaaaaaaaa",
            "Succeeded",
            "2026-05-01T00:00:00Z",
        ))));
        rollout_count += 1;
        if i.is_multiple_of(ROLLING_EVERY) {
            rollout_writer.apply_watcher_event(&Event::InitApply(packed(rollout(
                &svc,
                "bbbbbbbbbb",
                "Running",
                "2026-05-02T00:00:00Z",
            ))));
            rollout_count += 1;
        }
        if i % 20 == 5 {
            rollout_writer.apply_watcher_event(&Event::InitApply(packed(rollout(
                &svc,
                "cccccccccc",
                "RolledBack",
                "2026-04-30T00:00:00Z",
            ))));
            rollout_count += 1;
        }
        service_writer.apply_watcher_event(&Event::InitApply(svc));
    }
    service_writer.apply_watcher_event(&Event::InitDone);
    rollout_writer.apply_watcher_event(&Event::InitDone);
    println!(
        "cached {SERVICES} ChittyServices and {rollout_count} ChittyDeployments: {}",
        rss()
    );

    let state = Arc::new(WebState::with_auth(ApiAuth::open(), None));
    let _serving = state.serve_from(services, rollouts);
    let app = web::mount(axum::Router::new(), state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    chitty_operator::tls::install_default_provider();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client");

    // The first request builds the snapshot; time that apart from the steady state.
    let t = Instant::now();
    client
        .get(format!("{base}/api/deploy/status?limit=1"))
        .send()
        .await
        .unwrap();
    println!(
        "first request (builds the fleet snapshot): {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    let discovery = client
        .get(format!("{base}/.well-known/chitty.json"))
        .send()
        .await
        .unwrap();
    let etag = discovery.headers()["etag"].to_str().unwrap().to_string();
    let size = discovery.bytes().await.unwrap().len();
    println!(
        "first discovery request (renders {size} bytes): {:?}",
        t.elapsed()
    );

    println!(
        "\n{CONCURRENCY} concurrent loopback clients x {REQUESTS_PER_TASK} requests each, per endpoint:"
    );
    println!(
        "{:<58} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "GET", "p50", "p99", "max", "req/s", "bytes"
    );
    let cases: Vec<Case> = vec![
        (
            "/api/deploy/status?limit=100",
            format!("{base}/api/deploy/status?limit=100"),
            vec![],
        ),
        (
            "/api/deploy/status?limit=100&continue=<middle>",
            format!(
                "{base}/api/deploy/status?limit=100&continue={}",
                hex("team-25/svc-05000")
            ),
            vec![],
        ),
        (
            "/api/deploy/status?namespace=team-07&status=in_progress",
            format!("{base}/api/deploy/status?namespace=team-07&status=in_progress"),
            vec![],
        ),
        (
            "/api/deploy/status (default page, 500)",
            format!("{base}/api/deploy/status"),
            vec![],
        ),
        (
            "/api/services?limit=100",
            format!("{base}/api/services?limit=100"),
            vec![],
        ),
        (
            "/.well-known/chitty.json (all 10,000)",
            format!("{base}/.well-known/chitty.json"),
            vec![],
        ),
        (
            "/.well-known/chitty.json with If-None-Match (304)",
            format!("{base}/.well-known/chitty.json"),
            vec![("if-none-match", etag.as_str())],
        ),
    ];
    for (label, url, headers) in &cases {
        let f = load(&client, url, headers).await;
        println!(
            "{label:<58} {:>9} {:>9} {:>9} {:>9.0} {:>10}",
            ms(f.p50),
            ms(f.p99),
            ms(f.max),
            f.per_second,
            f.bytes
        );
    }
    println!("\nafter the load: {}", rss());

    // One service changes: the next request after the freshness period rebuilds the snapshot.
    let mut changed = service(42);
    changed.metadata.resource_version = Some("999999".into());
    service_writer.apply_watcher_event(&Event::Apply(changed));
    tokio::time::sleep(web::fleet::FRESHNESS).await;
    let t = Instant::now();
    client
        .get(format!("{base}/api/deploy/status?limit=100"))
        .send()
        .await
        .unwrap();
    println!(
        "first request after a change (compares and rebuilds): {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    client
        .get(format!("{base}/api/deploy/status?limit=100"))
        .send()
        .await
        .unwrap();
    println!("the request after it: {:?}", t.elapsed());
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1000.0)
}
