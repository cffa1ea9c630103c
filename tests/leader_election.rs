//! Leader election with two in-process replicas on one Lease against the local control plane:
//! only the holder reconciles and writes, a standby answers reads through the leader's pod, a killed
//! leader is replaced within about the Lease duration, a leader whose Lease is taken stops at
//! once, and no rollout is made twice.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chitty_operator::api::ChittyDeployment;
use chitty_operator::config::OperatorConfig;
use chitty_operator::metrics::{ControllerLabel, Metrics};
use common::health_server::HealthServer;
use common::manifest::ServiceManifest;
use common::{RunningOperator, TestEnv};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};

const LEASE: &str = "chitty-operator";
/// Long enough that a busy two-core machine does not make a healthy leader miss a renewal.
const LEASE_DURATION: Duration = Duration::from_secs(10);
const RENEW_MARGIN: Duration = Duration::from_secs(4);

fn elected(namespace: &str) -> impl FnOnce(&mut OperatorConfig) + '_ {
    move |config| {
        let election = &mut config.leader_election;
        election.enabled = true;
        election.lease_name = LEASE.into();
        election.lease_namespace = Some(namespace.into());
        election.lease_duration = LEASE_DURATION;
        election.lease_renew_margin = RENEW_MARGIN;
    }
}

fn leading(metrics: &Metrics) -> bool {
    metrics.leading.get() == 1
}

fn reconciles(metrics: &Metrics) -> u64 {
    ["chittyservice", "chittydeployment", "routeclaim"]
        .iter()
        .map(|controller| {
            metrics
                .reconciles
                .get_or_create(&ControllerLabel { controller })
                .get()
        })
        .sum()
}

/// Records whether a replica ever led, sampled every 50 ms, so that a test can tell that its
/// standby never held the Lease in between two looks.
struct EverLed(Arc<AtomicBool>, tokio::task::JoinHandle<()>);

