//! Route ownership end to end on the local control plane: S ChittyServices with four routes each
//! (2,000 RouteClaims for the default 500), a tenth of the claims on a key another service also
//! claims. Times, from the first apply, until every claim is decided for its generation and every
//! service's `status.routes` has no undecided route; checks the outcome (one holder per contested
//! key, each loser naming it, one Ingress per service); then deletes the holders of 50 contested
//! keys and times until their losers hold them.
//!
//! The services are suspended, so no rollouts run and the figures are the routing path's alone:
//! claims created by the ChittyService controller, decided by the route table, written by the
//! RouteClaim controller and mirrored back into the services and their Ingresses.
//!
//! `cargo bench --bench route_convergence` (services from CHITTY_BENCH_ROUTE_SERVICES, default
//! 500); writes target/bench/route_convergence.md. Runs `scripts/cluster.sh up` itself.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chitty_operator::api::conditions::{find, types};
use chitty_operator::api::{ChittyService, RouteClaim};
use futures::StreamExt;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

const CONCURRENCY: usize = 16;
const NAMESPACE: &str = "bench-routes";
const TAKEOVERS: usize = 50;

/// Service `i`'s four routes. The first `s / 5` services also claim, as their fourth route, the
/// first route of service `i + s / 5`: 2 × s/5 claims on s/5 contested keys, a tenth of 4 × s.
fn routes(i: usize, s: usize) -> Vec<serde_json::Value> {
    let contested = s / 5;
    let fourth = if i < contested {
        json!({"host": format!("svc-{:05}.chitty.cc", i + contested), "path": "/*"})
    } else {
        json!({"host": format!("svc-{i:05}.chitty.cc"), "path": "/v2/"})
    };
    vec![
        json!({"host": format!("svc-{i:05}.chitty.cc"), "path": "/*"}),
        json!({"host": "api.chitty.cc", "path": format!("/svc-{i:05}/")}),
        json!({"host": format!("svc-{i:05}.chitty.cc"), "path": "/admin/"}),
        fourth,
    ]
}

fn service(i: usize, s: usize) -> serde_json::Value {
    json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "metadata": {"name": format!("svc-{i:05}")},
        "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                 "source": {"image": "registry.local/svc:1.0.0"},
                 "suspend": true, "routes": routes(i, s)}
    })
}

/// A claim is decided when its `Accepted` condition speaks for its current generation.
fn decided(claim: &RouteClaim) -> Option<bool> {
    let status = claim.status.as_ref()?;
    let accepted = find(&status.conditions, types::ACCEPTED)?;
    (accepted.observed_generation == claim.metadata.generation).then_some(accepted.status == "True")
}

/// A service is routed when its status lists every route with a decision.
fn routed(service: &ChittyService) -> bool {
    service.status.as_ref().is_some_and(|s| {
        s.observed_generation == service.metadata.generation
            && s.routes.len() == service.spec.routes.len()
            && s.routes
                .iter()
                .all(|r| r.reason.as_deref() != Some("Pending"))
    })
}

struct Converged {
    elapsed: Duration,
    claims: Vec<RouteClaim>,
}

