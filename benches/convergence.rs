//! Continuous convergence against the local control plane, once N ChittyServices have rolled
//! out: how long a Deployment deleted by hand takes to come back (a new UID), how long a
//! `spec.replicas` change on a ChittyService takes to reach its Deployment (with no new
//! ChittyDeployment), and how many writes the operator makes per minute afterwards while nothing
//! changes.
//!
//! Each latency is sampled on up to 100 services, one action every 200 ms rather than all at
//! once, and timed from just before the action to the first watch event that shows its effect.
//! A sample that shows nothing within 20 s counts as a timeout: it is slower than every other
//! sample in the percentiles, and the report says so in place of a figure.
//!
//! `cargo bench --bench convergence` (N from an argument, `-- 20`, or CHITTY_BENCH_SIZE,
//! default 1,000); writes target/bench/convergence.md and convergence.json. Runs
//! `scripts/cluster.sh up` itself.

mod support;

use support::{health_server, service};

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chitty_operator::api::conditions::{is_true, types};
use chitty_operator::api::{ChittyDeployment, ChittyService};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use support::Operator;
use support::timing::{Arrivals, Latencies, within};

const NAMESPACE: &str = "bench-convergence";
const PORT: u16 = 18700;
const CONCURRENCY: usize = 16;
const SAMPLES: usize = 100;
/// Between two actions of a sample: steady load, not a burst.
const PACE: Duration = Duration::from_millis(200);
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(20);
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(1800);
const IDLE_SETTLE: Duration = Duration::from_secs(10);
const IDLE_WINDOW: Duration = Duration::from_secs(60);
const TARGET_P99: Duration = Duration::from_secs(2);

fn name(i: usize) -> String {
    format!("svc-{i:05}")
}

fn ready(s: &ChittyService) -> bool {
    s.status.as_ref().is_some_and(|st| {
        st.observed_generation == s.metadata.generation && is_true(&st.conditions, types::READY)
    })
}

/// Applies the services and waits, on one watch, until each is Ready or the rollout time runs
/// out; returns the Ready ones and how long that took.
async fn roll_out(services: &Api<ChittyService>, n: usize) -> (Vec<String>, Duration) {
    let arrivals = Arrivals::watch(services.clone()).await;
    let started = Instant::now();
    let seen: Vec<_> = (0..n).map(|i| arrivals.expect(&name(i), ready)).collect();
    let api = Arc::new(services.clone());
    futures::stream::iter(0..n)
        .for_each_concurrent(CONCURRENCY, |i| {
            let api = api.clone();
            async move {
                let name = name(i);
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
    let mut ready = Vec::new();
    for (i, seen) in seen.into_iter().enumerate() {
        if within(started, seen, ROLLOUT_TIMEOUT).await.is_some() {
            ready.push(name(i));
        }
    }
    (ready, started.elapsed())
}

/// Up to `SAMPLES` names spread evenly over `from`.
fn spread(from: &[String]) -> Vec<String> {
    support::timing::spread(from, SAMPLES)
}

/// Runs `sample` on each name, one every `PACE`, all in flight together.
async fn paced<F, Fut>(names: &[String], sample: F) -> Latencies
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Duration>, String>> + Send + 'static,
{
    support::timing::paced(names, PACE, SAMPLE_TIMEOUT, sample).await
}

/// Deletes each sampled service's Deployment and times until one of that name with another UID
/// is there.
async fn deletions(client: &Client, names: &[String]) -> Latencies {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let arrivals = Arc::new(Arrivals::watch(deployments.clone()).await);
    paced(names, |name| {
        let (deployments, arrivals) = (deployments.clone(), arrivals.clone());
        async move {
            let old = deployments
                .get(&name)
                .await
                .map_err(|e| format!("reading Deployment {name}: {e}"))?
                .uid()
                .unwrap_or_default();
            let back = arrivals.expect(&name, move |d| d.uid().is_some_and(|uid| uid != old));
            let started = Instant::now();
            deployments
                .delete(&name, &DeleteParams::background())
                .await
                .map_err(|e| format!("deleting Deployment {name}: {e}"))?;
            Ok(within(started, back, SAMPLE_TIMEOUT).await)
        }
    })
    .await
}

/// Scales each sampled service from 1 to 3 replicas and times until its Deployment asks for 3.
async fn scalings(client: &Client, names: &[String]) -> Latencies {
    let services: Api<ChittyService> = Api::namespaced(client.clone(), NAMESPACE);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let arrivals = Arc::new(Arrivals::watch(deployments).await);
    paced(names, |name| {
        let (services, arrivals) = (services.clone(), arrivals.clone());
        async move {
            let scaled = arrivals.expect(&name, |d| {
                d.spec.as_ref().and_then(|s| s.replicas) == Some(3)
            });
            let started = Instant::now();
            services
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"replicas": 3}})),
                )
                .await
                .map_err(|e| format!("scaling ChittyService {name}: {e}"))?;
            Ok(within(started, scaled, SAMPLE_TIMEOUT).await)
        }
    })
    .await
}

async fn rollout_names(client: &Client) -> BTreeSet<String> {
    Api::<ChittyDeployment>::namespaced(client.clone(), NAMESPACE)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|d| d.name_any())
        .collect()
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

