//! A cached object kept small: its metadata as a struct (what stores, owner triggers and label
//! lookups read), the rest as the JSON text the API server sent, squeezed against the first
//! object of its kind (see `squeezed`), decoded only when a reconcile reads it.
//!
//! k8s-openapi's structs reserve room for every optional field: a decoded Deployment takes about
//! 15 KB of heap for 3 KB of JSON, and the operator caches one per service, read once per
//! reconcile of that service. Packed as JSON text, the same Deployment took 4 KB; squeezed,
//! its text takes a few hundred bytes and the metadata struct is most of what is left.

use std::marker::PhantomData;

use kube::Resource;
use kube::core::ObjectMeta;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::squeezed::Squeezed;

/// `K` as cached: see the module's header.
pub struct Packed<K> {
    metadata: ObjectMeta,
    /// The rest of the object as JSON text: all but its metadata, except the annotations (no
    /// trigger reads them, so they wait here). Checked to decode as `K` when it arrived.
    rest: Squeezed,
    kind: PhantomData<fn() -> K>,
}

/// Removes the metadata no controller reads: managed fields and kubectl's last-applied copy are
/// often larger than the rest of the object.
pub fn strip_unread(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
}

/// Where client-side `kubectl apply` keeps a copy of the whole object.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

impl<K> Packed<K>
where
    K: Resource + DeserializeOwned + 'static,
{
    /// Packs a whole object's JSON, after checking it decodes as `K`: what decodes once decodes
    /// again, so reading it back cannot fail.
    pub fn pack(mut object: Map<String, Value>) -> Result<Self, serde_json::Error> {
        let mut metadata = match object.remove("metadata") {
            Some(meta) => ObjectMeta::deserialize(meta)?,
            None => ObjectMeta::default(),
        };
        strip_unread(&mut metadata);
        if let Some(annotations) = metadata.annotations.take() {
            object.insert(
                "metadata".into(),
                serde_json::json!({ "annotations": annotations }),
            );
        }
        let rest = serde_json::to_vec(&object)?;
        let packed = Self {
            metadata,
            rest: Squeezed::new(std::any::TypeId::of::<K>(), &rest),
            kind: PhantomData,
        };
        packed.unpack()?;
        Ok(packed)
    }

    /// The whole object, decoded.
    pub fn unpack(&self) -> Result<K, serde_json::Error> {
        let mut object: Map<String, Value> = serde_json::from_slice(&self.rest.text())?;
        let mut metadata = serde_json::to_value(&self.metadata)?;
        if let Some(Value::Object(kept)) = object.remove("metadata")
            && let Some(annotations) = kept.get("annotations")
        {
            metadata["annotations"] = annotations.clone();
        }
        object.insert("metadata".into(), metadata);
        K::deserialize(Value::Object(object))
    }

    /// A projection of the object: `T` names the few fields it wants (below the top level, as
    /// `status.phase`) and everything else is skipped unread. For scans that must not decode
    /// each whole object. `None` if the projection does not fit what was stored.
    pub fn peek<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.rest.text()).ok()
    }

    /// The whole object, decoded; for reconciles, which report a failure as their error.
    pub fn object(&self) -> crate::Result<K> {
        Ok(self.unpack()?)
    }
}

impl<K: Resource + serde::Serialize + 'static> Packed<K> {
    /// Packs a typed object (tests, and objects just applied).
    pub fn of(object: &K) -> Self
    where
        K: DeserializeOwned,
    {
        let Ok(Value::Object(map)) = serde_json::to_value(object) else {
            unreachable!("a Kubernetes object serializes to a JSON object")
        };
        Self::pack(map).expect("an object that serialized decodes again")
    }
}

impl<'de, K> Deserialize<'de> for Packed<K>
where
    K: Resource + DeserializeOwned + 'static,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let object = Map::<String, Value>::deserialize(deserializer)?;
        Self::pack(object).map_err(D::Error::custom)
    }
}

impl<K> Clone for Packed<K> {
    fn clone(&self) -> Self {
        Self {
            metadata: self.metadata.clone(),
            rest: self.rest.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Packed<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packed")
            .field("metadata", &self.metadata)
            .field("rest", &self.rest)
            .finish()
    }
}

impl<K> Resource for Packed<K>
where
    K: Resource<DynamicType = ()>,
{
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> std::borrow::Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> std::borrow::Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> std::borrow::Cow<'_, str> {
        K::version(dt)
    }
    fn plural(dt: &()) -> std::borrow::Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "api", "namespace": "a", "uid": "u1", "resourceVersion": "7",
                "generation": 3, "labels": {"app": "api"},
                "annotations": {
                    "chitty.cc/revision": "r1",
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"big\":true}"
                },
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
                "ownerReferences": [{"apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
                                     "name": "api", "uid": "s1", "controller": true}]
            },
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}},
                     "template": {"metadata": {"labels": {"app": "api"}},
                                  "spec": {"containers": [{"name": "app", "image": "r/api:1"}]}}},
            "status": {"availableReplicas": 2, "observedGeneration": 3}
        })
    }

    #[test]
    fn unpacks_to_the_object_without_what_no_one_reads() {
        let packed: Packed<Deployment> = serde_json::from_value(deployment()).unwrap();
        let mut expected: Deployment = serde_json::from_value(deployment()).unwrap();
        strip_unread(&mut expected.metadata);
        assert_eq!(packed.unpack().unwrap(), expected);
        assert_eq!(
            expected
                .metadata
                .annotations
                .unwrap()
                .get("chitty.cc/revision"),
            Some(&"r1".to_string())
        );
    }

    #[test]
    fn the_metadata_triggers_read_is_at_hand() {
        let packed: Packed<Deployment> = serde_json::from_value(deployment()).unwrap();
        assert_eq!(packed.meta().labels.as_ref().unwrap()["app"], "api");
        assert_eq!(
            packed.meta().owner_references.as_ref().unwrap()[0].uid,
            "s1"
        );
        assert_eq!(packed.meta().generation, Some(3));
        assert_eq!(Packed::<Deployment>::kind(&()), "Deployment");
        assert_eq!(Packed::<Deployment>::plural(&()), "deployments");
    }

    #[test]
    fn an_object_that_is_not_a_k_is_refused_when_it_arrives() {
        let mut bad = deployment();
        bad["spec"]["replicas"] = json!("two");
        let error = serde_json::from_value::<Packed<Deployment>>(bad).unwrap_err();
        assert!(error.to_string().contains("invalid type"), "{error}");
    }

    #[test]
    fn of_round_trips_a_typed_object() {
        let typed: Deployment = serde_json::from_value(deployment()).unwrap();
        let mut expected = typed.clone();
        strip_unread(&mut expected.metadata);
        assert_eq!(Packed::of(&typed).unpack().unwrap(), expected);
    }
}
