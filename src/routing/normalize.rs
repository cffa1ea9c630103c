//! Normalisation of a claimed host and path prefix into a [`RouteKey`].
//!
//! Two claims conflict exactly when their keys are equal, so everything that routes the same traffic
//! must normalise to the same key, and everything that routes different traffic must not.
//!
//! Host: ASCII lower-cased (DNS is case-insensitive), one trailing dot removed (`a.b.` is the
//! fully-qualified spelling of `a.b`). A wildcard is allowed only as the whole leftmost label
//! (`*.chitty.cc`); it covers exactly one label, as in Ingress and Gateway API, so `*.chitty.cc`
//! does not cover `chitty.cc` or `a.b.chitty.cc`. Labels follow RFC 1123 and a host needs at least
//! two of them besides the wildcard, the same shape as the CRD's `ROUTE_HOST` pattern; this module
//! re-checks it because hand-built inputs and older objects never went through admission.
//!
//! Path: a prefix matched segment by segment (Ingress `pathType: Prefix`): `/api` matches `/api`,
//! `/api/` and `/api/x` but not `/apix`. A trailing slash therefore carries no meaning and is
//! dropped, and a final `/*` is another spelling of the same prefix, so `/api`, `/api/` and
//! `/api/*` are one key, as are `/` and `/*`. The normal form is `/` or `/seg(/seg)*` with no
//! trailing slash. Anything that would make the matched set unclear is refused rather than
//! guessed at: `*` other than as a final `/*`, empty segments (`//`), `.`/`..` segments, and
//! whitespace, `?` or `#`. Case and percent-encoding are kept as written (paths are case-sensitive).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::fingerprint::fingerprint;

/// Why a host or path cannot be a route; the text is written for a claim's status message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRoute {
    #[error("host is empty")]
    EmptyHost,
    #[error(
        "host `*` alone would claim every host; name a domain under the wildcard, e.g. `*.chitty.cc`"
    )]
    BareWildcard,
    #[error("host `{0}`: `*` is allowed only as the whole leftmost label, e.g. `*.chitty.cc`")]
    MisplacedWildcard(String),
    #[error(
        "host `{host}`: label `{label}` must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen"
    )]
    BadLabel { host: String, label: String },
    #[error("host `{0}` needs at least two labels, e.g. `example.com`")]
    SingleLabel(String),
    #[error("host `{0}` is longer than 253 characters")]
    HostTooLong(String),
    #[error("path is empty; use `/` for the whole host")]
    EmptyPath,
    #[error("path `{0}` must start with `/`")]
    RelativePath(String),
    #[error("path `{0}` must not contain whitespace, `?` or `#`")]
    PathCharacter(String),
    #[error("path `{0}`: `*` is allowed only as a final `/*` segment")]
    MisplacedPathWildcard(String),
    #[error("path `{0}` has an empty segment (`//`)")]
    EmptySegment(String),
    #[error("path `{0}` has a `.` or `..` segment")]
    DotSegment(String),
}

/// A normalised host and path prefix: the unit of ownership. Build one with [`RouteKey::parse`];
/// there is no other way, so every `RouteKey` in existence is normalised.
///
/// Ordered by host, then path. Serialised as `{"host": ..., "path": ...}`. Host and path share one
/// reference-counted buffer because a key is cloned into the decision of every claim on it, and
/// at 100,000 claims those allocations were a visible part of `resolve`.
#[derive(Clone)]
pub struct RouteKey {
    /// Host immediately followed by path.
    text: Arc<str>,
    /// At most 253 (checked when parsing).
    host_len: u32,
    /// Of `text`: grouping claims by key sorts these rather than the text, because half the keys
    /// of a large fleet share a host, and comparing those meant reading every key's text,
    /// scattered over the heap, again and again.
    fingerprint: u32,
}

