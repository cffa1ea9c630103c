//! Which claims share a key, found by sorting fingerprints rather than keys.

use std::ops::Range;

use super::normalize::RouteKey;

/// The keys with more than one claim. Keys claimed once are left out: they are nine in ten in a
/// large fleet, and need no contest.
#[derive(Debug, Default)]
pub(crate) struct Contested {
    /// The slots of the claims on every contested key, key after key, ascending within a key.
    pub slots: Vec<usize>,
    /// One range of `slots` per contested key, in no particular order.
    pub keys: Vec<Range<usize>>,
}

/// Groups the slots `0..slots` by key; `key_of` gives a slot's key, if it has one.
pub(crate) fn contested<'k>(
    slots: usize,
    key_of: impl Fn(usize) -> Option<&'k RouteKey>,
) -> Contested {
    // Fingerprint and slot packed in one number, the cheapest thing to sort.
    let mut printed: Vec<u64> = (0..slots)
        .filter_map(|slot| Some(u64::from(key_of(slot)?.fingerprint()) << 32 | slot as u64))
        .collect();
    printed.sort_unstable();
    let slot = |packed: u64| (packed & u64::from(u32::MAX)) as usize;
    let key = |slot: usize| key_of(slot).expect("only slots with a key are fingerprinted");

    let mut contested = Contested::default();
    let mut run: Vec<(&RouteKey, usize)> = Vec::new();
    let same_print = |a: &u64, b: &u64| a >> 32 == b >> 32;
    for printed in printed.chunk_by(same_print).filter(|run| run.len() > 1) {
        // Nearly always one key; keys that merely share a fingerprint are told apart by text.
        run.clear();
        run.extend(
            printed
                .iter()
                .map(|&packed| (key(slot(packed)), slot(packed))),
        );
        if run.iter().any(|(key, _)| *key != run[0].0) {
            run.sort_unstable();
        }
        for same_key in run.chunk_by(|a, b| a.0 == b.0).filter(|run| run.len() > 1) {
            let start = contested.slots.len();
            contested
                .slots
                .extend(same_key.iter().map(|&(_, slot)| slot));
            contested.keys.push(start..contested.slots.len());
        }
    }
    contested
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> RouteKey {
        RouteKey::parse("api.x.cc", path).unwrap()
    }

    #[test]
    fn keys_sharing_only_a_fingerprint_are_not_grouped() {
        // Found by search; the assertion keeps the test honest if the hash ever changes.
        let (a, b) = (key("/p62736"), key("/p106907"));
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a, b);
        let (a2, b2) = (key("/p62736/"), key("/p106907/*"));
        let keys = [Some(&a), Some(&b), None, Some(&b2), Some(&a2)];
        let contested = contested(keys.len(), |slot| keys[slot]);
        let mut groups: Vec<&[usize]> = (contested.keys.iter())
            .map(|range| &contested.slots[range.clone()])
            .collect();
        groups.sort();
        assert_eq!(groups, [&[0, 4][..], &[1, 3][..]]);
    }

    #[test]
    fn keys_claimed_once_are_left_out() {
        let (a, b) = (key("/a"), key("/b"));
        let keys = [Some(&a), Some(&b)];
        assert!(contested(keys.len(), |slot| keys[slot]).keys.is_empty());
    }
}
