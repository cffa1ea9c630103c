//! Odd objects against a real control plane: a status the types cannot read (an integer the
//! apiserver let through beyond `i32`) stops neither the watch nor other services and is
//! rewritten; thousands of claims, a long dependency chain and a large cycle keep every status
//! small and the operator responsive.

mod common;

use std::time::{Duration, Instant};

use chitty_operator::api::conditions::{self, reasons, types};
use chitty_operator::api::limits::STATUS_ROUTES;
use chitty_operator::api::{ChittyDeployment, ChittyService, RouteClaim};
use chitty_operator::metrics::KindLabel;
use common::health_server::HealthServer;
use common::wait::{eventually_within, wait_for_within};
use common::{TestEnv, service};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Event, Namespace};
use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

/// Beyond `i32`; the CRD says `format: int32`, which the apiserver does not enforce.
const OUT_OF_RANGE: i64 = 99_999_999_999;

/// The ChittyServices of the test's namespace, read raw: the typed API cannot read an odd one.
fn raw_services(env: &TestEnv) -> Api<DynamicObject> {
    Api::namespaced_with(
        env.client.clone(),
        env.ns(),
        &ApiResource::erase::<ChittyService>(&()),
    )
}

/// Writes `status.replicas: 99999999999` through the status subresource, as
/// `kubectl patch --subresource=status --type=merge` would.
async fn write_odd_status(env: &TestEnv, name: &str) {
    raw_services(env)
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": OUT_OF_RANGE}})),
        )
        .await
        .unwrap_or_else(|e| panic!("the apiserver takes the odd status of {name}: {e}"));
}

/// Waits until the stored status of `name` no longer holds the odd value and the service is
/// Ready again (the typed read succeeds only once the status decodes).
async fn wait_rewritten(env: &TestEnv, name: &str) {
    let raw = raw_services(env);
    eventually_within(
        &format!("the odd status.replicas of {name} removed"),
        Duration::from_secs(60),
        || async {
            let obj = raw.get(name).await.ok()?;
            Some(obj.data["status"]["replicas"].clone())
        },
        |replicas| matches!(replicas, Some(r) if r.as_i64() != Some(OUT_OF_RANGE)),
    )
    .await;
    env.wait_ready(name).await;
}

fn decode_failures(env: &TestEnv) -> u64 {
    env.operator()
        .metrics
        .decode_failures
        .get_or_create(&KindLabel {
            kind: "ChittyService".into(),
        })
        .get()
}

/// One ChittyService's status holds an integer beyond `i32`. Decoded strictly, the list of
/// services fails as a whole and the watch never fills its cache; the watch event of the change
/// fails too. Both paths are checked: the odd status is written while the operator watches
/// (watch event), and again while it is stopped, so it meets it in its first list. Each time
/// another service still converges, and the odd status is removed and rewritten.
#[tokio::test]
async fn an_out_of_range_status_integer_does_not_stop_other_services() {
    let mut env = TestEnv::new("odd-status").await;
    let health = HealthServer::start().await;
    env.apply(&service("chittyodd").health(&health.url)).await;
    env.wait_ready("chittyodd").await;

    // In a watch event.
    write_odd_status(&env, "chittyodd").await;
    env.apply(&service("chittywatch").health(&health.url)).await;
    env.wait_ready("chittywatch").await;
    wait_rewritten(&env, "chittyodd").await;
    assert!(decode_failures(&env) >= 1, "the decode failure is counted");

    // In the first list of a starting operator.
    env.stop_operator().await;
    write_odd_status(&env, "chittyodd").await;
    env.start_operator().await;
    env.apply(&service("chittylist").health(&health.url)).await;
    env.wait_ready("chittylist").await;
    wait_rewritten(&env, "chittyodd").await;
    assert!(
        decode_failures(&env) >= 1,
        "counted by the new operator too"
    );

    // The ChittyID and everything else the status held survives; the owner is told why.
    let events: Api<Event> = env.api();
    let warned = eventually_within(
        "an UndecodableStatus Event on chittyodd",
        Duration::from_secs(30),
        || async {
            events
                .list(&ListParams::default().fields("involvedObject.name=chittyodd"))
                .await
                .map(|l| l.items)
                .unwrap_or_default()
        },
        |events: &Vec<Event>| {
            events.iter().any(|e| {
                e.reason.as_deref() == Some("UndecodableStatus")
                    && e.message
                        .as_deref()
                        .is_some_and(|m| m.contains("status.replicas"))
            })
        },
    )
    .await;
    assert!(!warned.is_empty());
    env.teardown().await;
}

