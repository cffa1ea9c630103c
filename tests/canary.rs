//! Canaries in steps on the local control plane: the weights follow the steps over time, the
//! canary Service selects only canary pods, each step is judged on the canary alone (its own
//! stand-in health endpoint in chitty-sim), a failed step aborts at once with the measurement in
//! the message, and a person can pause, resume, promote or abort one in flight.

mod common;

use chitty_operator::api::{CANARY_CONTROL, CANARY_CONTROL_BY, ChittyDeployment, DeploymentPhase};
use chitty_operator::sim::{self, SimConfig};
use common::TestEnv;
use common::manifest::ServiceManifest;
use common::sim_admin::set_health;
use k8s_openapi::api::core::v1::{Event, Service};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

/// `web` at `version`, healthy at the stand-in `web-stable`, its canary judged at `web-canary`.
fn web(sim: &str, version: &str, steps: Value, analysis: Value) -> ServiceManifest {
    let mut analysis = analysis;
    analysis["url"] = format!("{sim}/svc/web-canary").into();
    common::service("web")
        .version(version)
        .replicas(4)
        .health_spec(
            json!({"url": format!("{sim}/svc/web-stable"), "interval": "1s",
            "timeout": "1s", "failureThreshold": 2}),
        )
        .strategy(json!({"type": "canary", "canary": {"steps": steps, "analysis": analysis}}))
}

fn canary_of(d: &ChittyDeployment) -> Option<chitty_operator::api::CanaryStatus> {
    d.status.as_ref()?.canary.clone()
}

fn phase(d: &ChittyDeployment) -> Option<DeploymentPhase> {
    d.status.as_ref()?.phase
}

async fn replicas(env: &TestEnv, name: &str) -> Option<i32> {
    env.deployments.get_opt(name).await.unwrap()?.spec?.replicas
}

/// `kubectl chitty VERB web --by WHO`, as a person would steer the canary.
fn plugin(env: &TestEnv, verb: &str, who: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-chitty"))
        .arg("--kubeconfig")
        .arg(common::kubeconfig())
        .args(["-n", env.ns(), verb, "web", "--by", who])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn command(env: &TestEnv, rollout: &str, word: &str, who: &str) {
    let patch =
        json!({"metadata": {"annotations": {CANARY_CONTROL: word, CANARY_CONTROL_BY: who}}});
    env.rollouts
        .patch(rollout, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// The Events about a rollout with this reason, as notes.
async fn events(env: &TestEnv, rollout: &str, reason: &str) -> Vec<String> {
    let api: Api<Event> = env.api();
    let list = api.list(&ListParams::default()).await.unwrap();
    list.items
        .into_iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(rollout)
                && e.reason.as_deref() == Some(reason)
        })
        .filter_map(|e| e.message)
        .collect()
}

#[tokio::test]
async fn a_three_step_canary_follows_its_weights_and_is_promoted() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let env = TestEnv::new("canary-steps").await;
    let steps = json!([{"weight": 25, "pause": "3s"}, {"weight": 50, "pause": "3s"}, {"weight": 75, "pause": "3s"}]);
    let m = web(
        &sim.base_url(),
        "1.0.0",
        steps.clone(),
        json!({"successRate": 90, "failureLimit": 1}),
    );
    env.apply(&m).await;
    env.wait_ready_at("web", "1.0.0").await;

    env.apply(&web(
        &sim.base_url(),
        "2.0.0",
        steps,
        json!({"successRate": 90, "failureLimit": 1}),
    ))
    .await;
    // Without weighted routing the share is carried by pods: 1, 2 and 3 of 4 (see `traffic`).
    for (step, weight, pods) in [(1, 25, 1), (2, 50, 2), (3, 75, 3)] {
        let d = env
            .rollout_of_version("2.0.0", &format!("step {step}"), |d| {
                canary_of(d).is_some_and(|c| c.step == Some(step))
            })
            .await;
        let c = canary_of(&d).unwrap();
        assert_eq!(
            (c.weight, c.steps, c.mechanism.as_deref()),
            (Some(weight), Some(3), Some("PodRatio"))
        );
        assert!(
            c.step_ends_at.is_some(),
            "the time left is to be read off the step's end"
        );
        common::eventually(
            "the canary sized for the step",
            || replicas(&env, "web-canary"),
            |r| *r == Some(pods),
        )
        .await;
    }
    let services: Api<Service> = env.api();
    let canary_service = services.get("web-canary").await.unwrap();
    let selector = canary_service.spec.unwrap().selector.unwrap();
    assert_eq!(
        selector.get("chitty.cc/track").map(String::as_str),
        Some("canary"),
        "{selector:?}"
    );

    let done = env
        .rollout_of_version("2.0.0", "promoted", |d| {
            phase(d) == Some(DeploymentPhase::Succeeded)
        })
        .await;
    let c = canary_of(&done).unwrap();
    assert_eq!(
        (c.state.as_deref(), c.weight),
        (Some("Promoted"), Some(100))
    );
    let analysis = c.analysis.unwrap();
    assert!(
        analysis.probes >= 1 && analysis.failures == 0,
        "{analysis:?}"
    );
    common::eventually(
        "one Deployment left",
        || async { env.deployments.get_opt("web-canary").await.unwrap() },
        |d| d.is_none(),
    )
    .await;
    assert_eq!(
        env.image_of("web").await.as_deref(),
        Some("registry.local/web:2.0.0")
    );
    assert_eq!(replicas(&env, "web").await, Some(4));
    common::eventually(
        "the canary Service removed",
        || async { services.get_opt("web-canary").await.unwrap() },
        |s| s.is_none(),
    )
    .await;
    env.teardown().await;
}

