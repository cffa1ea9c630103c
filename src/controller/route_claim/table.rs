//! `RouteTable`: the operator's in-memory view of route ownership.
//!
//! Fed from the RouteClaim and ChittyService watch streams (every event, deletions included, after
//! the reflector stores have taken it), it keeps a [`ClaimIndex`] and the current decision of every
//! claim. A change re-decides only the keys it touches; the claims whose decision changed are
//! sent to the RouteClaim controller, which writes their status, and the services of deleted
//! claims to the ChittyService controller, which drops them from its Ingress. Nothing is decided
//! until both caches have synced: with claims but no services yet, every claim would look
//! `ServiceNotFound` and incumbents would lose their routes on each restart. Under the delegated
//! route policy, nothing is decided either until the ChittyDomains have been read, or every
//! claim would be refused for a moment.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::input::{ServiceKey, claim_id, service_of, to_claim};
use super::view::FleetView;
use crate::api::{ChittyService, RouteClaim};
use crate::controller::small_set::SmallSet;
use crate::routing::{Affected, ClaimId, ClaimIndex, Decision, Delegations, RoutePolicy};

/// Cheap to clone; every clone is the same table.
#[derive(Clone)]
pub struct RouteTable {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    claims: Store<RouteClaim>,
    services: Box<dyn ServiceLookup>,
    claim_triggers: UnboundedSender<ObjectRef<RouteClaim>>,
    service_triggers: UnboundedSender<ObjectRef<ChittyService>>,
}

/// Where the table asks for reconciles: feed these to the controllers' `reconcile_on`.
pub struct Triggers {
    /// RouteClaims whose decision changed (or that changed themselves).
    pub claims: UnboundedReceiver<ObjectRef<RouteClaim>>,
    /// ChittyServices whose claims were deleted.
    pub services: UnboundedReceiver<ObjectRef<ChittyService>>,
}

#[derive(Default)]
struct State {
    index: ClaimIndex,
    decisions: BTreeMap<ClaimId, Decision>,
    /// Which service each indexed claim routes to, and back, so that a service coming or going
    /// re-decides only its own claims.
    service_of: BTreeMap<ClaimId, ServiceKey>,
    /// Mostly one claim a service: a sorted vector, not a B-tree node of eleven.
    claims_of: BTreeMap<ServiceKey, SmallSet<ClaimId>>,
    claims_synced: bool,
    services_synced: bool,
    /// The delegations have been set, or the policy has none to wait for (`open`).
    policy_synced: bool,
    /// Bumped on every change that may alter a decision; the fleet view is cached per version.
    version: u64,
    fleet: Option<(u64, Arc<FleetView>)>,
}

/// What a change asks to be reconciled.
#[derive(Default)]
struct Wake {
    claims: BTreeSet<ClaimId>,
    services: BTreeSet<ServiceKey>,
}

