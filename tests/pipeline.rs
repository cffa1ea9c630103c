//! The deploy pipeline against a real control plane, with kwok making pods ready and Jobs
//! complete, and a health endpoint each test controls.

mod common;

use std::time::Duration;

use chitty_operator::api::conditions::{self, types};
use chitty_operator::api::{ChittyDeployment, ChittyService, DeploymentPhase, StepPhase, Trigger};
use common::health_server::HealthServer;
use common::manifest::ServiceManifest;
use common::{TestEnv, service};
use k8s_openapi::api::batch::v1::Job;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use serde_json::json;

fn phase(d: &ChittyDeployment) -> Option<DeploymentPhase> {
    d.status.as_ref().and_then(|s| s.phase)
}

/// A worker on two replicas, probed at `health`.
fn manifest(name: &str, version: &str, health: &str) -> ServiceManifest {
    service(name).version(version).replicas(2).health(health)
}

#[tokio::test]
async fn image_source_rolls_out_to_ready() {
    let env = TestEnv::new("to-ready").await;
    let health = HealthServer::start().await;
    env.apply(&manifest("chittyid", "2.1.0", &health.url)).await;
    let svc = env.wait_ready("chittyid").await;

    let out = common::kubectl(&[
        "wait",
        "--for=condition=Ready",
        "chittyservice/chittyid",
        "-n",
        env.ns(),
        "--timeout=30s",
    ]);
    assert!(out.contains("condition met"), "{out}");
    let status = svc.status.unwrap();
    assert_eq!(status.phase.map(|p| p.as_str()), Some("Ready"));
    assert!(status.url.is_some());
    let rollout = env
        .rollouts
        .get(status.current_deployment.as_ref().unwrap())
        .await
        .unwrap();
    let rs = rollout.status.unwrap();
    assert_eq!(rs.phase, Some(DeploymentPhase::Succeeded));
    assert_eq!(rs.progress, 100);
    let by_name = |n: &str| rs.steps.iter().find(|s| s.name == n).unwrap().phase;
    assert_eq!(by_name("build"), StepPhase::Skipped);
    assert_eq!(by_name("deploy"), StepPhase::Succeeded);
    assert_eq!(by_name("health"), StepPhase::Succeeded);
    assert!(rs.duration_ms.is_some() && rs.completed_at.is_some());
    assert_eq!(
        env.image_of("chittyid").await.as_deref(),
        Some("registry.local/chittyid:2.1.0")
    );
    assert!(health.hits() > 0, "the health endpoint was probed");
    let svc_obj =
        Api::<k8s_openapi::api::core::v1::Service>::namespaced(env.client.clone(), env.ns())
            .get("chittyid")
            .await;
    assert!(svc_obj.is_ok(), "a Service fronts the workload");
    env.teardown().await;
}

#[tokio::test]
async fn failing_health_rolls_back_to_the_last_good_revision() {
    let env = TestEnv::new("rollback").await;
    let health = HealthServer::start().await;
    env.apply(&manifest("chittycharge", "1.0.0", &health.url))
        .await;
    env.wait_ready("chittycharge").await;

    health.set_status(503);
    env.apply(&manifest("chittycharge", "1.1.0", &health.url))
        .await;
    let failed = env
        .current_rollout("chittycharge", "the 1.1.0 rollout rolled back", |d| {
            d.spec.snapshot.version == "1.1.0" && phase(d) == Some(DeploymentPhase::RolledBack)
        })
        .await;
    let status = failed.status.unwrap();
    assert!(
        status.error.as_deref().unwrap().contains("returned 503"),
        "{:?}",
        status.error
    );
    assert!(status.rolled_back_to.is_some());
    assert_eq!(
        env.image_of("chittycharge").await.as_deref(),
        Some("registry.local/chittycharge:1.0.0"),
        "the old revision serves again"
    );

    let svc = common::wait_for(
        &env.services,
        "chittycharge",
        "service reports the failure",
        |s: &ChittyService| {
            s.status
                .as_ref()
                .is_some_and(|st| conditions::is_true(&st.conditions, types::STALLED))
        },
    )
    .await;
    let ready = conditions::find(&svc.status.as_ref().unwrap().conditions, types::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "RolloutFailed")
    );
    assert!(ready.message.contains("keeps serving"), "{}", ready.message);
    env.teardown().await;
}