impl RouteKey {
    /// Normalise a raw host and path; see the module documentation for the rules.
    pub fn parse(host: &str, path: &str) -> Result<Self, InvalidRoute> {
        let (host, path) = (host_part(host)?, path_part(path)?);
        // Joined on the stack when short, which is nearly always, so the key's buffer is the
        // only allocation.
        let mut joined = [0u8; 128];
        let text: Arc<str> = match joined.get_mut(..host.len() + path.len()) {
            Some(buf) => {
                let (h, p) = buf.split_at_mut(host.len());
                h.copy_from_slice(host.as_bytes());
                h.make_ascii_lowercase();
                p.copy_from_slice(path.as_bytes());
                Arc::from(std::str::from_utf8(buf).expect("an ASCII host and a UTF-8 path"))
            }
            None => Arc::from(host.to_ascii_lowercase() + path),
        };
        Ok(Self {
            fingerprint: fingerprint(&text),
            host_len: host.len() as u32,
            text,
        })
    }

    /// The normalised host, e.g. `api.chitty.cc` or `*.chitty.cc`.
    pub fn host(&self) -> &str {
        &self.text[..self.host_len as usize]
    }

    /// The normalised path prefix, e.g. `/` or `/api`; usable as an Ingress `Prefix` path.
    pub fn path(&self) -> &str {
        &self.text[self.host_len as usize..]
    }

    /// Whether the host is a wildcard (`*.x`).
    pub fn is_wildcard(&self) -> bool {
        self.text.starts_with("*.")
    }

    /// A hash of the key, equal for equal keys; what grouping claims by key sorts on.
    pub(crate) fn fingerprint(&self) -> u32 {
        self.fingerprint
    }

    /// The `Display` text appended to `out` without going through a formatter.
    pub(crate) fn write_to(&self, out: &mut String) {
        out.push_str(self.host());
        if self.path() != "/" {
            out.push_str(self.path());
        }
        out.push_str("/*");
    }
}

// Equality and hashing may use the joined text: a path starts with the first `/` and a host has
// none, so the text alone determines host and path. Ordering may not: `a.b/x` vs `a.b.c/` orders
// differently as text than by host.
impl PartialEq for RouteKey {
    fn eq(&self, other: &Self) -> bool {
        // The fingerprint tells most different keys apart without reading their text, a shared
        // buffer most equal ones: `Arc<str>` equality does not check for one itself (std does
        // so only for sized types).
        self.fingerprint == other.fingerprint
            && (Arc::ptr_eq(&self.text, &other.text) || self.text == other.text)
    }
}

impl Eq for RouteKey {}

impl Hash for RouteKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl Ord for RouteKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.host(), self.path()).cmp(&(other.host(), other.path()))
    }
}

impl PartialOrd for RouteKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteKey")
            .field("host", &self.host())
            .field("path", &self.path())
            .finish()
    }
}

impl Serialize for RouteKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_struct("RouteKey", 2)?;
        map.serialize_field("host", self.host())?;
        map.serialize_field("path", self.path())?;
        map.end()
    }
}

/// `host/*` for the whole host and `host/api/*` for a prefix, so the text reads as the set of
/// URLs the key covers, the way the routes are written in ChittyOS (`mcp.chitty.cc/*`).
impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.host())?;
        if self.path() != "/" {
            f.write_str(self.path())?;
        }
        f.write_str("/*")
    }
}

/// Normalise a host (exact or `*.` wildcard); see the module documentation.
pub fn normalize_host(raw: &str) -> Result<String, InvalidRoute> {
    Ok(host_part(raw)?.to_ascii_lowercase())
}

/// Normalise a path prefix; see the module documentation for the trailing-slash rule.
pub fn normalize_path(raw: &str) -> Result<String, InvalidRoute> {
    path_part(raw).map(str::to_owned)
}

