//! The input of the rule: what the controller reads from one RouteClaim and the cluster around it.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Serialize, Serializer};

use super::fingerprint::fingerprint;

/// A RouteClaim's identity, `namespace/name`.
///
/// Kept as the joined text in one reference-counted buffer: every decision names its own id and
/// its holder, and the ids of others on contested keys, so a resolve of 100,000 claims clones ids
/// hundreds of thousands of times; with two owned strings each clone (and drop) was two
/// allocations, the largest single cost of the rule.
#[derive(Clone)]
pub struct ClaimId {
    /// `namespace/name`.
    text: Arc<str>,
    namespace_len: u32,
    /// Of `text`; decides most comparisons of different ids for equality without reading it.
    fingerprint: u32,
}

impl ClaimId {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        let mut text = namespace.into();
        // Kubernetes names are at most 253 bytes; only absurd hand-built ids would not fit.
        let namespace_len = u32::try_from(text.len()).expect("a namespace shorter than 4 GiB");
        text.push('/');
        text.push_str(&name.into());
        Self {
            fingerprint: fingerprint(&text),
            text: Arc::from(text),
            namespace_len,
        }
    }

    pub fn namespace(&self) -> &str {
        &self.text[..self.namespace_len as usize]
    }

    pub fn name(&self) -> &str {
        &self.text[self.namespace_len as usize + 1..]
    }

    /// The `namespace/name` text.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The first 16 bytes of the `namespace/name` text as a number: comparing these first lets
    /// a sort decide most comparisons without following pointers to the text.
    pub(crate) fn sort_prefix(&self) -> u128 {
        let mut bytes = [0u8; 16];
        for (slot, byte) in bytes.iter_mut().zip(self.text.bytes()) {
            *slot = byte;
        }
        u128::from_be_bytes(bytes)
    }
}

// The text alone does not determine the pair when a namespace contains `/` (never so for
// Kubernetes names, possible for hand-built ids), so the split point takes part in equality.
impl PartialEq for ClaimId {
    fn eq(&self, other: &Self) -> bool {
        // The fingerprint tells most different ids apart, a shared buffer most equal ones:
        // `Arc<str>` equality does not check for one itself (std does so only for sized types).
        self.fingerprint == other.fingerprint
            && self.namespace_len == other.namespace_len
            && (Arc::ptr_eq(&self.text, &other.text) || self.text == other.text)
    }
}

impl Eq for ClaimId {}

impl Hash for ClaimId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
        self.namespace_len.hash(state);
    }
}

impl fmt::Display for ClaimId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for ClaimId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimId")
            .field("namespace", &self.namespace())
            .field("name", &self.name())
            .finish()
    }
}

/// Alphabetical order of the `namespace/name` text, the last tie-break of the rule. This is not
/// the order of the `(namespace, name)` pair: `a-b/x` sorts before `a/y` as text (`-` < `/`) but
/// after it as a pair, and the rule is documented, and shown to users, as text.
impl Ord for ClaimId {
    fn cmp(&self, other: &Self) -> Ordering {
        // Equal texts split differently (a `/` inside a namespace) fall back to the pair order,
        // which puts the shorter namespace first; it keeps `Ord` consistent with `Eq`.
        self.text
            .cmp(&other.text)
            .then(self.namespace_len.cmp(&other.namespace_len))
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
        serializer.serialize_str(&self.text)
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
    /// The name of that service: on a shared host, its paths are the ones under this name.
    pub service: String,
    /// `spec.serviceRef.namespace` when it names a namespace other than the claim's own, which
    /// the delegated route policy refuses.
    pub service_namespace: Option<String>,
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
    fn ids_keep_namespace_and_name_apart() {
        let id = ClaimId::new("team-a", "api");
        assert_eq!((id.namespace(), id.name()), ("team-a", "api"));
        // Only hand-built ids can hold a `/` in a namespace; they still differ, in a fixed order.
        let (short, long) = (ClaimId::new("a", "b/c"), ClaimId::new("a/b", "c"));
        assert_eq!(short.to_string(), long.to_string());
        assert_ne!(short, long);
        assert!(short < long);
        assert_eq!(
            format!("{long:?}"),
            r#"ClaimId { namespace: "a/b", name: "c" }"#
        );
    }

    #[test]
    fn ids_serialise_as_text() {
        assert_eq!(
            serde_json::to_string(&ClaimId::new("team-a", "api")).unwrap(),
            r#""team-a/api""#
        );
    }
}
