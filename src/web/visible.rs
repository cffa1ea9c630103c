//! Which namespaces one caller of the read API may see, decided once per request by the
//! authentication middleware and applied by every handler that lists the fleet.

use std::collections::BTreeSet;
use std::sync::Arc;

/// The default, `All`, is for code that filters with no caller in view (tests, benches); the
/// handlers always take the middleware's value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Visible {
    /// The API is open, the caller holds the static token, or it may list ChittyServices in
    /// every namespace.
    #[default]
    All,
    /// Only these namespaces (possibly none).
    Only(Arc<BTreeSet<String>>),
}

impl Visible {
    pub fn allows(&self, namespace: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(namespaces) => namespaces.contains(namespace),
        }
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Self::All)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_namespaces_are_visible() {
        let some = Visible::Only(Arc::new(["team-a".to_string()].into()));
        assert!(some.allows("team-a"));
        assert!(!some.allows("team-b"));
        assert!(!some.is_all());
        assert!(Visible::All.allows("anything"));
        assert!(!Visible::Only(Default::default()).allows("team-a"));
    }
}
