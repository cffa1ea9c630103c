//! Every shard must split the fleet the same way. A process run with another `--shard-count`
//! (a half-finished change of the chart's `shards`, or a Deployment set by hand) works other
//! buckets under the same Lease names: shard 0 of 3 and shard 1 of 2 both work bucket 3, each
//! under its own Lease, so no Lease keeps them apart. Each process therefore writes its count on
//! every shard Lease it holds, and works only while every live shard Lease it reads says the
//! same count. Decided here without I/O.
//!
//! Why this is enough: of two processes with counts n < m, the one counting m reads the Leases
//! 0..m, among them the one the other holds (its index is below n). A process announces its
//! count on its Lease, then waits two check intervals before it starts, so one that was already
//! running has read the announcement and stopped by then. Both stop: the fleet waits (with the
//! reason in the log and `chitty_shard_paused`) rather than have two writers, until the
//! processes of one count are gone.
//!
//! An unsharded operator (one Lease, `--lease-name` itself) works every service: shards read
//! its Lease too and pause while it is held. An unsharded leader waits as long after it takes
//! its Lease, for the same reason a shard waits after announcing.

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::Lease;

/// The annotation on a shard Lease that gives the holder's `--shard-count`.
pub const ANNOTATION: &str = "chitty.cc/shard-count";

/// The Lease annotations that announce `count`, for a patch or a new Lease.
pub fn announcement(count: u16) -> serde_json::Value {
    serde_json::json!({ ANNOTATION: count.to_string() })
}

/// What a live shard Lease says about the count its holder runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Announced {
    /// The annotation, parsed.
    Count(u16),
    /// No annotation: a holder from before this rule, or one that has only just taken the Lease.
    Nothing,
    /// An annotation that is not a count.
    Unreadable(String),
}

impl Announced {
    /// What `lease` announces.
    pub fn of(lease: &Lease) -> Self {
        let value = (lease.metadata.annotations.as_ref()).and_then(|a| a.get(ANNOTATION));
        match value {
            None => Self::Nothing,
            Some(text) => text
                .parse()
                .map_or_else(|_| Self::Unreadable(text.clone()), Self::Count),
        }
    }
}

/// Why shard `me` of `count` must not work, given what the other live shard Leases announce
/// (by shard index; Leases not held, or not renewed within their duration, left out) and whether
/// an unsharded operator holds the fleet's own Lease; `None` when all agree. The message names
/// the first Lease that disagrees, so it stays the same while the situation does.
pub fn disagreement(
    me: u16,
    count: u16,
    live: &BTreeMap<u16, Announced>,
    unsharded_live: bool,
) -> Option<String> {
    if unsharded_live {
        return Some(format!(
            "shard {me} of {count} is paused: the fleet's own Lease (the one without -shard-) is \
             held by an unsharded operator, which works every service; beside it a shard would \
             write the same services. This clears once it is gone (as when the chart's shards \
             goes from 1 to {count}); otherwise remove one of the two"
        ));
    }
    let (shard, announced) = live
        .iter()
        .filter(|(k, _)| **k != me)
        .find(|(_, a)| **a != Announced::Count(count))?;
    let what = match announced {
        Announced::Count(theirs) => format!("splits the fleet into {theirs} shards"),
        Announced::Nothing => {
            "has not said how many shards it splits the fleet into (a version from before \
             this check, or one that is just starting)"
                .to_string()
        }
        Announced::Unreadable(text) => format!("gives an unreadable shard count {text:?}"),
    };
    Some(format!(
        "shard {me} of {count} is paused: the Lease of shard {shard} is held by a process that \
         {what}; shards that split the fleet differently would write the same services. Run \
         every shard with --shard-count {count}, or all with the other count (during a change \
         of the count this clears once the old processes are gone)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(leases: &[(u16, Announced)]) -> BTreeMap<u16, Announced> {
        leases.iter().cloned().collect()
    }

    #[test]
    fn shards_that_agree_work() {
        let all = live(&[(0, Announced::Count(3)), (2, Announced::Count(3))]);
        assert_eq!(disagreement(1, 3, &all, false), None);
        assert_eq!(disagreement(0, 1, &BTreeMap::new(), false), None);
    }

    #[test]
    fn another_count_pauses_with_the_lease_and_both_counts() {
        let mixed = live(&[(0, Announced::Count(3)), (1, Announced::Count(2))]);
        let why = disagreement(1, 2, &mixed, false).unwrap();
        assert!(why.starts_with("shard 1 of 2 is paused"), "{why}");
        assert!(why.contains("Lease of shard 0"), "{why}");
        assert!(why.contains("into 3 shards"), "{why}");
        assert!(why.contains("--shard-count 2"), "{why}");
        // The other side sees it too.
        let why = disagreement(0, 3, &mixed, false).unwrap();
        assert!(why.contains("Lease of shard 1") && why.contains("into 2 shards"));
    }

    #[test]
    fn a_silent_or_unreadable_holder_is_not_trusted() {
        let quiet = live(&[(0, Announced::Nothing)]);
        let why = disagreement(1, 2, &quiet, false).unwrap();
        assert!(why.contains("has not said"), "{why}");
        let odd = live(&[(0, Announced::Unreadable("three".into()))]);
        let why = disagreement(1, 2, &odd, false).unwrap();
        assert!(why.contains("unreadable shard count \"three\""), "{why}");
    }

    #[test]
    fn an_unsharded_operator_beside_the_shards_pauses_them() {
        let all = live(&[(0, Announced::Count(3)), (2, Announced::Count(3))]);
        let why = disagreement(1, 3, &all, true).unwrap();
        assert!(why.starts_with("shard 1 of 3 is paused"), "{why}");
        assert!(why.contains("unsharded operator"), "{why}");
    }

    #[test]
    fn a_process_does_not_disagree_with_its_own_lease() {
        let own = live(&[(1, Announced::Nothing)]);
        assert_eq!(disagreement(1, 2, &own, false), None);
    }

    #[test]
    fn the_annotation_is_read_off_the_lease() {
        let mut lease = Lease::default();
        assert_eq!(Announced::of(&lease), Announced::Nothing);
        lease.metadata.annotations = Some([(ANNOTATION.to_string(), "3".to_string())].into());
        assert_eq!(Announced::of(&lease), Announced::Count(3));
        lease.metadata.annotations = Some([(ANNOTATION.to_string(), "x".to_string())].into());
        assert_eq!(Announced::of(&lease), Announced::Unreadable("x".into()));
    }
}
