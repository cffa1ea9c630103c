//! A small hash kept inside ids and keys, so that most comparisons of different ones are decided
//! without reading their text.
//!
//! The rule compares ids and keys hundreds of thousands of times at fleet scale, and their text
//! lives in separate heap buffers; reading those buffers, not comparing them, is what costs.

/// A 32-bit hash of `text`. Deliberately unseeded, so equal text always has an equal fingerprint.
/// Nothing depends on different text having different fingerprints: text crafted to collide
/// costs only the text comparisons that were made before fingerprints existed.
pub(crate) fn fingerprint(text: &str) -> u32 {
    // FxHash's step: rotate, mix in eight bytes, multiply by an odd constant.
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let step = |hash: u64, word: u64| (hash.rotate_left(5) ^ word).wrapping_mul(K);
    let mut words = text.as_bytes().chunks_exact(8);
    let hash = (&mut words).fold(text.len() as u64, |hash, word| {
        step(
            hash,
            u64::from_le_bytes(word.try_into().expect("eight bytes")),
        )
    });
    let mut last = [0u8; 8];
    last[..words.remainder().len()].copy_from_slice(words.remainder());
    let hash = step(hash, u64::from_le_bytes(last));
    // The multiplication carries differences only upwards; fold the high half into the low.
    (hash ^ (hash >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_text_equal_fingerprint_and_neighbours_differ() {
        assert_eq!(fingerprint("a.b/x"), fingerprint(&String::from("a.b/x")));
        let prints: std::collections::BTreeSet<u32> = (0..10_000)
            .map(|i| fingerprint(&format!("api.chitty.cc/svc-{i}")))
            .collect();
        assert!(prints.len() > 9_990, "{} distinct", prints.len());
    }
}
