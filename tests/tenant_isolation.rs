//! The read API with `--api-auth=kubernetes` against the local control plane: a ServiceAccount's
//! token (TokenRequest API) is reviewed by the API server, and the caller sees the services of
//! exactly the namespaces where RBAC lets it list ChittyServices.

mod common;

use chitty_operator::web::config::ApiAuthMode;
use common::{RunningOperator, TestEnv};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};

async fn create<K>(api: &Api<K>, object: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(object).unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
}

/// A ServiceAccount in `ns` that may list ChittyServices there (and nowhere else), and a token
/// for it.
async fn reader_token(env: &TestEnv) -> String {
    let ns = env.ns();
    create(
        &env.api::<ServiceAccount>(),
        json!({"metadata": {"name": "reader"}}),
    )
    .await;
    create(
        &env.api::<Role>(),
        json!({
            "metadata": {"name": "chitty-reader"},
            "rules": [{"apiGroups": ["chitty.cc"], "resources": ["chittyservices"], "verbs": ["list"]}],
        }),
    )
    .await;
    create(
        &env.api::<RoleBinding>(),
        json!({
            "metadata": {"name": "chitty-reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "chitty-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}],
        }),
    )
    .await;
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(600),
            ..Default::default()
        },
        ..Default::default()
    };
    env.api::<ServiceAccount>()
        .create_token_request("reader", &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .expect("a token")
        .token
}

async fn services_seen(operator: &RunningOperator, token: &str) -> (u16, Value) {
    chitty_operator::tls::install_default_provider();
    let answer = reqwest::Client::new()
        .get(operator.url("/api/services"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

fn names(listing: &Value) -> Vec<String> {
    listing["services"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|s| {
                    format!(
                        "{}/{}",
                        s["namespace"].as_str().unwrap_or("?"),
                        s["name"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_service_account_that_may_list_in_one_namespace_sees_only_that_namespace() {
    let mine = TestEnv::without_operator("iso-mine").await;
    let theirs = TestEnv::without_operator("iso-theirs").await;
    mine.apply(&common::service("chittyid")).await;
    theirs.apply(&common::service("chittyfinance")).await;
    // One operator over the whole cluster, so that both namespaces are in its fleet.
    let operator = RunningOperator::start_with(mine.ns(), |config| {
        config.namespace = None;
        config.web.api_auth = Some(ApiAuthMode::Kubernetes);
        config.web.api_token = Some("static-admin-token".to_string().into());
    })
    .await;
    let token = reader_token(&mine).await;

    // The static token sees everything: both services are in the fleet.
    common::eventually(
        "the operator's fleet holds both namespaces' services",
        || services_seen(&operator, "static-admin-token"),
        |(status, listing)| {
            let seen = names(listing);
            *status == 200
                && seen.contains(&format!("{}/chittyid", mine.ns()))
                && seen.contains(&format!("{}/chittyfinance", theirs.ns()))
        },
    )
    .await;

    let (status, listing) = services_seen(&operator, &token).await;
    assert_eq!(status, 200, "{listing}");
    assert_eq!(
        names(&listing),
        [format!("{}/chittyid", mine.ns())],
        "only the namespace where the account may list"
    );
    assert_eq!(listing["total"], 1);

    // Another namespace's service by name is answered as if it did not exist.
    let history = reqwest::Client::new()
        .get(operator.url(&format!("/api/deploy/status/{}/chittyfinance", theirs.ns())))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(history.status().as_u16(), 404);
    // The route view names every tenant's hosts: not for a namespaced reader.
    let routes = reqwest::Client::new()
        .get(operator.url("/api/admin/routes"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(routes.status().as_u16(), 403);

    let (status, _) = services_seen(&operator, "not-a-token").await;
    assert_eq!(status, 401);

    operator.stop().await;
    mine.teardown().await;
    theirs.teardown().await;
}
