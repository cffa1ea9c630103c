//! A failing build step fails the rollout, against a real control plane. Pods on kwok nodes run no
//! commands; the cluster's kwok stage `job-init-script-exit` (hack/kwok-stages.yaml) fails a Job
//! Pod whose init container script is exactly `exit N` the way the kubelet would: the steps before
//! it Completed, that one terminated with exit code N, the rest never started, phase Failed.

mod common;

use chitty_operator::api::conditions::{self, types};
use chitty_operator::api::{
    ChittyDeployment, DeploymentPhase, ServicePhase, StepPhase, StepStatus,
};
use common::health_server::HealthServer;
use common::manifest::ServiceManifest;
use common::{TestEnv, service};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::{Api, ResourceExt};
use serde_json::json;

/// A git-sourced worker whose build runs `test` as its test step.
fn git_service(name: &str, version: &str, test: &str, health: &str) -> ServiceManifest {
    service(name)
        .version(version)
        .git()
        .set("build", json!({"test": test}))
        .replicas(1)
        .health(health)
}

fn phase(d: &ChittyDeployment) -> Option<DeploymentPhase> {
    d.status.as_ref().and_then(|s| s.phase)
}

fn step<'a>(d: &'a ChittyDeployment, name: &str) -> &'a StepStatus {
    let status = d.status.as_ref().expect("the rollout has a status");
    status
        .steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name} in {:#?}", status.steps))
}

/// A sub-step that ran to its end reports when it started and finished, and how long it took.
fn assert_timed(s: &StepStatus) {
    assert!(
        s.started_at.is_some() && s.finished_at.is_some() && s.duration_ms.is_some_and(|d| d >= 0),
        "{} reports its timings: {s:#?}",
        s.name
    );
}

fn image_of(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .first()?
        .image
        .clone()
}

#[tokio::test]
async fn a_failing_test_step_fails_the_first_rollout_naming_build_test() {
    let env = TestEnv::new("build-fail").await;
    let health = HealthServer::start().await;
    env.apply(&git_service("chittyledger", "1.0.0", "exit 1", &health.url))
        .await;

    let failed = env
        .current_rollout("chittyledger", "the rollout finished", |d| {
            phase(d).is_some_and(|p| p.is_finished())
        })
        .await;
    let status = failed.status.clone().unwrap();
    assert_eq!(status.phase, Some(DeploymentPhase::Failed));
    let error = status.error.clone().unwrap_or_default();
    assert!(
        error.contains("build/test") && error.contains("exited with code 1"),
        "the error names the failing stage and its exit code: {error}"
    );
    assert_eq!(status.rolled_back_to, None, "nothing to roll back to");

    assert_eq!(step(&failed, "build").phase, StepPhase::Failed);
    for passed in ["build/clone", "build/install"] {
        let s = step(&failed, passed);
        assert_eq!(s.phase, StepPhase::Succeeded, "{s:#?}");
        assert_timed(s);
    }
    let test = step(&failed, "build/test");
    assert_eq!(test.phase, StepPhase::Failed);
    assert_timed(test);
    assert!(
        test.message
            .as_deref()
            .is_some_and(|m| m.starts_with("exited with code 1: ") && m.contains("exit 1")),
        "the test step says how it ended: {test:#?}"
    );
    assert_eq!(
        step(&failed, "build/image").phase,
        StepPhase::Pending,
        "the image is never built after a failed test"
    );
    for never_ran in ["deploy", "health"] {
        assert_eq!(
            step(&failed, never_ran).phase,
            StepPhase::Pending,
            "{never_ran}"
        );
    }

    let jobs: Api<Job> = Api::namespaced(env.client.clone(), env.ns());
    let job = jobs
        .get(&format!("{}-build", failed.name_any()))
        .await
        .unwrap();
    let job_failed = job
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Failed" && c.status == "True");
    assert!(job_failed, "the build Job itself failed");
    assert!(
        env.deployments
            .get_opt("chittyledger")
            .await
            .unwrap()
            .is_none(),
        "a failed build deploys nothing"
    );

    let svc = env.wait_stalled("chittyledger").await;
    let st = svc.status.unwrap();
    assert_eq!(st.phase, Some(ServicePhase::Failed));
    let ready = conditions::find(&st.conditions, types::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "RolloutFailed")
    );
    assert!(ready.message.contains("build/test"), "{}", ready.message);
    env.teardown().await;
}

#[tokio::test]
async fn a_failing_build_of_a_new_revision_leaves_the_running_revision_untouched() {
    let env = TestEnv::new("build-fail-next").await;
    let health = HealthServer::start().await;
    env.apply(&git_service(
        "chittyfinance",
        "1.0.0",
        "npm test",
        &health.url,
    ))
    .await;
    let good = env
        .current_rollout("chittyfinance", "the first rollout succeeded", |d| {
            phase(d) == Some(DeploymentPhase::Succeeded)
        })
        .await;
    for stage in ["build/clone", "build/install", "build/test", "build/image"] {
        let s = step(&good, stage);
        assert_eq!(s.phase, StepPhase::Succeeded, "a passing build: {s:#?}");
        assert_timed(s);
    }
    let before = env.deployments.get("chittyfinance").await.unwrap();
    let serving = image_of(&before).unwrap();

    env.apply(&git_service(
        "chittyfinance",
        "1.1.0",
        "exit 3",
        &health.url,
    ))
    .await;
    let failed = env
        .current_rollout("chittyfinance", "the 1.1.0 rollout failed", |d| {
            d.spec.snapshot.version == "1.1.0" && phase(d).is_some_and(|p| p.is_finished())
        })
        .await;
    let status = failed.status.clone().unwrap();
    assert_eq!(
        status.phase,
        Some(DeploymentPhase::Failed),
        "a build failure changed nothing, so there is nothing to roll back"
    );
    assert_eq!(status.rolled_back_to, None);
    let error = status.error.unwrap_or_default();
    assert!(
        error.contains("build/test") && error.contains("exited with code 3"),
        "{error}"
    );
    assert_eq!(step(&failed, "build/test").phase, StepPhase::Failed);
    assert_eq!(step(&failed, "deploy").phase, StepPhase::Pending);

    let after = env.deployments.get("chittyfinance").await.unwrap();
    assert_eq!(image_of(&after).as_deref(), Some(serving.as_str()));
    assert_eq!(
        after.metadata.generation, before.metadata.generation,
        "the running Deployment's spec was not changed"
    );

    let svc = env.wait_stalled("chittyfinance").await;
    let st = svc.status.unwrap();
    assert_eq!(st.phase, Some(ServicePhase::Degraded));
    assert_eq!(
        st.last_successful_deployment.as_deref(),
        Some(good.name_any().as_str())
    );
    let ready = conditions::find(&st.conditions, types::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "RolloutFailed")
    );
    assert!(
        ready.message.contains("build/test")
            && ready
                .message
                .contains(&format!("{} keeps serving", good.name_any())),
        "{}",
        ready.message
    );
    env.teardown().await;
}