impl RouteTable {
    pub fn new(
        policy: RoutePolicy,
        claims: Store<RouteClaim>,
        services: impl ServiceLookup,
    ) -> (Self, Triggers) {
        let (claim_triggers, claims_rx) = unbounded();
        let (service_triggers, services_rx) = unbounded();
        let state = State {
            policy_synced: policy.delegations().is_none(),
            index: ClaimIndex::new(policy),
            ..State::default()
        };
        let table = Self {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                claims,
                services: Box::new(services),
                claim_triggers,
                service_triggers,
            }),
        };
        let triggers = Triggers {
            claims: claims_rx,
            services: services_rx,
        };
        (table, triggers)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Both caches have synced, so decisions are made and the fleet view is served.
    pub fn is_synced(&self) -> bool {
        self.state().ready()
    }

    /// Takes one event of the RouteClaim watch, after the reflector stored it.
    pub fn on_claim_event(&self, event: &watcher::Event<RouteClaim>) {
        let wake = {
            let mut state = self.state();
            match event {
                watcher::Event::Apply(claim) if state.ready() => {
                    let found = self.service_exists(&service_of(claim));
                    let affected = state.upsert(claim, found);
                    let mut wake = state.settle(affected);
                    // Its status may lag its decision (a hand edit, a failed write): look again.
                    wake.claims.insert(claim_id(claim));
                    wake
                }
                watcher::Event::Delete(claim) if state.ready() => {
                    let id = claim_id(claim);
                    let affected = state.remove(&id);
                    let mut wake = state.settle(affected);
                    wake.services.insert(service_of(claim));
                    wake
                }
                watcher::Event::InitDone => {
                    state.claims_synced = true;
                    self.rebuild(&mut state)
                }
                _ => Wake::default(),
            }
        };
        self.send(wake);
    }

    /// Takes one event of the ChittyService watch: a service appearing, going away or starting to
    /// be deleted re-decides the claims that route to it.
    /// Full objects or metadata only: the table reads names and deletion timestamps.
    pub fn on_service_event<K: ResourceExt>(&self, event: &watcher::Event<K>) {
        let wake = {
            let mut state = self.state();
            match event {
                watcher::Event::Apply(service) | watcher::Event::Delete(service)
                    if state.ready() =>
                {
                    let key = (service.namespace().unwrap_or_default(), service.name_any());
                    let found = self.service_exists(&key);
                    let ids = state.claims_of.get(&key).cloned().unwrap_or_default();
                    let mut affected = Affected::default();
                    for id in &ids {
                        if let Some(claim) = self.stored_claim(id) {
                            affected.merge(state.upsert(&claim, found));
                        }
                    }
                    state.settle(affected)
                }
                watcher::Event::InitDone => {
                    state.services_synced = true;
                    self.rebuild(&mut state)
                }
                _ => Wake::default(),
            }
        };
        self.send(wake);
    }

    /// Takes the delegations in force now (the ChittyDomains or the namespaces changed) and
    /// re-decides every claim under them. Ignored under the `open` policy.
    pub fn set_delegations(&self, delegations: Delegations) {
        let wake = {
            let mut state = self.state();
            let Some(policy) = (state.index.policy().delegations())
                .map(|_| state.index.policy().with_delegations(delegations))
            else {
                return;
            };
            let affected = state.index.set_policy(policy);
            if state.policy_synced {
                state.settle(affected)
            } else {
                state.policy_synced = true;
                self.rebuild(&mut state)
            }
        };
        self.send(wake);
    }

    /// The decision for this version of the claim, if the table has already taken it in. `None`
    /// while the table lags the object (it then asks for another reconcile once it catches up).
    pub fn decision(&self, claim: &RouteClaim) -> Option<Decision> {
        let state = self.state();
        if !state.ready() {
            return None;
        }
        let id = claim_id(claim);
        let indexed = state.index.get(&id)?;
        let current = indexed.host == claim.spec.host
            && indexed.path == claim.spec.path
            && indexed.created == super::input::created(claim);
        current.then(|| state.decisions.get(&id).cloned()).flatten()
    }

    /// Every claim and every contested route, from memory; `None` until the caches have synced.
    /// Computed at most once per change of the table, however often it is asked for.
    pub fn fleet(&self) -> Option<Arc<FleetView>> {
        let mut state = self.state();
        if !state.ready() {
            return None;
        }
        if let Some((version, view)) = &state.fleet
            && *version == state.version
        {
            return Some(view.clone());
        }
        let view = Arc::new(FleetView::build(&state.index, &state.service_of));
        state.fleet = Some((state.version, view.clone()));
        Some(view)
    }

    fn service_exists(&self, key: &ServiceKey) -> bool {
        self.shared.services.live(key)
    }

    fn stored_claim(&self, id: &ClaimId) -> Option<Arc<RouteClaim>> {
        self.shared
            .claims
            .get(&ObjectRef::new(id.name()).within(id.namespace()))
    }

    /// Re-reads everything from the stores once both have synced (at start, and after a watch
    /// re-list, which may have missed deletions). Every claim is reconciled once: its status is
    /// compared with its decision, and written only if they differ.
    fn rebuild(&self, state: &mut State) -> Wake {
        if !state.ready() {
            return Wake::default();
        }
        let mut wake = Wake::default();
        let live = self.shared.claims.state();
        let live_ids: BTreeSet<ClaimId> = live.iter().map(|c| claim_id(c)).collect();
        let gone: Vec<ClaimId> = state
            .service_of
            .keys()
            .filter(|id| !live_ids.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(service) = state.service_of.get(&id) {
                wake.services.insert(service.clone());
            }
            state.remove(&id);
        }
        for claim in &live {
            let found = self.service_exists(&service_of(claim));
            state.upsert(claim, found);
        }
        state.decisions = state.index.resolve();
        state.version += 1;
        wake.claims = live_ids;
        wake
    }

    fn send(&self, wake: Wake) {
        // A closed channel means the controllers have stopped (shutdown); nothing to tell.
        for id in wake.claims {
            let _ = self
                .shared
                .claim_triggers
                .unbounded_send(ObjectRef::new(id.name()).within(id.namespace()));
        }
        for (namespace, name) in wake.services {
            let _ = self
                .shared
                .service_triggers
                .unbounded_send(ObjectRef::new(&name).within(&namespace));
        }
    }
}