impl EverLed {
    fn watch(metrics: Arc<Metrics>) -> Self {
        let led = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let led = led.clone();
            async move {
                loop {
                    if leading(&metrics) {
                        led.store(true, Ordering::SeqCst);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
        Self(led, task)
    }

    fn ever(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for EverLed {
    fn drop(&mut self) {
        self.1.abort();
    }
}

async fn readyz(operator: &RunningOperator) -> Option<u16> {
    chitty_operator::tls::install_default_provider();
    let response = reqwest::get(operator.url("/readyz")).await.ok()?;
    Some(response.status().as_u16())
}

async fn get(operator: &RunningOperator, path: &str) -> (u16, String) {
    chitty_operator::tls::install_default_provider();
    let response = reqwest::get(operator.url(path)).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

fn service(name: &str, version: &str, health: &str) -> ServiceManifest {
    common::service(name)
        .version(version)
        .replicas(1)
        .health(health)
}

/// Every rollout's (service, revision), counted: a doubled reconcile would show as a 2.
async fn rollouts_per_revision(client: &Client, ns: &str) -> BTreeMap<(String, String), usize> {
    let rollouts: Api<ChittyDeployment> = Api::namespaced(client.clone(), ns);
    let mut counts = BTreeMap::new();
    for d in rollouts.list(&ListParams::default()).await.unwrap() {
        *counts
            .entry((d.spec.service_ref.name.clone(), d.spec.revision.clone()))
            .or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn only_the_leader_writes_and_a_killed_leader_is_replaced() {
    // Two replicas of the test's own, so the environment runs none.
    let env = TestEnv::without_operator("election-kill").await;
    let (client, ns) = (&env.client, env.ns());
    let health = HealthServer::start().await;

    // The first replica's pod, as a standby looks it up: where it finds the leader's read API.
    common::replica_pod::create(client, ns, "replica-a").await;
    let first = RunningOperator::start_with(ns, |config| {
        elected(ns)(config);
        config.leader_election.pod_name = Some("replica-a".into());
    })
    .await;
    common::eventually(
        "the first replica leads",
        || async { leading(&first.metrics) },
        |l| *l,
    )
    .await;
    let second = RunningOperator::start_with(ns, |config| {
        elected(ns)(config);
        config.leader_election.pod_name = Some("replica-b".into());
        config.leader_election.peer_port = Some(first.http.port());
    })
    .await;
    let second_led = EverLed::watch(second.metrics.clone());
    common::eventually(
        "the second replica is ready on standby",
        || readyz(&second),
        |s| *s == Some(200),
    )
    .await;
    // A new leader waits two Lease check intervals before it works (shards beside it must have
    // read its Lease, see `shard::count`), then syncs its caches.
    common::eventually(
        "the leader is ready too",
        || readyz(&first),
        |s| *s == Some(200),
    )
    .await;

    env.apply(&service("chittyid", "1.0.0", &health.url)).await;
    env.wait_ready_at("chittyid", "1.0.0").await;
    env.apply(&service("chittyid", "1.1.0", &health.url)).await;
    env.wait_ready_at("chittyid", "1.1.0").await;

    // Whichever replica a Service sends a reader to, it gets the leader's answer: the standby
    // hands reads of the API to the leader's pod, which the Lease names.
    for path in [
        "/api/services",
        "/api/admin/routes",
        "/.well-known/chitty.json",
    ] {
        let (status, body) = get(&second, path).await;
        assert_eq!(status, 200, "{path} on the standby: {body}");
        assert_eq!(get(&first, path).await.0, 200, "{path} on the leader");
        if path == "/api/services" {
            assert!(
                body.contains("chittyid") && body.contains("1.1.0"),
                "the standby answered with the leader's fleet: {body}"
            );
        }
    }

    assert!(
        !second_led.ever(),
        "the second replica never held the Lease"
    );
    assert!(first.metrics.kube_write_total() > 0);
    assert_eq!(
        second.metrics.kube_write_total(),
        0,
        "a standby replica sends no write at all"
    );
    assert_eq!(
        reconciles(&second.metrics),
        0,
        "a standby replica reconciles nothing"
    );

    // Killed: no release, no renewal; the Lease has to run out.
    let killed = Instant::now();
    drop(first);
    common::eventually(
        "the second replica takes over",
        || async { leading(&second.metrics) },
        |l| *l,
    )
    .await;
    let takeover = killed.elapsed();
    println!(
        "takeover after killing the leader: {:.1} s (lease duration {} s, renew margin {} s)",
        takeover.as_secs_f64(),
        LEASE_DURATION.as_secs(),
        RENEW_MARGIN.as_secs()
    );

    env.apply(&service("chittyregistry", "3.0.0", &health.url))
        .await;
    env.wait_ready_at("chittyregistry", "3.0.0").await;
    env.wait_ready_at("chittyid", "1.1.0").await;
    assert!(second.metrics.kube_write_total() > 0);

    let counts = rollouts_per_revision(client, ns).await;
    assert!(
        counts.values().all(|n| *n == 1),
        "one ChittyDeployment per revision: {counts:?}"
    );
    let per_service = |name: &str| counts.keys().filter(|(s, _)| s == name).count();
    assert_eq!(per_service("chittyid"), 2, "{counts:?}");
    assert_eq!(per_service("chittyregistry"), 1, "{counts:?}");
    second.stop().await;
    env.teardown().await;
}

/// Takes the Lease over as another holder would, and keeps renewing it until told to stop.
struct Usurper {
    keep: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Usurper {
    async fn take(client: &Client, ns: &str) -> Self {
        let leases: Api<Lease> = Api::namespaced(client.clone(), ns);
        let renew = |leases: Api<Lease>, first: bool| async move {
            let now =
                k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(jiff::Timestamp::now());
            let mut spec = serde_json::json!({
                "renewTime": now,
                "leaseDurationSeconds": LEASE_DURATION.as_secs(),
            });
            if first {
                spec["holderIdentity"] = "usurper".into();
                spec["acquireTime"] = serde_json::to_value(&now).unwrap();
            }
            leases
                .patch(
                    LEASE,
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"spec": spec})),
                )
                .await
                .unwrap();
        };
        renew(leases.clone(), true).await;
        let keep = Arc::new(AtomicBool::new(true));
        let task = tokio::spawn({
            let keep = keep.clone();
            async move {
                while keep.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    renew(leases.clone(), false).await;
                }
            }
        });
        Self { keep, task }
    }

    async fn let_go(self) {
        self.keep.store(false, Ordering::SeqCst);
        let _ = self.task.await;
    }
}

#[tokio::test]
async fn a_leader_whose_lease_is_taken_stops_writing() {
    // Two replicas of the test's own, so the environment runs none.
    let env = TestEnv::without_operator("election-loss").await;
    let (client, ns) = (&env.client, env.ns());
    let health = HealthServer::start().await;

    let first = RunningOperator::start_with(ns, elected(ns)).await;
    common::eventually(
        "the first replica leads",
        || async { leading(&first.metrics) },
        |l| *l,
    )
    .await;
    let second = RunningOperator::start_with(ns, elected(ns)).await;
    env.apply(&service("chittyfinance", "1.0.0", &health.url))
        .await;
    env.wait_ready_at("chittyfinance", "1.0.0").await;

    let taken = Instant::now();
    let usurper = Usurper::take(client, ns).await;
    common::eventually(
        "the leader notices and steps down",
        || async { leading(&first.metrics) },
        |l| !*l,
    )
    .await;
    println!(
        "a leader whose Lease was taken stopped its controllers after {:.1} s (it checks when it renews, every {} s)",
        taken.elapsed().as_secs_f64(),
        (LEASE_DURATION - RENEW_MARGIN).as_secs()
    );
    assert!(!leading(&second.metrics));

    // While another holder has the Lease, a change is left alone by both replicas.
    let writes = (
        first.metrics.kube_write_total(),
        second.metrics.kube_write_total(),
    );
    let counted = (reconciles(&first.metrics), reconciles(&second.metrics));
    env.apply(&service("chittyfinance", "1.1.0", &health.url))
        .await;
    tokio::time::sleep(LEASE_DURATION).await;
    assert_eq!(
        (
            first.metrics.kube_write_total(),
            second.metrics.kube_write_total()
        ),
        writes,
        "no replica writes while neither holds the Lease"
    );
    assert_eq!(
        (reconciles(&first.metrics), reconciles(&second.metrics)),
        counted,
        "no replica reconciles while neither holds the Lease"
    );
    let untouched = env.services.get("chittyfinance").await.unwrap();
    assert_ne!(
        untouched.status.unwrap().observed_generation,
        untouched.metadata.generation,
        "the change waits for a leader"
    );
    assert_eq!(
        readyz(&first).await,
        Some(200),
        "a replica on standby stays ready"
    );

    usurper.let_go().await;
    common::eventually(
        "a replica leads again once the taken Lease runs out",
        || async { leading(&first.metrics) || leading(&second.metrics) },
        |l| *l,
    )
    .await;
    env.wait_ready_at("chittyfinance", "1.1.0").await;
    let counts = rollouts_per_revision(client, ns).await;
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    let holder = Api::<Lease>::namespaced(client.clone(), ns)
        .get(LEASE)
        .await
        .unwrap()
        .spec
        .and_then(|s| s.holder_identity);
    assert!(
        holder.as_deref().is_some_and(|h| h != "usurper"),
        "{holder:?}"
    );
    first.stop().await;
    second.stop().await;
    env.teardown().await;
}
