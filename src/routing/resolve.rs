//! The rule over a whole set of claims: normalise, group by key, decide each key.

use std::collections::BTreeSet;

use super::claim::{Claim, ClaimId};
use super::decision::{Decision, Overlap, Resolution};
use super::normalize::{InvalidRoute, RouteKey};
use super::reservation::Reservations;
use super::rule::{decide_invalid, decide_key};

/// Decide every claim. A pure function of the set: the input order does not matter, except that
/// when an id appears twice the later entry counts (as if the claims were upserted in order;
/// Kubernetes ids are unique, so this only concerns hand-built input).
///
/// O(n log n): one sort by id, one normalisation per claim, one sort by key, one sort per key.
pub fn resolve<'a>(
    claims: impl IntoIterator<Item = &'a Claim>,
    reservations: &Reservations,
) -> Resolution {
    // Sorted with the id's first bytes inline, so most comparisons need not follow pointers.
    let mut sorted: Vec<(u128, &Claim)> = claims
        .into_iter()
        .map(|c| (c.id.sort_prefix(), c))
        .collect();
    // A stable sort keeps duplicates in input order; reversed, the first of each run is the
    // latest, and `dedup_by` keeps the first.
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    sorted.reverse();
    sorted.dedup_by(|next, kept| next.1.id == kept.1.id);
    sorted.reverse();
    let parsed = sorted
        .into_iter()
        .map(|(_, c)| (c, RouteKey::parse(&c.host, &c.path)));
    decide_sorted(parsed, reservations)
}

/// The rule over claims already sorted by id, unique, each with its normalised key; shared with
/// the index, which keeps its claims in that shape.
///
/// Vectors rather than maps, and each decision is written into its claim's slot in id order, so
/// the final map is built from sorted input (a linear pass) instead of by a sort or n inserts.
pub(crate) fn decide_sorted<'a>(
    claims: impl IntoIterator<Item = (&'a Claim, Result<RouteKey, InvalidRoute>)>,
    reservations: &Reservations,
) -> Resolution {
    let mut by_slot: Vec<&Claim> = Vec::new();
    let mut slots: Vec<Option<(ClaimId, Decision)>> = Vec::new();
    let mut keyed: Vec<(RouteKey, usize)> = Vec::new();
    for (slot, (claim, key)) in claims.into_iter().enumerate() {
        by_slot.push(claim);
        match key {
            Ok(key) => {
                keyed.push((key, slot));
                slots.push(None);
            }
            Err(error) => slots.push(Some((claim.id.clone(), decide_invalid(&error)))),
        }
    }
    keyed.sort_unstable();

    let mut conflicts = Vec::new();
    let mut held_hosts = BTreeSet::new();
    let mut on_key: Vec<&Claim> = Vec::new();
    for group in keyed.chunk_by(|a, b| a.0 == b.0) {
        let key = &group[0].0;
        on_key.clear();
        on_key.extend(group.iter().map(|(_, slot)| by_slot[*slot]));
        let outcome = decide_key(key, &on_key, reservations);
        if outcome.holder.is_some() {
            held_hosts.insert(key.host());
        }
        conflicts.extend(outcome.conflict);
        for ((_, slot), decided) in group.iter().zip(outcome.decisions) {
            slots[*slot] = Some(decided);
        }
    }
    Resolution {
        decisions: slots
            .into_iter()
            .map(|decided| decided.expect("every claim is decided"))
            .collect(),
        conflicts,
        overlaps: overlaps(&held_hosts),
    }
}

/// Held exact hosts whose one-label wildcard (`api.x` → `*.x`) is also held, on any path: a
/// request for the exact host is routed by the exact host's rules alone.
fn overlaps(held_hosts: &BTreeSet<&str>) -> Vec<Overlap> {
    let mut found: Vec<Overlap> = held_hosts
        .iter()
        .filter(|host| !host.starts_with("*."))
        .filter_map(|host| {
            let (_, parent) = host.split_once('.')?;
            let wildcard = format!("*.{parent}");
            held_hosts.contains(wildcard.as_str()).then(|| Overlap {
                wildcard,
                exact: host.to_string(),
            })
        })
        .collect();
    found.sort();
    found
}
