//! Health after rollout: a Ready service is probed on its interval; status changes only with the
//! state, a down service is not Ready, and a critical one that goes down right after a rollout
//! is rolled back.

mod common;

use chitty_operator::api::conditions::{self, types};
use chitty_operator::api::{ChittyDeployment, ChittyService, DeploymentPhase, HealthState};
use common::health_server::HealthServer;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

fn manifest(name: &str, version: &str, health: &str, critical: bool) -> serde_json::Value {
    json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService", "metadata": {"name": name},
        "spec": {"type": "worker", "version": version, "environment": "production", "critical": critical,
                 "source": {"image": format!("registry.local/{name}:{version}")},
                 "health": {"url": health, "interval": "300ms", "timeout": "1s", "failureThreshold": 2}}
    })
}

fn health_of(s: &ChittyService) -> Option<HealthState> {
    s.status.as_ref()?.health.as_ref().map(|h| h.status)
}

fn ready_at(s: &ChittyService, version: &str) -> bool {
    s.spec.version == version
        && s.status.as_ref().is_some_and(|st| {
            st.observed_generation == s.metadata.generation
                && conditions::is_true(&st.conditions, types::READY)
        })
}

#[tokio::test]
async fn a_service_that_goes_down_is_reported_and_recovers() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "health").await;
    let operator = common::RunningOperator::start(&ns.name).await;
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    let health = HealthServer::start().await;
    let ssa = PatchParams::apply("test").force();
    services
        .patch(
            "chittyconnect",
            &ssa,
            &Patch::Apply(manifest("chittyconnect", "1.0.0", &health.url, false)),
        )
        .await
        .unwrap();
    common::wait_for(
        &services,
        "chittyconnect",
        "Ready and healthy",
        |s: &ChittyService| ready_at(s, "1.0.0") && health_of(s) == Some(HealthState::Healthy),
    )
    .await;

    health.set_status(503);
    let down = common::wait_for(
        &services,
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
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let image = deployments
        .get("chittyconnect")
        .await
        .unwrap()
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers[0]
        .image
        .clone();
    assert_eq!(image.as_deref(), Some("registry.local/chittyconnect:1.0.0"));

    health.set_status(200);
    common::wait_for(
        &services,
        "chittyconnect",
        "healthy and Ready again",
        |s: &ChittyService| ready_at(s, "1.0.0") && health_of(s) == Some(HealthState::Healthy),
    )
    .await;
    operator.stop().await;
}

#[tokio::test]
async fn a_steady_healthy_service_causes_no_writes() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "health-idle").await;
    let operator = common::RunningOperator::start(&ns.name).await;
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    let health = HealthServer::start().await;
    services
        .patch(
            "chittyid",
            &PatchParams::apply("test"),
            &Patch::Apply(manifest("chittyid", "2.1.0", &health.url, false)),
        )
        .await
        .unwrap();
    common::wait_for(
        &services,
        "chittyid",
        "Ready and healthy",
        |s: &ChittyService| ready_at(s, "2.1.0") && health_of(s) == Some(HealthState::Healthy),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (before, hits_before) = (operator.metrics.kube_write_total(), health.hits());
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(
        health.hits() > hits_before + 3,
        "the service is still being probed"
    );
    assert_eq!(
        operator.metrics.kube_write_total(),
        before,
        "probing a steady service writes nothing"
    );
    operator.stop().await;
}

#[tokio::test]
async fn a_critical_service_that_goes_down_after_a_rollout_is_rolled_back() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "critical").await;
    let operator = common::RunningOperator::start(&ns.name).await;
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    let rollouts: Api<ChittyDeployment> = Api::namespaced(client.clone(), &ns.name);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let health = HealthServer::start().await;
    let ssa = PatchParams::apply("test").force();
    services
        .patch(
            "chittyid",
            &ssa,
            &Patch::Apply(manifest("chittyid", "2.1.0", &health.url, true)),
        )
        .await
        .unwrap();
    common::wait_for(&services, "chittyid", "2.1.0 Ready", |s: &ChittyService| {
        ready_at(s, "2.1.0")
    })
    .await;
    services
        .patch(
            "chittyid",
            &ssa,
            &Patch::Apply(manifest("chittyid", "2.2.0", &health.url, true)),
        )
        .await
        .unwrap();
    let svc = common::wait_for(
        &services,
        "chittyid",
        "2.2.0 Ready and healthy",
        |s: &ChittyService| ready_at(s, "2.2.0") && health_of(s) == Some(HealthState::Healthy),
    )
    .await;
    let current = svc.status.unwrap().current_deployment.unwrap();

    health.set_status(500);
    let rolled = common::wait_for(
        &rollouts,
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
    let image = deployments
        .get("chittyid")
        .await
        .unwrap()
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers[0]
        .image
        .clone();
    assert_eq!(
        image.as_deref(),
        Some("registry.local/chittyid:2.1.0"),
        "the previous revision serves again"
    );
    let svc = common::wait_for(
        &services,
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
    operator.stop().await;
}
