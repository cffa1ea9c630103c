//! The input of the rule: what the controller reads from one RouteClaim and the cluster around it.

use std::cmp::Ordering;
use std::fmt;

use jiff::Timestamp;
use serde::{Serialize, Serializer};

/// A RouteClaim's identity, `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimId {
    pub namespace: String,
    pub name: String,
}

impl ClaimId {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl ClaimId {
    /// The first 16 bytes of the `namespace/name` text as a number: comparing these first lets
    /// a sort decide most comparisons without following pointers to the strings.
    pub(crate) fn sort_prefix(&self) -> u128 {
        let mut bytes = [0u8; 16];
        let text = self
            .namespace
            .bytes()
            .chain(std::iter::once(b'/'))
            .chain(self.name.bytes());
        for (slot, byte) in bytes.iter_mut().zip(text) {
            *slot = byte;
        }
        u128::from_be_bytes(bytes)
    }
}

impl fmt::Display for ClaimId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Alphabetical order of the `namespace/name` text, the last tie-break of the rule. This is not
/// the order of the `(namespace, name)` pair: `a-b/x` sorts before `a/y` as text (`-` < `/`) but
/// after it as a pair, and the rule is documented, and shown to users, as text. Every sort and map
/// in the rule compares ids, so this avoids building the text.
impl Ord for ClaimId {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.namespace.as_bytes(), other.namespace.as_bytes());
        let common = a.len().min(b.len());
        match a[..common].cmp(&b[..common]) {
            Ordering::Equal if a.len() == b.len() => return self.name.cmp(&other.name),
            Ordering::Equal => {}
            decided => return decided,
        }
        // One namespace is a prefix of the other, so the shorter one's `/` meets a byte of the
        // longer one; rare, so compare the whole texts.
        fn text(id: &ClaimId) -> impl Iterator<Item = u8> + '_ {
            id.namespace
                .bytes()
                .chain(std::iter::once(b'/'))
                .chain(id.name.bytes())
        }
        // The pair comparison only separates ids whose text is equal, which Kubernetes names
        // (no `/` allowed) never are; it keeps `Ord` consistent with `Eq` for any input.
        text(self)
            .cmp(text(other))
            .then_with(|| (&self.namespace, &self.name).cmp(&(&other.namespace, &other.name)))
    }
}

impl PartialOrd for ClaimId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Serialised as the `namespace/name` text used in RouteClaim status.
impl Serialize for ClaimId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One RouteClaim as the rule sees it. Host and path are raw; the rule normalises them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub id: ClaimId,
    /// `spec.host` as written.
    pub host: String,
    /// `spec.path` as written.
    pub path: String,
    /// `metadata.creationTimestamp` (the `Time` of k8s-openapi wraps a `jiff::Timestamp`). Use
    /// `Timestamp::MAX` when unknown, so that an object without one never outranks a real one.
    pub created: Timestamp,
    /// The claim's status says `Accepted=True` for its current host and path. Read back from the
    /// API, so incumbency survives operator restarts. The caller must not carry it across a change
    /// of host or path, or an edited claim would arrive on a new key already "holding" it.
    pub incumbent: bool,
    /// The ChittyService named by `spec.serviceRef` exists.
    pub service_found: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_as_namespace_slash_name_text() {
        let mut ids = [
            ClaimId::new("a", "y"),
            ClaimId::new("a-b", "x"),
            ClaimId::new("a", "x"),
            ClaimId::new("a0", "a"),
        ];
        ids.sort();
        let text: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let mut expected = text.clone();
        expected.sort();
        assert_eq!(text, expected);
        assert_eq!(text, ["a-b/x", "a/x", "a/y", "a0/a"]);
    }

    #[test]
    fn ids_serialise_as_text() {
        assert_eq!(
            serde_json::to_string(&ClaimId::new("team-a", "api")).unwrap(),
            r#""team-a/api""#
        );
    }
}
