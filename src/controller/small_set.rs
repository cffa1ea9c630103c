//! `SmallSet`: an ordered set kept in a sorted `Vec`, for the indexes' few keys per entry.
//!
//! A `BTreeSet` allocates a node for eleven keys however few it holds: about 550 bytes for one
//! `(namespace, name)` pair, so an index holding one rollout per service cost more than the keys
//! themselves. A sorted `Vec` holds exactly what it has, and a handful of keys are as quick to
//! search.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmallSet<T>(Vec<T>);

impl<T> Default for SmallSet<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: Ord> SmallSet<T> {
    /// Adds `item`; false if it was there already.
    pub fn insert(&mut self, item: T) -> bool {
        match self.0.binary_search(&item) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, item);
                true
            }
        }
    }

    /// Removes `item`; false if it was not there.
    pub fn remove(&mut self, item: &T) -> bool {
        match self.0.binary_search(item) {
            Ok(at) => {
                self.0.remove(at);
                if self.0.len() * 4 < self.0.capacity() {
                    self.0.shrink_to_fit();
                }
                true
            }
            Err(_) => false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The items in order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<'a, T> IntoIterator for &'a SmallSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_item_once_in_order() {
        let mut set = SmallSet::default();
        assert!(set.insert("b"));
        assert!(set.insert("a"));
        assert!(set.insert("c"));
        assert!(!set.insert("b"), "already there");
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(set.remove(&"b"));
        assert!(!set.remove(&"b"), "gone already");
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), ["a", "c"]);
        assert!(set.remove(&"a") && set.remove(&"c") && set.is_empty());
    }

    #[test]
    fn holds_what_it_has_not_a_node_of_eleven() {
        let mut set = SmallSet::default();
        set.insert(("ns".to_string(), "name".to_string()));
        assert_eq!(
            set.0.capacity(),
            4,
            "a Vec's first growth, not eleven slots"
        );
    }
}