fn latency_row(what: &str, l: &Latencies) -> String {
    format!(
        "| {what} | {} | {} | {} | {} | {}/{} | < {} s | {} |\n",
        l.samples.len(),
        l.failed.len(),
        l.show(0.50),
        l.show(0.99),
        l.timeouts(),
        l.samples.len(),
        TARGET_P99.as_secs(),
        verdict(l.meets(0.99, TARGET_P99)),
    )
}

fn latency_json(l: &Latencies) -> serde_json::Value {
    json!({"samples": l.samples.len(), "timeouts": l.timeouts(), "failed_actions": l.failed,
           "p50_s": l.seconds(0.50), "p99_s": l.seconds(0.99),
           "target_p99_s": TARGET_P99.as_secs_f64(), "met": l.meets(0.99, TARGET_P99)})
}

#[tokio::main]
async fn main() {
    let n = support::size("CHITTY_BENCH_SIZE", 1000);
    let (client, kubeconfig) = support::local_cluster().await;
    support::namespace(&client, NAMESPACE).await;
    let health = health_server().await;
    let operator = Operator::start(
        &kubeconfig,
        NAMESPACE,
        PORT,
        &["--health-url-override", &health],
    );
    let http = reqwest::Client::new();
    operator.ready(&http).await;

    let services: Api<ChittyService> = Api::namespaced(client.clone(), NAMESPACE);
    println!("convergence: rolling out {n} services");
    let (ready, rolled_out) = roll_out(&services, n).await;
    println!(
        "convergence: {}/{n} Ready in {:.1} s",
        ready.len(),
        rolled_out.as_secs_f64()
    );

    // Two disjoint samples, so a Deployment that never came back cannot spoil the scaling one.
    let (even, odd): (Vec<_>, Vec<_>) = ready
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let strip = |v: Vec<(usize, String)>| v.into_iter().map(|(_, s)| s).collect::<Vec<_>>();
    let (to_delete, to_scale) = (spread(&strip(even)), spread(&strip(odd)));

    println!("convergence: deleting {} Deployments", to_delete.len());
    let deleted = deletions(&client, &to_delete).await;
    let before = rollout_names(&client).await;
    println!("convergence: scaling {} services", to_scale.len());
    let scaled = scalings(&client, &to_scale).await;
    // Let a rollout the scaling might (wrongly) start show up before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let new_rollouts = rollout_names(&client).await.difference(&before).count();

    println!(
        "convergence: counting idle writes for {} s",
        IDLE_WINDOW.as_secs()
    );
    let idle = support::idle_writes_per_minute(&operator, &http, IDLE_SETTLE, IDLE_WINDOW).await;
    drop(operator);
    support::delete_namespace(&client, NAMESPACE).await;

    let mut report = format!(
        "# Convergence benchmark\n\n\
         {n} services ({} Ready after {:.1} s); samples one every {} ms, a timeout after {} s.\n\n\
         | after | samples | actions failed | p50 | p99 | timeouts | target p99 | |\n\
         |---|---|---|---|---|---|---|---|\n",
        ready.len(),
        rolled_out.as_secs_f64(),
        PACE.as_millis(),
        SAMPLE_TIMEOUT.as_secs(),
    );
    report.push_str(&latency_row(
        "a Deployment deleted by hand, until it is back",
        &deleted,
    ));
    report.push_str(&latency_row(
        "`spec.replicas` 1 -> 3, until the Deployment has 3",
        &scaled,
    ));
    report.push_str(&format!(
        "\n| | measured | target | |\n|---|---|---|---|\n\
         | new ChittyDeployments from scaling | {new_rollouts} | 0 | {} |\n\
         | idle writes/min (over {} s) | {idle:.1} | 0 | {} |\n",
        verdict(new_rollouts == 0),
        IDLE_WINDOW.as_secs(),
        verdict(idle == 0.0),
    ));
    if deleted.timeouts() > 0 {
        report.push_str(&format!(
            "\n{} of {} deleted Deployments did not come back within {} s.\n",
            deleted.timeouts(),
            deleted.samples.len(),
            SAMPLE_TIMEOUT.as_secs()
        ));
    }
    if scaled.timeouts() > 0 {
        report.push_str(&format!(
            "\n{} of {} scaled services' Deployments did not reach 3 replicas within {} s.\n",
            scaled.timeouts(),
            scaled.samples.len(),
            SAMPLE_TIMEOUT.as_secs()
        ));
    }
    for why in deleted.failed.iter().chain(&scaled.failed) {
        report.push_str(&format!("\nAction failed: {why}\n"));
    }
    support::write_report("convergence.md", &report);
    support::write_json(
        "convergence.json",
        &json!({
            "services": n, "ready": ready.len(), "rollout_s": rolled_out.as_secs_f64(),
            "pace_ms": PACE.as_millis() as u64, "sample_timeout_s": SAMPLE_TIMEOUT.as_secs(),
            "deleted_deployment_back": latency_json(&deleted),
            "replicas_applied": latency_json(&scaled),
            "new_chittydeployments_from_scaling": new_rollouts,
            "idle_writes_per_minute": idle, "idle_window_s": IDLE_WINDOW.as_secs(),
            "target_idle_writes_per_minute": 0,
        }),
    );
}
