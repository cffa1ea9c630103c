//! Labelling objects into buckets, for a shard: every object a shard caches is selected by its
//! bucket label, so an object without one (a ChittyService just applied, a RouteClaim made by
//! hand, a child made before the fleet was sharded) or with one no shard selects would be seen by
//! no shard, and left silent. Each shard watches such objects, metadata only, and labels the
//! ones of its own buckets; the label moves them into its caches. A bucket is a pure function of
//! the service's namespace and name, so any shard computes the same one.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};

use super::reflectors::api;
use crate::api::{ChittyDeployment, ChittyService, RouteClaim};
use crate::config::OperatorConfig;
use crate::labels;
use crate::shard::{Scope, bucket};

/// How many labels are written at once: a fleet being sharded for the first time labels every
/// object once, at this pace, rather than all at once.
const AT_ONCE: usize = 4;

/// Watches every kind a shard caches for unassigned objects, until dropped.
pub(super) async fn run(client: Client, config: OperatorConfig, scope: Scope) {
    let unassigned = watcher::Config::default().labels(&bucket::unassigned_selector());
    let ours = watcher::Config::default().labels(&format!(
        "{}={},{}",
        labels::MANAGED_BY,
        labels::MANAGER,
        bucket::unassigned_selector()
    ));
    let (client, config, scope) = (&client, &config, &scope);
    futures::join!(
        label::<ChittyService>(client, config, scope, unassigned.clone(), own_bucket),
        label::<RouteClaim>(client, config, scope, unassigned, claim_bucket),
        label::<ChittyDeployment>(client, config, scope, ours.clone(), child_bucket),
        label::<Deployment>(client, config, scope, ours.clone(), child_bucket),
        label::<Service>(client, config, scope, ours.clone(), child_bucket),
        label::<Ingress>(client, config, scope, ours.clone(), child_bucket),
        label::<HorizontalPodAutoscaler>(client, config, scope, ours.clone(), child_bucket),
        label::<Job>(client, config, scope, ours, child_bucket),
    );
}

/// What an object's bucket is decided from, and how.
type BucketOf = fn(&ObjectMeta) -> Bucket;

enum Bucket {
    Is(u16),
    /// A hand-made RouteClaim names its service in its spec only.
    ReadClaim,
    /// Not ours to label (a child without its service's label).
    Unknown,
}

fn own_bucket(meta: &ObjectMeta) -> Bucket {
    Bucket::Is(bucket::of(
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    ))
}

fn child_bucket(meta: &ObjectMeta) -> Bucket {
    match meta.labels.as_ref().and_then(|l| l.get(labels::SERVICE)) {
        Some(service) => Bucket::Is(bucket::of(
            meta.namespace.as_deref().unwrap_or_default(),
            service,
        )),
        None => Bucket::Unknown,
    }
}

fn claim_bucket(meta: &ObjectMeta) -> Bucket {
    match child_bucket(meta) {
        Bucket::Unknown => Bucket::ReadClaim,
        known => known,
    }
}

async fn label<K>(
    client: &Client,
    config: &OperatorConfig,
    scope: &Scope,
    watch: watcher::Config,
    bucket_of: BucketOf,
) where
    K: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    // Metadata only: a bucket is read from names and labels.
    let all: Api<PartialObjectMeta<K>> = api(client, config);
    watcher(all, watch)
        .default_backoff()
        .applied_objects()
        .for_each_concurrent(AT_ONCE, |object| async move {
            let Ok(object) = object else { return };
            let meta = &object.metadata;
            let namespace = meta.namespace.clone().unwrap_or_default();
            let name = meta.name.clone().unwrap_or_default();
            let found = match bucket_of(meta) {
                Bucket::Is(b) => Some(b),
                Bucket::ReadClaim => read_claim_bucket(client, &namespace, &name).await,
                Bucket::Unknown => None,
            };
            let Some(found) = found.filter(|b| scope.covers(*b)) else {
                return;
            };
            let patch = serde_json::json!({"metadata": {"labels": {bucket::LABEL: bucket::value(found)}}});
            let params = PatchParams {
                field_manager: Some(labels::FIELD_MANAGER.into()),
                ..Default::default()
            };
            let api: Api<K> = Api::namespaced(client.clone(), &namespace);
            match api.patch(&name, &params, &Patch::Merge(patch)).await {
                Ok(_) => tracing::debug!(kind = %K::kind(&()), %namespace, %name, bucket = found, "labelled into its bucket"),
                // The watch brings it again after its next change or re-list.
                Err(error) => tracing::info!(%error, kind = %K::kind(&()), %namespace, %name, "could not label into its bucket"),
            }
        })
        .await
}

/// A hand-made claim's bucket is its service's: the claim is read for the service it names.
async fn read_claim_bucket(client: &Client, namespace: &str, name: &str) -> Option<u16> {
    let claims: Api<RouteClaim> = Api::namespaced(client.clone(), namespace);
    let claim = claims.get_opt(name).await.ok()??;
    let (namespace, service) = crate::controller::route_claim::input::service_of(&claim);
    Some(bucket::of(&namespace, &service))
}
