//! The rule over a whole set of claims: normalise, group by key, decide each key.

use super::ahead;
use super::claim::Claim;
use super::contest::{Contests, Slot};
use super::decision::Resolution;
use super::normalize::{InvalidRoute, RouteKey};
use super::outcome::{decide_alone, decide_invalid};
use super::overlap::overlaps;
use super::policy::RoutePolicy;

/// Decide every claim. A pure function of the set: the input order does not matter, except that
/// when an id appears twice the later entry counts (as if the claims were upserted in order;
/// Kubernetes ids are unique, so this only concerns hand-built input).
///
/// O(n log n): one normalisation per claim, one sort by id, one sort of fingerprints, one sort
/// per contested key.
pub fn resolve<'a>(
    claims: impl IntoIterator<Item = &'a Claim>,
    policy: &RoutePolicy,
) -> Resolution {
    // Normalised in input order, which is the likeliest order the claims' strings were allocated
    // in (reading them in id order made every read a cache miss), and read ahead. Errors boxed,
    // which nearly halves each entry (see `decide_sorted` on memory).
    let claims: Vec<&Claim> = claims.into_iter().collect();
    let mut parsed: Vec<(&Claim, Result<RouteKey, Box<InvalidRoute>>)> =
        Vec::with_capacity(claims.len());
    for block in claims.chunks(ahead::AHEAD) {
        ahead::touch(block, |c| {
            ahead::first(&c.host) ^ ahead::first(&c.path) ^ ahead::first(c.id.as_str())
        });
        let parse = |c: &&Claim| RouteKey::parse(&c.host, &c.path).map_err(Box::new);
        parsed.extend(block.iter().map(|c| (*c, parse(c))));
    }
    // By id, with the id's first bytes inline so most comparisons need not follow pointers, and
    // the input position last so that duplicates stay in input order.
    let id = |i: usize| &parsed[i].0.id;
    let mut order: Vec<(u128, usize)> = (0..parsed.len())
        .map(|i| (id(i).sort_prefix(), i))
        .collect();
    order.sort_unstable_by(|a, b| {
        (a.0.cmp(&b.0))
            .then_with(|| id(a.1).cmp(id(b.1)))
            .then(a.1.cmp(&b.1))
    });
    // Of equal ids, the last in input order counts.
    let latest = order.iter().enumerate().filter(|&(n, &(prefix, i))| {
        order
            .get(n + 1)
            .is_none_or(|&(next, j)| next != prefix || id(j) != id(i))
    });
    let sorted = latest.map(|(_, &(_, i))| (parsed[i].0, parsed[i].1.as_ref().map_err(|e| &**e)));
    decide_sorted(sorted, policy)
}

/// The rule over claims already sorted by id, unique, each with its normalised key; shared with
/// the index, which keeps its claims in that shape.
///
/// Keys claimed more than once are ranked first; then every claim is decided once, in id order,
/// straight into the map (which is then built from sorted input, a linear pass). Working memory
/// per claim is kept small: at 100,000 claims, larger buffers came fresh from the operating
/// system on every resolve, and the page faults showed.
pub(crate) fn decide_sorted<'a>(
    claims: impl IntoIterator<Item = Slot<'a>>,
    policy: &RoutePolicy,
) -> Resolution {
    let slots: Vec<Slot> = claims.into_iter().collect();
    let contests = Contests::rank(&slots, policy);
    let mut wildcard_domains = Vec::new();
    let decisions = (slots.iter().enumerate())
        .map(|(slot, &(claim, key))| {
            if slot % ahead::AHEAD == 0 {
                // The next claims themselves, their ids and their keys.
                let block = &slots[slot..slots.len().min(slot + ahead::AHEAD)];
                ahead::touch(block, |(c, key)| {
                    let key = key.map_or(0, |k| ahead::first(k.host()));
                    u8::from(c.service_found) ^ ahead::first(c.id.as_str()) ^ key
                });
            }
            let decision = match key {
                Err(error) => decide_invalid(error),
                Ok(key) => contests
                    .decide(slot, claim, policy)
                    .unwrap_or_else(|| decide_alone(key, claim, policy)),
            };
            if let (true, Ok(key)) = (decision.accepted, key)
                && let Some(domain) = key.host().strip_prefix("*.")
            {
                wildcard_domains.push(domain);
            }
            (claim.id.clone(), decision)
        })
        .collect();
    Resolution {
        overlaps: overlaps(wildcard_domains, &decisions),
        decisions,
        conflicts: contests.conflicts(),
    }
}
