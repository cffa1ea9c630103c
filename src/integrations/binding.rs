//! Whose a ChittyRegistry record is. `status.chittyId` is a field anyone who may write the
//! service's status can set; the registry record is keyed by it. So before the operator writes or
//! retires a record, it reads the record and checks that it belongs to this very service (the UID
//! it was registered under): a service that claims another's ChittyID changes nothing of the
//! other's record.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use kube::ResourceExt;

use crate::api::ChittyService;
use crate::clients::{RegistryError, RegistryRecord, ServiceRegistry, StoredRecord};

/// The record metadata key that binds a record to the ChittyService it was registered for.
pub const SERVICE_UID: &str = "serviceUid";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// No record under this ID yet: registering it makes it this service's.
    Free,
    /// The record is this service's.
    Ours,
    /// The record belongs to another service; the words say whose.
    Theirs(String),
}

/// Whose `stored` is, seen from `service`.
pub fn binding(stored: Option<&StoredRecord>, service: &ChittyService) -> Binding {
    let Some(stored) = stored else {
        return Binding::Free;
    };
    let record = &stored.record;
    let text = |key: &str| record.metadata.get(key).and_then(|v| v.as_str());
    let namespace = service.namespace().unwrap_or_default();
    let same_uid = match (text(SERVICE_UID), service.uid()) {
        (Some(theirs), Some(ours)) => Some(theirs == ours),
        _ => None,
    };
    // A record written before records carried the UID is this service's if its name and
    // namespace are; the next write adds the UID.
    let same_place = record.name == service.name_any() && text("namespace") == Some(&namespace);
    if same_uid.unwrap_or(same_place) {
        return Binding::Ours;
    }
    let whose = match (text("namespace"), record.name.as_str()) {
        (Some(ns), name) => format!("service {name} in namespace {ns}"),
        (None, name) => format!("service {name}"),
    };
    Binding::Theirs(format!(
        "ChittyRegistry record {} belongs to {whose}, not to this service; nothing was written to it",
        record.chitty_id
    ))
}

/// The ChittyIDs this operator knows to be a service's own: minted for it, or registered or
/// found registered under its UID. A write for a known pair needs no read of the registry first,
/// so a steady service costs one call per change, not two. In memory only: after a restart, the
/// first write of each service reads the record once.
#[derive(Default)]
pub struct KnownBindings(Mutex<HashMap<String, String>>);

/// Past this many IDs the memory starts afresh; each service then costs one read again.
const KNOWN_BINDINGS: usize = 100_000;

impl KnownBindings {
    /// `chitty_id` is the service with `uid`'s own.
    pub fn remember(&self, chitty_id: &str, service: &ChittyService) {
        let Some(uid) = service.uid() else { return };
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= KNOWN_BINDINGS && !map.contains_key(chitty_id) {
            map.clear();
        }
        map.insert(chitty_id.to_string(), uid);
    }

    fn owner(&self, chitty_id: &str) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(chitty_id).cloned()
    }
}

/// Says whose the record under `chitty_id` is: from memory when this operator knows, else by
/// reading the record.
pub async fn binding_of(
    registry: &dyn ServiceRegistry,
    known: &KnownBindings,
    service: &ChittyService,
    chitty_id: &str,
) -> Result<Binding, RegistryError> {
    if let (Some(owner), Some(uid)) = (known.owner(chitty_id), service.uid())
        && owner == uid
    {
        return Ok(Binding::Ours);
    }
    let stored = registry.get(chitty_id).await?;
    let found = binding(stored.as_ref(), service);
    if found == Binding::Ours {
        known.remember(chitty_id, service);
    }
    Ok(found)
}

/// Binds a record about to be written to `service`.
pub fn bind(record: &mut RegistryRecord, service: &ChittyService) {
    if let Some(uid) = service.uid() {
        record
            .metadata
            .insert(SERVICE_UID.into(), serde_json::Value::String(uid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, ns: &str, uid: &str) -> ChittyService {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": name, "namespace": ns, "uid": uid},
            "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                     "source": {"image": "registry.local/x:1"}}
        }))
        .unwrap()
    }

    fn stored(name: &str, metadata: serde_json::Value) -> StoredRecord {
        serde_json::from_value(serde_json::json!({
            "chitty_id": "03-1-USA-0955-T-2605-1-37", "name": name, "metadata": metadata
        }))
        .unwrap()
    }

    #[test]
    fn a_record_is_ours_by_uid_and_theirs_otherwise() {
        let web = service("web", "shop", "u-1");
        let ours = stored(
            "web",
            serde_json::json!({"namespace": "shop", "serviceUid": "u-1"}),
        );
        assert_eq!(binding(Some(&ours), &web), Binding::Ours);
        assert_eq!(binding(None, &web), Binding::Free);
        let theirs = stored(
            "pay",
            serde_json::json!({"namespace": "bank", "serviceUid": "u-9"}),
        );
        match binding(Some(&theirs), &web) {
            Binding::Theirs(words) => assert!(
                words.contains("belongs to service pay in namespace bank"),
                "{words}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_same_named_successor_is_not_its_predecessor() {
        let reborn = service("web", "shop", "u-2");
        let old = stored(
            "web",
            serde_json::json!({"namespace": "shop", "serviceUid": "u-1"}),
        );
        assert!(matches!(binding(Some(&old), &reborn), Binding::Theirs(_)));
    }

    #[test]
    fn a_record_from_before_uids_is_matched_by_name_and_namespace() {
        let web = service("web", "shop", "u-1");
        let legacy = stored("web", serde_json::json!({"namespace": "shop"}));
        assert_eq!(binding(Some(&legacy), &web), Binding::Ours);
        let elsewhere = stored("web", serde_json::json!({"namespace": "other"}));
        assert!(matches!(
            binding(Some(&elsewhere), &web),
            Binding::Theirs(_)
        ));
    }
}
