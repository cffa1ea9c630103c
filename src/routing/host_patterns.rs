//! Host patterns that govern hosts: the lookup shared by operator reservations and ChittyDomain
//! delegations.
//!
//! A pattern is exact (`api.chitty.cc`) or a wildcard (`*.chitty.cc`). Unlike a routing wildcard,
//! which covers one label, a governing wildcard covers every name under its domain at any depth
//! (`a.b.chitty.cc` too): it is an ownership boundary, and it should fail closed rather than leave
//! deeper names open to anyone.
//!
//! The most specific pattern governs a host: an exact one first, then the wildcard with the
//! longest domain. A wildcard claim `*.d` is governed by the most specific wildcard over `d`;
//! exact patterns beneath it do not govern it, because an exact host always takes precedence over
//! a wildcard in routing.

use std::collections::BTreeMap;

use super::normalize::{InvalidRoute, normalize_host};

/// Patterns, each with a value (who may use the hosts it governs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPatterns<T> {
    /// Exact host → value.
    exact: BTreeMap<String, T>,
    /// Domain `d` of a `*.d` pattern → value.
    wildcard: BTreeMap<String, T>,
}

impl<T> Default for HostPatterns<T> {
    fn default() -> Self {
        Self {
            exact: BTreeMap::new(),
            wildcard: BTreeMap::new(),
        }
    }
}

/// One pattern as it applies to one host.
#[derive(Debug)]
pub(crate) struct Governed<'a, T> {
    pub wildcard: bool,
    /// The exact host, or the `d` of `*.d`.
    pub domain: &'a str,
    pub value: &'a T,
}

impl<T> Governed<'_, T> {
    /// The pattern as written in normal form (`*.chitty.cc`).
    pub fn pattern(&self) -> String {
        if self.wildcard {
            format!("*.{}", self.domain)
        } else {
            self.domain.to_owned()
        }
    }
}

impl<T> HostPatterns<T> {
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.wildcard.is_empty()
    }

    pub fn len(&self) -> usize {
        self.exact.len() + self.wildcard.len()
    }

    /// The value under `pattern`, created with `Default` when absent. Returns the normalised
    /// pattern too.
    pub fn entry(&mut self, pattern: &str) -> Result<(String, &mut T), InvalidRoute>
    where
        T: Default,
    {
        let host = normalize_host(pattern)?;
        let value = match host.strip_prefix("*.") {
            Some(domain) => self.wildcard.entry(domain.to_owned()).or_default(),
            None => self.exact.entry(host.clone()).or_default(),
        };
        Ok((host, value))
    }

    /// Set the value under a pattern already normalised (`normalize_host`).
    pub fn insert(&mut self, pattern: String, value: T) {
        match pattern.strip_prefix("*.") {
            Some(domain) => self.wildcard.insert(domain.to_owned(), value),
            None => self.exact.insert(pattern, value),
        };
    }

    /// The value under exactly this normalised pattern.
    pub fn get(&self, pattern: &str) -> Option<&T> {
        match pattern.strip_prefix("*.") {
            Some(domain) => self.wildcard.get(domain),
            None => self.exact.get(pattern),
        }
    }

    /// The most specific pattern over a normalised host (or `*.d` wildcard host).
    pub fn governing<'a>(&'a self, host: &'a str) -> Option<Governed<'a, T>> {
        if self.is_empty() {
            return None;
        }
        // `*.d` is governed from `d` upwards; an exact host by itself, then from its parent up.
        let mut domain = match host.strip_prefix("*.") {
            Some(domain) => Some(domain),
            None => {
                if let Some(value) = self.exact.get(host) {
                    return Some(Governed {
                        wildcard: false,
                        domain: host,
                        value,
                    });
                }
                parent(host)
            }
        };
        while let Some(d) = domain {
            if let Some(value) = self.wildcard.get(d) {
                return Some(Governed {
                    wildcard: true,
                    domain: d,
                    value,
                });
            }
            domain = parent(d);
        }
        None
    }
}

fn parent(host: &str) -> Option<&str> {
    host.split_once('.').map(|(_, rest)| rest)
}
