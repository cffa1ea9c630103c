//! Route ownership against a real control plane: RouteClaims made from service specs and by hand,
//! decided by the written rule, mirrored into the services, routed by Ingresses only for winners,
//! and listed by the fleet view.

mod common;

use common::http;

use chitty_operator::api::conditions::{self, types};
use chitty_operator::api::{ChittyService, Route, RouteClaim};
use chitty_operator::config::RouteReservation;
use chitty_operator::controller::service::routes::claim_name;
use chitty_operator::metrics::ControllerLabel;
use common::TestEnv;
use common::health_server::HealthServer;
use common::manifest::ServiceManifest;
use common::wait::observed;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

/// Waits until the claim's `Accepted` condition has this reason for its current generation.
async fn claim_decided(env: &TestEnv, name: &str, reason: &str) -> RouteClaim {
    common::wait_for(
        &env.claims,
        name,
        &format!("Accepted reason {reason}"),
        |c: &RouteClaim| accepted_reason(c).as_deref() == Some(reason),
    )
    .await
}

/// The service once its status speaks for its current generation and `check` holds.
async fn service_where(
    env: &TestEnv,
    name: &str,
    what: &str,
    check: impl Fn(&ChittyService) -> bool,
) -> ChittyService {
    env.service_where(name, what, |s| observed(s) && check(s))
        .await
}

/// `ns/name`, as claim status and the fleet view name claims.
fn id(env: &TestEnv, claim: &str) -> String {
    format!("{}/{claim}", env.ns())
}

async fn fleet(env: &TestEnv) -> Value {
    let url = env.operator().url("/api/admin/routes");
    common::eventually(
        "the fleet view answers",
        || {
            let url = url.clone();
            async move {
                let response = http().get(&url).send().await.ok()?;
                if !response.status().is_success() {
                    return None;
                }
                response.json::<Value>().await.ok()
            }
        },
        Option::is_some,
    )
    .await
    .unwrap()
}

