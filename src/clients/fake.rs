//! In-memory fakes of the three services, for unit tests of the deploy pipeline. They behave
//! like the real ones where it matters (same key, same ID; upsert; idempotent retire) and can be
//! told to fail the next calls.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use futures::future::BoxFuture;

use super::chitty_id::format::Components;
use super::chitty_id::{ChittyId, IdentityAuthority, IdentityError, MintRequest, MintedId};
use super::notify::{NotificationEvent, NotificationSink, NotifyError};
use super::registry::{
    RegisterOutcome, RegistryError, RegistryRecord, RetireOutcome, ServiceRegistry, StoredRecord,
};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Default)]
struct IdState {
    by_key: BTreeMap<String, ChittyId>,
    next_sequence: u16,
    calls: u32,
    failures: VecDeque<IdentityError>,
}

/// Mints valid IDs (sequence 1, 2, ...; YYMM 2605); the same key always gets the same ID.
#[derive(Debug, Default)]
pub struct FakeIdentityAuthority {
    state: Mutex<IdState>,
}

impl FakeIdentityAuthority {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next call fails with `error` (queued; one per call).
    pub fn fail_next(&self, error: IdentityError) {
        lock(&self.state).failures.push_back(error);
    }

    /// Every call to `mint`, failed or not.
    pub fn calls(&self) -> u32 {
        lock(&self.state).calls
    }

    /// Distinct IDs minted.
    pub fn minted(&self) -> usize {
        lock(&self.state).by_key.len()
    }

    pub fn id_for_key(&self, key: &str) -> Option<ChittyId> {
        lock(&self.state).by_key.get(key).cloned()
    }
}

impl IdentityAuthority for FakeIdentityAuthority {
    fn mint<'a>(
        &'a self,
        request: &'a MintRequest,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<MintedId, IdentityError>> {
        let result = (|| {
            let mut s = lock(&self.state);
            s.calls += 1;
            if let Some(e) = s.failures.pop_front() {
                return Err(e);
            }
            if let Some(id) = s.by_key.get(idempotency_key) {
                return Ok(MintedId {
                    id: id.clone(),
                    minted_at: None,
                });
            }
            s.next_sequence += 1;
            let id = Components {
                version: 3,
                region: request.region.unwrap_or(1),
                jurisdiction: request.jurisdiction.clone().unwrap_or_else(|| "USA".into()),
                sequence: s.next_sequence,
                entity_type: request.entity_type,
                year: 26,
                month: 5,
                trust: request.trust.unwrap_or(0),
            }
            .mint()
            .map_err(|e| IdentityError::Rejected {
                status: 400,
                message: e.to_string(),
            })?;
            s.by_key.insert(idempotency_key.to_owned(), id.clone());
            Ok(MintedId {
                id,
                minted_at: None,
            })
        })();
        Box::pin(async move { result })
    }
}

#[derive(Debug, Default)]
struct RegistryState {
    records: BTreeMap<String, StoredRecord>,
    register_calls: u32,
    retire_calls: u32,
    failures: VecDeque<RegistryError>,
}

/// An upserting registry in memory.
#[derive(Debug, Default)]
pub struct FakeRegistry {
    state: Mutex<RegistryState>,
}

impl FakeRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next call (of any kind) fails with `error`.
    pub fn fail_next(&self, error: RegistryError) {
        lock(&self.state).failures.push_back(error);
    }

    pub fn record(&self, chitty_id: &str) -> Option<StoredRecord> {
        lock(&self.state).records.get(chitty_id).cloned()
    }

    pub fn len(&self) -> usize {
        lock(&self.state).records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn register_calls(&self) -> u32 {
        lock(&self.state).register_calls
    }

    pub fn retire_calls(&self) -> u32 {
        lock(&self.state).retire_calls
    }
}

