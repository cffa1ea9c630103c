//! The ChittyDomain side of one leadership term: the domain and namespace watches feeding the
//! domain book, the book's delegations handed to the route table, and the domain controller.

use std::sync::Arc;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client};

use crate::api::ChittyDomain;
use crate::config::{OperatorConfig, RoutePolicyMode};
use crate::controller::{self, Context, domain, route_claim};

pub(super) struct DomainWatches {
    pub book: domain::DomainBook,
    pub store: Store<ChittyDomain>,
    pub triggers: UnboundedReceiver<ObjectRef<ChittyDomain>>,
    /// Both watches, until dropped.
    pub reflectors: BoxFuture<'static, ()>,
}

/// Watches ChittyDomains and namespaces (metadata only: the book reads names and labels) into
/// the book, which tells `routes` the delegations under the delegated policy. Both kinds are
/// cluster-scoped, so they are watched cluster-wide even when one namespace is served.
pub(super) fn watch_domains(
    client: &Client,
    config: &OperatorConfig,
    routes: route_claim::RouteTable,
) -> DomainWatches {
    let watch = watcher::Config::default().any_semantic();
    let (store, writer) = reflector::store::<ChittyDomain>();
    let (namespace_store, namespace_writer) = reflector::store();
    let enforce = config.routing.policy == RoutePolicyMode::Delegated;
    let (book, triggers) = domain::DomainBook::new(store.clone(), namespace_store, move |d| {
        if enforce {
            routes.set_delegations(d);
        }
    });
    let domains = watcher(Api::<ChittyDomain>::all(client.clone()), watch.clone())
        .default_backoff()
        .modify(|d| d.metadata.managed_fields = None)
        .reflect(writer)
        .for_each({
            let book = book.clone();
            move |event| {
                if let Ok(event) = &event {
                    book.on_domain_event(event);
                }
                futures::future::ready(())
            }
        });
    let namespaces = watcher(
        Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
        watch,
    )
    .default_backoff()
    .modify(|ns| ns.metadata.managed_fields = None)
    .reflect(namespace_writer)
    .for_each({
        let book = book.clone();
        move |event| {
            if let Ok(event) = &event {
                book.on_namespace_event(event);
            }
            futures::future::ready(())
        }
    });
    DomainWatches {
        book,
        store,
        triggers,
        reflectors: Box::pin(async move {
            futures::future::join(domains, namespaces).await;
        }),
    }
}

/// The domain controller, triggered by the book only (see `controller::domain`); runs until
/// `shutdown`.
pub(super) fn run_domain_controller(
    store: Store<ChittyDomain>,
    triggers: UnboundedReceiver<ObjectRef<ChittyDomain>>,
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> {
    Controller::for_shared_stream(futures::stream::pending::<Arc<ChittyDomain>>(), store)
        .reconcile_on(triggers)
        .graceful_shutdown_on(shutdown)
        .run(
            controller::resetting_backoff(domain::reconcile),
            controller::error_policy(domain::NAME),
            ctx,
        )
        .for_each(|_| futures::future::ready(()))
}
