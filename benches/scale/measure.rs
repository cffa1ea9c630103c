//! One run of the scale benchmark at one shard count: what benches/scale.rs's header lists, in
//! that order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chitty_operator::api::conditions::{is_true, types};
use chitty_operator::api::{ChittyDeployment, ChittyService, RouteClaim};
use chitty_operator::labels;
use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::support::cpu::{CoresUsed, CpuWatch};
use crate::support::fleet::Fleet;
use crate::support::floor::{Floor, floor_run};
use crate::support::tally::Tally;
use crate::support::timing::{Arrivals, Latencies, paced, spread, within};
use crate::support::{self, health_server, service};

const CONCURRENCY: usize = 16;
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
const READY_TIMEOUT: Duration = Duration::from_secs(3600);
const RSS_EVERY: Duration = Duration::from_millis(500);
const STEADY_SETTLE: Duration = Duration::from_secs(30);
pub const IDLE_WINDOW: Duration = Duration::from_secs(60);
const SAMPLES: usize = 100;
/// Spec changes at idle (the target's own words): one at a time, each on a quiet fleet, before
/// the paced ones; on other services than those.
const IDLE_SAMPLES: usize = 20;
pub const IDLE_PACE: Duration = Duration::from_secs(3);
/// The version the spec-change samples move to (the services start at another).
const NEW_VERSION: &str = "1.0.1";
pub const PACE: Duration = Duration::from_millis(200);
pub const SAMPLE_TIMEOUT: Duration = Duration::from_secs(20);
/// Deleting a namespace of 60,000 objects takes the garbage collector a while.
const LEASE: &str = "bench-scale";

pub struct Run {
    pub shards: usize,
    pub n: usize,
    /// How long until all were Ready; else how many were when the time ran out.
    pub ready: Result<Duration, usize>,
    /// Per kind, the objects in the namespace at steady state.
    pub objects: Vec<(&'static str, usize)>,
    /// Per process, in KiB: right after it was ready on the empty namespace, the highest of the
    /// samples until all were Ready, VmHWM at the end, and after the services settled.
    pub baseline_kib: Vec<u64>,
    pub peak_kib: Vec<u64>,
    pub hwm_kib: Vec<u64>,
    pub steady_kib: Vec<u64>,
    pub idle_writes_per_minute: f64,
    /// Cores each process used over the idle window and over the spec changes.
    pub idle_cores: CoresUsed,
    pub spec_change_cores: CoresUsed,
    /// Reconciles during the spec changes, per controller: (count, seconds, count over 100 ms).
    pub spec_change_reconciles: BTreeMap<String, (f64, f64, f64)>,
    /// The operator's API writes from the first spec change until the last sample ended.
    pub spec_change_writes: u64,
    pub spec_change: Latencies,
    /// The same, one sample at a time on an otherwise idle fleet.
    pub spec_change_at_idle: Latencies,
    pub floor: Floor,
}

impl Run {
    pub fn objects_total(&self) -> usize {
        self.objects.iter().map(|(_, count)| count).sum()
    }
}

pub fn name(i: usize) -> String {
    format!("svc-{i:05}")
}

/// The rollout benchmarks' service, with one route of its own (so a RouteClaim and an Ingress).
pub fn manifest(i: usize) -> serde_json::Value {
    let name = name(i);
    let mut manifest = service(&name);
    manifest["spec"]["routes"] = json!([{"host": format!("{name}.scale.chitty.cc"), "path": "/*"}]);
    // On two cores the cluster takes longer than the default 10 minutes to make 10,000
    // Deployments available (the floor waits for them too, with no deadline): a bench run
    // measures throughput, not the deadline.
    manifest["spec"]["health"]["progressDeadline"] = json!("2h");
    manifest
}

fn ready(s: &ChittyService) -> bool {
    s.status.as_ref().is_some_and(|st| {
        st.observed_generation == s.metadata.generation && is_true(&st.conditions, types::READY)
    })
}

pub async fn run(
    client_before: &Client,
    _kubeconfig: &str,
    n: usize,
    shards: usize,
    port: u16,
    floor: &mut Option<Floor>,
) -> Result<Run, String> {
    // Each run on a cluster of its own: the last run's 60,000 objects take the namespace
    // controller longer to delete than a new cluster takes to start.
    let (client, kubeconfig) = &support::fresh_cluster().await;
    let _ = client_before;
    let ns = format!("bench-scale-{shards}");
    support::namespace(client, &ns).await;
    let health = health_server().await;
    let http = reqwest::Client::new();
    let extra = ["--health-url-override", health.as_str()];
    let mut fleet = Fleet::start(kubeconfig, &ns, port, shards, LEASE, &extra);
    if let Err(why) = fleet.ready(&http, STARTUP_TIMEOUT).await {
        drop(fleet);
        support::delete_namespace(client, &ns).await;
        return Err(why);
    }
    let baseline_kib = fleet.memory_kib("VmRSS:");

    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns);
    let mut tally = Tally::watch(services.clone(), ready).await;
    let sampler = fleet.sample_rss(RSS_EVERY);
    let started = Instant::now();
    futures::stream::iter((0..n).map(manifest))
        .for_each_concurrent(CONCURRENCY, |manifest| {
            let services = services.clone();
            async move {
                let name = manifest["metadata"]["name"].as_str().unwrap().to_string();
                services
                    .patch(
                        &name,
                        &PatchParams::apply("bench"),
                        &Patch::Apply(&manifest),
                    )
                    .await
                    .unwrap();
            }
        })
        .await;
    let ready = tally.all(n, started, READY_TIMEOUT).await;
    drop(tally);
    let peak_kib = sampler.stop();
    match ready {
        Ok(took) => println!("scale: all {n} Ready in {:.1} s", took.as_secs_f64()),
        Err(count) => println!(
            "scale: {count}/{n} Ready after {} s",
            READY_TIMEOUT.as_secs()
        ),
    }

