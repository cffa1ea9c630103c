//! Gateway API routing against a real control plane (the Gateway API CRDs are installed by
//! `scripts/cluster.sh up`): each service's held routes as HTTPRoutes on the configured Gateway,
//! the Gateway's verdict mirrored onto `Routed`, routes lost or deleted kept in step; and, in
//! Ingress mode with ingress-nginx, path routes rewritten in an Ingress of their own.

mod common;

use chitty_operator::api::conditions::{self, types};
use chitty_operator::api::{ChittyService, Route, RouteClaim};
use chitty_operator::config::{GatewayRef, IngressController, RouteBackend, RouteReservation};
use chitty_operator::controller::service::routes::claim_name;
use chitty_operator::workload::gateway_api::HTTPRoute;
use common::TestEnv;
use common::manifest::ServiceManifest;
use common::wait::observed;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

fn gateway_mode(config: &mut chitty_operator::config::OperatorConfig) {
    config.routing.backend = RouteBackend::Gateway;
    config.routing.gateway = Some(GatewayRef {
        namespace: "gw".into(),
        name: "public".into(),
    });
}

/// A suspended service: routes are claimed and routed whether or not a rollout has run.
fn service(name: &str, routes: Value) -> ServiceManifest {
    common::service(name)
        .set("port", 3000.into())
        .suspend(true)
        .routes(routes)
}

fn claim_for(service: &str, host: &str, path: &str) -> String {
    claim_name(
        service,
        &Route {
            host: host.into(),
            path: path.into(),
            tls: false,
            tls_secret_name: None,
        },
    )
}

fn routed(s: &ChittyService) -> Option<(String, String, String)> {
    let c = conditions::find(&s.status.as_ref()?.conditions, types::ROUTED)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

async fn routed_where(
    env: &TestEnv,
    name: &str,
    what: &str,
    check: impl Fn(&(String, String, String)) -> bool,
) -> (String, String, String) {
    let svc = env
        .service_where(name, what, |s| {
            observed(s) && routed(s).is_some_and(|r| check(&r))
        })
        .await;
    routed(&svc).unwrap()
}

/// The service's HTTPRoutes, by name, as JSON specs.
async fn httproutes(api: &Api<HTTPRoute>, service: &str) -> Vec<(String, Value)> {
    let selector = format!("chitty.cc/service={service}");
    let mut routes: Vec<(String, Value)> = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.name_any(), serde_json::to_value(&r.spec).unwrap()))
        .collect();
    routes.sort_by(|a, b| a.0.cmp(&b.0));
    routes
}

fn backend(service: &str) -> Value {
    json!([{"group": "", "kind": "Service", "name": service, "port": 3000, "weight": 100}])
}

fn rewrite() -> Value {
    json!([{"type": "URLRewrite", "urlRewrite":
        {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}])
}

fn parent_ref() -> Value {
    json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "gw", "name": "public"}])
}

