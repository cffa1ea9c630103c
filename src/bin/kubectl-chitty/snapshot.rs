//! Fetching: everything the views read, in one list call per kind, so a view of the whole
//! namespace costs the same handful of requests as a view of one service.

use anyhow::{Context as _, bail};
use chitty_operator::api::{ChittyDeployment, ChittyService, RouteClaim};
use chitty_operator::labels;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

/// What a cluster (one namespace, or all) holds for the services shown.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub services: Vec<ChittyService>,
    pub rollouts: Vec<ChittyDeployment>,
    pub claims: Vec<RouteClaim>,
    pub deployments: Vec<Deployment>,
    pub kube_services: Vec<Service>,
    pub autoscalers: Vec<HorizontalPodAutoscaler>,
    pub ingresses: Vec<Ingress>,
    /// Gateway API HTTPRoutes labelled with a service, where that API is installed.
    pub http_routes: Vec<DynamicObject>,
}

/// Reads the services in `namespace` (all with `None`), or just `only`, and what they own.
pub async fn fetch(
    client: &Client,
    namespace: Option<&str>,
    only: Option<&str>,
) -> anyhow::Result<Snapshot> {
    let services: Vec<ChittyService> = match only {
        Some(name) => vec![service(client, namespace.unwrap_or_default(), name).await?],
        None => list(client, namespace, &ListParams::default()).await?,
    };
    // Owned objects carry the service's label; with one service, the selector names it.
    let owned = match only {
        Some(name) => ListParams::default().labels(&format!("{}={name}", labels::SERVICE)),
        None => ListParams::default().labels(labels::SERVICE),
    };
    let claims: Vec<RouteClaim> = list(client, namespace, &ListParams::default()).await?;
    // A claim made by hand carries no label; it names its service in `serviceRef`.
    let claims = claims
        .into_iter()
        .filter(|c| only.is_none_or(|name| c.spec.service_ref.name == name))
        .collect();
    Ok(Snapshot {
        services,
        rollouts: list(client, namespace, &owned).await?,
        claims,
        deployments: list(client, namespace, &owned).await?,
        kube_services: list(client, namespace, &owned).await?,
        autoscalers: list(client, namespace, &owned).await?,
        ingresses: list(client, namespace, &owned).await?,
        http_routes: http_routes(client, namespace, &owned).await,
    })
}

/// One ChittyService, or a sentence saying it does not exist.
pub async fn service(
    client: &Client,
    namespace: &str,
    name: &str,
) -> anyhow::Result<ChittyService> {
    let api: Api<ChittyService> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(Some(service)) => Ok(service),
        Ok(None) => bail!("ChittyService {name} not found in namespace {namespace}"),
        Err(e) => Err(e).with_context(|| format!("reading ChittyService {namespace}/{name}")),
    }
}

/// A ChittyService that may not exist, for dependencies.
pub async fn service_opt(
    client: &Client,
    namespace: &str,
    name: &str,
) -> anyhow::Result<Option<ChittyService>> {
    let api: Api<ChittyService> = Api::namespaced(client.clone(), namespace);
    api.get_opt(name)
        .await
        .with_context(|| format!("reading ChittyService {namespace}/{name}"))
}

/// The Warning Events in a namespace.
pub async fn warnings(client: &Client, namespace: &str) -> anyhow::Result<Vec<Event>> {
    let params = ListParams::default().fields("type=Warning");
    list(client, Some(namespace), &params).await
}

pub async fn list<K>(
    client: &Client,
    namespace: Option<&str>,
    params: &ListParams,
) -> anyhow::Result<Vec<K>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let where_ = namespace.map_or("all namespaces".to_string(), |ns| format!("namespace {ns}"));
    Ok(api
        .list(params)
        .await
        .with_context(|| format!("listing {} in {where_}", K::plural(&())))?
        .items)
}

/// Every object of a cluster-scoped kind.
pub async fn list_cluster<K>(client: &Client) -> anyhow::Result<Vec<K>>
where
    K: Resource<DynamicType = (), Scope = ClusterResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::all(client.clone());
    let listed = api.list(&ListParams::default()).await;
    Ok(listed
        .with_context(|| format!("listing {}", K::plural(&())))?
        .items)
}

/// HTTPRoutes are optional: no Gateway API, or no right to read it, is an empty list.
async fn http_routes(
    client: &Client,
    namespace: Option<&str>,
    params: &ListParams,
) -> Vec<DynamicObject> {
    let gvk = GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "httproutes");
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    api.list(params).await.map(|l| l.items).unwrap_or_default()
}