#[tokio::test]
async fn a_failing_first_rollout_says_there_is_nothing_to_roll_back_to() {
    let env = TestEnv::new("first-fail").await;
    let health = HealthServer::start().await;
    health.set_status(500);
    env.apply(&manifest("chittyledger", "0.1.0", &health.url))
        .await;
    let failed = env
        .current_rollout("chittyledger", "the rollout failed", |d| {
            phase(d) == Some(DeploymentPhase::Failed)
        })
        .await;
    assert!(
        failed
            .status
            .unwrap()
            .error
            .unwrap()
            .contains("nothing to roll back to")
    );
    env.teardown().await;
}

#[tokio::test]
async fn git_source_builds_with_ordered_steps_then_deploys() {
    let env = TestEnv::new("build").await;
    let health = HealthServer::start().await;
    let m = manifest("chittyfinance", "1.2.0", &health.url)
        .git()
        .set("build", json!({"test": "npm test -- --ci"}));
    env.apply(&m).await;
    let svc = env.wait_ready("chittyfinance").await;

    let rollout = env
        .rollouts
        .get(&svc.status.unwrap().current_deployment.unwrap())
        .await
        .unwrap();
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), env.ns());
    let job = jobs
        .get(&format!("{}-build", rollout.name_any()))
        .await
        .unwrap();
    let pod = job.spec.unwrap().template.spec.unwrap();
    let init: Vec<String> = pod
        .init_containers
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(init, ["clone", "install", "test"]);
    assert_eq!(pod.containers[0].name, "image");
    let test = pod
        .init_containers
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.name == "test")
        .unwrap();
    let script = test.command.as_ref().unwrap().join(" ");
    assert!(
        script.contains("npm test -- --ci"),
        "the service's test command overrides the default: {script}"
    );
    let status = rollout.status.unwrap();
    let names: Vec<&str> = status.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        &names[..5],
        [
            "build",
            "build/clone",
            "build/install",
            "build/test",
            "build/image"
        ]
    );
    let image = status.image.unwrap();
    assert!(
        image.ends_with(&format!("/chittyfinance:{}", rollout.spec.revision)),
        "{image}"
    );
    assert_eq!(env.image_of("chittyfinance").await, Some(image));
    env.teardown().await;
}

#[tokio::test]
async fn canary_is_promoted_after_a_healthy_monitor_window() {
    let env = TestEnv::new("canary-ok").await;
    let health = HealthServer::start().await;
    let m = manifest("chittyrental", "1.0.0", &health.url)
        .replicas(4)
        .strategy(json!({"type": "canary", "canary": {"percent": 25, "monitorDuration": "3s"}}));
    env.apply(&m).await;
    env.wait_ready("chittyrental").await;

    env.apply(&m.version("1.1.0")).await;
    let canary = common::eventually(
        "a canary Deployment runs beside the stable one",
        || async {
            env.deployments
                .get_opt("chittyrental-canary")
                .await
                .unwrap()
        },
        |d| d.is_some(),
    )
    .await
    .unwrap();
    assert_eq!(canary.spec.as_ref().unwrap().replicas, Some(1));
    let stable = env.deployments.get("chittyrental").await.unwrap();
    assert_eq!(stable.spec.as_ref().unwrap().replicas, Some(3));

    let done = env
        .current_rollout("chittyrental", "the canary rollout succeeded", |d| {
            d.spec.snapshot.version == "1.1.0" && phase(d) == Some(DeploymentPhase::Succeeded)
        })
        .await;
    assert_eq!(
        done.status.unwrap().canary.unwrap().state.as_deref(),
        Some("Promoted")
    );
    assert_eq!(
        env.image_of("chittyrental").await.as_deref(),
        Some("registry.local/chittyrental:1.1.0")
    );
    let stable = env.deployments.get("chittyrental").await.unwrap();
    assert_eq!(stable.spec.unwrap().replicas, Some(4));
    assert!(
        env.deployments
            .get_opt("chittyrental-canary")
            .await
            .unwrap()
            .is_none(),
        "canary removed"
    );
    env.teardown().await;
}