/// Writes the route's `status.parents` as a Gateway controller would: our Gateway's verdict on
/// the route's current generation.
async fn gateway_says(
    api: &Api<HTTPRoute>,
    name: &str,
    accepted: (&str, &str, &str),
    resolved: (&str, &str),
) {
    let route = api.get(name).await.unwrap();
    let generation = route.metadata.generation.unwrap();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z"})
    };
    let status = json!({"status": {"parents": [{
        "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "gw", "name": "public"},
        "controllerName": "example.com/gateway-controller",
        "conditions": [
            condition("Accepted", accepted.0, accepted.1, accepted.2),
            condition("ResolvedRefs", resolved.0, resolved.1, "refs checked"),
        ]
    }]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

#[tokio::test]
async fn held_routes_become_httproutes_whose_gateway_verdict_is_mirrored() {
    let env = TestEnv::with("gateway-routes", |config, _| gateway_mode(config)).await;
    let api: Api<HTTPRoute> = env.api();
    env.apply(&service(
        "web",
        json!([
            {"host": "web.gw.chitty.cc"},
            {"host": "api.gw.chitty.cc", "path": "/web/*"},
            {"host": "api2.gw.chitty.cc", "path": "/web"},
        ]),
    ))
    .await;

    // Hosts holding different paths get HTTPRoutes of their own: hostnames apply to every rule.
    let routes = common::eventually(
        "two HTTPRoutes for web",
        || httproutes(&api, "web"),
        |r| r.len() == 2,
    )
    .await;
    assert_eq!(routes[0].0, "web");
    assert_eq!(
        routes[0].1,
        json!({"parentRefs": parent_ref(), "hostnames": ["web.gw.chitty.cc"], "rules": [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": backend("web")}
        ]})
    );
    let shared = routes[1].0.clone();
    assert!(shared.starts_with("web-"), "{shared}");
    assert_eq!(
        routes[1].1,
        json!({"parentRefs": parent_ref(), "hostnames": ["api.gw.chitty.cc", "api2.gw.chitty.cc"],
               "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/web"}}],
                          "filters": rewrite(), "backendRefs": backend("web")}]})
    );
    let web = api.get("web").await.unwrap();
    assert_eq!(web.owner_references()[0].kind, "ChittyService");
    assert_eq!(web.owner_references()[0].name, "web");
    // No Ingress in gateway mode.
    assert!(env.ingresses.get_opt("web").await.unwrap().is_none());

    // Until the Gateway says so, the service is not routed.
    let (status, _, message) = routed_where(&env, "web", "waiting for the Gateway", |r| {
        r.1 == "GatewayPending"
    })
    .await;
    assert_eq!(status, "False");
    assert_eq!(
        message,
        format!("waiting for Gateway gw/public to accept the HTTPRoute web, {shared}")
    );

    for name in ["web", shared.as_str()] {
        gateway_says(
            &api,
            name,
            ("True", "Accepted", "ok"),
            ("True", "ResolvedRefs"),
        )
        .await;
    }
    routed_where(&env, "web", "routed once accepted", |r| {
        r.0 == "True" && r.1 == "RoutesHeld"
    })
    .await;

    // The Gateway refuses one: Routed is False with the Gateway's reason and message.
    gateway_says(
        &api,
        &shared,
        (
            "False",
            "NotAllowedByListeners",
            "no listener for api.gw.chitty.cc",
        ),
        ("True", "ResolvedRefs"),
    )
    .await;
    let (status, _, message) = routed_where(&env, "web", "refused by the Gateway", |r| {
        r.1 == "NotAllowedByListeners"
    })
    .await;
    assert_eq!(status, "False");
    assert!(
        message.contains(&shared) && message.contains("no listener for api.gw.chitty.cc"),
        "{message}"
    );
    gateway_says(
        &api,
        &shared,
        ("True", "Accepted", "ok"),
        ("False", "BackendNotFound"),
    )
    .await;
    routed_where(&env, "web", "unresolved refs", |r| r.1 == "BackendNotFound").await;

    // Level-triggered: an HTTPRoute deleted by hand comes back (and waits for the Gateway again).
    let uid = web.uid().unwrap();
    api.delete("web", &DeleteParams::default()).await.unwrap();
    let back = common::eventually(
        "the HTTPRoute is recreated",
        || api.get_opt("web"),
        |r| {
            r.as_ref()
                .is_ok_and(|r| r.as_ref().is_some_and(|r| r.uid() != Some(uid.clone())))
        },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(serde_json::to_value(&back.spec).unwrap(), routes[0].1);
    env.teardown().await;
}

