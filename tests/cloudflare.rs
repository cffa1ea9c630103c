//! Cloudflare targets on the local control plane: the wrangler Job binds exactly the routes the
//! service holds and later wins or losses are bound by routes-only updates; each deploy records
//! the Worker version, which a rollback restores, and the rollout says `RolledBack` only when the
//! rollback Job succeeded. Fake nodes run no container: the kwok stage `wrangler-deploy-complete`
//! (hack/kwok-stages.yaml) leaves the version a real deploy container would report. The scripts
//! themselves run for real in tests/cloudflare_scripts.rs.

mod common;

use std::collections::BTreeMap;

use chitty_operator::api::{ChittyDeployment, DeploymentPhase, ROLLBACK_REQUEST, RouteClaim};
use chitty_operator::controller::service::routes::claim_name;
use common::TestEnv;
use common::health_server::HealthServer;
use common::manifest::ServiceManifest;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, ResourceQuota};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

fn worker(name: &str, version: &str, health: &str, routes: serde_json::Value) -> ServiceManifest {
    common::service(name)
        .version(version)
        .git()
        .routes(routes)
        .set("target", "cloudflare".into())
        .set(
            "cloudflare",
            json!({"credentialsSecret": format!("cloudflare-{name}"), "url": health}),
        )
}

fn env_of(c: &Container, name: &str) -> Option<String> {
    c.env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

fn routes_env(c: &Container) -> Vec<String> {
    serde_json::from_str(&env_of(c, "CHITTY_ROUTES").expect("CHITTY_ROUTES")).unwrap()
}

async fn rollout_where(
    env: &TestEnv,
    name: &str,
    what: &str,
    check: impl Fn(&ChittyDeployment) -> bool,
) -> ChittyDeployment {
    common::wait_for(&env.rollouts, name, what, check).await
}

fn phase(d: &ChittyDeployment) -> Option<DeploymentPhase> {
    d.status.as_ref()?.phase
}

fn edge_routes(d: &ChittyDeployment) -> Vec<String> {
    (d.status.as_ref().and_then(|s| s.cloudflare.as_ref())).map_or(vec![], |c| c.routes.clone())
}

fn version_of(d: &ChittyDeployment) -> Option<String> {
    d.status.as_ref()?.cloudflare.as_ref()?.version_id.clone()
}

/// The routes-only update Jobs of a rollout, by name.
async fn routes_jobs(env: &TestEnv, rollout: &str) -> BTreeMap<String, Job> {
    let jobs: Api<Job> = env.api();
    let list = jobs.list(&ListParams::default()).await.unwrap();
    list.items
        .into_iter()
        .filter(|j| j.name_any().starts_with(&format!("{rollout}-routes-")))
        .map(|j| (j.name_any(), j))
        .collect()
}

#[tokio::test]
async fn a_worker_is_bound_to_exactly_the_routes_it_holds_and_follows_wins_and_losses() {
    let env = TestEnv::new("cf-routes").await;
    let health = HealthServer::start().await;
    env.apply(&common::service("other").suspend(true)).await;
    env.apply_claim("squatter", "taken.chitty.cc", "other")
        .await;
    common::wait_for(
        &env.claims,
        "squatter",
        "squatter holds its host",
        |c: &RouteClaim| {
            c.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Accepted" && c.status == "True")
            })
        },
    )
    .await;

    let routes = json!([{"host": "router.chitty.cc", "path": "/*"}, {"host": "taken.chitty.cc", "path": "/"}]);
    env.apply(&worker("router", "1.0.0", &health.url, routes))
        .await;
    let rollout = env.recorded_rollout("router").await;
    let done = rollout_where(&env, &rollout, "deployed", |d| version_of(d).is_some()).await;

    // The deploy Job binds only the route held; the token is a reference, seen by wrangler alone.
    let deploy = env.job_container(&format!("{rollout}-wrangler")).await;
    assert_eq!(deploy.name, "deploy");
    assert_eq!(routes_env(&deploy), ["router.chitty.cc/*"]);
    assert_eq!(
        env_of(&deploy, "WRANGLER_VERSION").as_deref(),
        Some("4.86.0")
    );
    let token = deploy
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "CLOUDFLARE_API_TOKEN")
        .unwrap();
    assert!(
        token.value.is_none(),
        "the token is a reference, never a value"
    );
    let jobs: Api<Job> = env.api();
    let job = jobs.get(&format!("{rollout}-wrangler")).await.unwrap();
    let init = job
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .init_containers
        .unwrap();
    assert_eq!(
        init.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["clone", "install", "build"]
    );
    assert!(
        init.iter()
            .all(|c| env_of(c, "CLOUDFLARE_API_TOKEN").is_none()
                && c.env.iter().flatten().all(|e| e.value_from.is_none())),
        "no stage before wrangler sees a secret"
    );
    assert_eq!(edge_routes(&done), ["router.chitty.cc/*"]);
    let version = version_of(&done).unwrap();
    assert!(
        version.starts_with("sim-"),
        "the version the deploy container reported: {version}"
    );
    assert!(
        env.ingresses.get_opt("router").await.unwrap().is_none(),
        "no Ingress for a Worker"
    );

    // Won later: the squatter goes, the Worker takes its host without a redeploy.
    env.claims
        .delete("squatter", &DeleteParams::default())
        .await
        .unwrap();
    let both = ["router.chitty.cc/*", "taken.chitty.cc/*"];
    rollout_where(&env, &rollout, "bound to the won route", |d| {
        edge_routes(d) == both
    })
    .await;
    let updates = routes_jobs(&env, &rollout).await;
    assert_eq!(updates.len(), 1, "{:?}", updates.keys());
    let update = updates.values().next().unwrap().clone();
    let container = update
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers
        .remove(0);
    assert_eq!(routes_env(&container), both);
    assert!(
        container.command.unwrap()[2].contains("triggers deploy"),
        "a routes-only update"
    );

    // Lost later to an older claim: `late` claims the host, the Worker's own claim is deleted
    // and re-created younger, so `late` holds the host and the Worker is unbound from it.
    env.apply_claim("late", "router.chitty.cc", "other").await;
    let own = claim_name(
        "router",
        &chitty_operator::api::Route {
            host: "router.chitty.cc".into(),
            path: "/*".into(),
            tls: false,
            tls_secret_name: None,
        },
    );
    env.claims
        .delete(&own, &DeleteParams::default())
        .await
        .unwrap();
    rollout_where(&env, &rollout, "unbound from the lost route", |d| {
        edge_routes(d) == ["taken.chitty.cc/*"]
    })
    .await;
    let updates = routes_jobs(&env, &rollout).await;
    assert!(
        updates.values().any(|j| {
            let c = &j
                .spec
                .as_ref()
                .unwrap()
                .template
                .spec
                .as_ref()
                .unwrap()
                .containers[0];
            routes_env(c) == ["taken.chitty.cc/*"]
        }),
        "a second routes-only update: {:?}",
        updates.keys()
    );
    let current = env.rollouts.get(&rollout).await.unwrap();
    assert_eq!(phase(&current), Some(DeploymentPhase::Succeeded));
    assert_eq!(version_of(&current), Some(version), "no redeploy happened");
    env.teardown().await;
}

