//! Which leaderless shards this one takes over: decided from what every shard's Lease showed,
//! with no I/O, so every rule here is tested without a cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// What one shard's Lease shows, as this process has watched it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseState {
    /// Renewed within its duration by a process of the shard itself.
    Led,
    /// Renewed within its duration by another shard that took it over.
    TakenBy(u16),
    /// Not renewed (or never held) for this long, as measured here.
    Silent(Duration),
}

/// The shards that `me` should take over now: each shard silent for longer than its Lease
/// duration plus `takeover_after` goes to the first shard after it (counting round) that its own
/// process leads. Only led shards take over, so a takeover never cascades onto a taker, and each
/// silent shard has exactly one taker however many shards see it.
pub fn to_take_over(
    me: u16,
    count: u16,
    leases: &BTreeMap<u16, LeaseState>,
    lease_duration: Duration,
    takeover_after: Duration,
) -> BTreeSet<u16> {
    let led = |i: u16| i == me || leases.get(&i) == Some(&LeaseState::Led);
    let orphaned = |i: u16| matches!(leases.get(&i), Some(LeaseState::Silent(for_)) if *for_ > lease_duration + takeover_after);
    (0..count)
        .filter(|&k| k != me && orphaned(k))
        .filter(|&k| {
            let heir = (1..count).map(|step| (k + step) % count).find(|&i| led(i));
            heir == Some(me)
        })
        .collect()
}

/// The prefix of the identity a taker holds another shard's Lease under: the shard's own
/// processes tell from it that their Lease is only lent, and ask for it back.
const TAKER: &str = "takeover-by-shard-";

/// The identity shard `me` holds a taken-over Lease under.
pub fn taker_identity(me: u16, identity: &str) -> String {
    format!("{TAKER}{me}.{identity}")
}

/// The shard holding a Lease under `holder`, if it took the Lease over.
pub fn taker_of(holder: &str) -> Option<u16> {
    let rest = holder.strip_prefix(TAKER)?;
    let (shard, _) = rest.split_once('.')?;
    shard.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(15);
    const AFTER: Duration = Duration::from_secs(30);

    fn silent(secs: u64) -> LeaseState {
        LeaseState::Silent(Duration::from_secs(secs))
    }

    fn take(me: u16, count: u16, leases: &[(u16, LeaseState)]) -> BTreeSet<u16> {
        to_take_over(me, count, &leases.iter().cloned().collect(), LEASE, AFTER)
    }

    #[test]
    fn a_shard_silent_past_the_timeout_goes_to_the_next_led_shard() {
        let leases = [(0, LeaseState::Led), (1, silent(46)), (2, LeaseState::Led)];
        assert_eq!(take(2, 3, &leases), BTreeSet::from([1]));
        assert!(take(0, 3, &leases).is_empty(), "only the heir takes it");
    }

    #[test]
    fn a_shard_within_its_lease_and_timeout_is_left_alone() {
        let leases = [(0, LeaseState::Led), (1, silent(45)), (2, LeaseState::Led)];
        assert!(take(2, 3, &leases).is_empty());
        assert!(take(0, 3, &leases).is_empty());
    }

    #[test]
    fn the_heir_wraps_round_and_skips_silent_and_taken_shards() {
        // 1 is silent; 2 is lent to 0, so not led: 1's heir is 3, past 2.
        let leases = [
            (0, LeaseState::Led),
            (1, silent(100)),
            (2, LeaseState::TakenBy(0)),
            (3, LeaseState::Led),
        ];
        assert_eq!(take(3, 4, &leases), BTreeSet::from([1]));
        assert_eq!(take(0, 4, &leases), BTreeSet::new());
        // The last shard's heir is the first.
        let leases = [(0, LeaseState::Led), (1, LeaseState::Led), (2, silent(100))];
        assert_eq!(take(0, 3, &leases), BTreeSet::from([2]));
    }

    #[test]
    fn a_taken_shard_is_not_taken_again() {
        let leases = [
            (0, LeaseState::Led),
            (1, LeaseState::TakenBy(2)),
            (2, LeaseState::Led),
        ];
        assert!(take(0, 3, &leases).is_empty());
        assert!(take(2, 3, &leases).is_empty());
    }

    #[test]
    fn with_every_other_shard_silent_the_one_left_takes_them_all() {
        let leases = [(0, silent(60)), (1, silent(60)), (2, LeaseState::Led)];
        assert_eq!(take(2, 3, &leases), BTreeSet::from([0, 1]));
    }

    #[test]
    fn one_shard_takes_nothing() {
        assert!(take(0, 1, &[]).is_empty());
    }

    #[test]
    fn taker_identities_name_their_shard() {
        let held = taker_identity(2, "op-7f9-x1-abc123");
        assert_eq!(taker_of(&held), Some(2));
        assert_eq!(taker_of("op-7f9-x1-abc123"), None);
        assert_eq!(taker_of("takeover-by-shard-x.op"), None);
    }
}
