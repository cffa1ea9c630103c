//! Watches of the operator's own kinds that no single odd object can stop.
//!
//! kube's watcher decodes a list as a whole: one ChittyService whose status holds an integer
//! beyond `i32` fails the list, the watcher backs off and lists again, forever, and the cache never
//! fills (every service stalls). In a watch, the same object's event fails alone and is dropped,
//! so its later changes never arrive. So these watches read raw objects (`DynamicObject`, which
//! any JSON object is) and decode each one apart (`api::decode`): an odd status field is left
//! out and reported, so it is repaired (`odd_objects`); an object that does not decode even
//! without its status is set aside and reported, and the last version the operator could read of
//! it stays in the cache, as if its change had not arrived yet.

use futures::channel::mpsc::UnboundedSender;
use futures::{Stream, StreamExt};
use kube::api::{ApiResource, DynamicObject};
use kube::core::object::HasStatus;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::api::decode::{Decoded, DroppedField, decode};
use crate::config::OperatorConfig;
use crate::controller::packed::{Packed, strip_unread};

/// An object that did not decode whole, as seen in one watch event.
#[derive(Clone, Debug)]
pub(super) struct OddObject {
    pub resource: ApiResource,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub problem: Problem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Problem {
    /// These status fields were left out; the operator removes them and rewrites the status.
    Status(Vec<DroppedField>),
    /// The object does not decode even without its status (its spec); it is set aside.
    Unreadable(String),
}

/// Where the watches send the odd objects they meet.
pub(super) type OddObjects = UnboundedSender<OddObject>;

/// Where a watch finds the last version of an object that it could read: the store it fills,
/// whether that keeps `K` itself or packed.
pub(super) trait LastRead<K: Resource<DynamicType = ()>>: Send + 'static {
    fn last_read(&self, key: &ObjectRef<K>) -> Option<K>;
}

impl<K> LastRead<K> for Store<K>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    fn last_read(&self, key: &ObjectRef<K>) -> Option<K> {
        self.get(key).map(|k| (*k).clone())
    }
}

impl<K> LastRead<K> for Store<Packed<K>>
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Send + Sync + 'static,
{
    fn last_read(&self, key: &ObjectRef<K>) -> Option<K> {
        let mut packed = ObjectRef::<Packed<K>>::new(&key.name);
        packed.namespace.clone_from(&key.namespace);
        self.get(&packed)?.unpack().ok()
    }
}

/// The watch's objects packed for the cache (see `controller::packed`).
pub(super) fn packed<K>(
    events: impl Stream<Item = watcher::Result<Event<K>>> + Send + 'static,
) -> impl Stream<Item = watcher::Result<Event<Packed<K>>>> + Send + 'static
where
    K: Resource<DynamicType = ()> + serde::Serialize + DeserializeOwned + 'static,
{
    events.map(|event| {
        event.map(|event| match event {
            Event::Init => Event::Init,
            Event::InitDone => Event::InitDone,
            Event::InitApply(k) => Event::InitApply(Packed::of(&k)),
            Event::Apply(k) => Event::Apply(Packed::of(&k)),
            Event::Delete(k) => Event::Delete(Packed::of(&k)),
        })
    })
}

/// A watch of `K` in the operator's scope that decodes each object apart; `cache` is the store
/// this watch fills, read to name a deleted object that no longer decodes.
pub(super) fn tolerant_watcher<K>(
    client: &Client,
    config: &OperatorConfig,
    watch: watcher::Config,
    cache: impl LastRead<K>,
    odd: OddObjects,
) -> impl Stream<Item = watcher::Result<Event<K>>> + Send + 'static
where
    K: Resource<DynamicType = ()> + HasStatus + DeserializeOwned + Clone + Send + Sync + 'static,
    K::Status: DeserializeOwned,
{
    let resource = ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = match &config.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    watcher(api, watch).filter_map(move |event| {
        let event = match event {
            Ok(event) => typed(event, &resource, &cache, &odd).map(Ok),
            Err(error) => Some(Err(error)),
        };
        futures::future::ready(event)
    })
}

/// The typed event, or none when its object had to be set aside.
fn typed<K>(
    event: Event<DynamicObject>,
    resource: &ApiResource,
    cache: &impl LastRead<K>,
    odd: &OddObjects,
) -> Option<Event<K>>
where
    K: Resource<DynamicType = ()> + HasStatus + DeserializeOwned + Clone,
    K::Status: DeserializeOwned,
{
    match event {
        Event::Init => Some(Event::Init),
        Event::InitDone => Some(Event::InitDone),
        Event::InitApply(obj) => read(obj, resource, odd).map(Event::InitApply),
        Event::Apply(obj) => read(obj, resource, odd).map(Event::Apply),
        // A deletion is never set aside: an object gone must leave the cache. Nothing is left to
        // repair, so an odd one is not reported; the cache names it when it does not decode.
        Event::Delete(obj) => {
            let mut key = ObjectRef::<K>::new(&obj.name_any());
            if let Some(ns) = obj.namespace() {
                key = key.within(&ns);
            }
            match decode::<K>(to_value(obj)) {
                Decoded::Read { object, .. } => Some(Event::Delete(object)),
                Decoded::Unreadable { .. } => cache.last_read(&key).map(Event::Delete),
            }
        }
    }
}

