//! The controllers and what they share.

pub mod apply;
pub mod backoff;
pub mod claim_lookup;
pub mod deployment;
pub mod domain;
pub mod event_writer;
pub mod events;
pub mod ledger;
pub mod packed;
pub mod refusals;
pub mod rollout_index;
pub mod route_claim;
pub mod service;
pub mod small_set;
pub mod squeezed;
pub mod workload;
pub mod write_budget;

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;

use crate::api::{ChittyDeployment, ChittyService};
use crate::config::OperatorConfig;
use crate::labels::FIELD_MANAGER;
use crate::metrics::Metrics;
use packed::Packed;

/// Every cache the controllers read, each filled by one shared reflector (see `operator`).
/// A ChittyDeployment as the caches keep it (see `packed`).
pub type CachedRollout = Packed<ChittyDeployment>;

#[derive(Clone)]
pub struct Caches {
    /// Every ChittyService the operator can see.
    pub services: Store<ChittyService>,
    /// Every ChittyDeployment the operator can see, packed: a rollout carries a whole copy of
    /// its service's spec, and a fleet keeps several per service (`revisionHistoryLimit`).
    pub rollouts: Store<CachedRollout>,
    /// The rollouts of each service, and those waiting on each, from the same watch.
    pub rollout_index: rollout_index::RolloutIndex,
    /// Every RouteClaim the operator can see.
    pub claims: Store<crate::api::RouteClaim>,
    /// The claims of each service, from the same watch.
    pub claim_lookup: claim_lookup::ClaimLookup,
    /// The Deployments the operator applied (its managed-by label), packed: a reconcile
    /// decodes the one it reads.
    pub workloads: Store<Packed<Deployment>>,
    /// The Services the operator applied.
    pub service_objects: Store<Packed<Service>>,
    /// The Ingresses the operator applied.
    pub ingresses: Store<Packed<Ingress>>,
    /// The HTTPRoutes the operator applied; filled in gateway mode only (the Gateway API CRDs
    /// need not be installed otherwise).
    pub httproutes: Store<crate::workload::gateway_api::HTTPRoute>,
    /// The HorizontalPodAutoscalers the operator applied.
    pub autoscalers: Store<Packed<HorizontalPodAutoscaler>>,
    /// Set once every store above has its first list (`Store::wait_until_ready` wakes only one
    /// waiter at a time, so reconciles read this flag instead of waiting on the stores).
    pub ready: Arc<std::sync::atomic::AtomicBool>,
}

impl Caches {
    /// Caches that stay empty, for a context built outside the running controllers.
    pub fn empty() -> Self {
        fn store<K>() -> Store<K>
        where
            K: Resource<DynamicType = ()> + Clone + 'static,
        {
            kube::runtime::reflector::store::Writer::default().as_reader()
        }
        Self {
            services: store(),
            rollouts: store(),
            rollout_index: Default::default(),
            claims: store(),
            claim_lookup: Default::default(),
            workloads: store(),
            service_objects: store(),
            ingresses: store(),
            httproutes: store(),
            autoscalers: store(),
            ready: Default::default(),
        }
    }

