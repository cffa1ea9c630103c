//! Who holds a route, who lost and why, and what a manifest would change.

use chitty_operator::api::Route;
use chitty_operator::api::conditions::{self, types};
use chitty_operator::routing::claim_name;
use serde_json::{Value, json};

use crate::chitty;
use crate::common::health_server::HealthServer;
use crate::common::wait::observed;
use crate::common::{TestEnv, service};

#[tokio::test]
async fn routes_name_holder_and_loser_and_what_if_predicts_without_writing() {
    let env = TestEnv::new("plugin-routes").await;
    let ns = env.ns().to_string();
    let health = HealthServer::start().await;
    let host = format!("mcp.{ns}.chitty.cc");
    let routes = json!([{"host": host, "path": "/*"}]);
    let route: Route = serde_json::from_value(routes[0].clone()).unwrap();
    let (conn_claim, mcp_claim) = (claim_name("conn", &route), claim_name("mcp", &route));
    env.apply(&service("conn").health(&health.url).routes(routes.clone()))
        .await;
    env.wait_ready("conn").await;
    env.apply(&service("mcp").health(&health.url).routes(routes.clone()))
        .await;
    env.service_where("mcp", "not Ready over the route", |s| {
        observed(s)
            && conditions::find(&s.status.as_ref().unwrap().conditions, types::READY)
                .is_some_and(|c| c.reason == "RouteConflict")
    })
    .await;

    let text = chitty(&ns, &["routes"]).await;
    let expected_head = format!(
        "{host}/*  held by {ns}/{conn_claim}\n|- [ok] {ns}/{conn_claim} -> {ns}/conn  holds it\n`- [!!] {ns}/{mcp_claim} -> {ns}/mcp  Conflicted: "
    );
    assert!(
        text.ok().starts_with(&expected_head),
        "{expected_head:?} in:\n{}",
        text.stdout
    );
    assert!(
        text.ok().contains("(incumbent)"),
        "the rule that decided: {}",
        text.stdout
    );
    let json = chitty(&ns, &["routes", &host, "-o", "json"]).await.json();
    assert_eq!(json["routes"][0]["holder"], format!("{ns}/{conn_claim}"));
    assert_eq!(json["routes"][0]["claims"][1]["reason"], "Conflicted");
    let other = chitty(&ns, &["routes", "elsewhere.chitty.cc"]).await;
    assert_eq!(other.ok(), "No RouteClaims found.\n");

    let explained = chitty(&ns, &["explain", "mcp"]).await;
    let lost = format!("Route {host}/* is lost (Conflicted, held by {ns}/{conn_claim}): ");
    assert!(
        explained.ok().contains(&lost),
        "{lost:?} in:\n{}",
        explained.stdout
    );
    let status = chitty(&ns, &["status", "mcp"]).await;
    let claim_line =
        format!("[!!] RouteClaim/{mcp_claim}  {host}/*: Conflicted, held by {ns}/{conn_claim}");
    assert!(
        status.ok().contains(&claim_line),
        "{claim_line:?} in:\n{}",
        status.stdout
    );

    // A third service on the same host, and one on a free host: who would win.
    let free = format!("free.{ns}.chitty.cc");
    let manifest = tempfile::NamedTempFile::new().unwrap();
    let third = service("third")
        .routes(json!([{"host": host, "path": "/*"}, {"host": free, "path": "/"}]))
        .to_json();
    std::fs::write(manifest.path(), serde_yaml_ng::to_string(&third).unwrap()).unwrap();
    let path = manifest.path().to_str().unwrap();
    let what_if = chitty(
        &ns,
        &[
            "routes",
            "--what-if",
            path,
            "--route-policy",
            "open",
            "-o",
            "json",
        ],
    )
    .await
    .json();
    let rows = what_if["rows"].as_array().unwrap();
    let verdicts: Vec<(String, Value, Value)> = (rows.iter())
        .map(|r| {
            (
                r["route"].as_str().unwrap().to_string(),
                r["accepted"].clone(),
                r["holder"].clone(),
            )
        })
        .collect();
    let third_free = format!(
        "{ns}/{}",
        claim_name(
            "third",
            &serde_json::from_value(json!({"host": free})).unwrap()
        )
    );
    assert_eq!(
        verdicts,
        [
            (format!("{free}/*"), json!(true), json!(third_free)),
            (
                format!("{host}/*"),
                json!(false),
                json!(format!("{ns}/{conn_claim}"))
            ),
        ]
    );
    let text = chitty(
        &ns,
        &["routes", "--what-if", path, "--route-policy", "open"],
    )
    .await;
    let lose = format!("{host}/*  would lose to {ns}/{conn_claim} (Conflicted): ");
    assert!(text.ok().contains(&lose), "{lose:?} in:\n{}", text.stdout);
    assert!(
        env.services.get_opt("third").await.unwrap().is_none(),
        "what-if writes nothing"
    );
    env.teardown().await;
}