#[tokio::test]
async fn unhealthy_canary_is_aborted_and_stable_is_untouched() {
    let env = TestEnv::new("canary-abort").await;
    let health = HealthServer::start().await;
    let m = manifest("chittyrental", "1.0.0", &health.url)
        .replicas(4)
        .strategy(json!({"type": "canary", "canary": {"percent": 50, "monitorDuration": "30s"}}));
    env.apply(&m).await;
    env.wait_ready("chittyrental").await;

    health.set_status(503);
    env.apply(&m.version("2.0.0")).await;
    let aborted = env
        .current_rollout("chittyrental", "the canary was aborted", |d| {
            d.spec.snapshot.version == "2.0.0" && phase(d) == Some(DeploymentPhase::Aborted)
        })
        .await;
    assert_eq!(
        aborted.status.unwrap().canary.unwrap().state.as_deref(),
        Some("Aborted")
    );
    common::eventually(
        "the canary Deployment is removed",
        || async {
            env.deployments
                .get_opt("chittyrental-canary")
                .await
                .unwrap()
        },
        |d| d.is_none(),
    )
    .await;
    let stable = env.deployments.get("chittyrental").await.unwrap();
    assert_eq!(stable.spec.as_ref().unwrap().replicas, Some(4));
    assert_eq!(
        env.image_of("chittyrental").await.as_deref(),
        Some("registry.local/chittyrental:1.0.0")
    );
    env.teardown().await;
}

#[tokio::test]
async fn dependencies_gate_the_rollout_until_ready() {
    let env = TestEnv::new("deps").await;
    let health = HealthServer::start().await;
    let charge = manifest("chittycharge", "1.2.3", &health.url).depends_on(&["chittyfinance"]);
    env.apply(&charge).await;
    let waiting = env
        .current_rollout(
            "chittycharge",
            "the rollout waits on a missing dependency",
            |d| {
                d.status.as_ref().is_some_and(|s| {
                    conditions::find(&s.conditions, types::DEPENDENCIES_READY)
                        .is_some_and(|c| c.status == "False")
                })
            },
        )
        .await;
    let gate = conditions::find(
        &waiting.status.as_ref().unwrap().conditions,
        types::DEPENDENCIES_READY,
    )
    .unwrap()
    .clone();
    assert_eq!(gate.reason, "DependencyNotReady");
    assert!(
        gate.message.contains("does not exist") && gate.message.contains("chittyfinance"),
        "{}",
        gate.message
    );
    assert_eq!(phase(&waiting), Some(DeploymentPhase::Pending));

    env.apply(&manifest("chittyfinance", "1.2.0", &health.url))
        .await;
    env.wait_ready("chittyfinance").await;
    env.wait_ready("chittycharge").await;
    env.teardown().await;
}

#[tokio::test]
async fn a_dependency_cycle_is_reported_on_every_member() {
    let env = TestEnv::new("cycle").await;
    let health = HealthServer::start().await;
    for (name, dep) in [("svc-a", "svc-b"), ("svc-b", "svc-a")] {
        env.apply(&manifest(name, "1.0.0", &health.url).depends_on(&[dep]))
            .await;
    }
    for name in ["svc-a", "svc-b"] {
        let stalled = env
            .current_rollout(name, "the cycle is reported", |d| {
                d.status
                    .as_ref()
                    .is_some_and(|s| conditions::is_true(&s.conditions, types::STALLED))
            })
            .await;
        let c = conditions::find(&stalled.status.as_ref().unwrap().conditions, types::STALLED)
            .unwrap()
            .clone();
        assert_eq!(c.reason, "DependencyCycle");
        assert!(
            c.message.contains("svc-a") && c.message.contains("svc-b") && c.message.contains("->"),
            "{}",
            c.message
        );
    }
    env.teardown().await;
}

