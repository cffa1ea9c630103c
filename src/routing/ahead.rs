//! Reading ahead: touching the heap buffers of the next few claims before working on them.
//!
//! At fleet scale the claims' strings, ids and keys are scattered over the heap, and the first
//! read of nearly every one is a cache miss. Met one at a time, in the middle of the work on each
//! claim, those misses took a large part of a resolve. Read in a tight loop with no dependency
//! between the reads, they are fetched in parallel; the work then finds them in cache.

/// How many claims are read ahead at a time: enough to keep the memory system busy, few enough
/// that what is read is still in cache when the work reaches it.
pub(crate) const AHEAD: usize = 16;

/// Reads, for each item, the bytes `read` picks (and combines).
pub(crate) fn touch<T>(items: &[T], read: impl Fn(&T) -> u8) {
    let combined = items.iter().fold(0, |acc, item| acc ^ read(item));
    // Keeps the reads from being optimised away; what they read is of no interest.
    std::hint::black_box(combined);
}

/// The first byte of `text`, or 0.
pub(crate) fn first(text: &str) -> u8 {
    text.as_bytes().first().copied().unwrap_or(0)
}
