//! What happens to an object that did not decode whole (see `tolerant`): it is logged with its
//! namespace, name and serde's words, counted in `chitty_decode_failures_total{kind}`, and
//! recorded as a Warning Event on the object itself, where `kubectl describe` shows it.
//!
//! A status field that did not decode is removed from the stored object. Leaving it out of the
//! cache alone would not do: the operator writes status with server-side apply, which changes
//! only the fields it sets, so a field it does not set (or that another manager took over with
//! a patch) would stay odd forever. The removal is conditional on the resourceVersion that was
//! seen, so it never removes a value someone wrote since; the watch event it causes brings the
//! object back whole, and its controller rewrites the status (it is the status's only writer).

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Client};
use serde_json::{Map, Value, json};

use super::tolerant::{OddObject, Problem};
use crate::api::conditions::events as reasons;
use crate::api::limits;
use crate::labels::FIELD_MANAGER;
use crate::metrics::{KindLabel, Metrics};

/// Longest Event note: the Events API refuses notes over 1 KiB.
const NOTE_CHARS: usize = 900;

/// Handles the odd objects the watches report, one at a time, until the watches stop.
pub(super) async fn handle(
    odd: UnboundedReceiver<OddObject>,
    client: Client,
    metrics: std::sync::Arc<Metrics>,
) {
    let recorder = crate::controller::events::Publisher::recorder(client.clone());
    odd.for_each(|object| {
        let (client, recorder, metrics) = (&client, &recorder, &metrics);
        async move {
            metrics
                .decode_failures
                .get_or_create(&KindLabel {
                    kind: object.resource.kind.clone(),
                })
                .inc();
            let (reason, note) = describe(&object);
            tracing::warn!(
                kind = %object.resource.kind,
                namespace = object.namespace.as_deref().unwrap_or(""),
                name = %object.name,
                problem = %note,
                "an object did not decode whole"
            );
            if let Some(patch) = removal(&object) {
                remove_fields(client, &object, patch).await;
            }
            let event = Event {
                type_: EventType::Warning,
                reason: reason.into(),
                note: Some(limits::cut(&note, NOTE_CHARS)),
                action: reason.into(),
                secondary: None,
            };
            if let Err(error) = recorder.publish(&event, &reference(&object)).await {
                tracing::debug!(%error, "could not record the decode failure event");
            }
        }
    })
    .await
}

/// The Event's reason and note, in words.
fn describe(object: &OddObject) -> (&'static str, String) {
    match &object.problem {
        Problem::Status(dropped) => {
            let fields: Vec<String> = dropped
                .iter()
                .map(|d| format!("{} ({})", d.path(), d.error))
                .collect();
            (
                reasons::UNDECODABLE_STATUS,
                format!(
                    "status fields that do not decode were removed and the status is rewritten: {}",
                    limits::listed(&fields, "; ", limits::NAMES_LISTED)
                ),
            )
        }
        Problem::Unreadable(error) => (
            reasons::UNREADABLE_OBJECT,
            format!(
                "the object does not decode, so the operator acts on the last version it could \
                 read, if any, until it is fixed: {error}"
            ),
        ),
    }
}

/// The JSON merge patch that removes the odd status fields, on the resourceVersion seen; none for
/// an object the operator cannot read (its spec is the user's to fix). Pure.
fn removal(object: &OddObject) -> Option<Value> {
    let Problem::Status(dropped) = &object.problem else {
        return None;
    };
    let status = if dropped.iter().any(|d| d.field.is_empty()) {
        Value::Null
    } else {
        Value::Object(Map::from_iter(
            dropped.iter().map(|d| (d.field.clone(), Value::Null)),
        ))
    };
    Some(json!({
        "metadata": {"resourceVersion": object.resource_version},
        "status": status,
    }))
}

async fn remove_fields(client: &Client, object: &OddObject, patch: Value) {
    let api: Api<DynamicObject> = match &object.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &object.resource),
        None => Api::all_with(client.clone(), &object.resource),
    };
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    // A conflict means the object changed since: its new version is decoded (and reported) anew.
    if let Err(error) = api
        .patch_status(&object.name, &params, &Patch::Merge(&patch))
        .await
    {
        tracing::debug!(%error, name = %object.name, "could not remove the odd status fields");
    }
}

fn reference(object: &OddObject) -> ObjectReference {
    ObjectReference {
        api_version: Some(object.resource.api_version.clone()),
        kind: Some(object.resource.kind.clone()),
        namespace: object.namespace.clone(),
        name: Some(object.name.clone()),
        uid: object.uid.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ChittyService;
    use crate::api::decode::DroppedField;

    fn odd(problem: Problem) -> OddObject {
        OddObject {
            resource: kube::api::ApiResource::erase::<ChittyService>(&()),
            namespace: Some("a".into()),
            name: "odd".into(),
            uid: Some("u-1".into()),
            resource_version: Some("42".into()),
            problem,
        }
    }

    fn dropped(field: &str) -> DroppedField {
        DroppedField {
            field: field.into(),
            error: "invalid value: integer `99999999999`, expected i32".into(),
        }
    }

    #[test]
    fn odd_status_fields_are_removed_on_the_version_seen() {
        let patch = removal(&odd(Problem::Status(vec![
            dropped("replicas"),
            dropped("deployments"),
        ])));
        assert_eq!(
            patch,
            Some(json!({
                "metadata": {"resourceVersion": "42"},
                "status": {"replicas": null, "deployments": null},
            }))
        );
    }

    #[test]
    fn a_status_odd_as_a_whole_is_removed_whole() {
        let patch = removal(&odd(Problem::Status(vec![dropped("")]))).unwrap();
        assert_eq!(patch["status"], Value::Null);
    }

    #[test]
    fn an_unreadable_spec_is_never_touched() {
        assert_eq!(removal(&odd(Problem::Unreadable("spec".into()))), None);
    }

    #[test]
    fn the_event_names_the_field_and_the_error() {
        let (reason, note) = describe(&odd(Problem::Status(vec![dropped("replicas")])));
        assert_eq!(reason, reasons::UNDECODABLE_STATUS);
        assert!(note.contains("status.replicas (invalid value: integer `99999999999`"));
        let reference = reference(&odd(Problem::Unreadable("x".into())));
        assert_eq!(reference.kind.as_deref(), Some("ChittyService"));
        assert_eq!(reference.uid.as_deref(), Some("u-1"));
    }
}