impl Default for RouteTable {
    /// A table fed by nothing, for contexts built without the route controller.
    fn default() -> Self {
        let claims = kube::runtime::reflector::store::Writer::default().as_reader();
        let services: Store<ChittyService> =
            kube::runtime::reflector::store::Writer::default().as_reader();
        Self::new(RoutePolicy::default(), claims, services).0
    }
}

/// Where the table looks a service up: the full ChittyService cache of an unsharded operator,
/// or the metadata-only one of the route rule serving every shard.
pub trait ServiceLookup: Send + Sync + 'static {
    /// The service exists and is not being deleted: a service being deleted no longer competes,
    /// so its routes go to the next claim in line now, not when its finalizers are done.
    fn live(&self, key: &ServiceKey) -> bool;
}

impl<K> ServiceLookup for Store<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    fn live(&self, (namespace, name): &ServiceKey) -> bool {
        self.get(&ObjectRef::new(name).within(namespace))
            .is_some_and(|s| s.meta().deletion_timestamp.is_none())
    }
}

impl State {
    fn ready(&self) -> bool {
        self.claims_synced && self.services_synced && self.policy_synced
    }

    fn upsert(&mut self, claim: &RouteClaim, service_found: bool) -> Affected {
        let id = claim_id(claim);
        let service = service_of(claim);
        if self.service_of.get(&id) != Some(&service) {
            self.unlink(&id);
            self.claims_of
                .entry(service.clone())
                .or_default()
                .insert(id.clone());
            self.service_of.insert(id, service);
        }
        self.index.upsert(to_claim(claim, service_found))
    }

    fn remove(&mut self, id: &ClaimId) -> Affected {
        self.unlink(id);
        self.index.remove(id)
    }

    fn unlink(&mut self, id: &ClaimId) {
        if let Some(old) = self.service_of.remove(id)
            && let Some(ids) = self.claims_of.get_mut(&old)
        {
            ids.remove(id);
            if ids.is_empty() {
                self.claims_of.remove(&old);
            }
        }
    }

    /// Re-decides what `affected` touches and returns the claims whose decision changed.
    fn settle(&mut self, affected: Affected) -> Wake {
        let mut wake = Wake::default();
        if affected.is_empty() {
            return wake;
        }
        self.version += 1;
        for id in &affected.claims {
            if self.index.get(id).is_none() {
                self.decisions.remove(id);
            }
        }
        for (id, decision) in self.index.decide(&affected) {
            if self.decisions.get(&id) != Some(&decision) {
                self.decisions.insert(id.clone(), decision);
                wake.claims.insert(id);
            }
        }
        wake
    }
}

/// The table of the controllers running now, for the HTTP port, which outlives them: a replica
/// that gains leadership starts new controllers with a new table. Until then (and on a standby
/// replica) it holds a table that never syncs, so the fleet view answers 503.
#[derive(Default)]
pub struct CurrentTable(Mutex<RouteTable>);

impl CurrentTable {
    pub fn set(&self, table: RouteTable) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = table;
    }

    pub fn get(&self) -> RouteTable {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