/// The validated host without its trailing dot, case not yet folded.
fn host_part(raw: &str) -> Result<&str, InvalidRoute> {
    let host = raw.strip_suffix('.').unwrap_or(raw);
    if host.is_empty() {
        return Err(InvalidRoute::EmptyHost);
    }
    if host == "*" {
        return Err(InvalidRoute::BareWildcard);
    }
    if host.len() > 253 {
        return Err(InvalidRoute::HostTooLong(raw.to_owned()));
    }
    let named = host.strip_prefix("*.").unwrap_or(host);
    if named.contains('*') {
        return Err(InvalidRoute::MisplacedWildcard(raw.to_owned()));
    }
    let mut labels = 0;
    // Split as bytes: `str::split` searches for the separator with machinery meant for long
    // text, which costs more than the check itself on labels this short.
    for label in named.as_bytes().split(|&b| b == b'.') {
        if !is_dns_label(label) {
            // Cut at an ASCII `.`, so still UTF-8.
            let label = String::from_utf8_lossy(label).into_owned();
            let host = raw.to_owned();
            return Err(InvalidRoute::BadLabel { host, label });
        }
        labels += 1;
    }
    if labels < 2 {
        return Err(InvalidRoute::SingleLabel(raw.to_owned()));
    }
    Ok(host)
}

/// The normalised path, a slice of `raw` (or `/`), so parsing a key copies it only once.
fn path_part(raw: &str) -> Result<&str, InvalidRoute> {
    if raw.is_empty() {
        return Err(InvalidRoute::EmptyPath);
    }
    if !raw.starts_with('/') {
        return Err(InvalidRoute::RelativePath(raw.to_owned()));
    }
    if raw
        .chars()
        .any(|c| c.is_whitespace() || c == '?' || c == '#')
    {
        return Err(InvalidRoute::PathCharacter(raw.to_owned()));
    }
    // A final `/*` names the same prefix as the bare segment, so drop the star, then the slash.
    let unstarred = raw
        .strip_suffix('*')
        .filter(|p| p.ends_with('/'))
        .unwrap_or(raw);
    if unstarred.contains('*') {
        return Err(InvalidRoute::MisplacedPathWildcard(raw.to_owned()));
    }
    let trimmed = unstarred.strip_suffix('/').unwrap_or(unstarred);
    if trimmed.is_empty() {
        return Ok("/");
    }
    for segment in trimmed[1..].split('/') {
        match segment {
            "" => return Err(InvalidRoute::EmptySegment(raw.to_owned())),
            "." | ".." => return Err(InvalidRoute::DotSegment(raw.to_owned())),
            _ => {}
        }
    }
    Ok(trimmed)
}

