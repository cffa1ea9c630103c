//! Reading one object from the API server without letting one odd field stop the rest.
//!
//! The apiserver does not enforce every detail of a CRD's schema: `format: int32` is not checked,
//! so `kubectl patch --subresource=status` can store `99999999999` where the types hold an `i32`.
//! Decoded strictly, such an object fails a whole list (a watch never gets past its first list)
//! or drops every later change of it. So each object is decoded on its own, and a status field
//! that does not decode is left out: the operator is the status's only writer, so it rewrites
//! what it left out. The spec is the user's and is checked by the schema at admission; an object
//! whose spec still does not decode is set aside and reported, never guessed at. Pure.

use kube::core::object::HasStatus;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A status field left out because it did not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedField {
    /// The field's name under `status` (`replicas`), or empty when the status as a whole was
    /// not an object the types can read.
    pub field: String,
    /// What serde said about it.
    pub error: String,
}

impl DroppedField {
    /// `status.replicas`, as a person writes the field.
    pub fn path(&self) -> String {
        if self.field.is_empty() {
            "status".into()
        } else {
            format!("status.{}", self.field)
        }
    }
}

/// How one object decoded.
#[derive(Debug)]
pub enum Decoded<K> {
    /// The object, without the status fields in `dropped` (empty when it decoded whole).
    Read {
        object: K,
        dropped: Vec<DroppedField>,
    },
    /// Even without its status the object does not decode: its spec or metadata is odd.
    Unreadable { error: String },
}

/// Decodes `value` as `K`, leaving out the status fields that do not decode.
pub fn decode<K>(mut value: Value) -> Decoded<K>
where
    K: DeserializeOwned + HasStatus,
    K::Status: DeserializeOwned,
{
    let whole_error = match K::deserialize(&value) {
        Ok(object) => {
            return Decoded::Read {
                object,
                dropped: vec![],
            };
        }
        Err(error) => error.to_string(),
    };
    let status = value.as_object_mut().and_then(|o| o.remove("status"));
    let mut object = match K::deserialize(&value) {
        Ok(object) => object,
        Err(error) => {
            return Decoded::Unreadable {
                error: error.to_string(),
            };
        }
    };
    let (status, dropped) = match status {
        Some(Value::Object(fields)) => salvage::<K::Status>(fields),
        // The object failed whole but reads without a status that is not an object (or is
        // absent, which cannot fail): the status as a whole is what did not decode.
        _ => (
            None,
            vec![DroppedField {
                field: String::new(),
                error: whole_error,
            }],
        ),
    };
    *object.status_mut() = status;
    Decoded::Read { object, dropped }
}

/// The status from the fields that decode on their own; the others, with why.
fn salvage<S: DeserializeOwned>(fields: Map<String, Value>) -> (Option<S>, Vec<DroppedField>) {
    let mut kept = Map::new();
    let mut dropped = Vec::new();
    for (field, value) in fields {
        let alone = Value::Object(Map::from_iter([(field.clone(), value)]));
        match S::deserialize(&alone) {
            Ok(_) => {
                let Value::Object(alone) = alone else {
                    unreachable!("built as an object")
                };
                kept.extend(alone);
            }
            Err(error) => dropped.push(DroppedField {
                field,
                error: error.to_string(),
            }),
        }
    }
    let kept_names: Vec<String> = kept.keys().cloned().collect();
    match S::deserialize(&Value::Object(kept)) {
        Ok(status) => (Some(status), dropped),
        // Fields that read alone but not together: the status is left out whole.
        Err(error) => {
            dropped.extend(kept_names.into_iter().map(|field| DroppedField {
                field,
                error: error.to_string(),
            }));
            (None, dropped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ChittyService, RouteClaim};
    use serde_json::json;

    fn service(status: Value) -> Value {
        json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "odd", "namespace": "a"},
            "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                     "source": {"image": "r/odd:1"}},
            "status": status,
        })
    }

    fn read<K: std::fmt::Debug>(decoded: Decoded<K>) -> (K, Vec<DroppedField>) {
        match decoded {
            Decoded::Read { object, dropped } => (object, dropped),
            other => panic!("should read: {other:?}"),
        }
    }

    #[test]
    fn a_sound_object_decodes_whole() {
        let (svc, dropped) = read(decode::<ChittyService>(service(
            json!({"chittyId": "01-A", "replicas": 3}),
        )));
        assert!(dropped.is_empty());
        assert_eq!(svc.status.unwrap().replicas, Some(3));
    }

    #[test]
    fn an_out_of_range_status_integer_is_left_out_and_the_rest_kept() {
        let (svc, dropped) = read(decode::<ChittyService>(service(json!({
            "chittyId": "01-KEEP", "replicas": 99_999_999_999_i64, "phase": "Ready"
        }))));
        let status = svc.status.expect("the rest of the status is kept");
        // The ChittyID is minted once, ever: it must survive its neighbour's oddity.
        assert_eq!(status.chitty_id.as_deref(), Some("01-KEEP"));
        assert_eq!(status.replicas, None);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].path(), "status.replicas");
        assert!(dropped[0].error.contains("99999999999"), "{:?}", dropped[0]);
    }

    #[test]
    fn a_nested_odd_value_drops_its_top_level_field() {
        let (svc, dropped) = read(decode::<ChittyService>(service(json!({
            "url": "http://x", "deployments": {"total": 1e20}
        }))));
        assert_eq!(svc.status.unwrap().url.as_deref(), Some("http://x"));
        assert_eq!(dropped[0].path(), "status.deployments");
    }

    #[test]
    fn a_status_that_is_not_an_object_is_left_out_whole() {
        let (svc, dropped) = read(decode::<ChittyService>(service(json!("odd"))));
        assert!(svc.status.is_none());
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].path(), "status");
    }

    #[test]
    fn an_odd_spec_is_unreadable() {
        let mut value = service(json!({}));
        value["spec"]["replicas"] = json!(99_999_999_999_i64);
        assert!(matches!(
            decode::<ChittyService>(value),
            Decoded::Unreadable { error } if error.contains("99999999999")
        ));
    }

    #[test]
    fn a_claim_with_an_odd_condition_keeps_its_holder() {
        let value = json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "RouteClaim",
            "metadata": {"name": "c", "namespace": "a"},
            "spec": {"host": "a.chitty.cc", "serviceRef": {"name": "s"}},
            "status": {"holder": "a/c", "observedGeneration": 1,
                       "conditions": [{"type": "Accepted", "status": 7}]},
        });
        let (claim, dropped) = read(decode::<RouteClaim>(value));
        assert_eq!(claim.status.unwrap().holder.as_deref(), Some("a/c"));
        assert_eq!(dropped[0].path(), "status.conditions");
    }
}
