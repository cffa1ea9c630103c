//! One consistent view of the fleet, taken from the reflector caches and rebuilt only when they
//! change, so every endpoint answers from memory in time that does not grow with the fleet.
//!
//! Whether the caches changed is told by a fingerprint (a hash over every object's identity and
//! `resourceVersion`, order-free). Computing it touches every cached object, about 15 ms at
//! 10,000 services, so it is computed at most once per [`FRESHNESS`], by one request while the
//! others keep answering from the snapshot they have: an answer is at most that much older than
//! the caches, which are themselves a watch behind the API server.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::ObjectMeta;
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};

use super::deploy_status::RolloutStatus;
use crate::api::{ChittyDeployment, ChittyService, DeploymentPhase};
use crate::controller::CachedRollout;
use crate::controller::rollout_index::Outline;

/// A service with what the endpoints read about it.
pub struct ServiceRow {
    /// `namespace/name`: the sort order and the paging key.
    pub key: String,
    pub service: Arc<ChittyService>,
    /// The rollout the service's status points at, or else its newest; packed as cached, so an
    /// answer decodes the rollouts it shows, not the fleet's.
    pub latest: Option<Arc<CachedRollout>>,
    /// The outcome of `latest`, `pending` when there is none yet.
    pub status: RolloutStatus,
}

impl ServiceRow {
    pub fn namespace(&self) -> &str {
        self.service.metadata.namespace.as_deref().unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.service.metadata.name.as_deref().unwrap_or("")
    }

    /// The latest rollout, decoded.
    pub fn latest(&self) -> Option<ChittyDeployment> {
        self.latest.as_ref().and_then(|d| d.unpack().ok())
    }
}

/// A cached rollout with what the rows read of it.
struct Listed {
    rollout: Arc<CachedRollout>,
    phase: DeploymentPhase,
}

/// The discovery document, serialized once per snapshot.
pub struct Rendered {
    pub body: axum::body::Bytes,
    pub etag: String,
}

pub struct Fleet {
    fingerprint: u64,
    /// Every service, sorted by `key`.
    pub services: Vec<ServiceRow>,
    /// Each service's rollouts, newest first, by service `key`.
    rollouts: HashMap<String, Vec<Arc<CachedRollout>>>,
    /// Filled on first use by the discovery endpoint.
    pub discovery: OnceLock<Rendered>,
}

impl Fleet {
    pub fn build(services: &[Arc<ChittyService>], rollouts: &[Arc<CachedRollout>]) -> Self {
        let mut by_service: HashMap<String, Vec<Listed>> = HashMap::new();
        for (rollout, read) in (rollouts.iter()).filter_map(|r| Some((r, Outline::of(r)?))) {
            let key = key_of(
                rollout.meta().namespace.as_deref().unwrap_or(""),
                &read.spec.service_ref.name,
            );
            let phase = read.phase().unwrap_or(DeploymentPhase::Pending);
            let rollout = rollout.clone();
            by_service
                .entry(key)
                .or_default()
                .push(Listed { rollout, phase });
        }
        for list in by_service.values_mut() {
            list.sort_by(|a, b| newest_first(a.rollout.meta(), b.rollout.meta()));
        }
        let mut rows: Vec<ServiceRow> = services
            .iter()
            .map(|service| {
                let key = key_of(
                    service.metadata.namespace.as_deref().unwrap_or(""),
                    &service.name_any(),
                );
                let owned = by_service.get(&key).map(Vec::as_slice).unwrap_or(&[]);
                let pointed = service
                    .status
                    .as_ref()
                    .and_then(|s| s.current_deployment.as_deref());
                let latest = pointed
                    .and_then(|name| {
                        owned
                            .iter()
                            .find(|d| d.rollout.meta().name.as_deref() == Some(name))
                    })
                    .or_else(|| owned.first());
                let status = latest.map_or(RolloutStatus::Pending, |d| RolloutStatus::of(d.phase));
                ServiceRow {
                    key,
                    service: service.clone(),
                    latest: latest.map(|d| d.rollout.clone()),
                    status,
                }
            })
            .collect();
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        let rollouts_by_service = (by_service.into_iter())
            .map(|(key, list)| (key, list.into_iter().map(|d| d.rollout).collect()))
            .collect();
        Self {
            fingerprint: fingerprint(services, rollouts),
            services: rows,
            rollouts: rollouts_by_service,
            discovery: OnceLock::new(),
        }
    }

