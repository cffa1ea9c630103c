//! Plumbing for the shared watches: one API handle per kind in the operator's scope, and the
//! reflector for the operator's own objects of a kind, which also tells whom each deletion concerns.

use futures::StreamExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector;
use kube::runtime::watcher;
use kube::{Api, Client, Resource};

use crate::config::OperatorConfig;

pub(super) fn api<K>(client: &Client, config: &OperatorConfig) -> Api<K>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
{
    match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Whom a deleted object concerns: each sink maps it to an object to reconcile and sends that on.
pub(super) type DeletionSink<K> = Box<dyn Fn(&K) + Send>;

/// A deletion sink that maps a deleted object to `O` and sends it on a fresh channel.
pub(super) fn deletions<K, O>(
    concerns: fn(&K) -> Option<reflector::ObjectRef<O>>,
) -> (
    DeletionSink<K>,
    futures::channel::mpsc::UnboundedReceiver<reflector::ObjectRef<O>>,
)
where
    K: 'static,
    O: Resource<DynamicType = ()> + 'static,
{
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let sink = Box::new(move |obj: &K| {
        if let Some(owner) = concerns(obj) {
            let _ = tx.unbounded_send(owner);
        }
    });
    (sink, rx)
}

/// Watches the operator's own objects of one kind into `writer` (packed, see `Packed`), and
/// hands each deletion to the sinks: shared subscriptions carry no deletions, so an object
/// deleted under the operator wakes whoever it concerns this way.
pub(super) fn owned_reflector<K>(
    api: Api<K>,
    ours: watcher::Config,
    writer: reflector::store::Writer<K>,
    sinks: Vec<DeletionSink<K>>,
) -> impl Future<Output = ()> + Send
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    watcher(api, ours)
        .default_backoff()
        .reflect_shared(writer)
        .for_each(move |event| {
            if let Ok(watcher::Event::Delete(obj)) = &event {
                for sink in &sinks {
                    sink(obj);
                }
            }
            futures::future::ready(())
        })
}

pub(super) fn subscribe<K>(writer: &reflector::store::Writer<K>) -> reflector::ReflectHandle<K>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    writer.subscribe().expect("shared stores have subscribers")
}

/// How many objects' generations `spec_changes` keeps, per stream.
const SPEC_CHANGES_REMEMBERED: usize = 100_000;

/// Only the changes to an object's spec (its `metadata.generation` moved) and its first sight:
/// status churn (a Deployment's replica counts, an autoscaler's metrics) wakes no one who only
/// needs to compare the spec. Deletions come through the deletion sinks.
pub(super) fn spec_changes<K, S>(stream: S) -> impl futures::Stream<Item = std::sync::Arc<K>>
where
    K: Resource<DynamicType = ()> + 'static,
    S: futures::Stream<Item = std::sync::Arc<K>>,
{
    // By a hash of namespace and name: 16 bytes an object, where a key of strings (and the
    // UID and version an `ObjectRef` carries) took ten times that, for each of four streams. Two
    // objects sharing a 64-bit hash would at worst wake once for nothing, or miss one wake.
    let mut seen: std::collections::HashMap<u64, Option<i64>> = std::collections::HashMap::new();
    stream.filter(move |obj| {
        let generation = obj.meta().generation;
        let key = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (&obj.meta().namespace, &obj.meta().name).hash(&mut hasher);
            hasher.finish()
        };
        // Deleted objects never come through here to be forgotten; past the bound, start afresh,
        // which costs each object one wake its controller finds nothing to do for.
        if seen.len() >= SPEC_CHANGES_REMEMBERED && !seen.contains_key(&key) {
            seen.clear();
        }
        let changed = seen.insert(key, generation) != Some(generation);
        futures::future::ready(changed)
    })
}

/// Marks the caches (and the replica) ready once every store has its first list. Polled with
/// the reflectors, not spawned, so that controllers dropped on a lost Lease cannot report ready
/// afterwards.
pub(super) async fn caches_synced(
    caches: crate::controller::Caches,
    httproutes_synced: impl Future<Output = bool>,
    state: std::sync::Arc<crate::http::HttpState>,
) {
    let (a, b, c) = futures::join!(
        caches.rollouts.wait_until_ready(),
        caches.services.wait_until_ready(),
        caches.claims.wait_until_ready()
    );
    let (d, e, f, g, httproutes_ready) = futures::join!(
        caches.workloads.wait_until_ready(),
        caches.service_objects.wait_until_ready(),
        caches.ingresses.wait_until_ready(),
        caches.autoscalers.wait_until_ready(),
        httproutes_synced
    );
    if [a, b, c, d, e, f, g].iter().all(Result::is_ok) && httproutes_ready {
        caches
            .ready
            .store(true, std::sync::atomic::Ordering::Release);
        state
            .ready
            .store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::info!("caches synced; ready");
    }
}
