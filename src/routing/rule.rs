//! The conflict rule for the claims on one key.
//!
//! Only claims on the same normalised key compete; everything here looks at one key at a time,
//! which is what lets the index re-decide a single key after a single change.
//!
//! Before the contest a claim must be eligible:
//! - a claim refused by a reservation (`NotAllowed`) does not compete;
//! - a claim whose ChittyService does not exist (`ServiceNotFound`) does not compete either, so a
//!   dangling claim (service deleted, typo in `serviceRef`) can never block a real service. The
//!   price: such a claim loses incumbency once another claim takes the key, and does not get it
//!   back when its service reappears. Reserving a host ahead of a service is what reservations
//!   are for.
//!
//! Among eligible claims, in order: (1) an incumbent (status already `Accepted=True`) keeps the
//! key, so no claim steals by being re-created or by being older and appearing later; (2) the
//! oldest `creationTimestamp`; (3) `namespace/name` in alphabetical order. When several claims
//! say they are incumbent (stale status after a split brain or a restored backup), (2) and (3)
//! choose among them. Ids are unique, so the order is total and the holder is unique.

use std::cmp::Ordering;

use super::claim::{Claim, ClaimId};
use super::decision::{CONFLICTS_LISTED, Conflict, Decision, Reason};
use super::message;
use super::normalize::{InvalidRoute, RouteKey};
use super::reservation::{Refusal, Reservations};

/// The order of the rule: `Less` means `a` comes before `b` in line for the key.
pub fn rank(a: &Claim, b: &Claim) -> Ordering {
    b.incumbent
        .cmp(&a.incumbent)
        .then(a.created.cmp(&b.created))
        .then_with(|| a.id.cmp(&b.id))
}

/// The decisions for every claim on one key, and the key's conflict entry when it has more than
/// one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOutcome {
    pub holder: Option<ClaimId>,
    /// In the order of the `claims` given.
    pub decisions: Vec<(ClaimId, Decision)>,
    pub conflict: Option<Conflict>,
}

enum Standing {
    Refused(Refusal),
    NoService,
    /// Eligible, at this 0-based position in line.
    InLine(usize),
}

/// Decide every claim on `key`. The claims must all normalise to `key` and have distinct ids;
/// their order does not matter.
pub fn decide_key(key: &RouteKey, claims: &[&Claim], reservations: &Reservations) -> KeyOutcome {
    let mut standings: Vec<Standing> = claims
        .iter()
        .map(|c| match reservations.check(key.host(), &c.id.namespace) {
            Err(refusal) => Standing::Refused(refusal),
            Ok(()) if !c.service_found => Standing::NoService,
            Ok(()) => Standing::InLine(0),
        })
        .collect();
    let mut line: Vec<usize> = (0..claims.len())
        .filter(|&i| matches!(standings[i], Standing::InLine(_)))
        .collect();
    line.sort_by(|&a, &b| rank(claims[a], claims[b]));
    for (place, &i) in line.iter().enumerate() {
        standings[i] = Standing::InLine(place);
    }
    let holder = line.first().map(|&i| claims[i]);
    let runner_up = line.get(1).map(|&i| claims[i]);
    let holder_id = holder.map(|h| &h.id);

    let mut everyone: Vec<&ClaimId> = claims.iter().map(|c| &c.id).collect();
    everyone.sort_unstable();

    let decisions = claims
        .iter()
        .zip(&standings)
        .map(|(claim, standing)| {
            let (reason, message) = match standing {
                Standing::Refused(refusal) => (
                    Reason::NotAllowed,
                    message::not_allowed(key, refusal, holder_id),
                ),
                Standing::NoService => (
                    Reason::ServiceNotFound,
                    message::service_not_found(key, holder_id),
                ),
                Standing::InLine(0) => (
                    Reason::Accepted,
                    message::accepted(key, claim, runner_up, everyone.len() - 1),
                ),
                Standing::InLine(place) => {
                    let holder =
                        holder.expect("a claim in line behind the holder implies a holder");
                    (
                        Reason::Conflicted,
                        message::conflicted(key, holder, claim, *place),
                    )
                }
            };
            let decision = Decision {
                accepted: reason == Reason::Accepted,
                reason,
                key: Some(key.clone()),
                holder: holder_id.cloned(),
                conflicts_with: listed_others(&everyone, &claim.id, holder_id),
                conflicts_total: everyone.len() - 1,
                message,
            };
            (claim.id.clone(), decision)
        })
        .collect();

    let conflict = (everyone.len() > 1).then(|| Conflict {
        key: key.clone(),
        holder: holder_id.cloned(),
        losers: everyone
            .iter()
            .filter(|id| Some(**id) != holder_id)
            .map(|id| (*id).clone())
            .collect(),
    });
    KeyOutcome {
        holder: holder_id.cloned(),
        decisions,
        conflict,
    }
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
fn listed_others(everyone: &[&ClaimId], me: &ClaimId, holder: Option<&ClaimId>) -> Vec<ClaimId> {
    let mut listed: Vec<ClaimId> = everyone
        .iter()
        .filter(|id| **id != me)
        .take(CONFLICTS_LISTED)
        .map(|id| (*id).clone())
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
