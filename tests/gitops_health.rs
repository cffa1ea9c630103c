//! What GitOps tools conclude from the operator's status, with their own logic: kstatus (the
//! upstream library Flux and kpt decide with) and Argo CD's health script (the chart's Lua file, run
//! in Argo CD's interpreter), both asked of real objects read from the cluster in each state of a
//! service's life, its rollouts' and its route claims'.
//!
//! kstatus answers InProgress, Current, Failed or Terminating. Argo CD answers Healthy,
//! Progressing, Degraded or Suspended, as its documentation defines them: Suspended when waiting
//! for an external event (a person), Degraded when failed, Progressing while it may still get
//! healthy.

mod common;

use chitty_operator::api::{ChittyDeployment, ChittyService, Route, RouteClaim};
use chitty_operator::controller::service::routes::claim_name;
use common::health_server::HealthServer;
use common::manifest::ServiceManifest;
use common::verdicts::{Health, health_of, health_where};
use common::{TestEnv, service};
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

/// A finalizer of the test's own, which holds a deleted object in its Terminating state.
const HOLD: &str = "chitty.cc/test-hold";

/// `(status, reason)` of the object's condition `type_`, if it has one.
fn condition(object: &Value, type_: &str) -> Option<(String, String)> {
    let conditions = object["status"]["conditions"].as_array()?;
    let c = conditions.iter().find(|c| c["type"] == type_)?;
    Some((
        c["status"].as_str()?.to_string(),
        c["reason"].as_str()?.to_string(),
    ))
}

/// The status speaks for the object's current generation.
fn observed(object: &Value) -> bool {
    object["status"]["observedGeneration"] == object["metadata"]["generation"]
}

fn reason_is(h: &Health, type_: &str, status: &str, reason: &str) -> bool {
    observed(&h.object)
        && condition(&h.object, type_) == Some((status.to_string(), reason.to_string()))
}

/// A worker that rolls out against `health` and is probed every second.
fn worker(name: &str, health: &HealthServer) -> ServiceManifest {
    service(name).replicas(1).health(&health.url)
}

#[tokio::test]
async fn a_service_and_its_rollout_read_right_from_creation_to_deletion() {
    let mut env = TestEnv::without_operator("gitops-life").await;
    let health = HealthServer::start().await;
    health.set_status(503);

    // Created, and no operator has seen it: nothing may call it done.
    env.apply(&worker("web", &health)).await;
    let created = health_of::<ChittyService>(&env, "web").await;
    assert_eq!(
        created.pair(),
        ("InProgress", "Progressing"),
        "{created:#?}"
    );
    assert!(
        created.kstatus.message.contains("observed generation is 0"),
        "{created:#?}"
    );

    // Rolling out: the health step waits for the endpoint to answer 200.
    env.start_operator().await;
    let rolling = health_where::<ChittyService>(&env, "web", "rolling out", |h| {
        reason_is(h, "Reconciling", "True", "RolloutInProgress")
    })
    .await;
    assert_eq!(
        rolling.pair(),
        ("InProgress", "Progressing"),
        "{rolling:#?}"
    );
    let rollout = env.recorded_rollout("web").await;
    let running = health_where::<ChittyDeployment>(&env, &rollout, "running", |h| {
        reason_is(h, "Reconciling", "True", "RolloutInProgress")
    })
    .await;
    assert_eq!(
        running.pair(),
        ("InProgress", "Progressing"),
        "{running:#?}"
    );

    // Ready, and the rollout succeeded.
    health.set_status(200);
    env.wait_ready("web").await;
    let ready = health_of::<ChittyService>(&env, "web").await;
    assert_eq!(ready.pair(), ("Current", "Healthy"), "{ready:#?}");
    let succeeded = health_where::<ChittyDeployment>(&env, &rollout, "succeeded", |h| {
        reason_is(h, "Ready", "True", "RolloutSucceeded")
    })
    .await;
    assert_eq!(succeeded.pair(), ("Current", "Healthy"), "{succeeded:#?}");

    // Suspended with a new version waiting: the last good rollout keeps serving, so kstatus
    // (which has no word for suspended) reads Current; Argo CD waits for a person.
    env.apply(&worker("web", &health).version("1.1.0").suspend(true))
        .await;
    let suspended = health_where::<ChittyService>(&env, "web", "suspended", |h| {
        reason_is(h, "Ready", "True", "Suspended")
    })
    .await;
    assert_eq!(suspended.pair(), ("Current", "Suspended"), "{suspended:#?}");

    // Deleting: held by a finalizer, the object is Terminating; Argo CD says Pending deletion
    // before any health script runs.
    let live = env.services.get("web").await.expect("read");
    let mut finalizers = live.metadata.finalizers.clone().unwrap_or_default();
    finalizers.push(HOLD.into());
    // The resourceVersion makes the write fail rather than drop a finalizer added meanwhile.
    let hold = json!({"metadata": {"finalizers": finalizers,
                                   "resourceVersion": live.metadata.resource_version}});
    env.services
        .patch("web", &PatchParams::default(), &Patch::Merge(hold))
        .await
        .expect("the test's finalizer is added");
    env.services
        .delete("web", &DeleteParams::default())
        .await
        .expect("deleted");
    // Once the operator has released its own finalizer, only the test's holds the object.
    let deleting = health_where::<ChittyService>(&env, "web", "held by the test alone", |h| {
        h.object["metadata"]["finalizers"] == json!([HOLD])
    })
    .await;
    assert_eq!(
        deleting.pair(),
        ("Terminating", "Progressing"),
        "{deleting:#?}"
    );
    assert_eq!(deleting.argo.message, "Pending deletion");
    env.services
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("the test's finalizer is removed");
    env.teardown().await;
}

