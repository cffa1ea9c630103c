//! `ClaimIndex`: the current claims grouped by key, kept up to date from watch events.
//!
//! As in Linkerd's policy controller, the watch feeds `upsert`/`remove` and the index keeps the
//! claims already grouped, so a change touches one or two keys. Because a decision depends only on
//! the claims on its own key (and the route policy), the changed keys can be re-decided alone with
//! [`ClaimIndex::decide`]; [`ClaimIndex::resolve`] re-decides everything, for a resync.

use std::collections::{BTreeMap, BTreeSet};

use super::claim::{Claim, ClaimId};
use super::decision::{Decision, Resolution};
use super::normalize::{InvalidRoute, RouteKey};
use super::policy::RoutePolicy;
use super::resolve::decide_sorted;
use super::rule::{decide_invalid, decide_key};

#[derive(Debug, Clone, Default)]
pub struct ClaimIndex {
    policy: RoutePolicy,
    claims: BTreeMap<ClaimId, Entry>,
    /// Valid claims by key; invalid claims are on no key.
    keys: BTreeMap<RouteKey, BTreeSet<ClaimId>>,
}

#[derive(Debug, Clone)]
struct Entry {
    claim: Claim,
    /// Normalised once, on upsert.
    key: Result<RouteKey, InvalidRoute>,
}

/// What a change may have altered: the claims changed (including removed ones, which have no
/// decision any more) and the keys whose claims must be re-decided. Merge several to batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Affected {
    pub claims: BTreeSet<ClaimId>,
    pub keys: BTreeSet<RouteKey>,
}

impl Affected {
    pub fn is_empty(&self) -> bool {
        self.claims.is_empty() && self.keys.is_empty()
    }

    pub fn merge(&mut self, other: Affected) {
        self.claims.extend(other.claims);
        self.keys.extend(other.keys);
    }
}

impl ClaimIndex {
    pub fn new(policy: impl Into<RoutePolicy>) -> Self {
        Self {
            policy: policy.into(),
            ..Self::default()
        }
    }

    pub fn policy(&self) -> &RoutePolicy {
        &self.policy
    }

    /// Replace the policy (a configuration reload, a ChittyDomain changed); every key may be
    /// affected. Nothing is, when the policy is unchanged.
    pub fn set_policy(&mut self, policy: impl Into<RoutePolicy>) -> Affected {
        let policy = policy.into();
        if policy == self.policy {
            return Affected::default();
        }
        self.policy = policy;
        Affected {
            claims: BTreeSet::new(),
            keys: self.keys.keys().cloned().collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.claims.len()
    }

    pub fn is_empty(&self) -> bool {
        self.claims.is_empty()
    }

    pub fn get(&self, id: &ClaimId) -> Option<&Claim> {
        self.claims.get(id).map(|entry| &entry.claim)
    }

    /// Add or replace a claim. Returns nothing affected when the claim is unchanged, so replayed
    /// watch events cost no decisions.
    pub fn upsert(&mut self, claim: Claim) -> Affected {
        if self.get(&claim.id) == Some(&claim) {
            return Affected::default();
        }
        let mut affected = self.remove(&claim.id);
        affected.claims.insert(claim.id.clone());
        let key = RouteKey::parse(&claim.host, &claim.path);
        if let Ok(key) = &key {
            self.keys
                .entry(key.clone())
                .or_default()
                .insert(claim.id.clone());
            affected.keys.insert(key.clone());
        }
        self.claims.insert(claim.id.clone(), Entry { claim, key });
        affected
    }

    /// Remove a claim; its key, if it had one, is affected (the next claim in line may take it).
    pub fn remove(&mut self, id: &ClaimId) -> Affected {
        let mut affected = Affected::default();
        let Some(entry) = self.claims.remove(id) else {
            return affected;
        };
        affected.claims.insert(id.clone());
        if let Ok(key) = entry.key {
            if let Some(ids) = self.keys.get_mut(&key) {
                ids.remove(id);
                if ids.is_empty() {
                    self.keys.remove(&key);
                }
            }
            affected.keys.insert(key);
        }
        affected
    }

    /// Decisions for every claim that `affected` may have changed and that still exists. Equal
    /// to the same entries of [`resolve`](Self::resolve), at the cost of the affected keys only.
    pub fn decide(&self, affected: &Affected) -> BTreeMap<ClaimId, Decision> {
        let mut decisions = BTreeMap::new();
        for key in &affected.keys {
            if let Some(ids) = self.keys.get(key) {
                decisions.extend(decide_key(key, &self.claims_of(ids), &self.policy).decisions);
            }
        }
        for id in &affected.claims {
            if let Some(Entry {
                key: Err(error), ..
            }) = self.claims.get(id)
            {
                decisions.insert(id.clone(), decide_invalid(error));
            }
        }
        decisions
    }

    /// Decide every claim; equal to [`resolve`](super::resolve::resolve) over the same claims.
    pub fn resolve(&self) -> BTreeMap<ClaimId, Decision> {
        self.resolution().decisions
    }

    /// Decisions plus the fleet view (conflicts, wildcard overlaps).
    pub fn resolution(&self) -> Resolution {
        // The claims map is already in id order and normalised: the full rule minus its sort.
        let claims = self
            .claims
            .values()
            .map(|entry| (&entry.claim, entry.key.as_ref()));
        decide_sorted(claims, &self.policy)
    }

    /// The current decisions that differ from `previous` (or are new), so that the status
    /// writer patches only differences.
    pub fn changed_since(
        &self,
        previous: &BTreeMap<ClaimId, Decision>,
    ) -> BTreeMap<ClaimId, Decision> {
        let current = self.resolve();
        changed(previous, &current)
            .map(|(id, decision)| (id.clone(), decision.clone()))
            .collect()
    }

    fn claims_of(&self, ids: &BTreeSet<ClaimId>) -> Vec<&Claim> {
        ids.iter().map(|id| &self.claims[id].claim).collect()
    }
}

/// Entries of `current` that are new or differ from `previous`. Claims only in `previous` are
/// gone; there is no status left to patch, so they are not reported.
pub fn changed<'a>(
    previous: &'a BTreeMap<ClaimId, Decision>,
    current: &'a BTreeMap<ClaimId, Decision>,
) -> impl Iterator<Item = (&'a ClaimId, &'a Decision)> + 'a {
    current
        .iter()
        .filter(move |(id, decision)| previous.get(*id) != Some(*decision))
}
