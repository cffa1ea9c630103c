//! Services Ready, waiting on a dependency, suspended: status, explain, history, suspend, resume.

use chitty_operator::api::conditions::{self, types};
use kube::ResourceExt;
use serde_json::json;

use crate::common::health_server::HealthServer;
use crate::common::{TestEnv, service};
use crate::{Watching, chitty, phase_is};

#[tokio::test]
async fn ready_waiting_and_suspended_services_are_told_apart() {
    let env = TestEnv::new("plugin-states").await;
    let ns = env.ns().to_string();
    let health = HealthServer::start().await;
    env.apply(&service("ready").health(&health.url)).await;
    env.apply(&service("paused").health(&health.url)).await;
    let waiting = service("waiting")
        .health(&health.url)
        .depends_on(&["missing"]);
    env.apply(&waiting).await;
    // Suspended before its first rollout: nothing serves, so it is not Ready.
    env.apply(&service("frozen").health(&health.url).suspend(true))
        .await;
    env.wait_ready("ready").await;
    env.wait_ready("paused").await;
    env.current_rollout("waiting", "the rollout waits on its dependency", |d| {
        d.status.as_ref().is_some_and(|s| {
            conditions::find(&s.conditions, types::DEPENDENCIES_READY)
                .is_some_and(|c| c.status == "False")
        })
    })
    .await;

    // Suspending through the plugin is a patch the operator acts on, made as kubectl-chitty: the
    // next version waits.
    assert_eq!(
        chitty(&ns, &["suspend", "paused"]).await.ok(),
        "chittyservice/paused suspended\n"
    );
    env.apply(&service("paused").health(&health.url).version("1.1.0"))
        .await;
    let paused = env
        .service_where("paused", "Suspended", |s| phase_is(s, "Suspended"))
        .await;
    env.service_where("frozen", "Suspended", |s| phase_is(s, "Suspended"))
        .await;
    let managers: Vec<String> = (paused.managed_fields().iter())
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(
        managers.contains(&"kubectl-chitty".to_string()),
        "{managers:?}"
    );

    let status = chitty(&ns, &["status"]).await;
    let text = status.ok();
    assert!(!text.contains('\x1b'), "no colour into a pipe: {text}");
    for line in [
        format!("[ok] {ns}/ready  Ready  v1.0.0  health healthy"),
        format!("[--] {ns}/paused  Suspended  v1.1.0"),
        format!("[--] {ns}/frozen  Suspended  v1.0.0"),
        "\n   Ready=False Suspended: rollouts are suspended; nothing has been deployed\n"
            .to_string(),
        "[ok] Deployment/ready  1/1 available".to_string(),
        "[ok] Service/ready  ClusterIP".to_string(),
        "[ok] deploy  Succeeded".to_string(),
    ] {
        assert!(text.contains(&line), "{line:?} in:\n{text}");
    }
    let waiting_line = text
        .lines()
        .find(|l| l.contains(&format!("{ns}/waiting")))
        .unwrap();
    assert!(waiting_line.starts_with("[..] "), "{text}");

    let json = chitty(&ns, &["status", "-o", "json"]).await.json();
    let services = json["services"].as_array().unwrap();
    let names: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["frozen", "paused", "ready", "waiting"]);
    assert_eq!(
        (
            services[1]["suspended"].clone(),
            services[2]["health"].clone()
        ),
        (json!(true), json!("ok"))
    );
    assert_eq!(services[0]["rollouts"], json!([]));
    assert_eq!(services[2]["ready"]["status"], "True");
    assert_eq!(services[3]["rollouts"][0]["phase"], "Pending");
    let one = chitty(&ns, &["status", "ready", "-o", "yaml"]).await;
    assert!(
        one.ok().contains("name: ready") && !one.ok().contains("name: paused"),
        "{}",
        one.stdout
    );

    let ready = chitty(&ns, &["explain", "ready"]).await;
    assert_eq!(ready.ok().lines().count(), 1, "{}", ready.stdout);
    assert!(
        ready.ok().starts_with(&format!("[ok] {ns}/ready is Ready")),
        "{}",
        ready.stdout
    );
    let why = chitty(&ns, &["explain", "waiting"]).await;
    assert!(
        why.ok()
            .starts_with(&format!("[!!] {ns}/waiting is not Ready")),
        "{}",
        why.stdout
    );
    assert!(
        why.ok()
            .contains(&format!("Dependency {ns}/missing does not exist.")),
        "{}",
        why.stdout
    );
    assert!(why.ok().contains("waits to start"), "{}", why.stdout);
    // Suspended while an earlier version serves is Ready, and says why in its one line.
    let paused = chitty(&ns, &["explain", "paused"]).await;
    assert!(
        paused.ok().contains("is Ready: rollouts are suspended;"),
        "{}",
        paused.stdout
    );
    assert_eq!(paused.ok().lines().count(), 1, "{}", paused.stdout);
    let why = chitty(&ns, &["explain", "frozen", "-o", "json"])
        .await
        .json();
    assert_eq!(why["ready"], false);
    assert!(
        why["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "suspended"),
        "{why}"
    );

    let history = chitty(&ns, &["history", "ready", "-o", "json"])
        .await
        .json();
    let first = &history["rollouts"][0];
    assert_eq!(
        (
            first["version"].clone(),
            first["trigger"].clone(),
            first["phase"].clone()
        ),
        (json!("1.0.0"), json!("Initial"), json!("Succeeded"))
    );
    assert!(
        first["durationMs"].is_i64() && first["plan"]["decision"].is_string(),
        "{first}"
    );
    let history = chitty(&ns, &["history", "ready"]).await;
    assert!(
        history
            .ok()
            .starts_with(&format!("{ns}/ready: 1 rollout\n[ok] ")),
        "{}",
        history.stdout
    );
    assert!(history.ok().contains("  plan: "), "{}", history.stdout);

    // --watch redraws when what it shows changes: a suspension appears without a new command.
    let watching = Watching::start(&ns, &["status", "ready", "--watch"]);
    let head = format!("[ok] {ns}/ready  Ready  v1.0.0");
    watching
        .until("the first frame", |l| l.starts_with(&head))
        .await;
    chitty(&ns, &["suspend", "ready"]).await.ok();
    let suspended = format!("{head}  rollouts suspended");
    watching
        .until("a frame showing the suspension", |l| {
            l.starts_with(&suspended)
        })
        .await;
    drop(watching);

    assert_eq!(
        chitty(&ns, &["resume", "paused"]).await.ok(),
        "chittyservice/paused resumed\n"
    );
    env.service_where("paused", "resumed", |s| !s.spec.suspend)
        .await;
    env.teardown().await;
}
