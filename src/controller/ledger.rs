//! The status writes this operator made and its caches have not shown yet.
//!
//! A reconcile can be triggered (by a Deployment, a claim, a requeue) between our own status write
//! and the watch event that brings it back. The cache then still holds the version the write
//! replaced; a status computed from it would be refused by the write's resourceVersion
//! precondition, a wasted request, and the work before it (probes, applies) repeated for
//! nothing. The ledger lets a reconcile see that case and wait for the watch event instead, which
//! triggers a reconcile of its own.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use kube::ResourceExt;

/// Objects whose written version is not yet in the cache are few at any time; past this many
/// entries (objects deleted before their write was seen), the ledger starts afresh, which only
/// costs a possible conflict.
const MAX_ENTRIES: usize = 50_000;

#[derive(Default)]
pub struct WriteLedger(Mutex<HashMap<String, Written>>);

struct Written {
    /// The resourceVersion the write was conditional on.
    replaced: String,
}

impl WriteLedger {
    /// Remembers that our write replaced this version of the object (the one the cache held).
    pub fn record(&self, replaced: &impl ResourceExt) {
        let (Some(uid), Some(replaced)) = (replaced.uid(), replaced.resource_version()) else {
            return;
        };
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(uid, Written { replaced });
    }

    /// True while `cached` is still the version our last write replaced. Any other version
    /// (ours, or a newer one written by someone else) settles the entry.
    pub fn behind(&self, cached: &impl ResourceExt) -> bool {
        let Some(uid) = cached.uid() else {
            return false;
        };
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(&uid) {
            Some(w) if Some(&w.replaced) == cached.resource_version().as_ref() => true,
            Some(_) => {
                map.remove(&uid);
                false
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    fn object(uid: &str, rv: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                uid: Some(uid.into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn the_replaced_version_is_behind_until_a_newer_one_is_seen() {
        let ledger = WriteLedger::default();
        ledger.record(&object("a", "10"));
        assert!(ledger.behind(&object("a", "10")));
        assert!(ledger.behind(&object("a", "10")), "still behind");
        assert!(!ledger.behind(&object("a", "11")), "our write arrived");
        assert!(!ledger.behind(&object("a", "10")), "settled; forgotten");
    }

    #[test]
    fn other_objects_and_unwritten_ones_are_never_behind() {
        let ledger = WriteLedger::default();
        ledger.record(&object("a", "10"));
        assert!(!ledger.behind(&object("b", "10")));
        assert!(!ledger.behind(&ConfigMap::default()));
    }

    #[test]
    fn a_version_written_by_someone_else_settles_the_entry() {
        let ledger = WriteLedger::default();
        ledger.record(&object("a", "10"));
        assert!(!ledger.behind(&object("a", "12")));
    }
}
