//! Which bucket an object falls in, and the label selectors that pick buckets out.
//!
//! Every ChittyService hashes, by namespace and name, into one of [`BUCKETS`] fixed buckets; the
//! bucket is written on it and on every object made for it as the label [`LABEL`]. Shard `i` of
//! `n` works the buckets `b` with `b % n == i`. The bucket count never changes, so changing the
//! number of shards moves buckets between shards without relabelling a single object.

use std::collections::BTreeSet;

/// The label holding an object's bucket, as a decimal number below [`BUCKETS`].
pub const LABEL: &str = "chitty.cc/shard-bucket";

/// How many buckets the fleet is cut into; also the most shards an install can have.
pub const BUCKETS: u16 = 64;

/// FNV-1a, 64-bit: stable across processes, versions and platforms (unlike `std`'s hasher,
/// which is seeded per process), and plenty even for names an attacker picks: a tenant can only
/// choose which shard does its work, never what another tenant's objects hash to.
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.into_iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// The bucket of the ChittyService `namespace/name`.
pub fn of(namespace: &str, name: &str) -> u16 {
    let key = namespace.bytes().chain([b'/']).chain(name.bytes());
    (fnv1a(key) % u64::from(BUCKETS)) as u16
}

/// The bucket label of `service` and of everything made for it.
pub fn label_for(service: &impl kube::ResourceExt) -> (String, String) {
    let namespace = service.namespace().unwrap_or_default();
    (
        LABEL.to_string(),
        value(of(&namespace, &service.name_any())),
    )
}

/// The label value for a bucket.
pub fn value(bucket: u16) -> String {
    bucket.to_string()
}

/// The bucket a label value names, if it is a valid one.
pub fn parse(value: &str) -> Option<u16> {
    let bucket: u16 = value.parse().ok()?;
    // "07" would parse but is not what `value` writes, and selectors compare strings.
    (bucket < BUCKETS && value == bucket.to_string()).then_some(bucket)
}

/// The buckets shard `index` of `count` works.
pub fn of_shard(index: u16, count: u16) -> BTreeSet<u16> {
    (0..BUCKETS).filter(|b| b % count == index).collect()
}

/// A label selector term for objects in any of `buckets`.
pub fn selector(buckets: &BTreeSet<u16>) -> String {
    let values: Vec<String> = buckets.iter().map(|b| value(*b)).collect();
    format!("{LABEL} in ({})", values.join(","))
}

/// A label selector term for objects in no valid bucket: unlabelled, or labelled with something
/// no shard selects. Such an object would be silent, so the shards label it (see `assign`).
pub fn unassigned_selector() -> String {
    let all: BTreeSet<u16> = (0..BUCKETS).collect();
    let values: Vec<String> = all.iter().map(|b| value(*b)).collect();
    format!("{LABEL} notin ({})", values.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_stable_across_builds() {
        // Pinned values: a change here moves services between shards on upgrade.
        assert_eq!(fnv1a(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(of("team-a", "billing"), of("team-a", "billing"));
        assert_ne!(
            (0..20)
                .map(|i| of("ns", &format!("svc-{i}")))
                .collect::<BTreeSet<_>>()
                .len(),
            1,
            "names spread over buckets"
        );
    }

    #[test]
    fn namespace_and_name_do_not_run_together() {
        assert_ne!(of("ab", "c"), of("a", "bc"));
    }

    #[test]
    fn buckets_spread_evenly_enough() {
        let mut counts = [0u32; BUCKETS as usize];
        for i in 0..10_000 {
            counts[of(&format!("team-{}", i % 37), &format!("svc-{i:05}")) as usize] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min > 100 && *max < 220, "{min}..{max} of an even 156");
    }

    #[test]
    fn shards_split_the_buckets_without_overlap_or_gap() {
        for count in 1..=BUCKETS {
            let mut seen = BTreeSet::new();
            for index in 0..count {
                let mine = of_shard(index, count);
                assert!(!mine.is_empty());
                for b in mine {
                    assert!(seen.insert(b), "bucket {b} twice with {count} shards");
                }
            }
            assert_eq!(seen.len(), BUCKETS as usize);
        }
    }

    #[test]
    fn only_canonical_values_parse() {
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("63"), Some(63));
        assert_eq!(parse("64"), None);
        assert_eq!(parse("07"), None);
        assert_eq!(parse("-1"), None);
        assert_eq!(parse("x"), None);
    }

    #[test]
    fn selectors_name_every_bucket_they_mean() {
        assert_eq!(
            selector(&BTreeSet::from([1, 4])),
            "chitty.cc/shard-bucket in (1,4)"
        );
        let none = unassigned_selector();
        assert!(none.starts_with("chitty.cc/shard-bucket notin (0,1,"));
        assert!(none.ends_with(",63)"));
    }
}
