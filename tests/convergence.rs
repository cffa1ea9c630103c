//! Continuous convergence against the real apiserver: after a rollout, the world keeps following
//! the spec and the serving revision. Scaling needs no rollout, an autoscaler takes the replica
//! count over without a fight, hand edits and deletions are put back with one Event each, a
//! rolled-back service stays monitored and registered at the restored version, and a dependency
//! counts as Ready only for its current generation.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chitty_operator::api::conditions::{self, types};
use chitty_operator::api::{ChittyDeployment, ChittyService, DeploymentPhase, HealthState};
use chitty_operator::clients::SecretToken;
use chitty_operator::sim::{self, SimConfig, SimHandle};
use common::TestEnv;
use common::health_server::HealthServer;
use common::sim_admin::set_health;
use common::wait::ready_at;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

const DRIFT_REPAIRED: &str = "DriftRepaired";

/// A service probed at `health` (the pods of the local cluster are fake and answer nothing).
fn service(name: &str, health: &HealthServer) -> common::manifest::ServiceManifest {
    common::service(name).health(&health.url)
}

async fn rollout_count(client: &Client, ns: &str, service: &str) -> usize {
    let api: Api<ChittyDeployment> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().labels(&format!("chitty.cc/service={service}"));
    let items = api.list(&lp).await.unwrap().items;
    if items.len() > 1 {
        for r in &items {
            eprintln!(
                "{} {:?}: {}",
                r.name_any(),
                r.spec.trigger,
                serde_json::to_string(&r.spec.snapshot).unwrap()
            );
        }
    }
    items.len()
}

fn replicas(d: &Deployment) -> Option<i32> {
    d.spec.as_ref().and_then(|s| s.replicas)
}

fn container_of(d: &Deployment) -> k8s_openapi::api::core::v1::Container {
    d.spec.clone().unwrap().template.spec.unwrap().containers[0].clone()
}

/// The service's Events with `reason` whose message contains `about`, with their counts.
async fn events(client: &Client, ns: &str, reason: &str, about: &str) -> Vec<(String, i32)> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| {
            let message = e.message.clone().unwrap_or_default();
            let count = e
                .series
                .as_ref()
                .and_then(|s| s.count)
                .or(e.count)
                .unwrap_or(1);
            message.contains(about).then_some((message, count))
        })
        .collect()
}

/// Exactly one Event (of count one) says the object was put back.
async fn one_repair_event(client: &Client, ns: &str, about: &str) {
    let found = common::eventually(
        &format!("a {DRIFT_REPAIRED} Event about {about}"),
        || events(client, ns, DRIFT_REPAIRED, about),
        |e| !e.is_empty(),
    )
    .await;
    assert_eq!(found.len(), 1, "one Event about {about}: {found:?}");
    assert_eq!(found[0].1, 1, "recorded once: {found:?}");
}

#[tokio::test]
async fn scaling_follows_spec_replicas_without_a_new_rollout() {
    let env = TestEnv::new("scale").await;
    let health = HealthServer::start().await;
    env.apply(&service("web", &health).replicas(1)).await;
    env.wait_ready_at("web", "1.0.0").await;
    for n in [5, 2] {
        env.apply(&service("web", &health).replicas(n)).await;
        common::wait_for(
            &env.deployments,
            "web",
            &format!("{n} replicas"),
            |d: &Deployment| replicas(d) == Some(n),
        )
        .await;
        env.service_where("web", &format!("status.replicas {n}"), |s| {
            s.status.as_ref().and_then(|st| st.replicas) == Some(n)
        })
        .await;
    }
    assert_eq!(
        rollout_count(&env.client, env.ns(), "web").await,
        1,
        "scaling is no rollout"
    );
    env.teardown().await;
}