/// How long the dependency chain is. The issue asks for 10,000 services. Measured on the two-core
/// machine this suite runs on (shared with other builds), against the local apiserver: creating
/// 10,000 ChittyServices with nothing watching took 32 s, but 124 s with the operator taking each
/// one in as it comes (a status and a rollout apiece), and the operator then had not reached the
/// cycle's rollouts after another 5 minutes; at 2,000 it had not either. At 1,000 the objects
/// are created in about 6 s and the whole test takes about 2 minutes, teardown included (10 when
/// three other clusters and builds share the two cores). So the
/// chain here is 1,000 long, and the depth independence of the walk is proven by the unit tests
/// in `pipeline::dependencies`, which walk a 20,000-long chain and a 20,000-long cycle on a
/// 256 KiB stack, where a recursive walk would overflow.
const CHAIN: usize = 1_000;
/// Services in the dependency cycle.
const CYCLE: usize = 1_000;
/// Hand-made RouteClaims on one host.
const CLAIMS: usize = 2_000;
/// Objects created at once.
const CONCURRENT: usize = 32;
/// Most bytes of one object's status; etcd refuses objects over 1.5 MiB.
const STATUS_BYTES: usize = 256 * 1024;
const HOST: &str = "crowded.chitty.test";

/// Creates `objects`, `CONCURRENT` at a time; returns how long it took.
async fn create_all<K>(api: &Api<K>, objects: Vec<K>) -> Duration
where
    K: Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let started = Instant::now();
    futures::stream::iter(objects)
        .map(|obj| async move {
            api.create(&PostParams::default(), &obj)
                .await
                .map_err(|e| format!("creating {}: {e}", obj.name_any()))
        })
        .buffer_unordered(CONCURRENT)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    started.elapsed()
}

/// A service of the crowd: probed rarely, since only its gate and status size matter here.
fn service_object(name: &str, depends_on: &[String], health: &str) -> ChittyService {
    let deps: Vec<&str> = depends_on.iter().map(String::as_str).collect();
    let mut manifest = service(name).health_spec(json!({"url": health, "interval": "30s"}));
    if !deps.is_empty() {
        manifest = manifest.depends_on(&deps);
    }
    serde_json::from_value(manifest.to_json()).expect("the manifest is a ChittyService")
}

fn claim_object(i: usize) -> RouteClaim {
    // Two claims on each path, one for each service: every path is contested, and `wide`'s
    // claim sorts second (it loses ties of age), so its Routed message has up to a thousand
    // losses to tell.
    let owner = if i.is_multiple_of(2) { "rival" } else { "wide" };
    serde_json::from_value(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "RouteClaim",
        "metadata": {"name": format!("claim-{i:04}")},
        "spec": {"host": HOST, "path": format!("/p{:04}", i / 2), "serviceRef": {"name": owner}},
    }))
    .unwrap()
}

/// The largest status among `objects`, in bytes, with its name.
fn largest_status<K: Resource + serde::Serialize>(objects: &[K]) -> (usize, String) {
    objects
        .iter()
        .map(|o| {
            let value = serde_json::to_value(o).unwrap();
            (
                serde_json::to_vec(&value["status"]).unwrap().len(),
                o.name_any(),
            )
        })
        .max()
        .unwrap_or_default()
}