    /// The service at `namespace/name`.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&ServiceRow> {
        let key = key_of(namespace, name);
        self.services
            .binary_search_by(|row| row.key.as_str().cmp(&key))
            .ok()
            .map(|i| &self.services[i])
    }

    /// The service's rollouts, newest first.
    /// A service's rollouts, newest first, decoded.
    pub fn rollouts_of(&self, namespace: &str, name: &str) -> Vec<ChittyDeployment> {
        (self
            .rollouts
            .get(&key_of(namespace, name))
            .into_iter()
            .flatten())
        .filter_map(|d| d.unpack().ok())
        .collect()
    }
}

pub fn key_of(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

pub fn phase(d: &ChittyDeployment) -> DeploymentPhase {
    d.status
        .as_ref()
        .and_then(|s| s.phase)
        .unwrap_or(DeploymentPhase::Pending)
}

fn newest_first(a: &ObjectMeta, b: &ObjectMeta) -> std::cmp::Ordering {
    let when = |m: &ObjectMeta| m.creation_timestamp.clone().map(|Time(t)| t);
    when(b).cmp(&when(a)).then_with(|| b.name.cmp(&a.name))
}

/// Order-free hash of which objects exist and at which `resourceVersion`.
fn fingerprint(services: &[Arc<ChittyService>], rollouts: &[Arc<CachedRollout>]) -> u64 {
    fn of<K: kube::Resource>(objects: &[Arc<K>]) -> u64 {
        objects.iter().fold(objects.len() as u64, |acc, o| {
            let meta = o.meta();
            let mut h = std::hash::DefaultHasher::new();
            (
                &meta.namespace,
                &meta.name,
                &meta.uid,
                &meta.resource_version,
            )
                .hash(&mut h);
            acc ^ h.finish()
        })
    }
    of(services).rotate_left(1) ^ of(rollouts)
}

/// Why there is no fleet to answer from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No caches are attached: a replica on standby, or one still starting.
    NotServing,
    /// Caches are attached but have not finished their first list; an empty answer now would
    /// tell clients the fleet is empty.
    Syncing,
}

#[derive(Clone)]
struct Sources {
    services: Store<ChittyService>,
    rollouts: Store<CachedRollout>,
    /// Which attachment this is, so a late detach of an older one cannot remove a newer one.
    term: u64,
}

impl Sources {
    fn synced(&self) -> bool {
        use futures::FutureExt;
        matches!(
            self.services.wait_until_ready().now_or_never(),
            Some(Ok(()))
        ) && matches!(
            self.rollouts.wait_until_ready().now_or_never(),
            Some(Ok(()))
        )
    }
}

/// How much older than the caches an answer may be.
pub const FRESHNESS: Duration = Duration::from_secs(1);

struct Current {
    fleet: Arc<Fleet>,
    /// The attachment `fleet` was built from.
    term: u64,
    /// When `fleet` was last found to match the caches.
    checked: Instant,
}

/// The current snapshot, rebuilt on demand when the caches have moved.
pub struct FleetCache {
    sources: RwLock<Option<Sources>>,
    terms: std::sync::atomic::AtomicU64,
    current: RwLock<Current>,
    /// Held by the one request that compares (and maybe rebuilds).
    refreshing: tokio::sync::Mutex<()>,
    freshness: Duration,
}

impl Default for FleetCache {
    fn default() -> Self {
        Self::with_freshness(FRESHNESS)
    }
}

impl FleetCache {
    pub fn with_freshness(freshness: Duration) -> Self {
        Self {
            sources: RwLock::new(None),
            terms: Default::default(),
            current: RwLock::new(Current {
                fleet: Arc::new(Fleet::build(&[], &[])),
                term: 0,
                checked: Instant::now(),
            }),
            refreshing: tokio::sync::Mutex::new(()),
            freshness,
        }
    }