#[tokio::test]
async fn an_autoscaler_owns_replicas_while_autoscaling_is_on() {
    let env = TestEnv::new("hpa").await;
    let hpas: Api<HorizontalPodAutoscaler> = env.api();
    let health = HealthServer::start().await;
    let autoscaled = |extra: Value| {
        service("api", &health)
            .replicas(3)
            .set(
                "autoscaling",
                json!({"minReplicas": 2, "maxReplicas": 6, "targetCpuUtilization": 70}),
            )
            .merge(json!({"spec": extra}))
    };
    env.apply(&autoscaled(json!({}))).await;
    env.wait_ready_at("api", "1.0.0").await;
    let hpa = common::wait_for(
        &hpas,
        "api",
        "an autoscaler",
        |_: &HorizontalPodAutoscaler| true,
    )
    .await;
    let spec = hpa.spec.unwrap();
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 6));
    assert_eq!(spec.scale_target_ref.name, "api");
    assert_eq!(
        hpa.metadata.owner_references.unwrap()[0].kind,
        "ChittyService"
    );

    // The autoscaler's controller writes the scale subresource under its own field manager.
    let as_hpa = PatchParams {
        field_manager: Some("horizontal-pod-autoscaler".into()),
        ..Default::default()
    };
    env.deployments
        .patch_scale(
            "api",
            &as_hpa,
            &Patch::Merge(&json!({"spec": {"replicas": 4}})),
        )
        .await
        .unwrap();
    // A service change wakes every controller of the service; none may take the count back.
    env.apply(&autoscaled(json!({"capabilities": ["x"]}))).await;
    env.service_where("api", "the new generation observed", common::wait::observed)
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let d = env.deployments.get("api").await.unwrap();
    assert_eq!(replicas(&d), Some(4), "the autoscaler's count stands");

    // Off again: the autoscaler goes and spec.replicas applies.
    env.apply(&service("api", &health).replicas(3)).await;
    common::wait::wait_gone(&hpas, "api", "the autoscaler removed").await;
    common::wait_for(
        &env.deployments,
        "api",
        "3 replicas again",
        |d: &Deployment| replicas(d) == Some(3),
    )
    .await;
    assert_eq!(rollout_count(&env.client, env.ns(), "api").await, 1);
    env.teardown().await;
}

#[tokio::test]
async fn hand_edits_and_deletions_are_repaired_without_a_rollout() {
    let env = TestEnv::new("drift").await;
    let service_objects: Api<Service> = env.api();
    let health = HealthServer::start().await;
    let host = format!("shop-{}.drift.chitty.test", env.ns());
    env.apply(&service("shop", &health).routes(json!([{"host": host}])))
        .await;
    env.wait_ready_at("shop", "1.0.0").await;
    common::wait_for(&env.ingresses, "shop", "an Ingress", |_: &Ingress| true).await;
    let (client, ns) = (&env.client, env.ns());
    let delete = DeleteParams::background();

    let before = env.deployments.get("shop").await.unwrap().uid();
    env.deployments.delete("shop", &delete).await.unwrap();
    common::wait_for(
        &env.deployments,
        "shop",
        "the Deployment back",
        |d: &Deployment| d.uid() != before,
    )
    .await;
    one_repair_event(client, ns, "Deployment shop was missing").await;

    let before = service_objects.get("shop").await.unwrap().uid();
    service_objects.delete("shop", &delete).await.unwrap();
    common::wait_for(
        &service_objects,
        "shop",
        "the Service back",
        |s: &Service| s.uid() != before,
    )
    .await;
    one_repair_event(client, ns, "Service shop was missing").await;

    let before = env.ingresses.get("shop").await.unwrap().uid();
    env.ingresses.delete("shop", &delete).await.unwrap();
    common::wait_for(&env.ingresses, "shop", "the Ingress back", |i: &Ingress| {
        i.uid() != before
    })
    .await;
    one_repair_event(client, ns, "Ingress shop").await;

    // Edits by hand, as `kubectl edit` makes them (an update by another manager).
    let by_hand = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..Default::default()
    };
    let image = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "service", "image": "registry.local/shop:tampered"}]}}}});
    env.deployments
        .patch("shop", &by_hand, &Patch::Strategic(&image))
        .await
        .unwrap();
    common::wait_for(
        &env.deployments,
        "shop",
        "the image restored",
        |d: &Deployment| container_of(d).image.as_deref() == Some("registry.local/shop:1.0.0"),
    )
    .await;
    one_repair_event(client, ns, "containers[service].image").await;

    let port = json!([{"op": "replace",
        "path": "/spec/template/spec/containers/0/ports/0/containerPort", "value": 9999}]);
    env.deployments
        .patch(
            "shop",
            &by_hand,
            &Patch::Json::<()>(serde_json::from_value(port).unwrap()),
        )
        .await
        .unwrap();
    common::wait_for(
        &env.deployments,
        "shop",
        "the port restored",
        |d: &Deployment| {
            let ports = container_of(d).ports.unwrap_or_default();
            ports.len() == 1 && ports[0].container_port == 8080
        },
    )
    .await;
    one_repair_event(client, ns, "containers[service].ports").await;

    assert_eq!(rollout_count(client, ns, "shop").await, 1, "no new rollout");
    let svc = env.services.get("shop").await.unwrap();
    assert!(ready_at(&svc, "1.0.0"), "still Ready at the same version");
    env.teardown().await;
}

const TOKEN: &str = "sim-token";