    tokio::time::sleep(STEADY_SETTLE).await;
    let steady_kib = fleet.memory_kib("VmRSS:");
    let objects = count_objects(client, &ns).await?;
    println!(
        "scale: counting idle writes for {} s",
        IDLE_WINDOW.as_secs()
    );
    let pids: Vec<u32> = fleet.operators.iter().map(|o| o.pid()).collect();
    let idle_cpu = CpuWatch::start(&pids);
    let idle_writes_per_minute = fleet
        .idle_writes_per_minute(&http, Duration::ZERO, IDLE_WINDOW)
        .await;
    let idle_cores = idle_cpu.stop();
    let names: Vec<String> = (0..n).map(name).collect();
    println!(
        "scale: changing the version of {IDLE_SAMPLES} services at idle, one every {} s",
        IDLE_PACE.as_secs()
    );
    // Offset by one from the paced samples' names (every hundredth from the first): no service
    // is changed twice.
    let at_idle = spread(&names[1..], IDLE_SAMPLES);
    let spec_change_at_idle = spec_changes(client, &ns, &at_idle, IDLE_PACE).await;
    println!(
        "scale: spec change at idle p50 {} p99 {}",
        spec_change_at_idle.show(0.5),
        spec_change_at_idle.show(0.99)
    );
    println!(
        "scale: changing the version of {SAMPLES} services, one every {} ms",
        PACE.as_millis()
    );
    let (cpu, reconciles_before) = (CpuWatch::start(&pids), fleet.reconciles(&http).await);
    let writes_before = fleet.writes(&http).await;
    let spec_change = spec_changes(client, &ns, &spread(&names, SAMPLES), PACE).await;
    let spec_change_cores = cpu.stop();
    let spec_change_writes = fleet.writes(&http).await.saturating_sub(writes_before);
    let mut spec_change_reconciles = fleet.reconciles(&http).await;
    for (controller, (count, seconds, slow)) in &mut spec_change_reconciles {
        if let Some((c, s, l)) = reconciles_before.get(controller) {
            (*count, *seconds, *slow) = (*count - c, *seconds - s, *slow - l);
        }
    }
    println!(
        "scale: cores used idle: {}; during the spec changes: {}; reconciles then: {}; \
         operator writes then: {spec_change_writes}",
        crate::support::cpu::show(&idle_cores),
        crate::support::cpu::show(&spec_change_cores),
        crate::report::reconciles(&spec_change_reconciles),
    );
    let hwm_kib = fleet.memory_kib("VmHWM:");
    // Said before the floor, which takes as long again at 10,000: a run cut short keeps these.
    let total = |kib: &[u64]| kib.iter().sum::<u64>();
    let cached: usize = objects.iter().map(|(_, count)| count).sum();
    println!(
        "scale: steady {} KiB (baseline {}, peak {}) for {cached} objects; spec change p50 {} \
         p99 {}; idle writes/min {idle_writes_per_minute:.1}",
        total(&steady_kib),
        total(&baseline_kib),
        total(&peak_kib),
        spec_change.show(0.5),
        spec_change.show(0.99),
    );

