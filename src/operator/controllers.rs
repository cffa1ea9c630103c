//! One leadership term: the shared reflectors, the five controllers and the Event pump, run
//! together until shutdown or until the term's future is dropped.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector;
use kube::runtime::{Controller, watcher};

use super::odd_objects;
use super::reflectors::{api, deletions, owned_reflector, spec_changes, subscribe};
use super::route_rule::RouteRule;
use super::tolerant::{packed, tolerant_watcher};
use super::triggers::{
    owning_service, rollout_of_workload, rollouts_waiting_on, service_of_rollout,
    serving_edge_rollout,
};
use crate::api::{ChittyDeployment, ChittyService, RouteClaim};
use crate::config::OperatorConfig;
use crate::controller::packed::Packed;
use crate::controller::{
    self, CachedRollout, Caches, Context, deployment, route_claim, service, workload,
};
use crate::http::HttpState;
use crate::labels;
use crate::metrics::Metrics;
use crate::shard::Scope;

/// Runs one controller until `shutdown`: backoff reset by a success, grown by each failure.
macro_rules! run {
    ($controller:expr, $kind:ident, $ctx:expr, $shutdown:expr) => {
        $controller
            .graceful_shutdown_on($shutdown.clone())
            .run(
                controller::resetting_backoff($kind::reconcile),
                controller::error_policy($kind::NAME),
                $ctx.clone(),
            )
            .for_each(|_| futures::future::ready(()))
    };
}

/// How many changes a slow controller may fall behind a shared watch before the watch waits.
const SUBSCRIBER_BUFFER: usize = 1024;

