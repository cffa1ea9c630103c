//! Route ownership between namespaces under `--route-policy=delegated`, against the local control
//! plane: a ChittyDomain delegates a host to namespaces, and a claim outside its delegation is
//! refused with the reason, never routed and never given a certificate.
//!
//! Each test runs one operator per namespace (each watches its own namespace, as a namespaced
//! install does, and every operator reads the cluster-wide ChittyDomains), and names its hosts
//! after its namespaces, so tests sharing the cluster never meet on a host.

mod common;

use chitty_operator::api::conditions::{self, types};
use chitty_operator::api::{ChittyDomain, ChittyService, Route, RouteClaim};
use chitty_operator::config::RoutePolicyMode;
use chitty_operator::controller::service::routes::claim_name;
use common::TestEnv;
use common::wait::observed;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

/// Deletes the test's ChittyDomains (cluster-scoped, so its namespace does not take them along).
struct Domains {
    api: Api<ChittyDomain>,
    names: Vec<String>,
}

impl Domains {
    async fn new() -> Self {
        Self {
            api: Api::all(common::client().await),
            names: Vec::new(),
        }
    }

    async fn apply(&mut self, name: &str, spec: Value) {
        let manifest = json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDomain",
            "metadata": {"name": name}, "spec": spec,
        });
        self.api
            .patch(name, &PatchParams::apply("test"), &Patch::Apply(&manifest))
            .await
            .unwrap_or_else(|e| panic!("applying ChittyDomain {name}: {e}"));
        self.names.push(name.to_owned());
    }

    async fn delete(&self, name: &str) {
        self.api
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    /// The domain once its `Ready` condition speaks for its generation with this reason.
    async fn ready_with(&self, name: &str, reason: &str) -> ChittyDomain {
        common::wait_for(&self.api, name, &format!("Ready reason {reason}"), |d| {
            let Some(status) = &d.status else {
                return false;
            };
            status.observed_generation == d.metadata.generation
                && conditions::find(&status.conditions, types::READY)
                    .is_some_and(|c| c.reason == reason)
        })
        .await
    }
}

impl Drop for Domains {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = common::kubectl_try(&["delete", "chittydomain", name, "--ignore-not-found"]);
        }
    }
}

async fn delegated(prefix: &str) -> TestEnv {
    TestEnv::with(prefix, |config, _| {
        config.routing.policy = RoutePolicyMode::Delegated;
    })
    .await
}

/// A suspended service with these routes: routes are claimed and routed without a rollout.
async fn apply_service(env: &TestEnv, name: &str, routes: Value) {
    env.apply(
        &common::service(name)
            .set("port", 3000.into())
            .suspend(true)
            .routes(routes),
    )
    .await;
}

fn claim_for(service: &str, host: &str, path: &str) -> String {
    let route = Route {
        host: host.into(),
        path: path.into(),
        tls: false,
        tls_secret_name: None,
    };
    claim_name(service, &route)
}

/// The claim once its `Accepted` condition speaks for its generation with this reason; returns
/// the condition's message.
async fn decided(env: &TestEnv, claim: &str, reason: &str) -> String {
    let claim = common::wait_for(
        &env.claims,
        claim,
        &format!("Accepted reason {reason}"),
        |c: &RouteClaim| accepted(c).is_some_and(|(r, _)| r == reason),
    )
    .await;
    accepted(&claim).unwrap().1
}

fn accepted(c: &RouteClaim) -> Option<(String, String)> {
    let status = c.status.as_ref()?;
    if status.observed_generation != c.metadata.generation {
        return None;
    }
    let condition = conditions::find(&status.conditions, types::ACCEPTED)?;
    Some((condition.reason.clone(), condition.message.clone()))
}

