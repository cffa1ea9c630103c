//! Continuous convergence against the real apiserver: after a rollout, the world keeps following
//! the spec and the serving revision. Scaling needs no rollout, an autoscaler takes the replica
//! count over without a fight, hand edits and deletions are put back with one Event each, a
//! rolled-back service stays monitored and registered at the restored version, and a dependency
//! counts as Ready only for its current generation.

mod common;

use std::time::Duration;

use chitty_operator::api::conditions::{self, types};
use chitty_operator::api::{ChittyDeployment, ChittyService, DeploymentPhase, HealthState};
use chitty_operator::clients::SecretToken;
use chitty_operator::sim::{self, SimConfig, SimHandle};
use common::health_server::HealthServer;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

const DRIFT_REPAIRED: &str = "DriftRepaired";

/// A manifest as a user writes it, probed at `health` (the pods of the local cluster are fake and
/// answer nothing; `extra` may set `health` itself).
fn service(name: &str, version: &str, health: &HealthServer, extra: Value) -> Value {
    let mut m = manifest(name, version, extra);
    if m["spec"]["health"].is_null() {
        m["spec"]["health"] = json!({"url": health.url, "interval": "1s"});
    }
    m
}

fn manifest(name: &str, version: &str, extra: Value) -> Value {
    let mut spec = json!({"type": "worker", "version": version, "environment": "staging",
                          "source": {"image": format!("registry.local/{name}:{version}")}});
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    json!({"apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
           "metadata": {"name": name}, "spec": spec})
}

async fn apply(api: &Api<ChittyService>, m: &Value) {
    let name = m["metadata"]["name"].as_str().unwrap().to_string();
    api.patch(&name, &PatchParams::apply("test").force(), &Patch::Apply(m))
        .await
        .unwrap();
}

fn ready_at(s: &ChittyService, version: &str) -> bool {
    s.spec.version == version
        && s.status.as_ref().is_some_and(|st| {
            st.observed_generation == s.metadata.generation
                && conditions::is_true(&st.conditions, types::READY)
        })
}

/// How many rollouts the service has had; more than one shows each one's spec, to see what
/// started the extra one.
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
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "scale").await;
    let operator = common::RunningOperator::start(&ns.name).await;
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let health = HealthServer::start().await;

    apply(
        &services,
        &service("web", "1.0.0", &health, json!({"replicas": 1})),
    )
    .await;
    common::wait_for(&services, "web", "Ready", |s: &ChittyService| {
        ready_at(s, "1.0.0")
    })
    .await;
    for n in [5, 2] {
        apply(
            &services,
            &service("web", "1.0.0", &health, json!({"replicas": n})),
        )
        .await;
        common::wait_for(
            &deployments,
            "web",
            &format!("{n} replicas"),
            |d: &Deployment| replicas(d) == Some(n),
        )
        .await;
        common::wait_for(
            &services,
            "web",
            &format!("status.replicas {n}"),
            |s: &ChittyService| s.status.as_ref().and_then(|st| st.replicas) == Some(n),
        )
        .await;
    }
    assert_eq!(
        rollout_count(&client, &ns.name, "web").await,
        1,
        "scaling is no rollout"
    );
    operator.stop().await;
}