/// The fleet view once it satisfies `check`.
async fn fleet_where(env: &TestEnv, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let fleet = fleet(env).await;
        if check(&fleet) {
            return fleet;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for the fleet view: {what}; last: {fleet:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

async fn ingress_rules(env: &TestEnv, name: &str) -> Option<Vec<(String, String, String, i32)>> {
    let ingress = env.ingresses.get_opt(name).await.unwrap()?;
    Some(rules(&ingress))
}

/// A service as a user writes it. Suspended unless it needs to roll out: routes are claimed,
/// decided and routed whether or not a rollout has run, and idle services keep the tests light.
fn service(name: &str, routes: Value) -> ServiceManifest {
    common::service(name)
        .set("port", 3000.into())
        .suspend(true)
        .routes(routes)
}

/// A service that rolls out and becomes Ready against the given health endpoint.
fn running_service(name: &str, routes: Value, health: &str) -> ServiceManifest {
    service(name, routes).suspend(false).health(health)
}

/// The name the operator gives the claim for a spec route.
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

fn condition(c: &RouteClaim) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    let status = c.status.as_ref()?;
    if status.observed_generation != c.metadata.generation {
        return None;
    }
    conditions::find(&status.conditions, types::ACCEPTED).cloned()
}

fn accepted_reason(c: &RouteClaim) -> Option<String> {
    condition(c).map(|c| c.reason)
}

fn holder(c: &RouteClaim) -> Option<String> {
    c.status.as_ref()?.holder.clone()
}

fn service_condition(s: &ChittyService, type_: &str) -> Option<(String, String, String)> {
    let c = conditions::find(&s.status.as_ref()?.conditions, type_)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// (host, path, service, port) of every rule, in order.
fn rules(ingress: &Ingress) -> Vec<(String, String, String, i32)> {
    let spec = ingress.spec.clone().unwrap_or_default();
    let mut out = Vec::new();
    for rule in spec.rules.unwrap_or_default() {
        for path in rule.http.map(|h| h.paths).unwrap_or_default() {
            assert_eq!(path.path_type, "Prefix");
            let backend = path.backend.service.unwrap();
            out.push((
                rule.host.clone().unwrap_or_default(),
                path.path.unwrap_or_default(),
                backend.name,
                backend.port.and_then(|p| p.number).unwrap_or_default(),
            ));
        }
    }
    out
}

fn rule(host: &str, path: &str, service: &str) -> (String, String, String, i32) {
    (host.into(), path.into(), service.into(), 3000)
}

#[tokio::test]
async fn older_service_keeps_the_route_and_the_other_takes_over_only_when_it_goes() {
    let env = TestEnv::new("routes-seed").await;
    let health = HealthServer::start().await;
    let mcp_route = json!([{"host": "mcp.chitty.cc", "path": "/*"}]);
    let connect_claim = claim_for("chittyconnect", "mcp.chitty.cc", "/*");
    let mcp_claim = claim_for("chittymcp", "mcp.chitty.cc", "/*");

    env.apply(&running_service(
        "chittyconnect",
        mcp_route.clone(),
        &health.url,
    ))
    .await;
    claim_decided(&env, &connect_claim, "Accepted").await;
    env.apply(&running_service(
        "chittymcp",
        mcp_route.clone(),
        &health.url,
    ))
    .await;

    // The loser's claim says who holds the route and why.
    let lost = claim_decided(&env, &mcp_claim, "Conflicted").await;
    assert_eq!(holder(&lost), Some(id(&env, &connect_claim)));
    assert_eq!(
        lost.status.as_ref().unwrap().conflicts_with,
        [id(&env, &connect_claim)]
    );
    let message = condition(&lost).unwrap().message;
    assert!(
        message.starts_with(&format!(
            "mcp.chitty.cc/* is held by {}, which already held it (incumbent)",
            id(&env, &connect_claim)
        )),
        "{message}"
    );

    // The loser service rolls out but is not Ready, and says why and who holds the route.
    let loser = service_where(&env, "chittymcp", "not Ready because of the route", |s| {
        service_condition(s, types::READY).is_some_and(|(_, reason, _)| reason == "RouteConflict")
    })
    .await;
    let (ready, _, why) = service_condition(&loser, types::READY).unwrap();
    assert_eq!(ready, "False");
    assert!(
        why.contains(&format!("held by {}", id(&env, &connect_claim))),
        "{why}"
    );
    let (routed, reason, _) = service_condition(&loser, types::ROUTED).unwrap();
    assert_eq!(
        (routed.as_str(), reason.as_str()),
        ("False", "RouteConflict")
    );
    let summary = &loser.status.as_ref().unwrap().routes[0];
    assert_eq!(
        (
            summary.accepted,
            summary.reason.as_deref(),
            summary.holder.clone()
        ),
        (false, Some("Conflicted"), Some(id(&env, &connect_claim)))
    );
    let winner = service_where(&env, "chittyconnect", "Ready and routed", |s| {
        service_condition(s, types::READY).is_some_and(|(status, _, _)| status == "True")
    })
    .await;
    assert_eq!(
        service_condition(&winner, types::ROUTED).unwrap().1,
        "RoutesHeld"
    );

    // Only the winner is routed.
    assert_eq!(
        ingress_rules(&env, "chittyconnect").await,
        Some(vec![rule("mcp.chitty.cc", "/", "chittyconnect")])
    );
    assert_eq!(ingress_rules(&env, "chittymcp").await, None);

    // The fleet view lists the conflict.
    let fleet = fleet_where(&env, "the mcp conflict", |f| {
        f["conflicts"].as_array().is_some_and(|c| !c.is_empty())
    })
    .await;
    assert_eq!(
        fleet["conflicts"],
        json!([{"host": "mcp.chitty.cc", "path": "/", "holder": id(&env, &connect_claim),
                "losers": [id(&env, &mcp_claim)]}])
    );
    assert_eq!(fleet["claims"].as_array().unwrap().len(), 2);

    // The transition was announced on the claim.
    let events: Api<Event> = Api::namespaced(env.client.clone(), env.ns());
    let selector = format!("involvedObject.name={mcp_claim}");
    common::eventually(
        "a Conflicted event on the losing claim",
        || {
            let (events, selector) = (events.clone(), selector.clone());
            async move {
                events
                    .list(&ListParams::default().fields(&selector))
                    .await
                    .map(|l| {
                        l.items
                            .iter()
                            .map(|e| (e.type_.clone(), e.reason.clone()))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            }
        },
        |seen: &Vec<(Option<String>, Option<String>)>| {
            seen.contains(&(Some("Warning".into()), Some("Conflicted".into())))
        },
    )
    .await;

    // The holder goes: the next claim in line takes over without a restart, and is routed.
    env.services
        .delete("chittyconnect", &DeleteParams::default())
        .await
        .unwrap();
    let taken = claim_decided(&env, &mcp_claim, "Accepted").await;
    assert_eq!(
        taken.status.unwrap().held_route.as_deref(),
        Some("mcp.chitty.cc/*")
    );
    common::eventually(
        "chittymcp routed",
        || ingress_rules(&env, "chittymcp"),
        |r| *r == Some(vec![rule("mcp.chitty.cc", "/", "chittymcp")]),
    )
    .await;
    service_where(&env, "chittymcp", "Ready once it holds its route", |s| {
        service_condition(s, types::READY).is_some_and(|(status, _, _)| status == "True")
    })
    .await;

    // The first service comes back (once its old claim is gone): it does not steal the route back.
    common::eventually(
        "the deleted service's claim is garbage-collected",
        || env.claims.get_opt(&connect_claim),
        |c| c.as_ref().is_ok_and(Option::is_none),
    )
    .await
    .unwrap();
    env.apply(&running_service("chittyconnect", mcp_route, &health.url))
        .await;
    let back = claim_decided(&env, &connect_claim, "Conflicted").await;
    assert_eq!(holder(&back), Some(id(&env, &mcp_claim)));
    assert!(
        condition(&back)
            .unwrap()
            .message
            .contains("already held it (incumbent)")
    );
    assert_eq!(
        accepted_reason(&env.claims.get(&mcp_claim).await.unwrap()).as_deref(),
        Some("Accepted")
    );
    env.teardown().await;
}

#[tokio::test]
async fn a_restart_keeps_the_incumbent_and_a_new_claim_does_not_steal() {
    let mut env = TestEnv::new("routes-restart").await;
    let holder_claim = claim_for("holder", "shared.chitty.cc", "/*");

    // The oldest claim cannot compete at first: its service does not exist yet.
    env.apply_claim("early", "shared.chitty.cc", "late").await;
    claim_decided(&env, "early", "ServiceNotFound").await;
    // Creation timestamps have one-second resolution: make the holder unambiguously newer.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    env.apply(&service("holder", json!([{"host": "shared.chitty.cc"}])))
        .await;
    claim_decided(&env, &holder_claim, "Accepted").await;
    env.apply(&service("late", json!([]))).await;

    // Older, but the holder is the incumbent.
    let early = claim_decided(&env, "early", "Conflicted").await;
    assert_eq!(holder(&early), Some(id(&env, &holder_claim)));
    assert!(
        condition(&early)
            .unwrap()
            .message
            .contains("it keeps it although this claim is older"),
        "{:?}",
        condition(&early)
    );
    let held = env.claims.get(&holder_claim).await.unwrap();
    let early = env.claims.get("early").await.unwrap();

    // Restart: incumbency is read back from status, so nothing changes and nothing is written.
    env.stop_operator().await;
    env.start_operator().await;
    let reconciled = || {
        env.operator()
            .metrics
            .reconciles
            .get_or_create(&ControllerLabel {
                controller: "routeclaim",
            })
            .get()
    };
    common::eventually(
        "both claims reconciled after the restart",
        || async { reconciled() },
        |n| *n >= 2,
    )
    .await;
    let held_after = env.claims.get(&holder_claim).await.unwrap();
    assert_eq!(accepted_reason(&held_after).as_deref(), Some("Accepted"));
    assert_eq!(held_after.resource_version(), held.resource_version());
    assert_eq!(
        env.claims.get("early").await.unwrap().resource_version(),
        early.resource_version()
    );

    // A claim created now is newer than the holder and steals nothing either.
    env.apply_claim("newcomer", "shared.chitty.cc", "late")
        .await;
    let newcomer = claim_decided(&env, "newcomer", "Conflicted").await;
    assert_eq!(holder(&newcomer), Some(id(&env, &holder_claim)));
    assert_eq!(
        accepted_reason(&env.claims.get(&holder_claim).await.unwrap()).as_deref(),
        Some("Accepted")
    );
    env.teardown().await;
}

#[tokio::test]
async fn a_claim_made_ahead_of_its_service_is_accepted_when_the_service_appears() {
    let env = TestEnv::new("routes-ahead").await;
    env.apply_claim("reserved", "future.chitty.cc", "future")
        .await;
    let waiting = claim_decided(&env, "reserved", "ServiceNotFound").await;
    assert!(
        condition(&waiting)
            .unwrap()
            .message
            .contains("was not found")
    );

    env.apply(&service("future", json!([]))).await;
    claim_decided(&env, "reserved", "Accepted").await;
    // A claim made by hand in the service's namespace routes to it like its own.
    let svc = service_where(&env, "future", "the hand-made claim mirrored", |s| {
        s.status
            .as_ref()
            .is_some_and(|st| st.routes.iter().any(|r| r.accepted))
    })
    .await;
    let summary = &svc.status.as_ref().unwrap().routes[0];
    assert_eq!(
        (summary.claim.as_str(), summary.host.as_str()),
        ("reserved", "future.chitty.cc")
    );
    assert_eq!(service_condition(&svc, types::ROUTED).unwrap().0, "True");
    common::eventually(
        "the Ingress routes the hand-made claim",
        || ingress_rules(&env, "future"),
        |r| *r == Some(vec![rule("future.chitty.cc", "/", "future")]),
    )
    .await;

    // The service goes: the claim stops competing, and holds nothing.
    env.services
        .delete("future", &DeleteParams::default())
        .await
        .unwrap();
    claim_decided(&env, "reserved", "ServiceNotFound").await;
    env.teardown().await;
}

#[tokio::test]
async fn reservations_refuse_claims_from_other_namespaces() {
    let env = TestEnv::with("routes-reserved", |config, ns| {
        config.routing.reservations = vec![
            RouteReservation {
                pattern: "reserved.chitty.cc".into(),
                namespaces: vec!["platform".into()],
            },
            RouteReservation {
                pattern: "*.ours.chitty.cc".into(),
                namespaces: vec![ns.to_owned()],
            },
        ];
    })
    .await;
    env.apply(&service(
        "api",
        json!([{"host": "reserved.chitty.cc"}, {"host": "api.ours.chitty.cc"}]),
    ))
    .await;
    let refused = claim_decided(
        &env,
        &claim_for("api", "reserved.chitty.cc", "/"),
        "NotAllowed",
    )
    .await;
    let message = condition(&refused).unwrap().message;
    assert!(
        message.starts_with(&format!(
            "hosts matching reserved.chitty.cc are reserved by operator configuration for platform; \
             this claim's namespace {} is not allowed",
            env.ns()
        )),
        "{message}"
    );
    claim_decided(
        &env,
        &claim_for("api", "api.ours.chitty.cc", "/"),
        "Accepted",
    )
    .await;
    let svc = service_where(&env, "api", "Routed=False", |s| {
        service_condition(s, types::ROUTED).is_some_and(|(_, r, _)| r == "RouteNotAllowed")
    })
    .await;
    assert_eq!(
        ingress_rules(&env, "api").await,
        Some(vec![rule("api.ours.chitty.cc", "/", "api")])
    );
    assert!(
        svc.status
            .unwrap()
            .routes
            .iter()
            .any(|r| r.reason.as_deref() == Some("NotAllowed"))
    );
    env.teardown().await;
}

#[tokio::test]
async fn the_ingress_carries_exactly_the_held_routes_with_tls() {
    let env = TestEnv::with("routes-ingress", |config, _| {
        config.routing.ingress_class = Some("nginx".into());
        config.routing.cert_manager_issuer = Some("letsencrypt-prod".into());
    })
    .await;
    // Someone else holds taken.chitty.cc first.
    env.apply(&service("other", json!([]))).await;
    env.apply_claim("squatter", "taken.chitty.cc", "other")
        .await;
    claim_decided(&env, "squatter", "Accepted").await;

    let routes = json!([
        {"host": "web.chitty.cc", "path": "/", "tls": true, "tlsSecretName": "web-cert"},
        {"host": "api.web.chitty.cc", "path": "/v1/*", "tls": true},
        {"host": "taken.chitty.cc", "path": "/*"},
        {"host": "*.apps.chitty.cc"},
    ]);
    env.apply(&service("web", routes)).await;
    claim_decided(
        &env,
        &claim_for("web", "taken.chitty.cc", "/*"),
        "Conflicted",
    )
    .await;
    let held = vec![
        rule("*.apps.chitty.cc", "/", "web"),
        rule("api.web.chitty.cc", "/v1", "web"),
        rule("web.chitty.cc", "/", "web"),
    ];
    common::eventually(
        "the Ingress has the three held routes",
        || ingress_rules(&env, "web"),
        |r| r.as_ref() == Some(&held),
    )
    .await;
    let ingress = env.ingresses.get("web").await.unwrap();
    let spec = serde_json::to_value(ingress.spec.as_ref().unwrap()).unwrap();
    assert_eq!(spec["ingressClassName"], "nginx");
    assert_eq!(
        spec["tls"],
        json!([
            {"hosts": ["api.web.chitty.cc"], "secretName": "api-web-chitty-cc-tls"},
            {"hosts": ["web.chitty.cc"], "secretName": "web-cert"},
        ])
    );
    assert_eq!(
        ingress
            .annotations()
            .get("cert-manager.io/cluster-issuer")
            .map(String::as_str),
        Some("letsencrypt-prod")
    );
    assert_eq!(ingress.owner_references()[0].name, "web");

    // Level-triggered: an Ingress deleted by hand comes back.
    env.ingresses
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    common::eventually(
        "the Ingress is recreated",
        || ingress_rules(&env, "web"),
        |r| r.as_ref() == Some(&held),
    )
    .await;

    // The squatter leaves: the route passes to web and into its Ingress.
    env.claims
        .delete("squatter", &DeleteParams::default())
        .await
        .unwrap();
    common::eventually(
        "taken.chitty.cc routed to web",
        || ingress_rules(&env, "web"),
        |r| {
            r.as_ref()
                .is_some_and(|r| r.contains(&rule("taken.chitty.cc", "/", "web")))
        },
    )
    .await;

    // A route leaving the spec leaves the Ingress, and its claim goes.
    let fewer =
        json!([{"host": "web.chitty.cc", "path": "/", "tls": true, "tlsSecretName": "web-cert"}]);
    env.apply(&service("web", fewer)).await;
    common::eventually(
        "only web.chitty.cc left",
        || ingress_rules(&env, "web"),
        |r| *r == Some(vec![rule("web.chitty.cc", "/", "web")]),
    )
    .await;
    common::eventually(
        "one claim left for web",
        || {
            let claims = env.claims.clone();
            async move {
                claims
                    .list(&ListParams::default().labels("chitty.cc/service=web"))
                    .await
                    .map(|l| l.items.iter().map(|c| c.name_any()).collect::<Vec<_>>())
                    .unwrap_or_default()
            }
        },
        |names| *names == [claim_for("web", "web.chitty.cc", "/")],
    )
    .await;

    // No routes held, no Ingress.
    env.apply(&service("web", json!([]))).await;
    common::eventually(
        "the Ingress is deleted",
        || env.ingresses.get_opt("web"),
        |i| i.as_ref().is_ok_and(Option::is_none),
    )
    .await
    .unwrap();
    env.teardown().await;
}

#[tokio::test]
async fn an_exact_host_and_other_paths_do_not_conflict_with_a_wildcard() {
    let env = TestEnv::new("routes-wildcard").await;
    env.apply(&service("wild", json!([{"host": "*.wild.chitty.cc"}])))
        .await;
    env.apply(&service("exact", json!([{"host": "api.wild.chitty.cc"}])))
        .await;
    env.apply(&service(
        "versioned",
        json!([{"host": "api.wild.chitty.cc", "path": "/v2/*"}]),
    ))
    .await;
    for claim in [
        claim_for("wild", "*.wild.chitty.cc", "/"),
        claim_for("exact", "api.wild.chitty.cc", "/"),
        claim_for("versioned", "api.wild.chitty.cc", "/v2/*"),
    ] {
        let decided = claim_decided(&env, &claim, "Accepted").await;
        assert!(decided.status.unwrap().conflicts_with.is_empty());
    }
    let fleet = fleet_where(&env, "all three claims", |f| {
        f["claims"].as_array().is_some_and(|c| c.len() == 3)
    })
    .await;
    assert_eq!(fleet["conflicts"], json!([]));
    assert_eq!(
        fleet["overlaps"],
        json!([{"wildcard": "*.wild.chitty.cc", "exact": "api.wild.chitty.cc"}])
    );
    assert!(
        fleet["claims"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["accepted"] == true)
    );

    // Settled: an idle operator writes nothing (statuses are written only when they change).
    for name in ["wild", "exact", "versioned"] {
        service_where(&env, name, "Routed=True", |s| {
            service_condition(s, types::ROUTED).is_some_and(|(status, _, _)| status == "True")
        })
        .await;
    }
    let writes = || env.operator().metrics.kube_write_total();
    let before = writes();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(writes(), before, "an idle operator wrote");

    // A reconcile with nothing to change (an annotation only) writes nothing either: the claims,
    // the Ingress and the status it would write are all compared with what is there first.
    let reconciles = || {
        env.operator()
            .metrics
            .reconciles
            .get_or_create(&ControllerLabel {
                controller: "chittyservice",
            })
            .get()
    };
    let reconciled = reconciles();
    env.services
        .patch(
            "exact",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"touched": "yes"}}})),
        )
        .await
        .unwrap();
    common::eventually(
        "the service reconciled again",
        || async { reconciles() },
        |n| *n > reconciled,
    )
    .await;
    // The counter moves when the reconcile starts; give it time to finish (and write, if it would).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(env.ingresses.get_opt("exact").await.unwrap().is_some());
    assert_eq!(writes(), before, "a reconcile with nothing to change wrote");
    env.teardown().await;
}