/// The reflectors and the controllers for the services in `scope`, until `shutdown` (graceful)
/// or until the caller drops this future (at once: a replica that lost the leader Lease). The
/// whole fleet also runs the route rule here; a shard leaves it to the route rule's own Lease.
pub(super) async fn run_controllers(
    client: Client,
    config: OperatorConfig,
    scope: Scope,
    metrics: Arc<Metrics>,
    client_metrics: crate::clients::ClientMetrics,
    http_state: Arc<HttpState>,
    shutdown: futures::future::Shared<futures::future::BoxFuture<'static, ()>>,
) -> anyhow::Result<()> {
    let every = watcher::Config::default().any_semantic();
    // A shard caches only the objects labelled with its buckets (see `crate::shard`).
    let watch = match scope.selector() {
        Some(mine) => every.clone().labels(&mine),
        None => every,
    };
    let concurrency = kube::runtime::controller::Config::default().concurrency(config.concurrency);
    let ours =
        watch
            .clone()
            .labels(&scope.narrow(&format!("{}={}", labels::MANAGED_BY, labels::MANAGER)));

    // Each kind is watched once and shared: a controller triggered by a change reads a cache that
    // already holds that change (the store is written before subscribers are told).
    let (service_store, service_writer) =
        reflector::store_shared::<ChittyService>(SUBSCRIBER_BUFFER);
    let (rollout_store, rollout_writer) =
        reflector::store_shared::<CachedRollout>(SUBSCRIBER_BUFFER);
    let (claim_store, claim_writer) = reflector::store_shared::<RouteClaim>(SUBSCRIBER_BUFFER);
    // The operator's own children, cached so that reconciles compare against memory, not the
    // API server; their deletions reach their owners through the deletion channels.
    let (workload_store, workload_writer) =
        reflector::store_shared::<Packed<Deployment>>(SUBSCRIBER_BUFFER);
    let (service_object_store, service_object_writer) =
        reflector::store_shared::<Packed<Service>>(SUBSCRIBER_BUFFER);
    let (ingress_store, ingress_writer) =
        reflector::store_shared::<Packed<Ingress>>(SUBSCRIBER_BUFFER);
    let (autoscaler_store, autoscaler_writer) =
        reflector::store_shared::<Packed<HorizontalPodAutoscaler>>(SUBSCRIBER_BUFFER);
    // The read API answers from these caches for as long as this run (leadership term) lasts.
    let _serving = http_state
        .web
        .as_ref()
        .map(|web| web.serve_from(service_store.clone(), rollout_store.clone()));

    let (services_for_services, services_for_rollouts, services_for_workloads) = (
        subscribe(&service_writer),
        subscribe(&service_writer),
        subscribe(&service_writer),
    );
    let (rollouts_for_rollouts, rollouts_for_services, rollouts_for_workloads) = (
        subscribe(&rollout_writer),
        subscribe(&rollout_writer),
        subscribe(&rollout_writer),
    );
    let (workloads_for_rollouts, workloads_for_workloads, workloads_for_services) = (
        subscribe(&workload_writer),
        subscribe(&workload_writer),
        subscribe(&workload_writer),
    );
    let service_objects_for_workloads = subscribe(&service_object_writer);
    let autoscalers_for_workloads = subscribe(&autoscaler_writer);
    let ingresses_for_services = subscribe(&ingress_writer);
    let claims_for_services = subscribe(&claim_writer);

    // Route ownership is decided in memory from every claim and service event, deletions
    // included, which the shared subscriptions do not carry: the table reads the watch streams.
    let rule = scope.is_everything().then(|| {
        RouteRule::new(
            &client,
            &config,
            claim_store.clone(),
            service_store.clone(),
            &http_state,
        )
    });
    // A shard hears of its deleted claims from its own watch (the table tells the rule's).
    let (claim_gone, claims_gone) = futures::channel::mpsc::unbounded();
    let (rule, claim_wakes) = match rule {
        Some((rule, wakes)) => (Some(rule), wakes),
        None => (None, claims_gone),
    };
    let routes = rule.as_ref().map(|r| r.table.clone());
    // The operator's own kinds are decoded object by object, so one odd object (a status
    // integer out of range) is read around and repaired instead of failing the whole list.
    let (odd_objects, odd_found) = futures::channel::mpsc::unbounded();
    let handle_odd_objects = odd_objects::handle(odd_found, client.clone(), metrics.clone());
    let service_reflector = tolerant_watcher(
        &client,
        &config,
        watch.clone(),
        service_store.clone(),
        odd_objects.clone(),
    )
    .default_backoff()
    .reflect_shared(service_writer)
    .for_each({
        let routes = routes.clone();
        move |event| {
            if let (Ok(event), Some(routes)) = (&event, &routes) {
                routes.on_service_event(event);
            }
            futures::future::ready(())
        }
    });
    // The claims of each service, kept from the claim watch.
    let claim_lookup = controller::claim_lookup::ClaimLookup::default();
    let claim_reflector = tolerant_watcher(
        &client,
        &config,
        watch.clone(),
        claim_store.clone(),
        odd_objects.clone(),
    )
    .default_backoff()
    .reflect_shared(claim_writer)
    .for_each({
        let routes = routes.clone();
        let (lookup, store) = (claim_lookup.clone(), claim_store.clone());
        move |event| {
            if let Ok(event) = &event {
                lookup.on_event(event, &store);
            }
            match (&event, &routes) {
                (Ok(event), Some(routes)) => routes.on_claim_event(event),
                (Ok(watcher::Event::Delete(claim)), None) => {
                    let (namespace, name) = route_claim::input::service_of(claim);
                    let _ = claim_gone
                        .unbounded_send(reflector::ObjectRef::new(&name).within(&namespace));
                }
                _ => {}
            }
            futures::future::ready(())
        }
    });
    // Which rollouts each service has, and which wait on it, kept from the same watch.
    let rollout_index = controller::rollout_index::RolloutIndex::default();
    let rollout_reflector = packed(tolerant_watcher::<ChittyDeployment>(
        &client,
        &config,
        watch.clone(),
        rollout_store.clone(),
        odd_objects,
    ))
    .default_backoff()
    .reflect_shared(rollout_writer)
    .for_each({
        let (index, store) = (rollout_index.clone(), rollout_store.clone());
        move |event| {
            if let Ok(event) = &event {
                index.on_event(event, &store);
            }
            futures::future::ready(())
        }
    });
    let (workload_gone_to_rollout, workloads_gone_rollouts) = deletions(rollout_of_workload);
    let (workload_gone_to_service, workloads_gone_services) =
        deletions(owning_service::<Packed<Deployment>>);
    let workload_reflector = owned_reflector(
        api::<Packed<Deployment>>(&client, &config),
        ours.clone(),
        workload_writer,
        vec![workload_gone_to_rollout, workload_gone_to_service],
    );
    let (service_object_gone, service_objects_gone) = deletions(owning_service::<Packed<Service>>);
    let service_object_reflector = owned_reflector(
        api::<Packed<Service>>(&client, &config),
        ours.clone(),
        service_object_writer,
        vec![service_object_gone],
    );
    let (ingress_gone, ingresses_gone) = deletions(owning_service::<Packed<Ingress>>);
    let ingress_reflector = owned_reflector(
        api::<Packed<Ingress>>(&client, &config),
        ours.clone(),
        ingress_writer,
        vec![ingress_gone],
    );
    let super::gateway::HttpRouteWatch {
        store: httproute_store,
        changes: httproute_changes,
        gone: httproutes_gone,
        reflector: httproute_reflector,
        ready: httproutes_synced,
    } = super::gateway::watch_httproutes(&client, &config, ours.clone(), SUBSCRIBER_BUFFER);
    let (autoscaler_gone, autoscalers_gone) =
        deletions(owning_service::<Packed<HorizontalPodAutoscaler>>);
    let autoscaler_reflector = owned_reflector(
        api::<Packed<HorizontalPodAutoscaler>>(&client, &config),
        ours.clone(),
        autoscaler_writer,
        vec![autoscaler_gone],
    );

    // The workload controller's refusals wake the service, whose status tells of them.
    let (refusal_wake, refusal_wakes) = futures::channel::mpsc::unbounded();
    // Health probes run in the pool, off the reconcile path; a completed probe wakes its object.
    // The read API keeps the probes' history across leadership terms (without the API, the
    // pool keeps one nobody reads, bounded all the same).
    let history =
        (http_state.web.as_ref()).map_or_else(Default::default, |web| web.probe_history.clone());
    let (probes, probe_wakeups) =
        crate::probe::pool::ProbePool::with_history(&config.probes, history, metrics.clone());

    let services = Controller::for_shared_stream(services_for_services, service_store.clone())
        .owns_shared_stream(rollouts_for_services)
        .watches_shared_stream(claims_for_services, route_claim::service_of_claim)
        .owns_shared_stream(ingresses_for_services)
        // The serving Deployment's replica count is on the service's status.
        .owns_shared_stream(spec_changes(workloads_for_services))
        .reconcile_on(futures::stream::select(
            claim_wakes,
            futures::stream::select(
                ingresses_gone,
                futures::stream::select(refusal_wakes, probe_wakeups.services),
            ),
        ))
        .with_config(concurrency.clone());
    let services = match httproute_changes {
        Some(changes) => services
            .owns_shared_stream(changes)
            .reconcile_on(httproutes_gone),
        None => services,
    };
    let rollouts = Controller::for_shared_stream(rollouts_for_rollouts, rollout_store.clone())
        .owns(api::<Job>(&client, &config), ours.clone())
        .watches_shared_stream(workloads_for_rollouts, |d| rollout_of_workload(&*d))
        .reconcile_on(futures::stream::select(
            workloads_gone_rollouts,
            probe_wakeups.rollouts,
        ))
        .watches_shared_stream(services_for_rollouts, {
            let index = rollout_index.clone();
            move |service| {
                let mut wake = rollouts_waiting_on(&index, &service);
                wake.extend(serving_edge_rollout(&service));
                wake
            }
        })
        .with_config(concurrency.clone());
    // A service's status writes change nothing it runs: only spec changes wake this controller.
    let workloads =
        Controller::for_shared_stream(spec_changes(services_for_workloads), service_store.clone())
            // Drift is in the spec; status churn (replica counts, autoscaler metrics) wakes no one.
            .owns_shared_stream(spec_changes(workloads_for_workloads))
            // A Service has no generation; its status rarely moves, so every change wakes it.
            .owns_shared_stream(service_objects_for_workloads)
            .owns_shared_stream(spec_changes(autoscalers_for_workloads))
            .watches_shared_stream(rollouts_for_workloads, |r| service_of_rollout(&r))
            .reconcile_on(futures::stream::select(
                workloads_gone_services,
                futures::stream::select(service_objects_gone, autoscalers_gone),
            ))
            .with_config(concurrency);

    let caches = Caches {
        services: service_store.clone(),
        rollouts: rollout_store.clone(),
        rollout_index: rollout_index.clone(),
        claims: claim_store.clone(),
        claim_lookup,
        workloads: workload_store.clone(),
        service_objects: service_object_store.clone(),
        ingresses: ingress_store.clone(),
        httproutes: httproute_store,
        autoscalers: autoscaler_store.clone(),
        ready: Default::default(),
    };
    let mut integrations =
        crate::integrations::Integrations::from_config(&config.ecosystem, &client_metrics)?;
    integrations.advisor_model = config.advisor_model.client()?;
    let (events, event_pump) = controller::events::EventQueue::new(
        controller::events::Publisher::recorder(client.clone()),
    );
    let mut ctx = Context::new(
        client.clone(),
        config.clone(),
        metrics,
        caches,
        integrations,
        routes.unwrap_or_default(),
        controller::events::Publisher::Queued(events),
    )
    .with_probes(probes);
    if let Some(rule) = &rule {
        ctx = ctx.with_domains(rule.book());
    }
    ctx.refusals = controller::refusals::Refusals::waking(refusal_wake);
    let ctx = Arc::new(ctx);

    let readiness =
        super::reflectors::caches_synced(ctx.caches.clone(), httproutes_synced, http_state.clone());

    let run_services = run!(services, service, ctx, shutdown);
    let run_rollouts = run!(rollouts, deployment, ctx, shutdown);
    let run_route_rule = {
        let (claims, ctx) = (claim_store.clone(), ctx.clone());
        let shutdown = shutdown.clone();
        async move {
            if let Some(rule) = rule {
                rule.run(claims, ctx, shutdown).await
            }
        }
    };
    // A shard labels the objects of its buckets that carry no bucket yet (see `assign`).
    let assign = {
        let (client, config, scope) = (client.clone(), config.clone(), scope.clone());
        async move {
            if !scope.is_everything() {
                super::assign::run(client, config, scope).await
            }
        }
    };
    let run_workloads = run!(workloads, workload, ctx, shutdown);
    tracing::info!(namespace = ?config.namespace, concurrency = config.concurrency, scope = %scope.describe(), "controllers starting");
    // The reflectors end with the controllers: they are polled until shutdown, then dropped.
    // Readiness is polled here too, not spawned, so that controllers dropped on a lost Lease
    // cannot report ready afterwards.
    let reflectors = futures::future::join3(
        futures::future::join4(
            service_reflector,
            rollout_reflector,
            claim_reflector,
            readiness,
        ),
        futures::future::join4(
            workload_reflector,
            service_object_reflector,
            ingress_reflector,
            autoscaler_reflector,
        ),
        futures::future::join3(handle_odd_objects, assign, httproute_reflector),
    );
    futures::pin_mut!(reflectors);
    let controllers = futures::future::join(
        futures::future::join3(run_services, run_rollouts, run_workloads),
        run_route_rule,
    );
    // The Event pump runs only as long as the controllers: a replica that stops leading sends
    // nothing more, Events included.
    let controllers = futures::future::select(Box::pin(controllers), Box::pin(event_pump));
    futures::pin_mut!(controllers);
    futures::future::select(controllers, reflectors).await;
    Ok(())
}