#[tokio::test]
async fn an_autoscaler_owns_replicas_while_autoscaling_is_on() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "hpa").await;
    let operator = common::RunningOperator::start(&ns.name).await;
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), &ns.name);
    let health = HealthServer::start().await;

    let autoscaled = json!({"replicas": 3, "autoscaling": {"minReplicas": 2, "maxReplicas": 6,
                                                           "targetCpuUtilization": 70}});
    apply(&services, &service("api", "1.0.0", &health, autoscaled)).await;
    common::wait_for(&services, "api", "Ready", |s: &ChittyService| {
        ready_at(s, "1.0.0")
    })
    .await;
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
    let scale = json!({"spec": {"replicas": 4}});
    let as_hpa = PatchParams {
        field_manager: Some("horizontal-pod-autoscaler".into()),
        ..Default::default()
    };
    deployments
        .patch_scale("api", &as_hpa, &Patch::Merge(&scale))
        .await
        .unwrap();
    // Anything that would revert it (a service or Deployment event) has had time to run.
    apply(
        &services,
        &service(
            "api",
            "1.0.0",
            &health,
            json!({"replicas": 3, "capabilities": ["x"],
        "autoscaling": {"minReplicas": 2, "maxReplicas": 6, "targetCpuUtilization": 70}}),
        ),
    )
    .await;
    common::wait_for(
        &services,
        "api",
        "the new generation observed",
        |s: &ChittyService| {
            s.status.as_ref().and_then(|st| st.observed_generation) == s.metadata.generation
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let d = deployments.get("api").await.unwrap();
    assert_eq!(replicas(&d), Some(4), "the autoscaler's count stands");

    // Off again: the autoscaler goes and spec.replicas applies.
    apply(
        &services,
        &service("api", "1.0.0", &health, json!({"replicas": 3})),
    )
    .await;
    common::eventually(
        "the autoscaler is removed",
        || async { hpas.get_opt("api").await.unwrap() },
        |h| h.is_none(),
    )
    .await;
    common::wait_for(&deployments, "api", "3 replicas again", |d: &Deployment| {
        replicas(d) == Some(3)
    })
    .await;
    assert_eq!(rollout_count(&client, &ns.name, "api").await, 1);
    operator.stop().await;
}

#[tokio::test]
async fn hand_edits_and_deletions_are_repaired_without_a_rollout() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "drift").await;
    let operator = common::RunningOperator::start(&ns.name).await;
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let service_objects: Api<Service> = Api::namespaced(client.clone(), &ns.name);
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), &ns.name);
    let host = format!("shop-{}.drift.chitty.test", ns.name);
    let health = HealthServer::start().await;
    let m = service(
        "shop",
        "1.0.0",
        &health,
        json!({"routes": [{"host": host}]}),
    );
    apply(&services, &m).await;
    common::wait_for(&services, "shop", "Ready", |s: &ChittyService| {
        ready_at(s, "1.0.0")
    })
    .await;
    common::wait_for(&ingresses, "shop", "an Ingress", |_: &Ingress| true).await;
    let delete = DeleteParams::background();

    let before = deployments.get("shop").await.unwrap().uid();
    deployments.delete("shop", &delete).await.unwrap();
    common::wait_for(
        &deployments,
        "shop",
        "the Deployment back",
        |d: &Deployment| d.uid() != before,
    )
    .await;
    one_repair_event(&client, &ns.name, "Deployment shop was missing").await;

    let before = service_objects.get("shop").await.unwrap().uid();
    service_objects.delete("shop", &delete).await.unwrap();
    common::wait_for(
        &service_objects,
        "shop",
        "the Service back",
        |s: &Service| s.uid() != before,
    )
    .await;
    one_repair_event(&client, &ns.name, "Service shop was missing").await;

    let before = ingresses.get("shop").await.unwrap().uid();
    ingresses.delete("shop", &delete).await.unwrap();
    common::wait_for(&ingresses, "shop", "the Ingress back", |i: &Ingress| {
        i.uid() != before
    })
    .await;
    one_repair_event(&client, &ns.name, "Ingress shop").await;

    // Edits by hand, as `kubectl edit` makes them (an update by another manager).
    let by_hand = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..Default::default()
    };
    let image = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "service", "image": "registry.local/shop:tampered"}]}}}});
    deployments
        .patch("shop", &by_hand, &Patch::Strategic(&image))
        .await
        .unwrap();
    common::wait_for(
        &deployments,
        "shop",
        "the image restored",
        |d: &Deployment| container_of(d).image.as_deref() == Some("registry.local/shop:1.0.0"),
    )
    .await;
    one_repair_event(&client, &ns.name, "containers[service].image").await;

    let port = json!([{"op": "replace",
        "path": "/spec/template/spec/containers/0/ports/0/containerPort", "value": 9999}]);
    deployments
        .patch(
            "shop",
            &by_hand,
            &Patch::Json::<()>(serde_json::from_value(port).unwrap()),
        )
        .await
        .unwrap();
    common::wait_for(
        &deployments,
        "shop",
        "the port restored",
        |d: &Deployment| {
            container_of(d)
                .ports
                .unwrap_or_default()
                .iter()
                .any(|p| p.container_port == 8080)
                && !container_of(d)
                    .ports
                    .unwrap_or_default()
                    .iter()
                    .any(|p| p.container_port == 9999)
        },
    )
    .await;
    one_repair_event(&client, &ns.name, "containers[service].ports").await;

    assert_eq!(
        rollout_count(&client, &ns.name, "shop").await,
        1,
        "no new rollout"
    );
    let svc = services.get("shop").await.unwrap();
    assert!(ready_at(&svc, "1.0.0"), "still Ready at the same version");
    operator.stop().await;
}

