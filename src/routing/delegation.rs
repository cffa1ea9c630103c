//! Delegation of hosts to namespaces by ChittyDomains, enforced under `--route-policy=delegated`.
//!
//! A cluster administrator delegates a host (`shop.chitty.cc`) or every name under a domain
//! (`*.team-a.chitty.cc`, any depth, as [`host_patterns`](super::host_patterns) describes) to
//! namespaces, in one of two modes:
//! - **Exclusive**: one namespace owns every path of the host. Another namespace's claim on any
//!   path is refused, so no sub-path (`/checkout` under someone's `/`) and no certificate for the
//!   host can be taken from it.
//! - **Shared**: several namespaces share the host, and each service gets the paths under its own
//!   name (`api.chitty.cc/chittyid/...`, the ecosystem's pattern); a claim elsewhere on the host is
//!   refused. Two services of one name in two namespaces meet on the same key, where the ordinary
//!   conflict rule decides.
//!
//! One pattern is delegated by one ChittyDomain: when two name the same pattern, the older one
//! (then the one whose name sorts first) delegates it and the other is reported as overlapping,
//! so a newly created domain can never take a host from the teams already using it.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::host_patterns::{Governed, HostPatterns};
use super::normalize::normalize_host;

/// How a delegated host is divided between namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    Exclusive,
    Shared,
}

/// What one ChittyDomain delegates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// The ChittyDomain's name, for messages.
    pub domain: String,
    pub sharing: Sharing,
    pub namespaces: BTreeSet<String>,
}

/// Every pattern in force and the domain that delegates it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delegations {
    patterns: HostPatterns<Delegation>,
}

/// One ChittyDomain as the rule reads it; its namespaces already resolved from the list and the
/// selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainInput {
    pub name: String,
    pub created: Timestamp,
    /// `spec.host` as written.
    pub host: String,
    pub sharing: Sharing,
    pub namespaces: BTreeSet<String>,
}

/// What became of one ChittyDomain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainVerdict {
    /// It delegates `pattern` (normalised) to its namespaces.
    InForce { pattern: String },
    /// Its host is not a valid pattern; the text says why.
    Invalid(String),
    /// An older domain already delegates the same pattern.
    Overlapped { pattern: String, by: String },
}

impl Delegations {
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The delegations of `domains`, and the verdict on each domain, by name.
    pub fn from_domains(domains: &[DomainInput]) -> (Self, BTreeMap<String, DomainVerdict>) {
        let mut ordered: Vec<&DomainInput> = domains.iter().collect();
        ordered.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name)));
        let mut delegations = Self::default();
        let mut verdicts = BTreeMap::new();
        for domain in ordered {
            let verdict = match normalize_host(&domain.host) {
                Err(error) => DomainVerdict::Invalid(error.to_string()),
                Ok(pattern) => match delegations.patterns.get(&pattern) {
                    Some(first) => DomainVerdict::Overlapped {
                        by: first.domain.clone(),
                        pattern,
                    },
                    None => {
                        delegations.patterns.insert(
                            pattern.clone(),
                            Delegation {
                                domain: domain.name.clone(),
                                sharing: domain.sharing,
                                namespaces: domain.namespaces.clone(),
                            },
                        );
                        DomainVerdict::InForce { pattern }
                    }
                },
            };
            verdicts.insert(domain.name.clone(), verdict);
        }
        (delegations, verdicts)
    }

    /// The most specific delegation over a normalised host.
    pub(crate) fn governing<'a>(&'a self, host: &'a str) -> Option<Governed<'a, Delegation>> {
        self.patterns.governing(host)
    }
}

/// Whether the service named `service` may use the normalised `path` on a shared host: `/service`
/// or anything below it.
pub(crate) fn within_service_path(path: &str, service: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|rest| rest.split('/').next())
        .is_some_and(|first| first == service)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(name: &str, second: i64, host: &str, sharing: Sharing, ns: &[&str]) -> DomainInput {
        DomainInput {
            name: name.into(),
            created: Timestamp::from_second(1_750_000_000 + second).unwrap(),
            host: host.into(),
            sharing,
            namespaces: ns.iter().map(|n| n.to_string()).collect(),
        }
    }

    #[test]
    fn the_older_domain_keeps_a_pattern_named_twice() {
        let (delegations, verdicts) = Delegations::from_domains(&[
            domain("newer", 5, "Shop.chitty.cc.", Sharing::Exclusive, &["b"]),
            domain("older", 1, "shop.chitty.cc", Sharing::Exclusive, &["a"]),
            domain("bad", 1, "a.*.cc", Sharing::Shared, &["a"]),
        ]);
        assert_eq!(
            verdicts["older"],
            DomainVerdict::InForce {
                pattern: "shop.chitty.cc".into()
            }
        );
        assert_eq!(
            verdicts["newer"],
            DomainVerdict::Overlapped {
                pattern: "shop.chitty.cc".into(),
                by: "older".into()
            }
        );
        assert!(matches!(verdicts["bad"], DomainVerdict::Invalid(_)));
        let governed = delegations.governing("shop.chitty.cc").unwrap();
        assert_eq!(governed.value.domain, "older");
        assert_eq!(delegations.len(), 1);
    }

    #[test]
    fn a_wildcard_delegation_covers_every_depth_and_an_exact_one_wins_under_it() {
        let (delegations, _) = Delegations::from_domains(&[
            domain("all", 1, "*.chitty.cc", Sharing::Exclusive, &["platform"]),
            domain("api", 2, "api.chitty.cc", Sharing::Shared, &["a", "b"]),
        ]);
        let of = |host| delegations.governing(host).map(|g| g.value.domain.clone());
        assert_eq!(of("a.b.chitty.cc").as_deref(), Some("all"));
        assert_eq!(of("*.chitty.cc").as_deref(), Some("all"));
        assert_eq!(of("api.chitty.cc").as_deref(), Some("api"));
        assert_eq!(of("chitty.cc"), None);
        assert_eq!(of("example.com"), None);
    }

    #[test]
    fn a_service_path_is_its_name_and_below() {
        assert!(within_service_path("/chittyid", "chittyid"));
        assert!(within_service_path("/chittyid/api/health", "chittyid"));
        assert!(!within_service_path("/", "chittyid"));
        assert!(!within_service_path("/chittyidx", "chittyid"));
        assert!(!within_service_path("/other/chittyid", "chittyid"));
    }
}
