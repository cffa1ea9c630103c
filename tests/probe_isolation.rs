//! Health probes cannot hurt others: endpoints that never answer do not hold the operator's
//! reconcile workers (probes run in the pool, off the reconcile path), and a health URL on the
//! node's own network position (cloud metadata) is refused with a reason.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chitty_operator::api::ChittyService;
use common::health_server::HealthServer;
use common::wait::wait_for_within;
use common::{TestEnv, service};
use serde_json::json;

/// How long a tarpit probe may take before it counts as failed: the longest the CRD allows.
const TARPIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A TCP endpoint that accepts every connection and never says a word; the sockets are held
/// open for the whole test. Returns its URL and how many connections it has accepted.
async fn tarpit() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted)
}

/// Forty services whose health endpoints are tarpits, probed with the longest timeout, then one
/// well-behaved service. Before the pool, each tarpit probe held a reconcile worker for the whole
/// timeout (the harness runs four per controller), so the well-behaved rollout waited in line
/// behind them for minutes. Now its rollout must finish before the tarpits' probe timeout could
/// have elapsed twice, which leaves a loaded machine generous slack and still fails the old code.
#[tokio::test]
async fn forty_tarpit_health_endpoints_do_not_delay_a_healthy_rollout() {
    let env = TestEnv::new("tarpit").await;
    let (tarpit_url, accepted) = tarpit().await;
    for i in 0..40 {
        env.apply(&service(&format!("tarpit-{i}")).health_spec(json!({
            "url": tarpit_url, "interval": "1s", "timeout": "30s",
            "failureThreshold": 100, "progressDeadline": "10m"
        })))
        .await;
    }
    // The tarpits are probing: at least as many of their probes hang as the operator has
    // reconcile workers, which was enough to stall every rollout before the pool.
    let workers = 4;
    common::wait::eventually_within(
        "the tarpits' probes hang",
        Duration::from_secs(120),
        || async { accepted.load(Ordering::SeqCst) },
        |n| *n >= workers,
    )
    .await;

    let health = HealthServer::start().await;
    let started = Instant::now();
    env.apply(&service("well-behaved").health(&health.url))
        .await;
    let ready = wait_for_within(
        &env.services,
        "well-behaved",
        "Ready while the tarpits probe",
        TARPIT_TIMEOUT * 2,
        common::wait::ready,
    )
    .await;
    let took = started.elapsed();
    assert!(ready.status.is_some());
    assert!(
        health.hits() >= 1,
        "the well-behaved service's own endpoint was probed"
    );
    let hung = accepted.load(Ordering::SeqCst);
    assert!(
        hung >= workers,
        "the tarpits were probing throughout ({hung} connections held)"
    );
    eprintln!("well-behaved Ready after {took:?} beside 40 tarpits ({hung} tarpit probes so far)");
    let tarpit: ChittyService = env.services.get("tarpit-0").await.unwrap();
    assert!(
        !common::wait::ready(&tarpit),
        "a tarpit never becomes Ready"
    );
    env.teardown().await;
}

/// A health URL on the cloud metadata address is refused before any request, and the reason
/// reaches the service's status.
#[tokio::test]
async fn a_health_url_on_the_metadata_address_is_refused_with_the_reason() {
    let env = TestEnv::new("metadata").await;
    env.apply(&service("nosy").health_spec(json!({
        "url": "http://169.254.169.254/", "path": "/latest/meta-data/",
        "interval": "1s", "timeout": "1s", "failureThreshold": 1, "progressDeadline": "30s"
    })))
    .await;
    let expected = "address 169.254.169.254 is not allowed for health probes (link-local); \
                    see --probe-allow-cidr";
    let says_why = |s: &ChittyService| {
        s.status.as_ref().is_some_and(|st| {
            let health = st.health.as_ref().and_then(|h| h.message.as_deref());
            health.is_some_and(|m| m.contains(expected))
                || st.conditions.iter().any(|c| c.message.contains(expected))
        })
    };
    wait_for_within(
        &env.services,
        "nosy",
        "a status message saying the address is not allowed",
        Duration::from_secs(90),
        says_why,
    )
    .await;
    env.teardown().await;
}