const TOKEN: &str = "sim-token";

async fn sim_get(sim: &SimHandle, path: &str) -> Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sets what chitty-sim's stand-in health endpoint for `name` answers.
async fn set_health(sim: &SimHandle, name: &str, status: &str) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::Client::new()
        .put(format!("{}/_sim/svc/{name}", sim.base_url()))
        .json(&json!({"status": status}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

#[tokio::test]
async fn a_rolled_back_service_stays_monitored_and_registered_at_the_restored_version() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "restored").await;
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let operator = common::RunningOperator::start_with(&ns.name, |c| {
        let eco = &mut c.ecosystem;
        eco.chitty_id_url = Some(sim.base_url());
        eco.chitty_id_token = Some(SecretToken::new(TOKEN));
        eco.registry_url = Some(sim.base_url());
        eco.registry_token = Some(SecretToken::new(TOKEN));
        eco.timeout = Duration::from_secs(2);
    })
    .await;
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    let rollouts: Api<ChittyDeployment> = Api::namespaced(client.clone(), &ns.name);
    // Each version probes its own stand-in endpoint, so the new one can fail alone.
    let health = |endpoint: &str| {
        json!({"health": {"url": format!("{}/svc/{endpoint}", sim.base_url()),
                          "interval": "500ms", "timeout": "1s", "failureThreshold": 2,
                          "progressDeadline": "20s"}})
    };
    apply(&services, &manifest("ledger", "1.0.0", health("ledger-v1"))).await;
    let svc = common::wait_for(&services, "ledger", "1.0.0 Ready", |s: &ChittyService| {
        ready_at(s, "1.0.0")
    })
    .await;
    let id = svc.status.unwrap().chitty_id.expect("a ChittyID");

    set_health(&sim, "ledger-v2", "down").await;
    apply(&services, &manifest("ledger", "2.0.0", health("ledger-v2"))).await;
    let svc = common::wait_for(
        &services,
        "ledger",
        "2.0.0 observed",
        |s: &ChittyService| {
            s.spec.version == "2.0.0"
                && s.status
                    .as_ref()
                    .and_then(|st| st.current_deployment.clone())
                    .is_some()
                && s.status.as_ref().and_then(|st| st.observed_generation) == s.metadata.generation
        },
    )
    .await;
    let failed = svc.status.unwrap().current_deployment.unwrap();
    common::wait_for(&rollouts, &failed, "rolled back", |d: &ChittyDeployment| {
        d.status.as_ref().and_then(|s| s.phase) == Some(DeploymentPhase::RolledBack)
    })
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
    let svc = common::wait_for(&services, "ledger", "health Down", |s: &ChittyService| {
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
    operator.stop().await;
}

#[tokio::test]
async fn a_dependent_waits_for_its_dependencys_new_generation() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "depgen").await;
    let operator = common::RunningOperator::start(&ns.name).await;
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    let rollouts: Api<ChittyDeployment> = Api::namespaced(client.clone(), &ns.name);
    let health = HealthServer::start().await;
    // Three passing checks a second apart: a new generation of base takes seconds to be Ready.
    let base = |version: &str| {
        manifest(
            "base",
            version,
            json!({"health": {"url": health.url, "interval": "1s",
                                                     "successThreshold": 3}}),
        )
    };
    apply(&services, &base("1.0.0")).await;
    let dependent = |version: &str| {
        service(
            "app",
            version,
            &health,
            json!({"dependsOn": [{"name": "base"}]}),
        )
    };
    apply(&services, &dependent("1.0.0")).await;
    common::wait_for(&services, "app", "app Ready", |s: &ChittyService| {
        ready_at(s, "1.0.0")
    })
    .await;

    // One commit changes both.
    apply(&services, &base("2.0.0")).await;
    apply(&services, &dependent("2.0.0")).await;
    let base = common::wait_for(
        &services,
        "base",
        "base 2.0.0 Ready",
        |s: &ChittyService| ready_at(s, "2.0.0"),
    )
    .await;
    let app = common::wait_for(&services, "app", "app 2.0.0 Ready", |s: &ChittyService| {
        ready_at(s, "2.0.0")
    })
    .await;
    let base_rollout = rollouts
        .get(&base.status.unwrap().current_deployment.unwrap())
        .await
        .unwrap();
    let app_rollout = rollouts
        .get(&app.status.unwrap().current_deployment.unwrap())
        .await
        .unwrap();
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
    operator.stop().await;
}