impl ServiceRegistry for FakeRegistry {
    fn register<'a>(
        &'a self,
        record: &'a RegistryRecord,
    ) -> BoxFuture<'a, Result<RegisterOutcome, RegistryError>> {
        let mut s = lock(&self.state);
        s.register_calls += 1;
        let result = match s.failures.pop_front() {
            Some(e) => Err(e),
            None => {
                let previous = s.records.get(&record.chitty_id).cloned();
                let mut stored = StoredRecord {
                    record: record.clone(),
                    registered_at: Some("fake".into()),
                    updated_at: Some("fake".into()),
                    last_health_check: None,
                };
                let keep = |new: &Option<String>, old: Option<String>, default: &str| {
                    new.clone().or(old).or_else(|| Some(default.to_owned()))
                };
                let old = previous.as_ref().map(|p| &p.record);
                stored.record.status =
                    keep(&record.status, old.and_then(|o| o.status.clone()), "active");
                stored.record.health = keep(
                    &record.health,
                    old.and_then(|o| o.health.clone()),
                    "unknown",
                );
                s.records.insert(record.chitty_id.clone(), stored);
                Ok(if previous.is_some() {
                    RegisterOutcome::Updated
                } else {
                    RegisterOutcome::Created
                })
            }
        };
        Box::pin(async move { result })
    }

    fn get<'a>(
        &'a self,
        chitty_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredRecord>, RegistryError>> {
        let mut s = lock(&self.state);
        let result = match s.failures.pop_front() {
            Some(e) => Err(e),
            None => Ok(s.records.get(chitty_id).cloned()),
        };
        Box::pin(async move { result })
    }

    fn retire<'a>(
        &'a self,
        chitty_id: &'a str,
    ) -> BoxFuture<'a, Result<RetireOutcome, RegistryError>> {
        let mut s = lock(&self.state);
        s.retire_calls += 1;
        let result = match s.failures.pop_front() {
            Some(e) => Err(e),
            None => Ok(match s.records.remove(chitty_id) {
                Some(_) => RetireOutcome::Retired,
                None => RetireOutcome::AlreadyAbsent,
            }),
        };
        Box::pin(async move { result })
    }
}

#[derive(Debug, Default)]
struct SinkState {
    received: Vec<(String, NotificationEvent)>,
    failures: VecDeque<NotifyError>,
}

/// Records every delivery (duplicates included) with its idempotency key.
#[derive(Debug, Default)]
pub struct FakeNotificationSink {
    name: String,
    state: Mutex<SinkState>,
}

impl FakeNotificationSink {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            state: Mutex::default(),
        }
    }

    pub fn fail_next(&self, error: NotifyError) {
        lock(&self.state).failures.push_back(error);
    }

    /// `(idempotency key, event)` for each successful delivery, in order.
    pub fn received(&self) -> Vec<(String, NotificationEvent)> {
        lock(&self.state).received.clone()
    }
}

impl NotificationSink for FakeNotificationSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(
        &'a self,
        event: &'a NotificationEvent,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), NotifyError>> {
        let mut s = lock(&self.state);
        let result = match s.failures.pop_front() {
            Some(e) => Err(e),
            None => {
                s.received.push((idempotency_key.to_owned(), event.clone()));
                Ok(())
            }
        };
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::resilience::CallError;
    use std::time::Duration;

    #[tokio::test]
    async fn fake_authority_mints_once_per_key_and_can_fail() {
        let a = FakeIdentityAuthority::new();
        let req = MintRequest::service();
        let first = a.mint(&req, "k1").await.unwrap();
        let again = a.mint(&req, "k1").await.unwrap();
        assert_eq!(first, again);
        let other = a.mint(&req, "k2").await.unwrap();
        assert_ne!(first.id, other.id);
        a.fail_next(IdentityError::Unavailable(CallError::Timeout(
            Duration::from_secs(1),
        )));
        assert!(a.mint(&req, "k3").await.is_err());
        assert_eq!((a.calls(), a.minted()), (4, 2));
    }

    #[tokio::test]
    async fn fake_registry_upserts_and_retires_idempotently() {
        let r = FakeRegistry::new();
        let id = ChittyId::parse("03-1-USA-0955-T-2605-1-37").unwrap();
        let mut rec = RegistryRecord::service(&id, "billing", "1");
        assert_eq!(r.register(&rec).await, Ok(RegisterOutcome::Created));
        rec.version = "2".into();
        rec.health = Some("healthy".into());
        assert_eq!(r.register(&rec).await, Ok(RegisterOutcome::Updated));
        let stored = r.record(&id.to_string()).unwrap();
        assert_eq!(stored.record.version, "2");
        assert_eq!(stored.record.status.as_deref(), Some("active"));
        assert_eq!(stored.record.health.as_deref(), Some("healthy"));
        assert_eq!(r.retire(&id.to_string()).await, Ok(RetireOutcome::Retired));
        assert_eq!(
            r.retire(&id.to_string()).await,
            Ok(RetireOutcome::AlreadyAbsent)
        );
    }
}