#[tokio::test]
async fn failed_stalled_and_waiting_for_approval_read_as_such() {
    let env = TestEnv::new("gitops-stuck").await;
    let health = HealthServer::start().await;

    // A build whose test step fails fails its rollout and stalls its service.
    let failing = service("ledger")
        .git()
        .set("build", json!({"test": "exit 1"}))
        .replicas(1)
        .health(&health.url);
    env.apply(&failing).await;
    // A dependency cycle stalls both members.
    for (name, dependency) in [("cycle-a", "cycle-b"), ("cycle-b", "cycle-a")] {
        env.apply(&worker(name, &health).depends_on(&[dependency]))
            .await;
    }
    // A rollout that needs a person's approval waits for one.
    let vault = worker("vault", &health)
        .environment("production")
        .strategy(json!({"type": "immediate", "approval": "required"}));
    env.apply(&vault).await;

    let failed_rollout = env.recorded_rollout("ledger").await;
    let failed = health_where::<ChittyDeployment>(&env, &failed_rollout, "failed", |h| {
        reason_is(h, "Stalled", "True", "RolloutFailed")
    })
    .await;
    assert_eq!(failed.pair(), ("Failed", "Degraded"), "{failed:#?}");
    assert!(failed.argo.message.contains("build/test"), "{failed:#?}");
    let stalled = health_where::<ChittyService>(&env, "ledger", "stalled", |h| {
        reason_is(h, "Stalled", "True", "RolloutFailed")
    })
    .await;
    assert_eq!(stalled.pair(), ("Failed", "Degraded"), "{stalled:#?}");

    for name in ["cycle-a", "cycle-b"] {
        let member = health_where::<ChittyService>(&env, name, "stalled on the cycle", |h| {
            reason_is(h, "Stalled", "True", "DependencyCycle")
        })
        .await;
        assert_eq!(member.pair(), ("Failed", "Degraded"), "{member:#?}");
        assert!(member.kstatus.message.contains("->"), "{member:#?}");
        let rollout = env.recorded_rollout(name).await;
        let held = health_of::<ChittyDeployment>(&env, &rollout).await;
        assert_eq!(held.pair(), ("Failed", "Degraded"), "{held:#?}");
    }

    let waiting_rollout = env.recorded_rollout("vault").await;
    let waiting = health_where::<ChittyDeployment>(&env, &waiting_rollout, "awaiting", |h| {
        reason_is(h, "Ready", "False", "AwaitingApproval")
    })
    .await;
    assert_eq!(waiting.pair(), ("InProgress", "Suspended"), "{waiting:#?}");
    let vault = health_where::<ChittyService>(&env, "vault", "awaiting approval", |h| {
        reason_is(h, "Ready", "False", "AwaitingApproval")
    })
    .await;
    assert_eq!(vault.pair(), ("InProgress", "Suspended"), "{vault:#?}");
    assert!(
        vault.argo.message.contains("waiting for approval"),
        "{vault:#?}"
    );
    env.teardown().await;
}

#[tokio::test]
async fn a_lost_route_claim_never_reads_as_holding_the_route() {
    let env = TestEnv::new("gitops-routes").await;
    // Hosts are contested cluster-wide: one of the test's own.
    let host = format!("{}.gitops.test", env.ns());
    let routes = json!([{"host": host, "path": "/*"}]);
    let claim = |service: &str| {
        claim_name(
            service,
            &Route {
                host: host.clone(),
                path: "/*".into(),
                tls: false,
                tls_secret_name: None,
            },
        )
    };
    // Routes are claimed and decided whether or not a rollout runs: idle services will do.
    let idle = |name: &str| {
        service(name)
            .set("port", 3000.into())
            .suspend(true)
            .routes(routes.clone())
    };
    env.apply(&idle("first")).await;
    let held = health_where::<RouteClaim>(&env, &claim("first"), "accepted", |h| {
        reason_is(h, "Accepted", "True", "Accepted")
    })
    .await;
    assert_eq!(held.pair(), ("Current", "Healthy"), "{held:#?}");

    env.apply(&idle("second")).await;
    let lost = health_where::<RouteClaim>(&env, &claim("second"), "conflicted", |h| {
        reason_is(h, "Accepted", "False", "Conflicted")
    })
    .await;
    assert_eq!(lost.pair(), ("InProgress", "Degraded"), "{lost:#?}");
    assert!(lost.argo.message.contains("is held by"), "{lost:#?}");
    let holder = health_of::<RouteClaim>(&env, &claim("first")).await;
    assert_eq!(holder.pair(), ("Current", "Healthy"), "{holder:#?}");
    env.teardown().await;
}