/// Polls (cheap lists, every 250 ms) until `expected` claims are decided and every service is
/// routed.
async fn converge(
    claims: &Api<RouteClaim>,
    services: &Api<ChittyService>,
    expected: usize,
    started: Instant,
) -> Converged {
    loop {
        let all = claims.list(&ListParams::default()).await.unwrap().items;
        let done = all.iter().filter(|c| decided(c).is_some()).count();
        if done == expected && all.len() == expected {
            let svcs = services.list(&ListParams::default()).await.unwrap().items;
            if svcs.iter().all(routed) {
                return Converged {
                    elapsed: started.elapsed(),
                    claims: all,
                };
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "{done}/{expected} claims decided after 15 minutes"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Claims by route, in the order the table shows them.
fn by_route(claims: &[RouteClaim]) -> BTreeMap<(String, String), Vec<&RouteClaim>> {
    let mut keys: BTreeMap<(String, String), Vec<&RouteClaim>> = BTreeMap::new();
    for c in claims {
        let path = if c.spec.path == "/*" {
            "/"
        } else {
            &c.spec.path
        };
        keys.entry((c.spec.host.clone(), path.to_string()))
            .or_default()
            .push(c);
    }
    keys
}

#[tokio::main]
async fn main() {
    let s: usize = std::env::var("CHITTY_BENCH_ROUTE_SERVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let (client, kubeconfig) = support::local_cluster().await;
    support::namespace(&client, NAMESPACE).await;
    let operator = support::Operator::start(&kubeconfig, NAMESPACE, 18600, &[]);
    let http = reqwest::Client::new();
    operator.ready(&http).await;
    let (_, writes0) = operator.requests(&http).await;

    let services: Api<ChittyService> = Api::namespaced(client.clone(), NAMESPACE);
    let claims: Api<RouteClaim> = Api::namespaced(client.clone(), NAMESPACE);
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), NAMESPACE);
    let expected = 4 * s;

    let started = Instant::now();
    let api = Arc::new(services.clone());
    futures::stream::iter(0..s)
        .for_each_concurrent(CONCURRENCY, |i| {
            let api = api.clone();
            async move {
                let manifest = service(i, s);
                let name = manifest["metadata"]["name"].as_str().unwrap().to_string();
                api.patch(&name, &PatchParams::apply("bench"), &Patch::Apply(manifest))
                    .await
                    .unwrap();
            }
        })
        .await;
    let applied = started.elapsed();
    let converged = converge(&claims, &services, expected, started).await;
    let (_, writes1) = operator.requests(&http).await;

    // The outcome, not only the time: one holder per key, every loser names it.
    let keys = by_route(&converged.claims);
    let contested: Vec<_> = keys.iter().filter(|(_, on)| on.len() > 1).collect();
    assert_eq!(contested.len(), s / 5, "contested keys");
    let mut losers = 0;
    let mut holders = Vec::new();
    for (key, on) in &contested {
        let held: Vec<_> = on.iter().filter(|c| decided(c) == Some(true)).collect();
        assert_eq!(held.len(), 1, "{key:?} has one holder");
        let holder = held[0].name_any();
        for loser in on.iter().filter(|c| decided(c) == Some(false)) {
            let status = loser.status.as_ref().unwrap();
            assert_eq!(
                status.holder.as_deref().map(|h| h.ends_with(&holder)),
                Some(true)
            );
            losers += 1;
        }
        holders.push((held[0].spec.service_ref.name.clone(), (*key).clone()));
    }
    let accepted = converged
        .claims
        .iter()
        .filter(|c| decided(c) == Some(true))
        .count();
    assert_eq!(losers, s / 5);
    assert_eq!(accepted, expected - s / 5);
    // Ingresses follow the claims; every service holds at least its `/admin/` route.
    let ingress_deadline = Instant::now() + Duration::from_secs(120);
    let ingress_count = loop {
        let n = ingresses
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len();
        if n == s || Instant::now() > ingress_deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(ingress_count, s, "one Ingress per service");

    // Takeover: the holders of 50 contested keys go away; their losers must take the keys.
    let gone: Vec<(String, (String, String))> = holders.into_iter().take(TAKEOVERS).collect();
    let takeover_started = Instant::now();
    for (service, _) in &gone {
        services
            .delete(service, &DeleteParams::background())
            .await
            .unwrap();
    }
    let takeover = loop {
        let all = claims.list(&ListParams::default()).await.unwrap().items;
        let keys = by_route(&all);
        let taken = gone
            .iter()
            .filter(|(service, key)| {
                keys.get(key).is_some_and(|on| {
                    on.iter()
                        .any(|c| c.spec.service_ref.name != *service && decided(c) == Some(true))
                })
            })
            .count();
        if taken == gone.len() {
            break takeover_started.elapsed();
        }
        assert!(
            takeover_started.elapsed() < Duration::from_secs(300),
            "{taken}/{} keys taken over after 5 minutes",
            gone.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rss = operator.memory_kib("VmHWM:") as f64 / 1024.0;
    drop(operator);
    support::delete_namespace(&client, NAMESPACE).await;

    let report = format!(
        "# Route convergence benchmark\n\n\
         | services | claims | contested keys | applied in | all decided and mirrored | operator writes | takeovers | all taken over | peak RSS |\n\
         |---|---|---|---|---|---|---|---|---|\n\
         | {s} | {expected} | {} | {:.1} s | {:.1} s | {} | {} | {:.2} s | {rss:.0} MiB |\n",
        s / 5,
        applied.as_secs_f64(),
        converged.elapsed.as_secs_f64(),
        writes1 - writes0,
        gone.len(),
        takeover.as_secs_f64(),
    );
    support::write_report("route_convergence.md", &report);
}
