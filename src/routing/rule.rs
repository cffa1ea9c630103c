//! The conflict rule for the claims on one key.
//!
//! Only claims on the same normalised key compete; everything here looks at one key at a time,
//! which is what lets the index re-decide a single key after a single change.
//!
//! Before the contest a claim must be eligible:
//! - a claim the route policy refuses (`NotAllowed`: a reservation, or under the delegated
//!   policy a missing ChittyDomain delegation or a foreign `serviceRef`) does not compete;
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
use super::decision::{Conflict, Decision};
use super::normalize::RouteKey;
use super::outcome::OnKey;
pub use super::outcome::decide_invalid;
use super::policy::{OnHost, RoutePolicy};

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

/// Where one claim stands on its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Refused by the reservation that governs the key's host.
    Refused,
    /// Its ChittyService does not exist.
    NoService,
    /// Eligible, at this 0-based position in line; the first holds the key.
    InLine(usize),
}

/// Whether a claim may compete at all; an eligible claim is put first in line, to be ranked.
pub(crate) fn eligibility(on_host: &OnHost, claim: &Claim) -> Standing {
    if !on_host.allows(claim) {
        Standing::Refused
    } else if !claim.service_found {
        Standing::NoService
    } else {
        Standing::InLine(0)
    }
}

/// Ranks the claims on `key`: fills `standings`, one per claim in the order given, and returns
/// the indices of the first and second in line. `line` is working space, passed in so that
/// ranking many keys reuses it.
pub(crate) fn line_up(
    key: &RouteKey,
    claims: &[&Claim],
    policy: &RoutePolicy,
    standings: &mut Vec<Standing>,
    line: &mut Vec<usize>,
) -> (Option<usize>, Option<usize>) {
    let on_host = policy.on_host(key);
    standings.clear();
    standings.extend(claims.iter().map(|c| eligibility(&on_host, c)));
    line.clear();
    line.extend((0..claims.len()).filter(|&i| standings[i] == Standing::InLine(0)));
    line.sort_by(|&a, &b| rank(claims[a], claims[b]));
    for (place, &i) in line.iter().enumerate() {
        standings[i] = Standing::InLine(place);
    }
    (line.first().copied(), line.get(1).copied())
}

/// Decide every claim on `key`. The claims must all normalise to `key` and have distinct ids;
/// their order does not matter.
pub fn decide_key(key: &RouteKey, claims: &[&Claim], policy: &RoutePolicy) -> KeyOutcome {
    let mut standings = Vec::with_capacity(claims.len());
    let (first, second) = line_up(key, claims, policy, &mut standings, &mut Vec::new());
    let mut everyone = claims.to_vec();
    everyone.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let on_key = OnKey {
        key,
        everyone: &everyone,
        holder: first.map(|i| claims[i]),
        runner_up: second.map(|i| claims[i]),
    };
    KeyOutcome {
        holder: on_key.holder.map(|h| h.id.clone()),
        decisions: claims
            .iter()
            .zip(standings)
            .map(|(claim, standing)| {
                let decision = on_key.decide(claim, standing, policy);
                (claim.id.clone(), decision)
            })
            .collect(),
        conflict: on_key.conflict(),
    }
}
