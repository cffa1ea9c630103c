//! The watch on the operator's HTTPRoutes, in gateway mode only: in Ingress mode the Gateway API
//! CRDs need not be installed, and a watch on a missing kind would fail forever, so there is none.

use futures::FutureExt;
use futures::future::BoxFuture;
use kube::Client;
use kube::runtime::reflector::{self, ObjectRef, ReflectHandle, Store};
use kube::runtime::watcher;

use super::reflectors::{api, deletions, owned_reflector, subscribe};
use super::triggers::owning_service;
use crate::api::ChittyService;
use crate::config::OperatorConfig;
use crate::workload::gateway_api::HTTPRoute;

pub(super) struct HttpRouteWatch {
    pub store: Store<HTTPRoute>,
    /// Every change of one of the operator's HTTPRoutes (its status included: the Gateway's
    /// verdict is mirrored onto the service); `None` in Ingress mode.
    pub changes: Option<ReflectHandle<HTTPRoute>>,
    /// The services whose HTTPRoute was deleted.
    pub gone: futures::channel::mpsc::UnboundedReceiver<ObjectRef<ChittyService>>,
    pub reflector: BoxFuture<'static, ()>,
    /// Resolves once the store has its first list (at once in Ingress mode); `false` if it never will.
    pub ready: BoxFuture<'static, bool>,
}

pub(super) fn watch_httproutes(
    client: &Client,
    config: &OperatorConfig,
    ours: watcher::Config,
    buffer: usize,
) -> HttpRouteWatch {
    let (store, writer) = reflector::store_shared::<HTTPRoute>(buffer);
    let (gone_sink, gone) = deletions(owning_service::<HTTPRoute>);
    if config.routing.gateway_backend().is_none() {
        return HttpRouteWatch {
            store,
            changes: None,
            gone,
            reflector: futures::future::ready(()).boxed(),
            ready: futures::future::ready(true).boxed(),
        };
    }
    let changes = Some(subscribe(&writer));
    let reflector = owned_reflector(
        api::<HTTPRoute>(client, config),
        ours,
        writer,
        vec![gone_sink],
    );
    let ready = {
        let store = store.clone();
        async move { store.wait_until_ready().await.is_ok() }.boxed()
    };
    HttpRouteWatch {
        store,
        changes,
        gone,
        reflector: reflector.boxed(),
        ready,
    }
}
