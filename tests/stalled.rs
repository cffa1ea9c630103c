//! Never silent, never a hot loop: what the apiserver refuses, or admission could have refused,
//! reaches its author as a status or an error, and costs the fleet no stream of writes.

mod common;

use std::time::Duration;

use common::health_server::HealthServer;
use common::{TestEnv, manifest};
use kube::api::{Patch, PatchParams};
use serde_json::json;

/// Writes (every request but GET) the test's operator has sent to the apiserver so far.
async fn operator_writes(env: &TestEnv) -> u64 {
    let text = common::http()
        .get(env.operator().url("/metrics"))
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with("chitty_kube_requests_total{") && !l.contains(r#"verb="GET""#))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn condition<'a>(
    conditions: &'a [k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[tokio::test]
async fn a_refused_deployment_stalls_its_rollout_and_service_and_backs_off() {
    let health = HealthServer::start().await;
    let env = TestEnv::new("stalled").await;
    // Each quantity is valid, so admission takes it; requests over limits make the Deployment
    // one the apiserver refuses.
    let greedy = common::service("greedy").health(&health.url).set(
        "resources",
        json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
    );
    env.apply(&greedy).await;
    let service = env.wait_stalled("greedy").await;
    let status = service.status.expect("status");
    let ready = condition(&status.conditions, "Ready").expect("Ready");
    assert_eq!(ready.status, "False");
    let stalled = condition(&status.conditions, "Stalled").expect("Stalled");
    assert_eq!(
        stalled.reason, "ObjectRefused",
        "the rollout's reason is the service's"
    );
    assert!(
        stalled.message.contains("cpu limit"),
        "the apiserver's own words reach the service: {}",
        stalled.message
    );
    assert!(condition(&status.conditions, "Reconciling").is_none());

    let rollout = env
        .current_rollout("greedy", "a rollout with status", |r| r.status.is_some())
        .await;
    let rollout_status = rollout.status.expect("rollout status");
    let stuck = condition(&rollout_status.conditions, "Stalled").expect("rollout Stalled");
    assert_eq!(stuck.reason, "ObjectRefused");
    assert!(
        stuck.message.starts_with("step deploy:"),
        "{}",
        stuck.message
    );
    let step = rollout_status
        .steps
        .iter()
        .find(|s| s.name == "deploy")
        .expect("deploy step");
    assert!(
        step.message
            .as_deref()
            .unwrap_or_default()
            .contains("cpu limit"),
        "{step:?}"
    );

    // Retried with backoff, not every few hundred milliseconds: over twenty seconds a refused
    // object costs a handful of requests (1 s, 2 s, 4 s, 8 s, 16 s apart), its status none.
    let before = operator_writes(&env).await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    let writes = operator_writes(&env).await - before;
    assert!(
        writes < 20,
        "{writes} writes in 20 s with one refused service"
    );

    // Fixing the spec is all it takes.
    let fixed = greedy.set(
        "resources",
        json!({"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}),
    );
    env.apply(&fixed).await;
    let ready = env.wait_ready("greedy").await;
    let conditions = ready.status.expect("status").conditions;
    assert!(
        condition(&conditions, "Stalled").is_none(),
        "{conditions:?}"
    );
    env.teardown().await;
}

#[tokio::test]
async fn admission_refuses_names_and_quantities_no_child_object_could_carry() {
    let env = TestEnv::without_operator("admission-names").await;
    let refused = |name: &str, resources: serde_json::Value| {
        let manifest = manifest::service(name)
            .set("resources", resources)
            .to_json();
        let services = env.services.clone();
        let name = name.to_string();
        async move {
            let params = PatchParams::apply("test").force();
            services
                .patch(&name, &params, &Patch::Apply(manifest))
                .await
                .err()
                .map(|e| e.to_string())
        }
    };
    let quantity = json!({"requests": {"cpu": "100m"}});
    for name in ["web.v2", "1web", "web-", &"a".repeat(57)] {
        let error = refused(name, quantity.clone()).await;
        let error = error.unwrap_or_else(|| panic!("{name} was admitted"));
        assert!(error.contains("metadata.name must be"), "{name}: {error}");
    }
    assert!(refused(&"a".repeat(56), quantity.clone()).await.is_none());
    let error = refused("web", json!({"limits": {"memory": "lots"}}))
        .await
        .expect("a non-quantity is refused");
    assert!(error.contains("spec.resources.limits.memory"), "{error}");
    assert!(
        refused("web", json!({"requests": {"cpu": 1, "memory": "1.5Gi"}}))
            .await
            .is_none()
    );
    env.teardown().await;
}