/// (host, path) of every Ingress rule, and the hosts of every TLS entry; `None` without one.
async fn ingress(env: &TestEnv, name: &str) -> Option<(Vec<(String, String)>, Vec<String>)> {
    let ingress = env.ingresses.get_opt(name).await.unwrap()?;
    let spec = ingress.spec.unwrap_or_default();
    let rules = (spec.rules.unwrap_or_default().into_iter())
        .flat_map(|rule| {
            let host = rule.host.unwrap_or_default();
            let paths = rule.http.map(|h| h.paths).unwrap_or_default();
            paths
                .into_iter()
                .map(move |p| (host.clone(), p.path.unwrap_or_default()))
        })
        .collect();
    let tls = (spec.tls.unwrap_or_default().into_iter())
        .flat_map(|t| t.hosts.unwrap_or_default())
        .collect();
    Some((rules, tls))
}

fn routed_reason(s: &ChittyService) -> Option<String> {
    let status = s.status.as_ref()?;
    conditions::find(&status.conditions, types::ROUTED).map(|c| c.reason.clone())
}

#[tokio::test]
async fn cross_namespace_sub_path_wildcard_and_foreign_service_ref_are_refused() {
    let owner = delegated("deleg-owner").await;
    let intruder = delegated("deleg-intruder").await;
    let (a, b) = (owner.ns().to_owned(), intruder.ns().to_owned());
    let shop = format!("shop.{a}.chitty.cc");
    let mut domains = Domains::new().await;
    domains
        .apply(
            &format!("{a}-shop"),
            json!({"host": shop, "namespaces": [a]}),
        )
        .await;
    domains
        .apply(
            &format!("{b}-all"),
            json!({"host": format!("*.{b}.chitty.cc"), "mode": "Exclusive", "namespaces": [b]}),
        )
        .await;

    // The owner's host is its own, with its certificate.
    apply_service(
        &owner,
        "shop",
        json!([{"host": shop, "path": "/", "tls": true}]),
    )
    .await;
    decided(&owner, &claim_for("shop", &shop, "/"), "Accepted").await;

    // Another namespace tries a sub-path of it and a wildcard over its domain, both with TLS, and
    // a route of its own.
    let web = format!("web.{b}.chitty.cc");
    let wildcard = format!("*.{a}.chitty.cc");
    apply_service(
        &intruder,
        "checkout",
        json!([
            {"host": shop, "path": "/checkout", "tls": true},
            {"host": wildcard, "tls": true},
            {"host": web, "tls": true},
        ]),
    )
    .await;
    let sub_path = decided(
        &intruder,
        &claim_for("checkout", &shop, "/checkout"),
        "NotAllowed",
    )
    .await;
    assert!(
        sub_path.starts_with(&format!(
            "ChittyDomain {a}-shop delegates {shop} exclusively to {a}; this claim's namespace {b} is not among them"
        )),
        "{sub_path}"
    );
    let wild = decided(
        &intruder,
        &claim_for("checkout", &wildcard, "/"),
        "NotAllowed",
    )
    .await;
    assert!(
        wild.starts_with(&format!(
            "no ChittyDomain delegates {wildcard} (route policy: delegated)"
        )),
        "{wild}"
    );
    decided(&intruder, &claim_for("checkout", &web, "/"), "Accepted").await;

    // A hand-made claim on its own delegated host, pointing at the owner's service.
    let foreign = json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "RouteClaim",
        "metadata": {"name": "borrowed"},
        "spec": {"host": format!("x.{b}.chitty.cc"), "path": "/",
                 "serviceRef": {"name": "shop", "namespace": a}},
    });
    common::manifest::apply_claim(&intruder.claims, &foreign).await;
    let borrowed = decided(&intruder, "borrowed", "NotAllowed").await;
    assert!(
        borrowed.starts_with(&format!(
            "serviceRef names a ChittyService in namespace {a}; a RouteClaim may only route to a service in its own namespace {b}"
        )),
        "{borrowed}"
    );

    // Only the intruder's own host is routed, and only it gets a TLS entry.
    let expected = (vec![(web.clone(), "/".to_owned())], vec![web.clone()]);
    common::eventually(
        "the intruder's Ingress holds only its own host",
        || ingress(&intruder, "checkout"),
        |i| i.as_ref() == Some(&expected),
    )
    .await;
    let svc = intruder
        .service_where("checkout", "Routed=False, RouteNotAllowed", |s| {
            observed(s) && routed_reason(s).as_deref() == Some("RouteNotAllowed")
        })
        .await;
    assert!(
        svc.status
            .unwrap()
            .routes
            .iter()
            .any(|r| r.reason.as_deref() == Some("NotAllowed"))
    );
    // The owner keeps its host and certificate.
    assert_eq!(
        ingress(&owner, "shop").await,
        Some((vec![(shop.clone(), "/".to_owned())], vec![shop.clone()]))
    );
    let domain = domains.ready_with(&format!("{a}-shop"), "Delegated").await;
    let status = domain.status.unwrap();
    assert_eq!(
        (status.namespace_count, status.namespaces),
        (1, vec![a.clone()])
    );

    owner.teardown().await;
    intruder.teardown().await;
}