#[tokio::test]
async fn a_failed_worker_is_rolled_back_to_the_recorded_version_by_a_job() {
    let env = TestEnv::new("cf-rollback").await;
    let health = HealthServer::start().await;
    env.apply(&worker("edge", "1.0.0", &health.url, json!([])))
        .await;
    env.wait_ready_at("edge", "1.0.0").await;
    let first = env.recorded_rollout("edge").await;
    let good = version_of(&env.rollouts.get(&first).await.unwrap()).expect("v1's version");

    health.set_status(503);
    env.apply(&worker("edge", "2.0.0", &health.url, json!([])))
        .await;
    let second = common::eventually(
        "v2's rollout rolled back",
        || async {
            let all = env.rollouts.list(&ListParams::default()).await.ok()?;
            all.items
                .into_iter()
                .find(|d| d.spec.snapshot.version == "2.0.0")
        },
        |d: &Option<ChittyDeployment>| {
            d.as_ref()
                .is_some_and(|d| phase(d) == Some(DeploymentPhase::RolledBack))
        },
    )
    .await
    .unwrap();
    let status = second.status.clone().unwrap();
    let rollback = status
        .cloudflare
        .as_ref()
        .unwrap()
        .rollback
        .clone()
        .unwrap();
    assert_eq!(rollback.state, "Succeeded");
    assert_eq!(status.rolled_back_to.as_deref(), Some(first.as_str()));
    let container = env
        .job_container(&format!("{}-wrangler-rollback", second.name_any()))
        .await;
    assert_eq!(
        env_of(&container, "CHITTY_VERSION_ID").as_deref(),
        Some(good.as_str())
    );
    assert!(container.command.unwrap()[2].contains("rollback \"$CHITTY_VERSION_ID\""));
    health.set_status(200);
    env.teardown().await;
}

#[tokio::test]
async fn a_rollback_job_that_fails_leaves_the_rollout_failed_saying_why() {
    // A short deadline, so a rollback Job that can never run a pod fails soon.
    let env = TestEnv::with("cf-rollback-fails", |c, _| c.build.timeout_seconds = 8).await;
    let health = HealthServer::start().await;
    env.apply(&worker("edge", "1.0.0", &health.url, json!([])))
        .await;
    env.wait_ready_at("edge", "1.0.0").await;
    env.apply(&worker("edge", "2.0.0", &health.url, json!([])))
        .await;
    env.wait_ready_at("edge", "2.0.0").await;
    let second = env.recorded_rollout("edge").await;

    // No pod may start any more in this namespace: the rollback Job cannot run.
    let quotas: Api<ResourceQuota> = env.api();
    let quota = serde_json::from_value(
        json!({"metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}}),
    )
    .unwrap();
    quotas.create(&PostParams::default(), &quota).await.unwrap();
    let ask = json!({"metadata": {"annotations": {ROLLBACK_REQUEST: "asked for by the test"}}});
    env.rollouts
        .patch(&second, &PatchParams::default(), &Patch::Merge(&ask))
        .await
        .unwrap();

    let failed = rollout_where(&env, &second, "rollback failed", |d| {
        phase(d) == Some(DeploymentPhase::Failed)
    })
    .await;
    let error = failed.status.clone().unwrap().error.unwrap();
    assert!(error.contains("rollback failed"), "{error}");
    assert!(error.contains("deadline"), "the Job's reason: {error}");
    let rollback = failed.status.unwrap().cloudflare.unwrap().rollback.unwrap();
    assert_eq!(rollback.state, "Failed");
    quotas
        .delete("no-pods", &DeleteParams::default())
        .await
        .unwrap();
    env.teardown().await;
}
