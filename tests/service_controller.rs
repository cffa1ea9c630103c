//! The ChittyService controller against a real apiserver: one ChittyDeployment per new revision,
//! truthful kstatus status, and no writes from an idle operator.

mod common;

use std::time::Duration;

use chitty_operator::api::conditions::{self, reasons, types};
use chitty_operator::api::{ChittyDeployment, ChittyService, ServicePhase, Trigger};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};

/// A manifest as a user writes it: only what they set, defaults left to the apiserver.
fn service(name: &str, version: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "metadata": {"name": name},
        "spec": {"type": "worker", "version": version, "environment": "staging",
                 "source": {"image": format!("registry.local/{name}:{version}")}}
    })
}

async fn create(api: &Api<ChittyService>, manifest: serde_json::Value) {
    let name = manifest["metadata"]["name"].as_str().unwrap().to_string();
    api.patch(&name, &PatchParams::apply("test"), &Patch::Apply(&manifest))
        .await
        .unwrap();
}

async fn rollouts_of(api: &Api<ChittyDeployment>, service: &str) -> Vec<ChittyDeployment> {
    let lp = ListParams::default().labels(&format!("chitty.cc/service={service}"));
    api.list(&lp).await.unwrap().items
}

fn observed(svc: &ChittyService) -> bool {
    svc.status.as_ref().and_then(|s| s.observed_generation) == svc.metadata.generation
}

#[tokio::test]
async fn each_new_revision_gets_exactly_one_rollout() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "revisions").await;
    let operator = common::RunningOperator::start(&ns.name).await;
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    let rollouts: Api<ChittyDeployment> = Api::namespaced(client.clone(), &ns.name);

    create(&services, service("chittyrental", "1.0.0")).await;
    let svc = common::wait_for(
        &services,
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
    let first = rollouts_of(&rollouts, "chittyrental").await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].spec.trigger, Trigger::Initial);
    assert_eq!(first[0].owner_references()[0].name, "chittyrental");

    // Scaling is not a new revision.
    let ssa = PatchParams::apply("test").force();
    services
        .patch(
            "chittyrental",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    common::wait_for(
        &services,
        "chittyrental",
        "generation 2 observed",
        |s: &ChittyService| s.metadata.generation == Some(2) && observed(s),
    )
    .await;
    assert_eq!(rollouts_of(&rollouts, "chittyrental").await.len(), 1);

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
        &services,
        "chittyrental",
        "generation 3 observed",
        |s: &ChittyService| s.metadata.generation == Some(3) && observed(s),
    )
    .await;
    let after = rollouts_of(&rollouts, "chittyrental").await;
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

    // Re-applying the same manifest (version and replicas as patched above) changes nothing.
    let mut same = service("chittyrental", "1.0.0");
    same["spec"]["version"] = "1.1.0".into();
    same["spec"]["replicas"] = 3.into();
    services
        .patch("chittyrental", &ssa, &Patch::Apply(&same))
        .await
        .unwrap();
    services
        .patch("chittyrental", &ssa, &Patch::Apply(&same))
        .await
        .unwrap();
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
    assert_eq!(rollouts_of(&rollouts, "chittyrental").await.len(), 2);
    operator.stop().await;
}

#[tokio::test]
async fn rollout_spec_is_immutable() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "immutable").await;
    let operator = common::RunningOperator::start(&ns.name).await;
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    create(&services, service("chittyfinance", "1.2.0")).await;
    let svc = common::wait_for(
        &services,
        "chittyfinance",
        "rollout recorded",
        |s: &ChittyService| {
            s.status
                .as_ref()
                .is_some_and(|st| st.current_deployment.is_some())
        },
    )
    .await;
    let name = svc.status.unwrap().current_deployment.unwrap();
    let (ok, out) = common::kubectl_try(&[
        "patch",
        "cdeploy",
        &name,
        "-n",
        &ns.name,
        "--type=merge",
        "-p",
        r#"{"spec":{"trigger":"Revert"}}"#,
    ]);
    assert!(!ok, "patching a rollout's spec must fail");
    assert!(out.contains("ChittyDeployment spec is immutable"), "{out}");
    operator.stop().await;
}

#[tokio::test]
async fn every_rollout_has_a_status_from_its_first_reconcile() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "rollout-status").await;
    let operator = common::RunningOperator::start(&ns.name).await;
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    let rollouts: Api<ChittyDeployment> = Api::namespaced(client.clone(), &ns.name);
    create(&services, service("chittyid", "2.1.0")).await;
    let svc = common::wait_for(
        &services,
        "chittyid",
        "rollout recorded",
        |s: &ChittyService| {
            s.status
                .as_ref()
                .is_some_and(|st| st.current_deployment.is_some())
        },
    )
    .await;
    let name = svc.status.unwrap().current_deployment.unwrap();
    let rollout = common::wait_for(
        &rollouts,
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
    operator.stop().await;
}

#[tokio::test]
async fn an_idle_operator_writes_nothing() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "idle").await;
    let health = common::health_server::HealthServer::start().await;
    let operator = common::RunningOperator::start_with(&ns.name, |c| {
        c.health_url_override = Some(health.url.clone())
    })
    .await;
    let dir = common::repo().join("config/samples");
    common::kubectl(&["apply", "-n", &ns.name, "-k", &dir.to_string_lossy()]);
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    let rollouts: Api<ChittyDeployment> = Api::namespaced(client.clone(), &ns.name);
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
    let before = operator.metrics.kube_write_total();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = operator.metrics.kube_write_total();
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
    operator.stop().await;
}
