//! Optional reservations from operator configuration: host patterns kept for some namespaces.
//!
//! Patterns govern hosts as [`host_patterns`](super::host_patterns) describes: the most specific
//! one governs, and a reserved wildcard covers every depth. That allows delegation (`*.chitty.cc`
//! for `platform`, `api.chitty.cc` for `team-a`). Hosts no reservation governs are open to every
//! namespace, as far as reservations go (the route policy may still require a ChittyDomain).

use std::collections::BTreeSet;
use std::fmt;

use super::host_patterns::{Governed, HostPatterns};
use super::normalize::InvalidRoute;

/// Host patterns and the namespaces allowed to claim under them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reservations {
    patterns: HostPatterns<BTreeSet<String>>,
}

/// A claim outside the reservation that governs its host; its `Display` is the status message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The governing pattern, as normalised (`*.chitty.cc`).
    pub pattern: String,
    pub allowed: Vec<String>,
    pub namespace: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let allowed = if self.allowed.is_empty() {
            "no namespace".to_owned()
        } else {
            self.allowed.join(", ")
        };
        write!(
            f,
            "hosts matching {} are reserved by operator configuration for {}; this claim's namespace {} is not allowed",
            self.pattern, allowed, self.namespace
        )
    }
}

impl Reservations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Build from `(pattern, namespaces)` pairs, as operator configuration lists them.
    pub fn from_pairs<P, I, S>(
        pairs: impl IntoIterator<Item = (P, I)>,
    ) -> Result<Self, InvalidRoute>
    where
        P: AsRef<str>,
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut reservations = Self::new();
        for (pattern, namespaces) in pairs {
            reservations.reserve(pattern.as_ref(), namespaces)?;
        }
        Ok(reservations)
    }

    /// Reserve a pattern for namespaces; naming a pattern twice allows the union. An empty
    /// namespace list closes the pattern to everyone.
    pub fn reserve<S: Into<String>>(
        &mut self,
        pattern: &str,
        namespaces: impl IntoIterator<Item = S>,
    ) -> Result<(), InvalidRoute> {
        let (_, allowed) = self.patterns.entry(pattern)?;
        allowed.extend(namespaces.into_iter().map(Into::into));
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `namespace` may claim the normalised `host`.
    pub fn check(&self, host: &str, namespace: &str) -> Result<(), Refusal> {
        self.governing(host).map_or(Ok(()), |g| g.check(namespace))
    }

    /// The most specific reservation over a normalised host. Looked up once per key and then
    /// checked for each claim on it, since every claim on a key has the same host.
    pub(crate) fn governing<'a>(&'a self, host: &'a str) -> Option<Governing<'a>> {
        self.patterns.governing(host).map(Governing)
    }
}

/// One reservation as it applies to one host.
pub(crate) struct Governing<'a>(Governed<'a, BTreeSet<String>>);

impl Governing<'_> {
    pub(crate) fn allows(&self, namespace: &str) -> bool {
        self.0.value.contains(namespace)
    }

    pub(crate) fn check(&self, namespace: &str) -> Result<(), Refusal> {
        if self.allows(namespace) {
            return Ok(());
        }
        // Spelled out only here: most claims are allowed, and this is per claim.
        Err(Refusal {
            pattern: self.0.pattern(),
            allowed: self.0.value.iter().cloned().collect(),
            namespace: namespace.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reservations() -> Reservations {
        Reservations::from_pairs([
            ("*.chitty.cc", vec!["platform"]),
            ("API.chitty.cc.", vec!["team-a"]),
            ("*.internal.chitty.cc", vec!["ops", "platform"]),
            ("closed.example.com", vec![]),
        ])
        .unwrap()
    }

    #[test]
    fn unreserved_hosts_are_open_to_everyone() {
        assert!(reservations().check("example.org", "anyone").is_ok());
        assert!(reservations().check("*.example.com", "anyone").is_ok());
        assert!(Reservations::new().check("api.chitty.cc", "anyone").is_ok());
    }

    #[test]
    fn the_most_specific_reservation_governs() {
        let r = reservations();
        assert!(r.check("api.chitty.cc", "team-a").is_ok());
        assert!(r.check("api.chitty.cc", "platform").is_err());
        assert!(r.check("mcp.chitty.cc", "platform").is_ok());
        assert!(r.check("db.internal.chitty.cc", "ops").is_ok());
        assert!(r.check("mcp.chitty.cc", "ops").is_err());
    }

    #[test]
    fn reserved_wildcard_covers_every_depth_and_wildcard_claims_under_it() {
        let r = reservations();
        assert!(r.check("a.b.chitty.cc", "team-b").is_err());
        assert!(r.check("*.chitty.cc", "team-b").is_err());
        assert!(r.check("*.b.chitty.cc", "team-b").is_err());
        assert!(r.check("*.chitty.cc", "platform").is_ok());
        assert!(
            r.check("chitty.cc", "team-b").is_ok(),
            "the apex is not under *.chitty.cc"
        );
    }

    #[test]
    fn an_empty_namespace_list_closes_the_host() {
        let refusal = reservations()
            .check("closed.example.com", "platform")
            .unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "hosts matching closed.example.com are reserved by operator configuration for no namespace; \
             this claim's namespace platform is not allowed"
        );
    }

    #[test]
    fn invalid_patterns_are_refused() {
        assert!(Reservations::from_pairs([("a.*.b", vec!["x"])]).is_err());
    }
}