#[tokio::test]
async fn a_lost_route_leaves_the_httproute() {
    let mut env = TestEnv::with("gateway-lost", |config, _| gateway_mode(config)).await;
    let api: Api<HTTPRoute> = env.api();
    env.apply(&service(
        "shop",
        json!([{"host": "shop.gw.chitty.cc"}, {"host": "closing.gw.chitty.cc"}]),
    ))
    .await;
    common::eventually(
        "both hosts on the HTTPRoute",
        || httproutes(&api, "shop"),
        |r| {
            r.len() == 1
                && r[0].1["hostnames"] == json!(["closing.gw.chitty.cc", "shop.gw.chitty.cc"])
        },
    )
    .await;

    // The operator restarts with closing.gw.chitty.cc reserved for no one: the service loses it.
    env.stop_operator().await;
    env.configure(|config, _| {
        gateway_mode(config);
        config.routing.reservations = vec![RouteReservation {
            pattern: "closing.gw.chitty.cc".into(),
            namespaces: vec![],
        }];
    });
    env.start_operator().await;
    common::wait_for(
        &env.claims,
        &claim_for("shop", "closing.gw.chitty.cc", "/"),
        "the claim is refused",
        |c: &RouteClaim| {
            c.status.as_ref().is_some_and(|s| {
                conditions::find(&s.conditions, types::ACCEPTED)
                    .is_some_and(|a| a.reason == "NotAllowed")
            })
        },
    )
    .await;
    common::eventually(
        "only shop.gw.chitty.cc left on the HTTPRoute",
        || httproutes(&api, "shop"),
        |r| r.len() == 1 && r[0].1["hostnames"] == json!(["shop.gw.chitty.cc"]),
    )
    .await;
    // The claims say why it is not routed; the Gateway is not asked about what it lost.
    routed_where(&env, "shop", "the route lost", |r| r.1 == "RouteNotAllowed").await;

    // No routes held, no HTTPRoute.
    env.apply(&service("shop", json!([]))).await;
    common::eventually(
        "the HTTPRoute is deleted",
        || httproutes(&api, "shop"),
        Vec::is_empty,
    )
    .await;
    env.teardown().await;
}

#[tokio::test]
async fn ingress_nginx_rewrites_path_routes_in_an_ingress_of_their_own() {
    let env = TestEnv::with("gateway-nginx", |config, _| {
        config.routing.ingress_controller = IngressController::IngressNginx;
        config.routing.ingress_class = Some("nginx".into());
    })
    .await;
    env.apply(&service(
        "docs",
        json!([{"host": "docs.nginx.chitty.cc"}, {"host": "api.nginx.chitty.cc", "path": "/docs/*"}]),
    ))
    .await;
    let rewrite: Ingress = common::wait_for(
        &env.ingresses,
        "docs-rewrite",
        "the rewrite Ingress",
        |_| true,
    )
    .await;
    let spec = serde_json::to_value(rewrite.spec.as_ref().unwrap()).unwrap();
    let backend = json!({"service": {"name": "docs", "port": {"number": 3000}}});
    assert_eq!(
        spec["rules"],
        json!([{"host": "api.nginx.chitty.cc", "http": {"paths": [
            {"path": "/docs(/|$)(.*)", "pathType": "ImplementationSpecific", "backend": backend}]}}])
    );
    assert_eq!(spec["ingressClassName"], "nginx");
    assert_eq!(
        rewrite
            .annotations()
            .get("nginx.ingress.kubernetes.io/rewrite-target"),
        Some(&"/$2".to_owned())
    );
    assert_eq!(rewrite.owner_references()[0].name, "docs");
    let main = common::wait_for(&env.ingresses, "docs", "the main Ingress", |_| true).await;
    let spec = serde_json::to_value(main.spec.as_ref().unwrap()).unwrap();
    assert_eq!(
        spec["rules"],
        json!([{"host": "docs.nginx.chitty.cc", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": backend}]}}])
    );
    assert!(
        !main
            .annotations()
            .contains_key("nginx.ingress.kubernetes.io/rewrite-target")
    );
    // No canary in flight, no canary Ingress; no Gateway API objects in Ingress mode.
    assert!(
        env.ingresses
            .get_opt("docs-canary")
            .await
            .unwrap()
            .is_none()
    );
    let api: Api<HTTPRoute> = env.api();
    assert!(httproutes(&api, "docs").await.is_empty());

    // The path route leaves the spec: its Ingress goes, the host's stays.
    env.apply(&service("docs", json!([{"host": "docs.nginx.chitty.cc"}])))
        .await;
    common::wait::wait_gone(
        &env.ingresses,
        "docs-rewrite",
        "the rewrite Ingress is deleted",
    )
    .await;
    assert!(env.ingresses.get_opt("docs").await.unwrap().is_some());
    env.teardown().await;
}

#[test]
fn gateway_mode_without_a_gateway_does_not_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chitty-operator"))
        .args(["run", "--route-backend", "gateway"])
        .env_remove("CHITTY_GATEWAY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the following required arguments were not provided")
            && stderr.contains("--gateway <NAMESPACE/NAME>"),
        "{stderr}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chitty-operator"))
        .args(["run", "--route-backend", "gateway", "--gateway", "public"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not namespace/name of a Gateway"),
        "{stderr}"
    );
}
