//! A small time-limited cache for the answers of TokenReviews and SubjectAccessReviews, so that
//! a dashboard polling every few seconds costs the API server a review now and then rather than
//! one per request. Bounded: when full, expired entries go, and if none had expired, all go (a
//! flood of distinct callers cannot grow it).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub struct ReviewCache<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
    ttl: Duration,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> ReviewCache<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl,
            capacity,
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        self.get_at(key, Instant::now())
    }

    pub fn insert(&self, key: K, value: V) {
        self.insert_at(key, value, Instant::now());
    }

    fn get_at(&self, key: &K, now: Instant) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(key)
            .filter(|(stored, _)| now.saturating_duration_since(*stored) < self.ttl)
            .map(|(_, value)| value.clone())
    }

    fn insert_at(&self, key: K, value: V, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (stored, _)| now.saturating_duration_since(*stored) < self.ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (now, value));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_reused_until_it_expires() {
        let cache = ReviewCache::new(Duration::from_secs(10), 8);
        let t0 = Instant::now();
        cache.insert_at("alice", true, t0);
        assert_eq!(
            cache.get_at(&"alice", t0 + Duration::from_secs(9)),
            Some(true)
        );
        assert_eq!(cache.get_at(&"alice", t0 + Duration::from_secs(10)), None);
        assert_eq!(cache.get_at(&"bob", t0), None);
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first_and_never_grows_past_its_capacity() {
        let cache = ReviewCache::new(Duration::from_secs(10), 2);
        let t0 = Instant::now();
        cache.insert_at(1, "old", t0);
        cache.insert_at(2, "new", t0 + Duration::from_secs(8));
        cache.insert_at(3, "newest", t0 + Duration::from_secs(12));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get_at(&2, t0 + Duration::from_secs(12)), Some("new"));
        cache.insert_at(4, "flood", t0 + Duration::from_secs(13));
        assert!(cache.len() <= 2);
        assert_eq!(
            cache.get_at(&4, t0 + Duration::from_secs(13)),
            Some("flood")
        );
    }
}
