//! The ChittyService controller against a real apiserver: one ChittyDeployment per new revision,
//! truthful kstatus status, and no writes from an idle operator.

mod common;

use std::time::Duration;

use chitty_operator::api::conditions::{self, reasons, types};
use chitty_operator::api::{ChittyDeployment, ChittyService, ServicePhase, Trigger};
use common::wait::observed;
use common::{TestEnv, service};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};

async fn rollouts_of(api: &Api<ChittyDeployment>, service: &str) -> Vec<ChittyDeployment> {
    let lp = ListParams::default().labels(&format!("chitty.cc/service={service}"));
    api.list(&lp).await.unwrap().items
}

#[tokio::test]
async fn each_new_revision_gets_exactly_one_rollout() {
    let env = TestEnv::new("revisions").await;
    let (services, rollouts) = (&env.services, &env.rollouts);

    env.apply(&service("chittyrental")).await;
    let svc = common::wait_for(
        services,
        "chittyrental",
        "first rollout recorded",
        |s: &ChittyService| {
            observed(s)
                && s.status
                    .as_ref()
                    .is_some_and(|st| st.current_deployment.is_some())
        },
    )
    .await;
    let status = svc.status.unwrap();
    let ready =
        conditions::find(&status.conditions, types::READY).expect("Ready is always present");
    assert_eq!(ready.status, "False");
    assert!(
        [reasons::ROLLOUT_PENDING, reasons::ROLLOUT_IN_PROGRESS].contains(&ready.reason.as_str()),
        "{}",
        ready.reason
    );
    assert!(!ready.message.is_empty());
    assert!(matches!(
        status.phase,
        Some(ServicePhase::Pending | ServicePhase::Progressing)
    ));
    let first = rollouts_of(rollouts, "chittyrental").await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].spec.trigger, Trigger::Initial);
    assert_eq!(first[0].owner_references()[0].name, "chittyrental");

    // Scaling is not a new revision.
    services
        .patch(
            "chittyrental",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    common::wait_for(
        services,
        "chittyrental",
        "generation 2 observed",
        |s: &ChittyService| s.metadata.generation == Some(2) && observed(s),
    )
    .await;
    assert_eq!(rollouts_of(rollouts, "chittyrental").await.len(), 1);

    // A new version is a new revision: exactly one more rollout.
    services
        .patch(
            "chittyrental",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"version": "1.1.0"}})),
        )
        .await
        .unwrap();
    let svc = common::wait_for(
        services,
        "chittyrental",
        "generation 3 observed",
        |s: &ChittyService| s.metadata.generation == Some(3) && observed(s),
    )
    .await;
    let after = rollouts_of(rollouts, "chittyrental").await;
    assert_eq!(
        after.len(),
        2,
        "{:?}",
        after.iter().map(|d| d.name_any()).collect::<Vec<_>>()
    );
    let current = svc.status.unwrap().current_deployment.unwrap();
    let newest = after
        .iter()
        .find(|d| d.name_any() == current)
        .expect("status names an existing rollout");
    assert_eq!(newest.spec.snapshot.version, "1.1.0");

    // Re-applying the same manifest (version and replicas as patched above, the image as
    // first applied: the patches left it alone) changes nothing.
    let same = service("chittyrental")
        .version("1.1.0")
        .image("registry.local/chittyrental:1.0.0")
        .replicas(3);
    env.apply(&same).await;
    env.apply(&same).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        services
            .get("chittyrental")
            .await
            .unwrap()
            .metadata
            .generation,
        Some(3)
    );
    assert_eq!(rollouts_of(rollouts, "chittyrental").await.len(), 2);
    env.teardown().await;
}

#[tokio::test]
async fn rollout_spec_is_immutable() {
    let env = TestEnv::new("immutable").await;
    env.apply(&service("chittyfinance").version("1.2.0")).await;
    let name = env.recorded_rollout("chittyfinance").await;
    let (ok, out) = common::kubectl_try(&[
        "patch",
        "cdeploy",
        &name,
        "-n",
        env.ns(),
        "--type=merge",
        "-p",
        r#"{"spec":{"trigger":"Revert"}}"#,
    ]);
    assert!(!ok, "patching a rollout's spec must fail");
    assert!(out.contains("ChittyDeployment spec is immutable"), "{out}");
    env.teardown().await;
}

#[tokio::test]
async fn every_rollout_has_a_status_from_its_first_reconcile() {
    let env = TestEnv::new("rollout-status").await;
    env.apply(&service("chittyid").version("2.1.0")).await;
    let name = env.recorded_rollout("chittyid").await;
    let rollout = common::wait_for(
        &env.rollouts,
        &name,
        "status written",
        |d: &ChittyDeployment| d.status.is_some(),
    )
    .await;
    let status = rollout.status.unwrap();
    let steps: Vec<&str> = status.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        steps,
        [
            "build", "deploy", "identity", "register", "routes", "health", "notify"
        ]
    );
    assert!(conditions::find(&status.conditions, types::READY).is_some());
    env.teardown().await;
}

#[tokio::test]
async fn an_idle_operator_writes_nothing() {
    let health = common::health_server::HealthServer::start().await;
    let url = health.url.clone();
    let env = TestEnv::with("idle", move |c, _| {
        c.health_url_override = Some(url.clone())
    })
    .await;
    let dir = common::repo().join("config/samples");
    common::kubectl(&["apply", "-n", env.ns(), "-k", &dir.to_string_lossy()]);
    let (services, rollouts) = (&env.services, &env.rollouts);
    let names: Vec<String> = services
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|s| s.name_any())
        .collect();
    assert!(names.len() >= 4, "samples define the property ecosystem");

    common::eventually(
        "every sample service is Ready",
        || async {
            let svcs = services.list(&ListParams::default()).await.unwrap().items;
            let rls = rollouts.list(&ListParams::default()).await.unwrap().items;
            (svcs, rls)
        },
        |(svcs, rls)| {
            svcs.iter().all(|s| {
                observed(s)
                    && s.status
                        .as_ref()
                        .is_some_and(|st| conditions::is_true(&st.conditions, types::READY))
            }) && rls.len() == svcs.len()
                && rls.iter().all(|d| d.status.is_some())
        },
    )
    .await;

    // Settled: from here on, nothing changes in the world, so the operator must not write.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = env.operator().metrics.kube_write_total();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = env.operator().metrics.kube_write_total();
    assert_eq!(
        after,
        before,
        "an idle operator made {} writes",
        after - before
    );
    assert!(
        before > 0,
        "the write counter counts (the operator did write while converging)"
    );
    env.teardown().await;
}