/// Decodes one object, reporting what did not decode. What no reconcile reads is dropped before
/// it is cached: managed fields and kubectl's last-applied copy are often larger than the rest.
fn read<K>(mut obj: DynamicObject, resource: &ApiResource, odd: &OddObjects) -> Option<K>
where
    K: HasStatus + DeserializeOwned,
    K::Status: DeserializeOwned,
{
    strip_unread(&mut obj.metadata);
    let meta = &obj.metadata;
    let report = |problem| {
        // The receiver goes only when the controllers stop; nothing is left to repair then.
        let _ = odd.unbounded_send(OddObject {
            resource: resource.clone(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
            problem,
        });
    };
    match decode::<K>(to_value(obj.clone())) {
        Decoded::Read { object, dropped } => {
            if !dropped.is_empty() {
                report(Problem::Status(dropped));
            }
            Some(object)
        }
        Decoded::Unreadable { error } => {
            report(Problem::Unreadable(error));
            None
        }
    }
}

fn to_value(obj: DynamicObject) -> serde_json::Value {
    serde_json::to_value(obj).expect("a DynamicObject serializes: it came from JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ChittyService;
    use serde_json::json;

    fn raw(replicas: serde_json::Value, spec_replicas: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "odd", "namespace": "a", "resourceVersion": "7"},
            "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                     "source": {"image": "r/odd:1"}, "replicas": spec_replicas},
            "status": {"chittyId": "01-KEEP", "replicas": replicas},
        }))
        .unwrap()
    }

    fn channel() -> (
        OddObjects,
        futures::channel::mpsc::UnboundedReceiver<OddObject>,
    ) {
        futures::channel::mpsc::unbounded()
    }

    fn resource() -> ApiResource {
        ApiResource::erase::<ChittyService>(&())
    }

    #[test]
    fn an_odd_status_is_read_around_and_reported() {
        let (tx, mut rx) = channel();
        let cache: Store<ChittyService> =
            kube::runtime::reflector::store::Writer::default().as_reader();
        let event = typed::<ChittyService>(
            Event::Apply(raw(json!(99_999_999_999_i64), json!(1))),
            &resource(),
            &cache,
            &tx,
        );
        let Some(Event::Apply(svc)) = event else {
            panic!("the object is read: {event:?}");
        };
        assert_eq!(svc.status.unwrap().chitty_id.as_deref(), Some("01-KEEP"));
        let odd = rx.try_recv().unwrap();
        assert_eq!(
            (odd.name.as_str(), odd.namespace.as_deref()),
            ("odd", Some("a"))
        );
        assert_eq!(odd.resource_version.as_deref(), Some("7"));
        assert!(matches!(&odd.problem, Problem::Status(d) if d[0].path() == "status.replicas"));
    }

    #[test]
    fn an_unreadable_object_is_set_aside_in_the_list_and_reported() {
        let (tx, mut rx) = channel();
        let cache: Store<ChittyService> =
            kube::runtime::reflector::store::Writer::default().as_reader();
        let event = typed::<ChittyService>(
            Event::InitApply(raw(json!(1), json!(99_999_999_999_i64))),
            &resource(),
            &cache,
            &tx,
        );
        assert!(event.is_none());
        assert!(matches!(
            rx.try_recv().unwrap().problem,
            Problem::Unreadable(_)
        ));
    }

    #[test]
    fn an_unreadable_deletion_removes_the_cached_version() {
        let (tx, mut rx) = channel();
        let mut writer = kube::runtime::reflector::store::Writer::<ChittyService>::default();
        let cached: ChittyService = match decode(to_value(raw(json!(1), json!(1)))) {
            Decoded::Read { object, .. } => object,
            Decoded::Unreadable { error } => panic!("{error}"),
        };
        writer.apply_watcher_event(&Event::Apply(cached.clone()));
        let event = typed::<ChittyService>(
            Event::Delete(raw(json!(1), json!(99_999_999_999_i64))),
            &resource(),
            &writer.as_reader(),
            &tx,
        );
        assert!(matches!(event, Some(Event::Delete(svc)) if svc == cached));
        assert!(rx.try_recv().is_err(), "nothing is reported for a deletion");
    }
}