#[tokio::test]
async fn a_shared_host_follows_its_domain_and_the_namespace_labels_it_selects() {
    let env = delegated("deleg-shared").await;
    let ns = env.ns().to_owned();
    let api = format!("api.{ns}.chitty.cc");
    apply_service(
        &env,
        "ledger",
        json!([{"host": api, "path": "/ledger"}, {"host": api, "path": "/other"}]),
    )
    .await;
    let own = claim_for("ledger", &api, "/ledger");
    let other = claim_for("ledger", &api, "/other");
    // No delegation yet: refused, naming what is missing.
    let missing = decided(&env, &own, "NotAllowed").await;
    assert!(
        missing.contains(&format!("no ChittyDomain delegates {api}")),
        "{missing}"
    );

    // A shared delegation to the namespaces labelled for it; this one is not, yet.
    let label = format!("chitty.cc/tenant-{ns}");
    let mut domains = Domains::new().await;
    let name = format!("{ns}-api");
    domains
        .apply(
            &name,
            json!({"host": api, "mode": "Shared",
                   "namespaceSelector": {"matchLabels": {&label: "yes"}}}),
        )
        .await;
    let selected = domains.ready_with(&name, "Delegated").await;
    assert_eq!(selected.status.unwrap().namespace_count, 0);
    common::kubectl(&["label", "namespace", &ns, &format!("{label}=yes")]);
    decided(&env, &own, "Accepted").await;
    let outside = decided(&env, &other, "NotAllowed").await;
    assert!(
        outside.contains("so its path must be /ledger or below it, not /other"),
        "{outside}"
    );
    common::eventually(
        "the Ingress routes the service's own path",
        || ingress(&env, "ledger"),
        |i| *i == Some((vec![(api.clone(), "/ledger".to_owned())], vec![])),
    )
    .await;

    // A second domain on the same host takes nothing: it is the younger, and says so.
    let late = format!("{ns}-api-late");
    domains
        .apply(&late, json!({"host": api, "namespaces": ["someone-else"]}))
        .await;
    let overlapped = domains.ready_with(&late, "Overlapped").await;
    let stalled = conditions::find(&overlapped.status.unwrap().conditions, types::STALLED)
        .cloned()
        .unwrap();
    assert!(stalled.message.contains(&name), "{}", stalled.message);
    decided(&env, &own, "Accepted").await;

    // The delegation goes (the older domain deleted; the younger then governs): level-triggered,
    // the claim is refused again and its route leaves the Ingress.
    domains.delete(&name).await;
    let taken = decided(&env, &own, "NotAllowed").await;
    assert!(taken.contains(&format!("ChittyDomain {late}")), "{taken}");
    domains.ready_with(&late, "Delegated").await;
    common::eventually(
        "the Ingress is gone with the last held route",
        || ingress(&env, "ledger"),
        Option::is_none,
    )
    .await;
    env.teardown().await;
}