    /// Serves from these caches until [`FleetCache::detach`] with the returned term.
    pub fn attach(&self, services: Store<ChittyService>, rollouts: Store<CachedRollout>) -> u64 {
        let term = self
            .terms
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        *self.sources.write().expect("not poisoned") = Some(Sources {
            services,
            rollouts,
            term,
        });
        term
    }

    /// This replica serves the fleet now (it leads); a standby does not.
    pub fn is_attached(&self) -> bool {
        self.sources.read().expect("not poisoned").is_some()
    }

    pub fn detach(&self, term: u64) {
        let mut sources = self.sources.write().expect("not poisoned");
        if sources.as_ref().is_some_and(|s| s.term == term) {
            *sources = None;
        }
    }

    fn sources(&self) -> Result<Sources, Unavailable> {
        let sources = self
            .sources
            .read()
            .expect("not poisoned")
            .clone()
            .ok_or(Unavailable::NotServing)?;
        if sources.synced() {
            Ok(sources)
        } else {
            Err(Unavailable::Syncing)
        }
    }

    /// The snapshot if it is of this term, and, when `fresh_only`, checked recently enough.
    fn usable(&self, term: u64, fresh_only: bool) -> Option<Arc<Fleet>> {
        let current = self.current.read().expect("not poisoned");
        (current.term == term && (!fresh_only || current.checked.elapsed() < self.freshness))
            .then(|| current.fleet.clone())
    }

