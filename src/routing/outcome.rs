//! A claim's standing on its key, turned into the [`Decision`] its status shows.

use super::claim::{Claim, ClaimId};
use super::decision::{CONFLICTS_LISTED, Conflict, Decision, Reason};
use super::message;
use super::normalize::{InvalidRoute, RouteKey};
use super::policy::RoutePolicy;
use super::rule::{Standing, eligibility};

/// What the decisions of the claims on one key have in common.
pub(crate) struct OnKey<'k, 'a> {
    pub key: &'k RouteKey,
    /// Every claim on the key, sorted by id.
    pub everyone: &'k [&'a Claim],
    /// First in line.
    pub holder: Option<&'a Claim>,
    /// Second in line.
    pub runner_up: Option<&'a Claim>,
}

impl OnKey<'_, '_> {
    /// The decision of `claim`, one of `everyone`, standing as `standing`.
    pub(crate) fn decide(
        &self,
        claim: &Claim,
        standing: Standing,
        policy: &RoutePolicy,
    ) -> Decision {
        let key = self.key;
        let holder_id = self.holder.map(|h| &h.id);
        let others = self.everyone.len() - 1;
        let (reason, message) = match standing {
            Standing::Refused => {
                // Worked out again rather than kept from the ranking: refusals are rare, and a
                // standing without one stays small and copyable.
                let refusal = policy
                    .check(key, claim)
                    .expect_err("a claim ranked as refused is refused by the policy");
                (
                    Reason::NotAllowed,
                    message::not_allowed(key, &refusal, holder_id),
                )
            }
            Standing::NoService => (
                Reason::ServiceNotFound,
                message::service_not_found(key, holder_id),
            ),
            Standing::InLine(0) => (
                Reason::Accepted,
                message::accepted(key, claim, self.runner_up, others),
            ),
            Standing::InLine(place) => {
                let holder = self
                    .holder
                    .expect("a claim in line behind the holder implies a holder");
                (
                    Reason::Conflicted,
                    message::conflicted(key, holder, claim, place),
                )
            }
        };
        Decision {
            accepted: reason == Reason::Accepted,
            reason,
            key: Some(key.clone()),
            holder: holder_id.cloned(),
            conflicts_with: listed_others(self.everyone, &claim.id, holder_id),
            conflicts_total: others,
            message,
        }
    }

    /// The key's entry in the fleet view, when more than one claim is on it.
    pub(crate) fn conflict(&self) -> Option<Conflict> {
        let holder = self.holder.map(|h| &h.id);
        (self.everyone.len() > 1).then(|| Conflict {
            key: self.key.clone(),
            holder: holder.cloned(),
            losers: self
                .everyone
                .iter()
                .map(|c| &c.id)
                .filter(|id| Some(*id) != holder)
                .cloned()
                .collect(),
        })
    }
}

/// The decision of the only claim on its key, without the ranking a contest needs.
pub(crate) fn decide_alone(key: &RouteKey, claim: &Claim, policy: &RoutePolicy) -> Decision {
    let standing = eligibility(&policy.on_host(key), claim);
    let on_key = OnKey {
        key,
        everyone: std::slice::from_ref(&claim),
        holder: (standing == Standing::InLine(0)).then_some(claim),
        runner_up: None,
    };
    on_key.decide(claim, standing, policy)
}

/// The decision for a claim whose host or path does not normalise; it is on no key.
pub fn decide_invalid(error: &InvalidRoute) -> Decision {
    Decision {
        accepted: false,
        reason: Reason::Invalid,
        key: None,
        holder: None,
        conflicts_with: Vec::new(),
        conflicts_total: 0,
        message: message::invalid(error),
    }
}

/// The first [`CONFLICTS_LISTED`] others from the sorted `everyone`, with the holder swapped in
/// for the last of them when it sorts further down: a loser's status must always name its holder.
/// Bounded work per claim keeps a key with thousands of claims linear rather than quadratic.
fn listed_others(everyone: &[&Claim], me: &ClaimId, holder: Option<&ClaimId>) -> Vec<ClaimId> {
    let mut listed: Vec<ClaimId> = everyone
        .iter()
        .map(|c| &c.id)
        .filter(|id| *id != me)
        .take(CONFLICTS_LISTED)
        .cloned()
        .collect();
    if let Some(holder) = holder.filter(|h| *h != me)
        && !listed.contains(holder)
    {
        // The holder sorts after every listed id, so replacing the last keeps the list sorted.
        listed.pop();
        listed.push(holder.clone());
    }
    listed
}