async fn sim_get(sim: &SimHandle, path: &str) -> Value {
    common::http()
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_rolled_back_service_stays_monitored_and_registered_at_the_restored_version() {
    let sim = Arc::new(sim::spawn_local(SimConfig::default()).await.unwrap());
    let url = sim.base_url();
    let env = TestEnv::with("restored", move |c, _| {
        let eco = &mut c.ecosystem;
        eco.chitty_id_url = Some(url.clone());
        eco.chitty_id_token = Some(SecretToken::new(TOKEN));
        eco.registry_url = Some(url.clone());
        eco.registry_token = Some(SecretToken::new(TOKEN));
        eco.timeout = Duration::from_secs(2);
        // Deletion must never wait long on the registry, so teardown can release the finalizer.
        eco.retire_timeout = Duration::from_secs(3);
    })
    .await;
    // Each version probes its own stand-in endpoint, so the new one can fail alone.
    let ledger = |version: &str, endpoint: &str| {
        common::service("ledger")
            .version(version)
            .health_spec(json!({
            "url": format!("{}/svc/{endpoint}", sim.base_url()),
            "interval": "1s", "timeout": "1s", "failureThreshold": 2, "progressDeadline": "20s"}))
    };
    env.apply(&ledger("1.0.0", "ledger-v1")).await;
    let svc = env.wait_ready_at("ledger", "1.0.0").await;
    let id = svc.status.unwrap().chitty_id.expect("a ChittyID");

    set_health(&sim, "ledger-v2", "down").await;
    env.apply(&ledger("2.0.0", "ledger-v2")).await;
    let failed = env
        .service_where("ledger", "the 2.0.0 rollout recorded", |s| {
            common::wait::observed(s)
                && s.spec.version == "2.0.0"
                && s.status
                    .as_ref()
                    .is_some_and(|st| st.current_deployment.is_some())
        })
        .await
        .status
        .unwrap()
        .current_deployment
        .unwrap();
    common::wait_for(
        &env.rollouts,
        &failed,
        "rolled back",
        |d: &ChittyDeployment| {
            d.status.as_ref().and_then(|s| s.phase) == Some(DeploymentPhase::RolledBack)
        },
    )
    .await;

    let record_path = format!("/api/v1/tools/{id}");
    let record = common::eventually(
        "the registry record names 1.0.0 again",
        || sim_get(&sim, &record_path),
        |r| r["tool"]["version"] == "1.0.0",
    )
    .await;
    assert_eq!(record["tool"]["version"], "1.0.0", "{record}");

    // The restored revision is what is probed now: take it down and the service says so.
    set_health(&sim, "ledger-v1", "down").await;
    let svc = env
        .service_where("ledger", "health Down", |s| {
            s.status
                .as_ref()
                .and_then(|st| st.health.as_ref())
                .is_some_and(|h| h.status == HealthState::Down)
        })
        .await;
    assert!(!conditions::is_true(
        &svc.status.unwrap().conditions,
        types::READY
    ));
    common::eventually(
        "the registry record says it is down",
        || sim_get(&sim, &record_path),
        |r| r["tool"]["health"] == "down",
    )
    .await;
    env.teardown().await;
}

#[tokio::test]
async fn a_dependent_waits_for_its_dependencys_new_generation() {
    let env = TestEnv::new("depgen").await;
    let health = HealthServer::start().await;
    // Three passing checks a second apart: a new generation of base takes seconds to be Ready.
    let base = |version: &str| {
        common::service("base").version(version).health_spec(json!({
            "url": health.url, "interval": "1s", "successThreshold": 3}))
    };
    let app = |version: &str| {
        service("app", &health)
            .version(version)
            .depends_on(&["base"])
    };
    env.apply(&base("1.0.0")).await;
    env.apply(&app("1.0.0")).await;
    env.wait_ready_at("app", "1.0.0").await;

    // One commit changes both.
    env.apply(&base("2.0.0")).await;
    env.apply(&app("2.0.0")).await;
    let base_ready = env.wait_ready_at("base", "2.0.0").await;
    let app_ready = env.wait_ready_at("app", "2.0.0").await;
    let rollout = |s: ChittyService| s.status.unwrap().current_deployment.unwrap();
    let base_rollout = env.rollouts.get(&rollout(base_ready)).await.unwrap();
    let app_rollout = env.rollouts.get(&rollout(app_ready)).await.unwrap();
    let base_done = base_rollout.status.unwrap().completed_at.unwrap().0;
    let app_deploy = app_rollout
        .status
        .unwrap()
        .steps
        .into_iter()
        .find(|s| s.name == "deploy")
        .and_then(|s| s.started_at)
        .unwrap()
        .0;
    assert!(
        app_deploy >= base_done,
        "app deployed at {app_deploy}, before base's new generation was Ready at {base_done}"
    );
    env.teardown().await;
}
