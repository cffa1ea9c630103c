//! A three-step canary's weights carried by the routing objects over time: the HTTPRoute's
//! backendRefs in gateway mode, the ingress-nginx canary Ingress in Ingress mode; at promotion,
//! weight 100 on stable and one Deployment at the new version.

mod common;

use std::time::Duration;

use chitty_operator::api::DeploymentPhase;
use chitty_operator::config::{GatewayRef, IngressController, OperatorConfig, RouteBackend};
use chitty_operator::sim::{self, SimConfig};
use chitty_operator::workload::gateway_api::HTTPRoute;
use common::TestEnv;
use common::manifest::ServiceManifest;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

const STEPS: [i32; 3] = [20, 50, 80];

fn web(sim: &str, version: &str) -> ServiceManifest {
    let steps: Vec<_> = STEPS
        .iter()
        .map(|w| json!({"weight": w, "pause": "3s"}))
        .collect();
    common::service("web")
        .version(version)
        .replicas(4)
        .routes(json!([{"host": "web.canary.chitty.cc"}]))
        .health_spec(
            json!({"url": format!("{sim}/svc/web-stable"), "interval": "1s", "timeout": "1s"}),
        )
        .strategy(json!({"type": "canary", "canary": {"steps": steps,
            "analysis": {"url": format!("{sim}/svc/web-canary"), "failureLimit": 1}}}))
}

/// Stands in for a Gateway controller: accepts each generation of the service's HTTPRoute.
fn accept_routes(api: Api<HTTPRoute>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Ok(route) = api.get("web").await {
                let generation = route.metadata.generation.unwrap_or_default();
                let seen = serde_json::to_value(&route.status)
                    .unwrap_or_default()
                    .to_string();
                if !seen.contains(&format!("\"observedGeneration\":{generation}")) {
                    let condition = |type_: &str| {
                        json!({"type": type_, "status": "True", "reason": type_,
                        "message": "ok", "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z"})
                    };
                    let status = json!({"status": {"parents": [{
                        "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "gw", "name": "public"},
                        "controllerName": "example.com/gateway-controller",
                        "conditions": [condition("Accepted"), condition("ResolvedRefs")]}]}});
                    let _ = api
                        .patch_status("web", &PatchParams::default(), &Patch::Merge(&status))
                        .await;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// `(backend, weight)` of the HTTPRoute's rule.
fn backends(route: &HTTPRoute) -> Vec<(String, Option<i32>)> {
    route
        .spec
        .rules
        .iter()
        .flat_map(|r| r.backend_refs.iter())
        .map(|b| (b.name.clone(), b.weight))
        .collect()
}

#[tokio::test]
async fn the_httproute_weights_follow_the_steps_and_end_on_stable() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let env = TestEnv::with("canary-gateway", |c: &mut OperatorConfig, _| {
        c.routing.backend = RouteBackend::Gateway;
        c.routing.gateway = Some(GatewayRef {
            namespace: "gw".into(),
            name: "public".into(),
        });
    })
    .await;
    let routes: Api<HTTPRoute> = env.api();
    let gateway = accept_routes(routes.clone());
    env.apply(&web(&sim.base_url(), "1.0.0")).await;
    env.wait_ready_at("web", "1.0.0").await;

    env.apply(&web(&sim.base_url(), "2.0.0")).await;
    for weight in STEPS {
        let want = vec![
            ("web".to_string(), Some(100 - weight)),
            ("web-canary".to_string(), Some(weight)),
        ];
        common::eventually(
            &format!("the HTTPRoute at {weight}% canary"),
            || async {
                routes
                    .get("web")
                    .await
                    .map(|r| backends(&r))
                    .unwrap_or_default()
            },
            |b: &Vec<(String, Option<i32>)>| *b == want,
        )
        .await;
    }
    env.rollout_of_version("2.0.0", "promoted", |d| {
        d.status.as_ref().and_then(|s| s.phase) == Some(DeploymentPhase::Succeeded)
    })
    .await;
    common::eventually(
        "all traffic on stable",
        || async {
            routes
                .get("web")
                .await
                .map(|r| backends(&r))
                .unwrap_or_default()
        },
        |b: &Vec<(String, Option<i32>)>| *b == vec![("web".to_string(), Some(100))],
    )
    .await;
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
    // With weighted routing the service's own Service selects only stable pods.
    let services: Api<k8s_openapi::api::core::v1::Service> = env.api();
    let selector = services
        .get("web")
        .await
        .unwrap()
        .spec
        .unwrap()
        .selector
        .unwrap();
    assert_eq!(
        selector.get("chitty.cc/track").map(String::as_str),
        Some("stable")
    );
    gateway.abort();
    env.teardown().await;
}

#[tokio::test]
async fn the_ingress_nginx_canary_weight_follows_the_steps() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let env = TestEnv::with("canary-nginx", |c: &mut OperatorConfig, _| {
        c.routing.ingress_controller = IngressController::IngressNginx;
    })
    .await;
    let ingresses: Api<Ingress> = env.api();
    env.apply(&web(&sim.base_url(), "1.0.0")).await;
    env.wait_ready_at("web", "1.0.0").await;

    env.apply(&web(&sim.base_url(), "2.0.0")).await;
    let weight_of = || async {
        let ingress = ingresses.get_opt("web-canary").await.unwrap()?;
        let annotations = ingress.metadata.annotations?;
        let backend = ingress
            .spec?
            .rules?
            .first()?
            .http
            .clone()?
            .paths
            .first()?
            .backend
            .service
            .clone()?
            .name;
        Some((
            annotations
                .get("nginx.ingress.kubernetes.io/canary-weight")?
                .clone(),
            backend,
        ))
    };
    for weight in STEPS {
        common::eventually(
            &format!("the canary Ingress at {weight}%"),
            weight_of,
            |w: &Option<(String, String)>| *w == Some((weight.to_string(), "web-canary".into())),
        )
        .await;
    }
    env.rollout_of_version("2.0.0", "promoted", |d| {
        d.status.as_ref().and_then(|s| s.phase) == Some(DeploymentPhase::Succeeded)
    })
    .await;
    common::eventually(
        "the canary Ingress removed",
        || async { ingresses.get_opt("web-canary").await.unwrap() },
        |i| i.is_none(),
    )
    .await;
    env.teardown().await;
}