/// 2,000 hand-made RouteClaims on one host (every path contested between two services), a
/// dependency chain of [`CHAIN`] services and a cycle of [`CYCLE`] services: every status stays
/// under 256 KiB (the routes list, the Routed and DependenciesReady messages and the cycle are
/// capped), and a service applied afterwards still reaches Ready.
#[tokio::test]
async fn two_thousand_claims_a_long_dependency_chain_and_a_cycle_stay_small() {
    let env = TestEnv::new("odd-crowd").await;
    let health = HealthServer::start().await;
    let ns = env.ns().to_string();

    env.apply(&service("wide").health(&health.url)).await;
    env.apply(&service("rival").health(&health.url)).await;
    let took = create_all(&env.claims, (0..CLAIMS).map(claim_object).collect()).await;
    eprintln!("{CLAIMS} RouteClaims created in {took:?}");

    // The cycle goes first and the chain from its head on: the operator takes objects in
    // roughly in the order they come, and the checks below look at the cycle and the chain's head.
    let cycle: Vec<ChittyService> = (0..CYCLE)
        .map(|i| {
            let next = vec![format!("cycle-{:04}", (i + 1) % CYCLE)];
            service_object(&format!("cycle-{i:04}"), &next, &health.url)
        })
        .collect();
    let took = create_all(&env.services, cycle).await;
    eprintln!("a cycle of {CYCLE} ChittyServices created in {took:?}");

    let chain: Vec<ChittyService> = (0..CHAIN)
        .map(|i| {
            let next: Vec<String> = (i + 1 < CHAIN)
                .then(|| format!("chain-{:05}", i + 1))
                .into_iter()
                .collect();
            service_object(&format!("chain-{i:05}"), &next, &health.url)
        })
        .collect();
    let took = create_all(&env.services, chain).await;
    eprintln!("a chain of {CHAIN} ChittyServices created in {took:?}");

    // The operator has taken everything in: `wide` lists its capped routes, and a rollout in
    // the cycle and one at the head of the chain have their gate decided.
    // Minutes, not seconds: on a busy two-core machine the operator takes the 2,000 services in
    // at a few dozen a second (about 35 s when the machine is otherwise idle).
    let settle = Duration::from_secs(600);
    let started = Instant::now();
    let wide = wait_for_within(
        &env.services,
        "wide",
        "every claim decided and the routes list capped",
        settle,
        |s: &ChittyService| {
            s.status.as_ref().is_some_and(|st| {
                st.routes.len() == STATUS_ROUTES
                    && conditions::find(&st.conditions, types::ROUTED).is_some_and(|c| {
                        c.message.contains(&format!("of {} routes", CLAIMS / 2))
                            && c.message.contains("more characters")
                    })
            })
        },
    )
    .await;
    let routed = conditions::find(&wide.status.as_ref().unwrap().conditions, types::ROUTED)
        .unwrap()
        .clone();
    eprintln!(
        "wide's routes decided after {:?}: {} characters",
        started.elapsed(),
        routed.message.chars().count()
    );

    /// The message of the rollout's DependenciesReady condition, when it has this reason.
    fn gate_message(d: &ChittyDeployment, reason: &str) -> Option<String> {
        let st = d.status.as_ref()?;
        conditions::find(&st.conditions, types::DEPENDENCIES_READY)
            .filter(|c| c.reason == reason)
            .map(|c| c.message.clone())
    }
    let gate_decided = |reason: &'static str| {
        move |d: &Vec<ChittyDeployment>| d.iter().any(|d| gate_message(d, reason).is_some())
    };
    let rollouts_of = |service: &'static str| {
        let rollouts = env.rollouts.clone();
        move || {
            let rollouts = rollouts.clone();
            async move {
                let lp = ListParams::default().labels(&format!("chitty.cc/service={service}"));
                rollouts
                    .list(&lp)
                    .await
                    .map(|l| l.items)
                    .unwrap_or_default()
            }
        }
    };
    let in_cycle = eventually_within(
        "the rollout of cycle-0000 stopped by the cycle",
        settle,
        rollouts_of("cycle-0000"),
        gate_decided(reasons::DEPENDENCY_CYCLE),
    )
    .await;
    let message = in_cycle
        .iter()
        .find_map(|d| gate_message(d, reasons::DEPENDENCY_CYCLE))
        .unwrap();
    assert!(
        message.starts_with(&format!(
            "dependency cycle of {CYCLE} services: {ns}/cycle-0000 -> "
        )) && message.contains(" more -> "),
        "{message}"
    );
    eventually_within(
        "the rollout at the head of the chain waiting",
        settle,
        rollouts_of("chain-00000"),
        gate_decided(reasons::DEPENDENCY_NOT_READY),
    )
    .await;
    eprintln!("gates decided after {:?}", started.elapsed());

    let all = ListParams::default();
    let (services, rollouts, claims) = (
        env.services.list(&all).await.unwrap().items,
        env.rollouts.list(&all).await.unwrap().items,
        env.claims.list(&all).await.unwrap().items,
    );
    assert_eq!(claims.len(), CLAIMS);
    for (kind, (bytes, name)) in [
        ("ChittyService", largest_status(&services)),
        ("ChittyDeployment", largest_status(&rollouts)),
        ("RouteClaim", largest_status(&claims)),
    ] {
        eprintln!("largest {kind} status: {name}, {bytes} bytes");
        assert!(
            bytes < STATUS_BYTES,
            "{kind} {name} has a {bytes}-byte status"
        );
    }

    // Still responsive: a plain service applied now converges.
    let started = Instant::now();
    env.apply(&service("latecomer").health(&health.url)).await;
    wait_for_within(
        &env.services,
        "latecomer",
        "Ready=True while the crowd is there",
        Duration::from_secs(300),
        common::wait::ready,
    )
    .await;
    eprintln!("a new service Ready after {:?}", started.elapsed());

    let client = env.client.clone();
    env.teardown().await;
    let namespaces: Api<Namespace> = Api::all(client);
    let _gone = eventually_within(
        &format!("namespace {ns} gone with all it held"),
        Duration::from_secs(300),
        || namespaces.get_opt(&ns),
        |n| matches!(n, Ok(None)),
    )
    .await;
}
