//! Health after rollout: a Ready service is probed on its interval; status changes only with the
//! state, a down service is not Ready, and a critical one that goes down right after a rollout
//! is rolled back.

mod common;

use chitty_operator::api::conditions::{self, types};
use chitty_operator::api::{ChittyDeployment, ChittyService, DeploymentPhase, HealthState};
use common::health_server::HealthServer;
use common::manifest::ServiceManifest;
use common::wait::ready_at;
use common::{TestEnv, service};
use serde_json::json;

/// A production worker probed at `health` every second (the shortest interval allowed), down
/// after two failures.
fn manifest(name: &str, version: &str, health: &str, critical: bool) -> ServiceManifest {
    service(name)
        .version(version)
        .environment("production")
        .set("critical", critical.into())
        .health_spec(
            json!({"url": health, "interval": "1s", "timeout": "1s", "failureThreshold": 2}),
        )
}

fn health_of(s: &ChittyService) -> Option<HealthState> {
    s.status.as_ref()?.health.as_ref().map(|h| h.status)
}

#[tokio::test]
async fn a_service_that_goes_down_is_reported_and_recovers() {
    let env = TestEnv::new("health").await;
    let services = &env.services;
    let health = HealthServer::start().await;
    env.apply(&manifest("chittyconnect", "1.0.0", &health.url, false))
        .await;
    common::wait_for(
        services,
        "chittyconnect",
        "Ready and healthy",
        |s: &ChittyService| ready_at(s, "1.0.0") && health_of(s) == Some(HealthState::Healthy),
    )
    .await;

    health.set_status(503);
    let down = common::wait_for(
        services,
        "chittyconnect",
        "reported down",
        |s: &ChittyService| health_of(s) == Some(HealthState::Down),
    )
    .await;
    let st = down.status.unwrap();
    let ready = conditions::find(&st.conditions, types::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "HealthCheckFailing")
    );
    assert!(st.health.unwrap().message.unwrap().contains("503"));

    // Not critical: reported, never touched.
    let image = env.image_of("chittyconnect").await;
    assert_eq!(image.as_deref(), Some("registry.local/chittyconnect:1.0.0"));

    health.set_status(200);
    common::wait_for(
        services,
        "chittyconnect",
        "healthy and Ready again",
        |s: &ChittyService| ready_at(s, "1.0.0") && health_of(s) == Some(HealthState::Healthy),
    )
    .await;
    env.teardown().await;
}

#[tokio::test]
async fn a_steady_healthy_service_causes_no_writes() {
    let env = TestEnv::new("health-idle").await;
    let health = HealthServer::start().await;
    env.apply(&manifest("chittyid", "2.1.0", &health.url, false))
        .await;
    common::wait_for(
        &env.services,
        "chittyid",
        "Ready and healthy",
        |s: &ChittyService| ready_at(s, "2.1.0") && health_of(s) == Some(HealthState::Healthy),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let writes = || env.operator().metrics.kube_write_total();
    let reconciles = || {
        let label = chitty_operator::metrics::ControllerLabel {
            controller: chitty_operator::controller::service::NAME,
        };
        env.operator()
            .metrics
            .reconciles
            .get_or_create(&label)
            .get()
    };
    let (before, hits_before, reconciles_before) = (writes(), health.hits(), reconciles());
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let hits = health.hits() - hits_before;
    assert!(hits >= 3, "the service is still being probed");
    assert_eq!(writes(), before, "probing a steady service writes nothing");
    // The pool passes a healthy result over for a service recorded healthy: no reconcile per
    // probe (at most one that something else woke).
    let reconciled = reconciles() - reconciles_before;
    assert!(
        reconciled <= 1,
        "{reconciled} service reconciles for {hits} healthy probes"
    );
    env.teardown().await;
}

#[tokio::test]
async fn a_critical_service_that_goes_down_after_a_rollout_is_rolled_back() {
    let env = TestEnv::new("critical").await;
    let health = HealthServer::start().await;
    env.apply(&manifest("chittyid", "2.1.0", &health.url, true))
        .await;
    env.wait_ready_at("chittyid", "2.1.0").await;
    env.apply(&manifest("chittyid", "2.2.0", &health.url, true))
        .await;
    let svc = common::wait_for(
        &env.services,
        "chittyid",
        "2.2.0 Ready and healthy",
        |s: &ChittyService| ready_at(s, "2.2.0") && health_of(s) == Some(HealthState::Healthy),
    )
    .await;
    let current = svc.status.unwrap().current_deployment.unwrap();

    health.set_status(500);
    let rolled = common::wait_for(
        &env.rollouts,
        &current,
        "the 2.2.0 rollout is rolled back",
        |d: &ChittyDeployment| {
            d.status.as_ref().and_then(|s| s.phase) == Some(DeploymentPhase::RolledBack)
        },
    )
    .await;
    assert!(
        rolled
            .status
            .unwrap()
            .error
            .unwrap()
            .contains("went down after the rollout")
    );
    let image = env.image_of("chittyid").await;
    assert_eq!(
        image.as_deref(),
        Some("registry.local/chittyid:2.1.0"),
        "the previous revision serves again"
    );
    let svc = common::wait_for(
        &env.services,
        "chittyid",
        "the service is Stalled",
        |s: &ChittyService| {
            s.status
                .as_ref()
                .is_some_and(|st| conditions::is_true(&st.conditions, types::STALLED))
        },
    )
    .await;
    assert!(!conditions::is_true(
        &svc.status.unwrap().conditions,
        types::READY
    ));
    env.teardown().await;
}
