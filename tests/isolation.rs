//! No tenant can hurt another: objects the operator did not make are never taken over.

mod common;

use common::TestEnv;
use common::health_server::HealthServer;
use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use kube::api::PostParams;
use serde_json::json;

/// What a person set on a Deployment: everything but what the cluster's controllers report.
fn as_made(d: &Deployment) -> serde_json::Value {
    json!({
        "labels": d.metadata.labels,
        "annotations": d.metadata.annotations,
        "ownerReferences": d.metadata.owner_references,
        "managers": d.metadata.managed_fields.iter().flatten()
            .filter(|f| f.subresource.is_none())
            .map(|f| f.manager.clone()).collect::<Vec<_>>(),
        "spec": d.spec,
    })
}

#[tokio::test]
async fn a_pre_existing_unowned_deployment_with_the_services_name_is_left_untouched() {
    let health = HealthServer::start().await;
    let env = TestEnv::new("name-in-use").await;
    let theirs: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "payments", "labels": {"team": "other"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "payments"}},
            "template": {
                "metadata": {"labels": {"app": "payments"}},
                "spec": {"containers": [{"name": "main", "image": "registry.local/theirs:7"}]}
            }
        }
    }))
    .unwrap();
    env.deployments
        .create(&PostParams::default(), &theirs)
        .await
        .expect("their Deployment");
    // The cluster's Deployment controller annotates it once; that is theirs too.
    let made = common::wait_for(&env.deployments, "payments", "its first revision", |d| {
        d.annotations()
            .contains_key("deployment.kubernetes.io/revision")
    })
    .await;
    let before = as_made(&made);

    env.apply(&common::service("payments").health(&health.url))
        .await;
    let stalled = env
        .service_where("payments", "Stalled for NameInUse", |s| {
            s.status.as_ref().is_some_and(|st| {
                st.conditions
                    .iter()
                    .any(|c| c.type_ == "Stalled" && c.status == "True" && c.reason == "NameInUse")
            })
        })
        .await;
    let message = &stalled
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.type_ == "Stalled")
        .unwrap()
        .message;
    assert!(
        message.contains("Deployment payments already exists and is owned by no one"),
        "{message}"
    );
    let ready = stalled
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "False");

    let after = env.deployments.get("payments").await.unwrap();
    assert_eq!(
        as_made(&after),
        before,
        "their Deployment is as they made it"
    );

    // Once they remove it, the service takes the name, with backoff, without anyone's help.
    env.deployments
        .delete("payments", &Default::default())
        .await
        .unwrap();
    let ready = env.wait_ready("payments").await;
    assert!(
        ready
            .status
            .unwrap()
            .conditions
            .iter()
            .all(|c| c.type_ != "Stalled")
    );
    env.teardown().await;
}

/// The operator's configuration with ChittyID and ChittyRegistry pointed at the stand-in.
fn with_sim(
    sim: &chitty_operator::sim::SimHandle,
) -> impl Fn(&mut chitty_operator::config::OperatorConfig, &str) + Send + Sync + 'static {
    let url = sim.base_url();
    move |config, _| {
        let eco = &mut config.ecosystem;
        eco.chitty_id_url = Some(url.clone());
        eco.chitty_id_token = Some(chitty_operator::clients::SecretToken::new("sim-token"));
        eco.registry_url = Some(url.clone());
        eco.registry_token = Some(chitty_operator::clients::SecretToken::new("sim-token"));
        eco.timeout = std::time::Duration::from_secs(2);
        eco.retire_timeout = std::time::Duration::from_secs(3);
    }
}

fn chitty_id(s: &chitty_operator::api::ChittyService) -> String {
    s.status
        .as_ref()
        .and_then(|st| st.chitty_id.clone())
        .expect("a ChittyID is recorded")
}

#[tokio::test]
async fn a_forged_chitty_id_never_reaches_the_registry() {
    let sim = chitty_operator::sim::spawn_local(Default::default())
        .await
        .unwrap();
    let health = HealthServer::start().await;
    let env = TestEnv::with("forged-id", with_sim(&sim)).await;
    let manifest = |name: &str, version: &str| {
        common::service(name)
            .version(version)
            .environment("production")
            .health(&health.url)
    };
    env.apply(&manifest("chittyfinance", "1.0.0")).await;
    env.apply(&manifest("chittycharge", "1.0.0")).await;
    let victim = chitty_id(&env.wait_ready_at("chittyfinance", "1.0.0").await);
    let own = chitty_id(&env.wait_ready_at("chittycharge", "1.0.0").await);
    assert_ne!(victim, own);
    let record = |id: String| {
        let url = format!("{}/api/v1/tools/{id}", sim.base_url());
        async move {
            let response = common::http().get(url).send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let tool = body.get("tool").cloned().unwrap_or(body);
            (status, tool)
        }
    };
    let (_, before) = record(victim.clone()).await;
    assert_eq!(before["name"], "chittyfinance");

    // Someone who may write chittycharge's status claims chittyfinance's identity.
    let forged = json!({"status": {"chittyId": victim}});
    env.services
        .patch_status(
            "chittycharge",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(forged),
        )
        .await
        .unwrap();
    // A new version makes the rollout's register step write the record again.
    env.apply(&manifest("chittycharge", "1.1.0")).await;
    let charged = env.wait_ready_at("chittycharge", "1.1.0").await;
    let registered = charged
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.type_ == "Registered")
        .cloned()
        .expect("Registered");
    assert_eq!(
        (registered.status.as_str(), registered.reason.as_str()),
        ("False", "IdentityMismatch"),
        "{registered:?}"
    );
    assert!(
        registered
            .message
            .contains("belongs to service chittyfinance"),
        "{}",
        registered.message
    );
    let (_, after) = record(victim.clone()).await;
    let owned =
        |t: &serde_json::Value| json!([t["name"], t["version"], t["metadata"], t["endpoints"]]);
    assert_eq!(
        owned(&after),
        owned(&before),
        "chittyfinance's record is untouched"
    );

    // Deleting the impostor retires nothing of the victim's.
    env.services
        .delete("chittycharge", &Default::default())
        .await
        .unwrap();
    common::wait::wait_gone(&env.services, "chittycharge", "the impostor gone").await;
    let (status, still) = record(victim).await;
    assert_eq!(status, 200, "the victim's record is not retired");
    assert_eq!(still["name"], "chittyfinance");
    env.teardown().await;
}