    pub async fn snapshot(&self) -> Result<Arc<Fleet>, Unavailable> {
        let sources = self.sources()?;
        if let Some(fleet) = self.usable(sources.term, true) {
            return Ok(fleet);
        }
        let _refreshing = match self.refreshing.try_lock() {
            Ok(guard) => guard,
            // Another request is comparing: answer from what this term already has.
            Err(_) => match self.usable(sources.term, false) {
                Some(fleet) => return Ok(fleet),
                None => self.refreshing.lock().await,
            },
        };
        // Read the attachment again: it may have changed while this request waited.
        let sources = self.sources()?;
        if let Some(fleet) = self.usable(sources.term, true) {
            return Ok(fleet);
        }
        let (services, rollouts) = (sources.services.state(), sources.rollouts.state());
        let wanted = fingerprint(&services, &rollouts);
        if let Some(fleet) = self.usable(sources.term, false)
            && fleet.fingerprint == wanted
        {
            self.current.write().expect("not poisoned").checked = Instant::now();
            return Ok(fleet);
        }
        let fleet = Arc::new(Fleet::build(&services, &rollouts));
        *self.current.write().expect("not poisoned") = Current {
            fleet: fleet.clone(),
            term: sources.term,
            checked: Instant::now(),
        };
        Ok(fleet)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::api::{ChittyDeploymentSpec, ChittyDeploymentStatus, LocalServiceRef, StrategyType};
    use crate::controller::packed::Packed;
    use kube::runtime::reflector::store;
    use kube::runtime::watcher;

    pub fn service(ns: &str, name: &str) -> ChittyService {
        let mut s: ChittyService = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": "1",
                         "creationTimestamp": "2026-05-01T00:00:00Z"},
            "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                     "source": {"image": format!("registry.local/{name}:1")}}
        }))
        .unwrap();
        s.metadata.uid = Some(format!("uid-{ns}-{name}"));
        s
    }

    pub fn rollout(
        service: &ChittyService,
        revision: &str,
        created: &str,
        phase: DeploymentPhase,
    ) -> ChittyDeployment {
        let name = format!("{}-{revision}", service.name_any());
        let mut d = ChittyDeployment::new(
            &name,
            ChittyDeploymentSpec {
                service_ref: LocalServiceRef {
                    name: service.name_any(),
                    uid: None,
                },
                revision: revision.into(),
                snapshot: service.spec.clone(),
                trigger: crate::api::Trigger::Initial,
                strategy: StrategyType::Immediate,
            },
        );
        d.metadata.namespace = service.metadata.namespace.clone();
        d.metadata.creation_timestamp = Some(Time(created.parse().unwrap()));
        d.metadata.resource_version = Some("1".into());
        d.status = Some(ChittyDeploymentStatus {
            phase: Some(phase),
            ..Default::default()
        });
        d
    }

    #[test]
    fn rows_are_sorted_and_point_at_the_rollout_the_status_names() {
        let mut b = service("ns", "b");
        let a = service("ns", "a");
        let old = rollout(
            &b,
            "aaaaaaaaaa",
            "2026-05-01T00:00:00Z",
            DeploymentPhase::Succeeded,
        );
        let new = rollout(
            &b,
            "bbbbbbbbbb",
            "2026-05-02T00:00:00Z",
            DeploymentPhase::Running,
        );
        b.status = Some(crate::api::ChittyServiceStatus {
            current_deployment: Some(old.name_any()),
            ..Default::default()
        });
        let fleet = Fleet::build(
            &[Arc::new(b), Arc::new(a)],
            &[old.clone(), new.clone()].map(|d| Arc::new(Packed::of(&d))),
        );
        let keys: Vec<&str> = fleet.services.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["ns/a", "ns/b"]);
        let row = fleet.service("ns", "b").unwrap();
        assert_eq!(row.latest.as_ref().unwrap().name_any(), old.name_any());
        assert_eq!(row.status, RolloutStatus::Completed);
        assert_eq!(
            fleet.service("ns", "a").unwrap().status,
            RolloutStatus::Pending
        );
        let history: Vec<String> = fleet
            .rollouts_of("ns", "b")
            .iter()
            .map(|d| d.name_any())
            .collect();
        assert_eq!(history, [new.name_any(), old.name_any()]);
    }

    fn synced<K>() -> (Store<K>, kube::runtime::reflector::store::Writer<K>)
    where
        K: kube::Resource + Clone + 'static,
        K::DynamicType: Eq + std::hash::Hash + Clone + Default,
    {
        let (store, mut writer) = store::<K>();
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitDone);
        (store, writer)
    }

    #[tokio::test]
    async fn the_snapshot_is_reused_until_a_cache_changes() {
        let (services, mut writer) = synced::<ChittyService>();
        let (rollouts, _rollout_writer) = synced::<CachedRollout>();
        let cache = FleetCache::with_freshness(Duration::ZERO);
        cache.attach(services, rollouts);
        let mut svc = service("ns", "a");
        writer.apply_watcher_event(&watcher::Event::Apply(svc.clone()));
        let first = cache.snapshot().await.unwrap();
        assert_eq!(first.services.len(), 1);
        assert!(Arc::ptr_eq(&first, &cache.snapshot().await.unwrap()));

        svc.metadata.resource_version = Some("2".into());
        writer.apply_watcher_event(&watcher::Event::Apply(svc));
        let second = cache.snapshot().await.unwrap();
        assert!(
            !Arc::ptr_eq(&first, &second),
            "a new resourceVersion rebuilds"
        );
    }

    #[tokio::test]
    async fn the_caches_are_compared_at_most_once_per_freshness_period() {
        let (services, mut writer) = synced::<ChittyService>();
        let (rollouts, _rollout_writer) = synced::<CachedRollout>();
        let cache = FleetCache::with_freshness(Duration::from_secs(3600));
        cache.attach(services, rollouts);
        let first = cache.snapshot().await.unwrap();
        writer.apply_watcher_event(&watcher::Event::Apply(service("ns", "a")));
        assert!(
            Arc::ptr_eq(&first, &cache.snapshot().await.unwrap()),
            "within the period the snapshot is served as it is"
        );
    }

    #[tokio::test]
    async fn nothing_is_served_without_synced_caches() {
        let cache = FleetCache::default();
        assert_eq!(cache.snapshot().await.err(), Some(Unavailable::NotServing));
        let (services, _w1) = store::<ChittyService>();
        let (rollouts, _w2) = store::<CachedRollout>();
        let first = cache.attach(services, rollouts);
        assert_eq!(cache.snapshot().await.err(), Some(Unavailable::Syncing));

        let (services, _w3) = synced::<ChittyService>();
        let (rollouts, _w4) = synced::<CachedRollout>();
        let second = cache.attach(services, rollouts);
        cache.detach(first);
        assert!(
            cache.snapshot().await.is_ok(),
            "an old term's detach leaves the new one"
        );
        cache.detach(second);
        assert_eq!(cache.snapshot().await.err(), Some(Unavailable::NotServing));
    }
}