    drop(fleet);
    // The floor depends on N and the cluster, not on the shards: measured once per bench, after
    // the first run, on a new cluster too (the operator's pods would hold the nodes' slots).
    let floor = match floor {
        Some(floor) => *floor,
        None => {
            println!("scale: floor run");
            let (client, _) = &support::fresh_cluster().await;
            let floor_ns = "bench-scale-floor";
            let measured =
                floor_run(client, floor_ns, n, CONCURRENCY, manifest, READY_TIMEOUT).await;
            *floor.insert(measured)
        }
    };
    Ok(Run {
        shards,
        n,
        ready,
        objects,
        baseline_kib,
        peak_kib,
        hwm_kib,
        steady_kib,
        idle_writes_per_minute,
        idle_cores,
        spec_change_cores,
        spec_change_reconciles,
        spec_change_writes,
        spec_change,
        spec_change_at_idle,
        floor,
    })
}

/// Patches each service's `spec.version` and times until a ChittyDeployment of it for the new
/// version (its snapshot of the service's spec says so) shows on the watch. Nothing is asked of
/// the API server but the patch: a list before each sample would cost it a scan of every
/// rollout in the namespace, load that is the bench's, not the operator's.
async fn spec_changes(client: &Client, ns: &str, names: &[String], pace: Duration) -> Latencies {
    let services: Api<ChittyService> = Api::namespaced(client.clone(), ns);
    let rollouts: Api<ChittyDeployment> = Api::namespaced(client.clone(), ns);
    let arrivals = Arc::new(Arrivals::watch(rollouts).await);
    paced(names, pace, SAMPLE_TIMEOUT, |name| {
        let (services, arrivals) = (services.clone(), arrivals.clone());
        async move {
            let service = name.clone();
            let new = arrivals.expect_any(move |r: &ChittyDeployment| {
                r.labels().get(labels::SERVICE) == Some(&service)
                    && r.spec.snapshot.version == NEW_VERSION
            });
            let started = Instant::now();
            services
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"version": NEW_VERSION}})),
                )
                .await
                .map_err(|e| format!("changing the version of {name}: {e}"))?;
            Ok(within(started, new, SAMPLE_TIMEOUT).await)
        }
    })
    .await
}

/// The objects in `ns` of each kind the operator caches per service.
async fn count_objects(client: &Client, ns: &str) -> Result<Vec<(&'static str, usize)>, String> {
    Ok(vec![
        ("ChittyServices", count::<ChittyService>(client, ns).await?),
        (
            "ChittyDeployments",
            count::<ChittyDeployment>(client, ns).await?,
        ),
        ("Deployments", count::<Deployment>(client, ns).await?),
        ("Services", count::<Service>(client, ns).await?),
        ("RouteClaims", count::<RouteClaim>(client, ns).await?),
        ("Ingresses", count::<Ingress>(client, ns).await?),
        ("HPAs", count::<HorizontalPodAutoscaler>(client, ns).await?),
    ])
}

async fn count<K>(client: &Client, ns: &str) -> Result<usize, String>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    Api::<K>::namespaced(client.clone(), ns)
        .list_metadata(&ListParams::default())
        .await
        .map(|list| list.items.len())
        .map_err(|e| format!("listing {} in {ns}: {e}", K::kind(&())))
}