    /// Whether every cache has had its first list.
    pub fn synced(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// What every reconcile gets: the client and settings, the caches, the external services, and
/// the few pieces of memory the controllers keep between reconciles.
pub struct Context {
    pub client: Client,
    pub config: OperatorConfig,
    pub metrics: Arc<Metrics>,
    pub caches: Caches,
    /// Where reconciles leave their Events (see `events`).
    pub events: events::Publisher,
    /// The external ChittyOS services the operator is configured for.
    pub integrations: crate::integrations::Integrations,
    /// Health probes, run off the reconcile path (see `probe::pool`).
    pub probes: crate::probe::pool::ProbePool,
    /// Consecutive failed probes per service since its health state last changed; kept in
    /// memory because writing every count would make a failing service a stream of writes.
    pub probe_failures: std::sync::Mutex<std::collections::HashMap<String, i32>>,
    /// Who holds which route, decided in memory (see `route_claim::RouteTable`).
    pub routes: route_claim::RouteTable,
    /// What each ChittyDomain delegates (see `domain::DomainBook`).
    pub domains: domain::DomainBook,
    /// Our status writes the caches have not shown yet.
    pub ledger: ledger::WriteLedger,
    /// The workload controller's last applies (see `workload::AppliedMemo`).
    pub applied: workload::AppliedMemo,
    /// Consecutive failed reconciles per object, for exponential backoff.
    pub backoff: backoff::Backoff,
    /// Each object's status-write budget.
    pub write_budget: write_budget::WriteBudget,
    /// Objects the apiserver refused, per service, for the service's status (see `refusals`).
    pub refusals: refusals::Refusals,
}

impl Context {
    pub fn new(
        client: Client,
        config: OperatorConfig,
        metrics: Arc<Metrics>,
        caches: Caches,
        integrations: crate::integrations::Integrations,
        routes: route_claim::RouteTable,
        events: events::Publisher,
    ) -> Self {
        // A pool whose wake-ups nobody hears; the running controllers give theirs (`with_probes`).
        let (probes, _) = crate::probe::pool::ProbePool::new(&config.probes, metrics.clone());
        Self {
            client,
            config,
            metrics,
            caches,
            events,
            integrations,
            probes,
            probe_failures: Default::default(),
            routes,
            domains: Default::default(),
            ledger: Default::default(),
            applied: Default::default(),
            backoff: Default::default(),
            write_budget: Default::default(),
            refusals: Default::default(),
        }
    }

    /// The probe pool whose completions wake the running controllers.
    pub fn with_probes(self, probes: crate::probe::pool::ProbePool) -> Self {
        Self { probes, ..self }
    }

    /// The domain book the running domain controller is triggered by.
    pub fn with_domains(self, domains: domain::DomainBook) -> Self {
        Self { domains, ..self }
    }

    /// Writes a whole status with server-side apply, but only when it differs from what is
    /// there, so an unchanged world costs no write; remembers the write until the cache shows it.
    /// The status is brought within the caps of `api::limits` first, so the comparison is with
    /// what would be stored.
    pub async fn write_status<K, S>(
        &self,
        api: &Api<K>,
        obj: &K,
        current: Option<&S>,
        desired: &S,
    ) -> crate::Result<bool>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
        S: Serialize + PartialEq + Clone + crate::api::limits::Bounded,
    {
        let mut desired = desired.clone();
        desired.bound();
        let desired = &desired;
        if current == Some(desired) {
            return Ok(false);
        }
        self.write_budget
            .spend(&object_key(obj))
            .map_err(crate::Error::Throttled)?;
        // The resourceVersion makes the write conditional: a status computed from a stale cache
        // (a requeue that ran before our own last write came back) is refused with a conflict
        // instead of overwriting newer progress.
        let patch = serde_json::json!({
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "metadata": {"resourceVersion": obj.resource_version()},
            "status": desired,
        });
        let params = kube::api::PatchParams::apply(FIELD_MANAGER).force();
        api.patch_status(&obj.name_any(), &params, &kube::api::Patch::Apply(patch))
            .await?;
        self.ledger.record(obj);
        Ok(true)
    }

    /// The cached object predates our own last status write to it: whatever this reconcile
    /// computed would be refused, and the write's watch event brings a reconcile of its own.
    pub fn cache_behind(&self, obj: &impl ResourceExt) -> bool {
        self.ledger.behind(obj)
    }

    /// A namespaced Api for the object's own namespace.
    pub fn api_for<K>(&self, obj: &impl ResourceExt) -> Api<K>
    where
        K: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(
            self.client.clone(),
            obj.namespace().as_deref().unwrap_or("default"),
        )
    }
}

/// A service's rollouts from the cache: same namespace, and controlled by this very object (a
/// recreated service with the same name does not inherit its predecessor's history).
pub fn rollouts_of(caches: &Caches, service: &ChittyService) -> Vec<ChittyDeployment> {
    let Some(uid) = service.uid() else {
        return Vec::new();
    };
    // The index names them; the store has them as they are now (and only if still there).
    (caches.rollout_index.owned_by(&uid).iter())
        .filter_map(|reference| caches.rollouts.get(reference))
        .filter(|d| {
            d.owner_references()
                .iter()
                .any(|o| o.uid == uid && o.controller == Some(true))
        })
        // Checked when it arrived: it decodes.
        .filter_map(|d| d.unpack().ok())
        .collect()
}

/// How long a reconcile that found the cache behind our own write waits at most; the write's
/// watch event normally comes first and triggers the reconcile sooner.
pub const CATCH_UP: Duration = Duration::from_secs(2);

/// The current time truncated to whole seconds, the precision the API stores, so a recomputed
/// status compares equal to the stored one.
pub fn now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    let ts = jiff::Timestamp::now();
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::from_second(ts.as_second()).expect("current time is in range"),
    )
}

/// `Kind/namespace/name`: the key of an object in the controllers' per-object memory.
pub fn object_key<K: Resource<DynamicType = ()>>(obj: &K) -> String {
    format!(
        "{}/{}/{}",
        K::kind(&()),
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default()
    )
}

/// Wraps a reconcile so that a clean run resets its object's backoff.
pub fn resetting_backoff<K, F, Fut>(
    reconcile: F,
) -> impl Fn(Arc<K>, Arc<Context>) -> futures::future::BoxFuture<'static, crate::Result<Action>>
where
    K: Resource<DynamicType = ()> + Send + Sync + 'static,
    F: Fn(Arc<K>, Arc<Context>) -> Fut,
    Fut: std::future::Future<Output = crate::Result<Action>> + Send + 'static,
{
    move |obj: Arc<K>, ctx: Arc<Context>| {
        let key = object_key(&*obj);
        let run = reconcile(obj, ctx.clone());
        Box::pin(async move {
            let result = run.await;
            if result.is_ok() {
                ctx.backoff.succeeded(&key);
            }
            result
        })
    }
}

/// Conflicts in a row retried after half a second before the object's backoff takes over.
const QUICK_CONFLICT_RETRIES: u32 = 3;

/// Retries a failed reconcile after its object's own backoff (see `backoff`); kube's backoff
/// handles watch errors.
pub fn error_policy<K: Resource<DynamicType = ()>>(
    controller: &'static str,
) -> impl Fn(Arc<K>, &crate::Error, Arc<Context>) -> Action {
    move |obj: Arc<K>, error: &crate::Error, ctx: Arc<Context>| {
        if let crate::Error::Throttled(wait) = error {
            tracing::debug!(controller, object = %object_key(&*obj), "status writes rate-limited");
            return Action::requeue(*wait);
        }
        ctx.metrics.failure(controller, error);
        let key = object_key(&*obj);
        let wait = ctx.backoff.failed(&key);
        if error.is_conflict() && ctx.backoff.failures(&key) <= QUICK_CONFLICT_RETRIES {
            // The cache was behind our own last write; the watch brings the newer object soon.
            // Conflict after conflict means someone else keeps writing: back off like any error.
            tracing::debug!(controller, "stale object; retrying");
            return Action::requeue(Duration::from_millis(500));
        }
        let failures = ctx.backoff.failures(&key);
        tracing::warn!(controller, object = %key, %error, failures, retry_in = ?wait, "reconcile failed");
        Action::requeue(wait)
    }
}
