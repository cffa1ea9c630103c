//! Held exact hosts under held wildcards, for the fleet view.

use std::collections::BTreeMap;

use super::claim::ClaimId;
use super::decision::{Decision, Overlap};

/// Held exact hosts whose one-label wildcard (`api.x` → `*.x`) is also held, on any path: a
/// request for the exact host is routed by the exact host's rules alone. Sorted, each once.
///
/// `wildcard_domains` are the `d` of every held `*.d`, gathered while deciding; the exact hosts
/// are read back from `decisions` only when there is one, so fleets without a held wildcard pay
/// nothing for this.
pub(crate) fn overlaps(
    mut wildcard_domains: Vec<&str>,
    decisions: &BTreeMap<ClaimId, Decision>,
) -> Vec<Overlap> {
    if wildcard_domains.is_empty() {
        return Vec::new();
    }
    wildcard_domains.sort_unstable();
    let held = decisions.values().filter(|d| d.accepted);
    let mut found: Vec<Overlap> = held
        .filter_map(|d| {
            let host = d.key.as_ref()?.host();
            let (_, parent) = host.split_once('.')?;
            let covered =
                !host.starts_with("*.") && wildcard_domains.binary_search(&parent).is_ok();
            covered.then(|| Overlap {
                wildcard: format!("*.{parent}"),
                exact: host.to_owned(),
            })
        })
        .collect();
    // One host held on several paths is found once per path.
    found.sort_unstable();
    found.dedup();
    found
}