#[tokio::test]
async fn a_canary_failing_at_step_two_is_aborted_with_the_measurement() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let env = TestEnv::new("canary-fails").await;
    let steps = json!([{"weight": 25, "pause": "2s"}, {"weight": 50, "pause": "1h"}, {"weight": 75, "pause": "1h"}]);
    let analysis = json!({"failureLimit": 1});
    env.apply(&web(
        &sim.base_url(),
        "1.0.0",
        steps.clone(),
        analysis.clone(),
    ))
    .await;
    env.wait_ready_at("web", "1.0.0").await;

    env.apply(&web(&sim.base_url(), "2.0.0", steps, analysis))
        .await;
    env.rollout_of_version("2.0.0", "step 2", |d| {
        canary_of(d).is_some_and(|c| c.step == Some(2))
    })
    .await;
    set_health(&sim, "web-canary", "down").await;
    let aborted = env
        .rollout_of_version("2.0.0", "aborted", |d| {
            phase(d) == Some(DeploymentPhase::Aborted)
        })
        .await;
    let error = aborted.status.clone().unwrap().error.unwrap();
    assert!(error.contains("step 2 of 3 (weight 50%)"), "{error}");
    assert!(error.contains("2 of"), "the failed count: {error}");
    assert!(error.contains("over the failure limit of 1"), "{error}");
    let c = canary_of(&aborted).unwrap();
    assert_eq!((c.state.as_deref(), c.weight), (Some("Aborted"), Some(0)));
    common::eventually(
        "the canary scaled away",
        || async { env.deployments.get_opt("web-canary").await.unwrap() },
        |d| d.is_none(),
    )
    .await;
    assert_eq!(
        replicas(&env, "web").await,
        Some(4),
        "stable back at full size"
    );
    assert_eq!(
        env.image_of("web").await.as_deref(),
        Some("registry.local/web:1.0.0")
    );
    let svc = env.services.get("web").await.unwrap();
    let ready = svc
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert!(ready.message.contains("keeps serving"), "{}", ready.message);
    env.teardown().await;
}

#[tokio::test]
async fn a_person_pauses_resumes_promotes_and_aborts_canaries_in_flight() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let env = TestEnv::new("canary-control").await;
    let steps = json!([{"weight": 25, "pause": "1h"}, {"weight": 50, "pause": "1h"}]);
    env.apply(&web(&sim.base_url(), "1.0.0", steps.clone(), json!({})))
        .await;
    env.wait_ready_at("web", "1.0.0").await;

    env.apply(&web(&sim.base_url(), "2.0.0", steps.clone(), json!({})))
        .await;
    let d = env
        .rollout_of_version("2.0.0", "step 1", |d| {
            canary_of(d).is_some_and(|c| c.step == Some(1))
        })
        .await;
    let name = d.name_any();
    plugin(&env, "pause", "alice");
    let paused = env
        .rollout_of_version("2.0.0", "paused", |d| {
            canary_of(d).is_some_and(|c| c.state.as_deref() == Some("Paused"))
        })
        .await;
    let c = canary_of(&paused).unwrap();
    assert!(
        c.step_ends_at.is_none() && c.paused_remaining_ms.is_some_and(|ms| ms > 3_000_000),
        "{c:?}"
    );
    plugin(&env, "unpause", "alice");
    env.rollout_of_version("2.0.0", "resumed", |d| {
        canary_of(d)
            .is_some_and(|c| c.state.as_deref() == Some("Progressing") && c.step_ends_at.is_some())
    })
    .await;
    plugin(&env, "promote", "alice");
    let done = env
        .rollout_of_version("2.0.0", "promoted", |d| {
            phase(d) == Some(DeploymentPhase::Succeeded)
        })
        .await;
    let health = done
        .status
        .unwrap()
        .steps
        .into_iter()
        .find(|s| s.name == "health")
        .unwrap();
    assert!(
        health
            .message
            .unwrap()
            .contains("promoted by alice at step 1 of 2")
    );
    for (reason, word) in [
        ("CanaryPaused", "paused"),
        ("CanaryResumed", "resumed"),
        ("CanaryPromoted", "promoted"),
    ] {
        let notes = events(&env, &name, reason).await;
        assert!(
            notes
                .iter()
                .any(|n| n.contains(&format!("{word} by alice"))),
            "{reason}: {notes:?}"
        );
    }

    env.apply(&web(&sim.base_url(), "3.0.0", steps, json!({})))
        .await;
    let d = env
        .rollout_of_version("3.0.0", "step 1", |d| {
            canary_of(d).is_some_and(|c| c.step == Some(1))
        })
        .await;
    command(&env, &d.name_any(), "abort", "bob").await;
    let aborted = env
        .rollout_of_version("3.0.0", "aborted", |d| {
            phase(d) == Some(DeploymentPhase::Aborted)
        })
        .await;
    assert!(
        aborted
            .status
            .unwrap()
            .error
            .unwrap()
            .contains("aborted by bob")
    );
    assert!(
        events(&env, &d.name_any(), "CanaryAborted")
            .await
            .iter()
            .any(|n| n.contains("bob"))
    );
    assert_eq!(
        env.image_of("web").await.as_deref(),
        Some("registry.local/web:2.0.0")
    );
    env.teardown().await;
}