/// RFC 1123 label, either case (folded afterwards).
fn is_dns_label(bytes: &[u8]) -> bool {
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(host: &str, path: &str) -> RouteKey {
        RouteKey::parse(host, path).unwrap()
    }

    #[test]
    fn host_is_lower_cased_and_loses_its_trailing_dot() {
        assert_eq!(key("API.Chitty.CC.", "/"), key("api.chitty.cc", "/"));
        assert_eq!(key("*.Chitty.cc", "/").host(), "*.chitty.cc");
    }

    #[test]
    fn wildcard_only_as_the_whole_leftmost_label() {
        assert!(key("*.chitty.cc", "/").is_wildcard());
        assert_eq!(normalize_host("*"), Err(InvalidRoute::BareWildcard));
        assert_eq!(normalize_host("*."), Err(InvalidRoute::BareWildcard));
        assert!(matches!(
            normalize_host("a.*.b"),
            Err(InvalidRoute::MisplacedWildcard(_))
        ));
        assert!(matches!(
            normalize_host("*foo.com"),
            Err(InvalidRoute::MisplacedWildcard(_))
        ));
        assert!(matches!(
            normalize_host("*.*.com"),
            Err(InvalidRoute::MisplacedWildcard(_))
        ));
        assert!(matches!(
            normalize_host("*.com"),
            Err(InvalidRoute::SingleLabel(_))
        ));
    }

    #[test]
    fn malformed_hosts_are_refused_with_the_reason() {
        assert_eq!(normalize_host(""), Err(InvalidRoute::EmptyHost));
        assert_eq!(normalize_host("."), Err(InvalidRoute::EmptyHost));
        assert!(matches!(
            normalize_host("localhost"),
            Err(InvalidRoute::SingleLabel(_))
        ));
        assert!(matches!(
            normalize_host("a..b"),
            Err(InvalidRoute::BadLabel { .. })
        ));
        assert!(matches!(
            normalize_host("a.b.."),
            Err(InvalidRoute::BadLabel { .. })
        ));
        assert!(matches!(
            normalize_host("-a.b"),
            Err(InvalidRoute::BadLabel { .. })
        ));
        assert!(matches!(
            normalize_host("a_b.c"),
            Err(InvalidRoute::BadLabel { .. })
        ));
        assert!(matches!(
            normalize_host("ünï.com"),
            Err(InvalidRoute::BadLabel { .. })
        ));
        assert!(matches!(
            normalize_host(&format!("{}.com", "a".repeat(64))),
            Err(InvalidRoute::BadLabel { .. })
        ));
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(matches!(
            normalize_host(&long),
            Err(InvalidRoute::HostTooLong(_))
        ));
    }

    #[test]
    fn equal_prefixes_compare_equal() {
        for spelled in ["/", "/*"] {
            assert_eq!(key("a.b", spelled).path(), "/");
        }
        for spelled in ["/api", "/api/", "/api/*"] {
            assert_eq!(key("a.b", spelled).path(), "/api");
        }
        assert_eq!(key("a.b", "/api/v1/*").path(), "/api/v1");
        assert_ne!(key("a.b", "/api"), key("a.b", "/API"));
        assert_ne!(key("a.b", "/api"), key("a.b", "/apix"));
    }

    #[test]
    fn malformed_paths_are_refused_with_the_reason() {
        assert_eq!(normalize_path(""), Err(InvalidRoute::EmptyPath));
        assert!(matches!(
            normalize_path("api"),
            Err(InvalidRoute::RelativePath(_))
        ));
        assert!(matches!(
            normalize_path("*"),
            Err(InvalidRoute::RelativePath(_))
        ));
        assert!(matches!(
            normalize_path("/api*"),
            Err(InvalidRoute::MisplacedPathWildcard(_))
        ));
        assert!(matches!(
            normalize_path("/**"),
            Err(InvalidRoute::MisplacedPathWildcard(_))
        ));
        assert!(matches!(
            normalize_path("/*/x"),
            Err(InvalidRoute::MisplacedPathWildcard(_))
        ));
        assert!(matches!(
            normalize_path("//"),
            Err(InvalidRoute::EmptySegment(_))
        ));
        assert!(matches!(
            normalize_path("/a//b"),
            Err(InvalidRoute::EmptySegment(_))
        ));
        assert!(matches!(
            normalize_path("/a/../b"),
            Err(InvalidRoute::DotSegment(_))
        ));
        assert!(matches!(
            normalize_path("/a b"),
            Err(InvalidRoute::PathCharacter(_))
        ));
        assert!(matches!(
            normalize_path("/a?b=1"),
            Err(InvalidRoute::PathCharacter(_))
        ));
    }

    #[test]
    fn display_reads_as_the_covered_urls() {
        assert_eq!(key("API.chitty.cc", "/").to_string(), "api.chitty.cc/*");
        assert_eq!(
            key("api.chitty.cc", "/v1/").to_string(),
            "api.chitty.cc/v1/*"
        );
    }

    #[test]
    fn keys_order_by_host_then_path() {
        assert!(key("a.b", "/z") < key("b.b", "/"));
        assert!(key("a.b", "/") < key("a.b", "/a"));
        // By host first, not by the joined text (where `.` would sort before `/`).
        assert!(key("a.b", "/x") < key("a.b.c", "/"));
    }
}
