//! One leadership term: the shared reflectors, the three controllers and the Event pump, run
//! together until shutdown or until the term's future is dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::networking::v1::Ingress;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};

use super::triggers::{owning_service, rollout_of_workload, rollouts_waiting_on};
use crate::api::{ChittyDeployment, ChittyService, RouteClaim};
use crate::config::OperatorConfig;
use crate::controller::{self, Context, deployment, route_claim, service};
use crate::http::HttpState;
use crate::labels;
use crate::metrics::Metrics;

/// How many changes a slow controller may fall behind a shared watch before the watch waits.
const SUBSCRIBER_BUFFER: usize = 1024;

fn api<K>(client: &Client, config: &OperatorConfig) -> Api<K>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
{
    match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The reflectors and both controllers, until `shutdown` (graceful) or until the caller drops
/// this future (at once: a replica that lost the leader Lease).
pub(super) async fn run_controllers(
    client: Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    client_metrics: crate::clients::ClientMetrics,
    http_state: Arc<HttpState>,
    shutdown: futures::future::Shared<futures::future::BoxFuture<'static, ()>>,
) -> anyhow::Result<()> {
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
    // The read API answers from these caches for as long as this run (leadership term) lasts.
    let _serving = http_state
        .web
        .as_ref()
        .map(|web| web.serve_from(service_store.clone(), rollout_store.clone()));
    let (services_for_services, services_for_rollouts) =
        (subscribe(&service_writer), subscribe(&service_writer));
    let (rollouts_for_rollouts, rollouts_for_services) =
        (subscribe(&rollout_writer), subscribe(&rollout_writer));
    // The operator's own Deployments and Ingresses, cached so that a rollout waiting for
    // availability and a service re-checking its Ingress read memory, not the API server.
    let (workload_store, workload_writer) =
        reflector::store_shared::<Deployment>(SUBSCRIBER_BUFFER);
    let (ingress_store, ingress_writer) = reflector::store_shared::<Ingress>(SUBSCRIBER_BUFFER);
    let (workloads_for_rollouts, ingresses_for_services) =
        (subscribe(&workload_writer), subscribe(&ingress_writer));
    let (claim_store, claim_writer) = reflector::store_shared::<RouteClaim>(SUBSCRIBER_BUFFER);
    let claims_for_services = subscribe(&claim_writer);
    // Route ownership is decided in memory from every claim and service event, deletions
    // included, which the shared subscriptions do not carry: the table reads the watch streams.
    let (routes, route_triggers) = route_claim::RouteTable::new(
        config.routing.reservations(),
        claim_store.clone(),
        service_store.clone(),
    );
    http_state.routes.set(routes.clone());
    let service_reflector = watcher(api::<ChittyService>(&client, &config), watch.clone())
        .default_backoff()
        .reflect_shared(service_writer)
        .for_each({
            let routes = routes.clone();
            move |event| {
                if let Ok(event) = &event {
                    routes.on_service_event(event);
                }
                futures::future::ready(())
            }
        });
    let claim_reflector = watcher(api::<RouteClaim>(&client, &config), watch.clone())
        .default_backoff()
        .reflect_shared(claim_writer)
        .for_each({
            let routes = routes.clone();
            move |event| {
                if let Ok(event) = &event {
                    routes.on_claim_event(event);
                }
                futures::future::ready(())
            }
        });
    let rollout_reflector = watcher(api::<ChittyDeployment>(&client, &config), watch.clone())
        .default_backoff()
        .reflect_shared(rollout_writer)
        .for_each(|_| futures::future::ready(()));
    let (workload_reflector, workloads_gone) = owned_reflector(
        api::<Deployment>(&client, &config),
        ours.clone(),
        workload_writer,
        rollout_of_workload,
    );
    let (ingress_reflector, ingresses_gone) = owned_reflector(
        api::<Ingress>(&client, &config),
        ours.clone(),
        ingress_writer,
        owning_service,
    );

    let services = Controller::for_shared_stream(services_for_services, service_store.clone())
        .owns_shared_stream(rollouts_for_services)
        .watches_shared_stream(claims_for_services, route_claim::service_of_claim)
        .owns_shared_stream(ingresses_for_services)
        .reconcile_on(futures::stream::select(
            route_triggers.services,
            ingresses_gone,
        ))
        .with_config(concurrency.clone());
    // Triggered by the route table only, once it has taken a change in (see `route_claim`).
    let claims = Controller::for_shared_stream(
        futures::stream::pending::<Arc<RouteClaim>>(),
        claim_store.clone(),
    )
    .reconcile_on(route_triggers.claims)
    .with_config(concurrency.clone());
    let rollouts = Controller::for_shared_stream(rollouts_for_rollouts, rollout_store.clone())
        .owns(api::<Job>(&client, &config), ours.clone())
        .watches_shared_stream(workloads_for_rollouts, |d| rollout_of_workload(&d))
        .reconcile_on(workloads_gone)
        .watches_shared_stream(services_for_rollouts, {
            let store = rollout_store.clone();
            move |service| rollouts_waiting_on(&store, &service)
        })
        .with_config(concurrency);

    let mut context = Context::new(
        client.clone(),
        config.clone(),
        metrics,
        rollout_store.clone(),
        service_store.clone(),
    );
    context.integrations =
        crate::integrations::Integrations::from_config(&config.ecosystem, &client_metrics)?;
    context.claims = claim_store.clone();
    context.workloads = workload_store;
    context.ingresses = ingress_store;
    let (events, event_pump) = controller::events::EventQueue::new(context.recorder.clone());
    context.events = Some(events);
    context.routes = routes;
    let ctx = Arc::new(context);

    let readiness = {
        let state = http_state.clone();
        async move {
            let (a, b, c) = futures::join!(
                rollout_store.wait_until_ready(),
                service_store.wait_until_ready(),
                claim_store.wait_until_ready()
            );
            if a.is_ok() && b.is_ok() && c.is_ok() {
                state.ready.store(true, Ordering::Relaxed);
                tracing::info!("caches synced; ready");
            }
        }
    };

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
    let run_claims = claims
        .graceful_shutdown_on(shutdown.clone())
        .run(
            route_claim::reconcile,
            controller::error_policy(route_claim::NAME),
            ctx.clone(),
        )
        .for_each(|_| futures::future::ready(()));
    tracing::info!(namespace = ?config.namespace, concurrency = config.concurrency, "controllers starting");
    // The reflectors end with the controllers: they are polled until shutdown, then dropped.
    // Readiness is polled here too, not spawned, so that controllers dropped on a lost Lease
    // cannot report ready afterwards.
    let reflectors = futures::future::join(
        futures::future::join4(
            service_reflector,
            rollout_reflector,
            claim_reflector,
            readiness,
        ),
        futures::future::join(workload_reflector, ingress_reflector),
    );
    futures::pin_mut!(reflectors);
    let controllers = futures::future::join3(run_services, run_rollouts, run_claims);
    // The Event pump runs only as long as the controllers: a replica that stops leading sends
    // nothing more, Events included.
    let controllers = futures::future::select(Box::pin(controllers), Box::pin(event_pump));
    futures::pin_mut!(controllers);
    futures::future::select(controllers, reflectors).await;
    Ok(())
}

/// Watches the operator's own objects of one kind into `writer`, managed fields stripped, and
/// says whom each deletion concerns on the returned channel: shared subscriptions carry no
/// deletions, so a Deployment or Ingress deleted under the operator wakes its owner this way.
fn owned_reflector<K, O>(
    api: Api<K>,
    ours: watcher::Config,
    writer: reflector::store::Writer<K>,
    concerns: fn(&K) -> Option<ObjectRef<O>>,
) -> (
    impl Future<Output = ()> + Send,
    futures::channel::mpsc::UnboundedReceiver<ObjectRef<O>>,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    O: Resource<DynamicType = ()> + 'static,
{
    let (gone, gone_rx) = futures::channel::mpsc::unbounded();
    let reflector = watcher(api, ours)
        .default_backoff()
        .modify(|obj| obj.managed_fields_mut().clear())
        .reflect_shared(writer)
        .for_each(move |event| {
            if let Ok(watcher::Event::Delete(obj)) = &event
                && let Some(owner) = concerns(obj)
            {
                let _ = gone.unbounded_send(owner);
            }
            futures::future::ready(())
        });
    (reflector, gone_rx)
}

fn subscribe<K>(writer: &reflector::store::Writer<K>) -> reflector::ReflectHandle<K>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    writer.subscribe().expect("shared stores have subscribers")
}