#[tokio::test]
async fn reverting_to_a_good_revision_is_recognised() {
    let env = TestEnv::new("revert").await;
    let health = HealthServer::start().await;
    env.apply(&manifest("chittyid", "1.0.0", &health.url)).await;
    env.wait_ready("chittyid").await;
    env.apply(&manifest("chittyid", "1.1.0", &health.url)).await;
    env.current_rollout("chittyid", "1.1.0 succeeded", |d| {
        d.spec.snapshot.version == "1.1.0" && phase(d) == Some(DeploymentPhase::Succeeded)
    })
    .await;
    env.apply(&manifest("chittyid", "1.0.0", &health.url)).await;
    let revert = env
        .current_rollout("chittyid", "the revert succeeded", |d| {
            d.spec.snapshot.version == "1.0.0" && phase(d) == Some(DeploymentPhase::Succeeded)
        })
        .await;
    assert_eq!(revert.spec.trigger, Trigger::Revert);
    assert_eq!(
        env.image_of("chittyid").await.as_deref(),
        Some("registry.local/chittyid:1.0.0")
    );
    env.teardown().await;
}

#[tokio::test]
async fn history_is_pruned_to_the_limit() {
    let env = TestEnv::new("history").await;
    let health = HealthServer::start().await;
    for minor in 0..4 {
        let m = manifest("chittyid", &format!("1.{minor}.0"), &health.url)
            .set("revisionHistoryLimit", 2.into());
        env.apply(&m).await;
        env.current_rollout("chittyid", "rollout succeeded", |d| {
            d.spec.snapshot.version == format!("1.{minor}.0")
                && phase(d) == Some(DeploymentPhase::Succeeded)
        })
        .await;
    }
    let rollouts = env.rollouts.clone();
    common::eventually(
        "old rollouts are pruned",
        || async {
            rollouts
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len()
        },
        |n| *n <= 2,
    )
    .await;
    env.teardown().await;
}

#[tokio::test]
async fn a_restarted_operator_resumes_a_rollout_mid_flight() {
    let mut env = TestEnv::new("restart").await;
    let health = HealthServer::start().await;
    health.set_status(503);
    let m = manifest("chittyregistry", "1.0.4", &health.url)
        .merge(json!({"spec": {"health": {"failureThreshold": 100}}}));
    env.apply(&m).await;
    env.current_rollout("chittyregistry", "the rollout is in its health step", |d| {
        d.status.as_ref().is_some_and(|s| {
            s.current_step.as_deref() == Some("health") && s.phase == Some(DeploymentPhase::Running)
        })
    })
    .await;
    env.stop_operator().await;

    health.set_status(200);
    env.start_operator().await;
    env.wait_ready("chittyregistry").await;
    let all = env
        .rollouts
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(all.len(), 1, "no second rollout was started");
    let deploy_step = all[0]
        .status
        .as_ref()
        .unwrap()
        .steps
        .iter()
        .find(|s| s.name == "deploy")
        .unwrap()
        .clone();
    assert_eq!(deploy_step.phase, StepPhase::Succeeded);
    tokio::time::sleep(Duration::from_millis(10)).await;
    env.teardown().await;
}

#[tokio::test]
async fn suspending_a_service_pauses_new_rollouts() {
    let env = TestEnv::new("suspend").await;
    let health = HealthServer::start().await;
    env.apply(&manifest("chittygov", "1.0.0", &health.url))
        .await;
    env.wait_ready("chittygov").await;

    let m = manifest("chittygov", "1.1.0", &health.url);
    env.apply(&m.clone().suspend(true)).await;
    let svc = common::wait_for(
        &env.services,
        "chittygov",
        "suspended",
        |s: &ChittyService| {
            s.status
                .as_ref()
                .is_some_and(|st| st.observed_generation == s.metadata.generation)
                && s.status
                    .as_ref()
                    .and_then(|st| st.phase)
                    .map(|p| p.as_str())
                    == Some("Suspended")
        },
    )
    .await;
    assert_eq!(
        env.rollouts
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1,
        "no rollout while suspended"
    );
    let ready = conditions::find(&svc.status.unwrap().conditions, types::READY)
        .unwrap()
        .clone();
    assert_eq!(ready.reason, "Suspended");
    assert!(ready.message.contains("keeps serving"), "{}", ready.message);
    assert_eq!(
        env.image_of("chittygov").await.as_deref(),
        Some("registry.local/chittygov:1.0.0")
    );

    env.apply(&m.suspend(false)).await;
    env.current_rollout("chittygov", "1.1.0 rolls out once resumed", |d| {
        d.spec.snapshot.version == "1.1.0" && phase(d) == Some(DeploymentPhase::Succeeded)
    })
    .await;
    env.teardown().await;
}
