//! The route rule: the route table fed by every RouteClaim and ChittyService of the fleet, the
//! ChittyDomains under it, and the RouteClaim and ChittyDomain controllers that write what it
//! decides.
//!
//! Unsharded, it runs inside the one leader's term on the term's own caches. Sharded, each shard
//! caches only its share of services, yet two claims on one host may belong to services of two
//! shards; so the rule runs once for the whole fleet, in whichever process holds its own Lease
//! (`<lease-name>-routes`), on its own watches: every claim (they are small, and the rule reads
//! their specs) and every service's metadata only (the rule reads names and deletion marks).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use kube::Client;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};

use super::domains::{DomainWatches, run_domain_controller, watch_domains};
use super::reflectors::api;
use super::tolerant::tolerant_watcher;
use crate::api::{ChittyService, RouteClaim};
use crate::config::OperatorConfig;
use crate::controller::route_claim::{self, RouteTable, table::ServiceLookup};
use crate::controller::{self, Caches, Context};
use crate::http::HttpState;
use crate::metrics::Metrics;

/// The table and the watches and triggers around it, ready to run.
pub(super) struct RouteRule {
    pub table: RouteTable,
    claim_triggers: UnboundedReceiver<ObjectRef<RouteClaim>>,
    domains: DomainWatches,
}

/// Services whose claims were deleted, for the ChittyService controller where it runs beside the
/// rule; dropped where none does (the table ignores the failed sends).
pub(super) type ServiceTriggers = UnboundedReceiver<ObjectRef<ChittyService>>;

impl RouteRule {
    /// A table over `claims` and `services`, served on the read API's route view.
    pub fn new(
        client: &Client,
        config: &OperatorConfig,
        claims: Store<RouteClaim>,
        services: impl ServiceLookup,
        http_state: &HttpState,
    ) -> (Self, ServiceTriggers) {
        let (table, triggers) = RouteTable::new(config.routing.initial_policy(), claims, services);
        // Under the delegated policy the table decides nothing until the domains have been read.
        let domains = watch_domains(client, config, table.clone());
        http_state.routes.set(table.clone());
        let rule = Self {
            table,
            claim_triggers: triggers.claims,
            domains,
        };
        (rule, triggers.services)
    }

    /// What the domain controller reads, for the context.
    pub fn book(&self) -> controller::domain::DomainBook {
        self.domains.book.clone()
    }

    /// The RouteClaim and ChittyDomain controllers, and the domain watches, until `shutdown`.
    pub async fn run(
        self,
        claims: Store<RouteClaim>,
        ctx: Arc<Context>,
        shutdown: futures::future::Shared<futures::future::BoxFuture<'static, ()>>,
    ) {
        let concurrency =
            kube::runtime::controller::Config::default().concurrency(ctx.config.concurrency);
        // Triggered by the route table only, once it has taken a change in (see `route_claim`).
        let run_claims =
            Controller::for_shared_stream(futures::stream::pending::<Arc<RouteClaim>>(), claims)
                .reconcile_on(self.claim_triggers)
                .with_config(concurrency)
                .graceful_shutdown_on(shutdown.clone())
                .run(
                    controller::resetting_backoff(route_claim::reconcile),
                    controller::error_policy(route_claim::NAME),
                    ctx.clone(),
                )
                .for_each(|_| futures::future::ready(()));
        let run_domains =
            run_domain_controller(self.domains.store, self.domains.triggers, ctx, shutdown);
        let controllers = futures::future::join(run_claims, run_domains);
        // The domain watches end with the controllers.
        futures::future::select(Box::pin(controllers), self.domains.reflectors).await;
    }
}

/// The route rule on its own watches, for a sharded fleet (see the module comment); until
/// `shutdown`, or until dropped (its Lease lost).
pub(super) async fn run_alone(
    client: Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    http_state: Arc<HttpState>,
    shutdown: futures::future::Shared<futures::future::BoxFuture<'static, ()>>,
) -> anyhow::Result<()> {
    let watch = watcher::Config::default().any_semantic();
    let (claim_store, claim_writer) = reflector::store::<RouteClaim>();
    let (service_store, service_writer) = reflector::store::<PartialObjectMeta<ChittyService>>();
    // Nobody reconciles services here: their deletions need no one told.
    let (rule, _) = RouteRule::new(
        &client,
        &config,
        claim_store.clone(),
        service_store.clone(),
        &http_state,
    );
    let table = rule.table.clone();
    let (odd_objects, odd_found) = futures::channel::mpsc::unbounded();
    let handle_odd_objects = super::odd_objects::handle(odd_found, client.clone(), metrics.clone());
    let claim_reflector = tolerant_watcher(
        &client,
        &config,
        watch.clone(),
        claim_store.clone(),
        odd_objects,
    )
    .default_backoff()
    .reflect(claim_writer)
    .for_each({
        let table = table.clone();
        move |event| {
            if let Ok(event) = &event {
                table.on_claim_event(event);
            }
            futures::future::ready(())
        }
    });
    let service_reflector = watcher(
        api::<PartialObjectMeta<ChittyService>>(&client, &config),
        watch,
    )
    .default_backoff()
    .modify(|s| {
        s.metadata.managed_fields = None;
        s.metadata.annotations = None;
    })
    .reflect(service_writer)
    .for_each({
        let table = table.clone();
        move |event| {
            if let Ok(event) = &event {
                table.on_service_event(event);
            }
            futures::future::ready(())
        }
    });

    let caches = Caches {
        claims: claim_store.clone(),
        ..Caches::empty()
    };
    let ready = caches.ready.clone();
    let (events, event_pump) = controller::events::EventQueue::new(
        controller::events::Publisher::recorder(client.clone()),
    );
    let ctx = Arc::new(
        Context::new(
            client,
            config,
            metrics,
            caches,
            Default::default(),
            table,
            controller::events::Publisher::Queued(events),
        )
        .with_domains(rule.book()),
    );
    let readiness = async move {
        let (claims, services) = futures::join!(
            claim_store.wait_until_ready(),
            service_store.wait_until_ready()
        );
        if claims.is_ok() && services.is_ok() {
            ready.store(true, Ordering::Release);
            tracing::info!("route rule caches synced");
        }
    };
    tracing::info!("route rule starting for every shard");
    let controllers = futures::future::select(
        Box::pin(rule.run(ctx.caches.claims.clone(), ctx.clone(), shutdown)),
        Box::pin(event_pump),
    );
    let reflectors = futures::future::join4(
        claim_reflector,
        service_reflector,
        handle_odd_objects,
        readiness,
    );
    futures::pin_mut!(reflectors);
    futures::future::select(controllers, reflectors).await;
    Ok(())
}
