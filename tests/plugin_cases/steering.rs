//! Rollback and approval through the plugin, and what status, history and explain then say.

use chitty_operator::api::DeploymentPhase;
use kube::ResourceExt;
use serde_json::json;

use crate::common::health_server::HealthServer;
use crate::common::{self, TestEnv, service};
use crate::{chitty, phase};

#[tokio::test]
async fn a_rollback_through_the_plugin_shows_in_status_history_and_explain() {
    let env = TestEnv::new("plugin-rollback").await;
    let ns = env.ns().to_string();
    let health = HealthServer::start().await;
    let charge = service("charge").health(&health.url);
    env.apply(&charge).await;
    env.wait_ready_at("charge", "1.0.0").await;
    env.apply(&charge.clone().version("1.1.0")).await;
    env.wait_ready_at("charge", "1.1.0").await;

    let asked = chitty(&ns, &["rollback", "charge", "--reason", "bad release"]).await;
    let newest = env.recorded_rollout("charge").await;
    assert_eq!(
        asked.ok(),
        format!("chittydeployment/{newest} rollback requested\n")
    );
    let rolled = env
        .current_rollout("charge", "rolled back", |d| {
            phase(d) == Some(DeploymentPhase::RolledBack)
        })
        .await;
    assert_eq!(
        env.image_of("charge").await.as_deref(),
        Some("registry.local/charge:1.0.0")
    );
    let back_to = rolled.status.unwrap().rolled_back_to.unwrap();

    let history = chitty(&ns, &["history", "charge"]).await;
    let line = format!("[!!] {newest}  v1.1.0  SpecChange  immediate  RolledBack");
    assert!(
        history.ok().contains(&line),
        "{line:?} in:\n{}",
        history.stdout
    );
    assert!(
        history.ok().contains(&format!("-> {back_to}  bad release")),
        "{}",
        history.stdout
    );
    let json = chitty(&ns, &["history", "charge", "-o", "json"])
        .await
        .json();
    assert_eq!(json["rollouts"][1]["rolledBackTo"], back_to.as_str());
    assert_eq!(json["rollouts"][0]["name"], back_to.as_str());

    let status = chitty(&ns, &["status", "charge"]).await;
    assert!(
        status
            .ok()
            .contains(&format!("[!!] {newest}  v1.1.0  RolledBack")),
        "{}",
        status.stdout
    );
    let explained = chitty(&ns, &["explain", "charge"]).await;
    assert!(
        explained.ok().contains(&format!("Rollout {newest} (v1.1.0) ended RolledBack and was rolled back to {back_to}: bad release")),
        "{}",
        explained.stdout
    );

    // The operator's Warning Event about it is among the last said, once recorded.
    let warning = format!("Warning RolledBack on ChittyDeployment/{newest}, ");
    common::eventually(
        "explain shows the RolledBack Event",
        || chitty(&ns, &["explain", "charge"]),
        |run| run.ok().contains(&warning),
    )
    .await;

    let again = chitty(&ns, &["rollback", "charge"]).await;
    assert_eq!(
        again.refused(),
        format!(
            "error: the newest rollout of charge, {newest}, is RolledBack; only a succeeded rollout can be rolled back"
        )
    );
    env.teardown().await;
}

#[tokio::test]
async fn a_rollout_waiting_for_approval_is_shown_and_approved() {
    let env = TestEnv::new("plugin-approval").await;
    let ns = env.ns().to_string();
    let health = HealthServer::start().await;
    let vault = service("vault")
        .environment("production")
        .strategy(json!({"type": "immediate", "approval": "required"}))
        .health(&health.url);
    env.apply(&vault).await;
    let waiting = env
        .current_rollout("vault", "awaiting approval", |d| {
            d.status
                .as_ref()
                .and_then(|s| s.approval.as_ref())
                .is_some_and(|a| a.required)
        })
        .await;
    let name = waiting.name_any();

    let status = chitty(&ns, &["status", "vault"]).await;
    let line = format!("[..] {name}  v1.0.0  Pending  Initial  ");
    assert!(
        status.ok().contains(&line) && status.ok().contains("(current)"),
        "{}",
        status.stdout
    );
    assert!(
        status.ok().contains("[--] deploy  Pending"),
        "{}",
        status.stdout
    );
    let explained = chitty(&ns, &["explain", "vault"]).await;
    assert!(
        explained.ok().contains(&format!(
            "Rollout {name} (v1.0.0) waits to start: planned as"
        )),
        "{}",
        explained.stdout
    );
    assert!(
        explained.ok().contains("waiting for approval"),
        "{}",
        explained.stdout
    );
    assert!(
        chitty(&ns, &["history", "vault"])
            .await
            .ok()
            .contains("approval: waiting for approval")
    );

    let promote = chitty(&ns, &["promote", "vault"]).await;
    assert_eq!(promote.refused(), "error: no canary of vault is in flight");
    let approved = chitty(&ns, &["approve", "vault", "--by", "alice", "-o", "json"])
        .await
        .json();
    assert_eq!(
        approved,
        json!({"verb": "approve", "kind": "ChittyDeployment", "namespace": ns, "name": name,
               "patch": {"metadata": {"annotations": {"chitty.cc/approved-by": "alice"}}}})
    );
    env.wait_ready("vault").await;
    assert!(
        chitty(&ns, &["history", "vault"])
            .await
            .ok()
            .contains("approval: approved by alice")
    );
    let none = chitty(&ns, &["approve", "vault"]).await;
    assert_eq!(
        none.refused(),
        "error: no rollout of vault is waiting for approval"
    );
    env.teardown().await;
}
