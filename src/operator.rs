//! `chitty-operator run`: wires the client, the controllers and the HTTP port together and runs
//! them until SIGTERM or Ctrl-C.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::{FutureExt, StreamExt};
use kube::runtime::{Controller, watcher};

/// How many changes a slow controller may fall behind a shared watch before the watch waits.
const SUBSCRIBER_BUFFER: usize = 1024;
use kube::{Api, Client, Resource};
use prometheus_client::registry::Registry;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};

use crate::api::{ChittyDeployment, ChittyService, DeploymentPhase};
use crate::config::OperatorConfig;
use crate::controller::{self, Context, deployment, service};
use crate::http::HttpState;
use crate::labels;
use crate::metrics::Metrics;
use crate::workload::ROLLOUT_LABEL;

fn api<K>(client: &Client, config: &OperatorConfig) -> Api<K>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
{
    match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Resolves on SIGTERM (how Kubernetes stops a pod) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c().map(|_| ());
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => futures::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = futures::future::pending::<()>();
    futures::pin_mut!(term);
    futures::future::select(Box::pin(ctrl_c), term).await;
    tracing::info!("shutting down");
}

/// Runs the operator as a process does: client from kubeconfig or in-cluster config, stopped by signals.
pub async fn run(config: OperatorConfig) -> anyhow::Result<()> {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let client = crate::kube_client::build(&metrics).await?;
    serve(client, config, metrics, registry, shutdown_signal()).await
}

/// Runs the controllers and the HTTP port with the given client until `shutdown` resolves. Tests
/// call this directly to run the operator in-process against the local control plane.
pub async fn serve(
    client: Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    registry: Registry,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let shutdown = shutdown.boxed().shared();
    let watch = watcher::Config::default().any_semantic();

    let concurrency = kube::runtime::controller::Config::default().concurrency(config.concurrency);
    let ours = watch
        .clone()
        .labels(&format!("{}={}", labels::MANAGED_BY, labels::MANAGER));

    // Each kind is watched once and shared: a controller triggered by a change reads a cache that
    // already holds that change (the store is written before subscribers are told).
    let (service_store, service_writer) =
        reflector::store_shared::<ChittyService>(SUBSCRIBER_BUFFER);
    let (rollout_store, rollout_writer) =
        reflector::store_shared::<ChittyDeployment>(SUBSCRIBER_BUFFER);
    let (services_for_services, services_for_rollouts) =
        (subscribe(&service_writer), subscribe(&service_writer));
    let (rollouts_for_rollouts, rollouts_for_services) =
        (subscribe(&rollout_writer), subscribe(&rollout_writer));
    let service_reflector = watcher(api::<ChittyService>(&client, &config), watch.clone())
        .default_backoff()
        .reflect_shared(service_writer)
        .for_each(|_| futures::future::ready(()));
    let rollout_reflector = watcher(api::<ChittyDeployment>(&client, &config), watch.clone())
        .default_backoff()
        .reflect_shared(rollout_writer)
        .for_each(|_| futures::future::ready(()));

    let services = Controller::for_shared_stream(services_for_services, service_store.clone())
        .owns_shared_stream(rollouts_for_services)
        .with_config(concurrency.clone());
    let rollouts = Controller::for_shared_stream(rollouts_for_rollouts, rollout_store.clone())
        .owns(api::<Job>(&client, &config), ours.clone())
        .watches(
            api::<Deployment>(&client, &config),
            ours.clone(),
            rollout_of_workload,
        )
        .watches_shared_stream(services_for_rollouts, {
            let store = rollout_store.clone();
            move |service| rollouts_waiting_on(&store, &service)
        })
        .with_config(concurrency);

    let ctx = Arc::new(Context::new(
        client.clone(),
        config.clone(),
        metrics,
        rollout_store.clone(),
        service_store.clone(),
    ));
    let http_state = Arc::new(HttpState {
        registry,
        ready: Default::default(),
    });

    let http = tokio::spawn(crate::http::serve(
        config.http_addr,
        http_state.clone(),
        shutdown.clone(),
    ));
    let readiness = {
        let state = http_state.clone();
        async move {
            let (a, b) = futures::join!(
                rollout_store.wait_until_ready(),
                service_store.wait_until_ready()
            );
            if a.is_ok() && b.is_ok() {
                state.ready.store(true, Ordering::Relaxed);
                tracing::info!("caches synced; ready");
            }
        }
    };
    tokio::spawn(readiness);

    let run_services = services
        .graceful_shutdown_on(shutdown.clone())
        .run(
            service::reconcile,
            controller::error_policy(service::NAME),
            ctx.clone(),
        )
        .for_each(|_| futures::future::ready(()));
    let run_rollouts = rollouts
        .graceful_shutdown_on(shutdown.clone())
        .run(
            deployment::reconcile,
            controller::error_policy(deployment::NAME),
            ctx.clone(),
        )
        .for_each(|_| futures::future::ready(()));
    tracing::info!(namespace = ?config.namespace, concurrency = config.concurrency, "controllers starting");
    // The reflectors end with the controllers: they are polled until shutdown, then dropped.
    let reflectors = futures::future::join(service_reflector, rollout_reflector);
    futures::pin_mut!(reflectors);
    let controllers = futures::future::join(run_services, run_rollouts);
    futures::pin_mut!(controllers);
    futures::future::select(controllers, reflectors).await;
    http.await??;
    Ok(())
}

fn subscribe<K>(writer: &reflector::store::Writer<K>) -> reflector::ReflectHandle<K>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    writer.subscribe().expect("shared stores have subscribers")
}

/// A workload Deployment wakes the rollout that last applied it (its label says which).
fn rollout_of_workload(d: Deployment) -> Option<ObjectRef<ChittyDeployment>> {
    let rollout = d.labels().get(ROLLOUT_LABEL)?;
    Some(ObjectRef::new(rollout).within(&d.namespace()?))
}

/// A ChittyService change wakes its own unfinished rollouts (suspension, supersession) and the
/// unfinished rollouts of services that depend on it (the dependency gate).
fn rollouts_waiting_on(
    store: &Store<ChittyDeployment>,
    service: &ChittyService,
) -> Vec<ObjectRef<ChittyDeployment>> {
    let ns = service.namespace().unwrap_or_default();
    let name = service.name_any();
    store
        .state()
        .iter()
        .filter(|d| {
            !d.status
                .as_ref()
                .and_then(|s| s.phase)
                .is_some_and(DeploymentPhase::is_finished)
        })
        .filter(|d| {
            let d_ns = d.namespace().unwrap_or_default();
            let own = d_ns == ns && d.spec.service_ref.name == name;
            let depends = d
                .spec
                .snapshot
                .depends_on
                .iter()
                .any(|r| r.name == name && r.namespace_or(&d_ns) == ns);
            own || depends
        })
        .map(|d| ObjectRef::from_obj(&**d))
        .collect()
}
