//! What every ChittyDomain delegates, from the domains and the namespaces' labels: a pure
//! function of the caches, so the whole set is recomputed on any change (domains are few, and
//! a change of one may decide another's overlap).

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::core::{PartialObjectMeta, Selector, SelectorExt};

use crate::api::{ChittyDomain, DomainMode};
use crate::routing::{Delegations, DomainInput, DomainVerdict, Sharing};

/// What became of one domain, and the namespaces it delegates to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRecord {
    /// The generation this record was made from; the status reports it as observed.
    pub generation: Option<i64>,
    pub outcome: Outcome,
    pub sharing: Sharing,
    pub namespaces: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The domain delegates this pattern.
    InForce { pattern: String },
    /// An older domain delegates the same pattern.
    Overlapped { pattern: String, by: String },
    /// The spec cannot be used; the text says why. Such a domain delegates nothing: a
    /// delegation that cannot be read fails closed.
    InvalidSpec(String),
}

/// The delegations in force, and a record per domain (by name). Domains being deleted delegate
/// nothing and get no record.
pub fn resolve(
    domains: &[impl Borrow<ChittyDomain>],
    namespaces: &[impl Borrow<PartialObjectMeta<Namespace>>],
) -> (Delegations, BTreeMap<String, DomainRecord>) {
    let mut inputs = Vec::new();
    // The generation of each input, in the same order.
    let mut generations = Vec::new();
    let mut records = BTreeMap::new();
    for domain in domains.iter().map(Borrow::borrow) {
        if domain.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let name = domain.name_any();
        let sharing = match domain.spec.mode {
            DomainMode::Exclusive => Sharing::Exclusive,
            DomainMode::Shared => Sharing::Shared,
        };
        match delegated_namespaces(domain, namespaces) {
            Ok(delegated) => {
                inputs.push(DomainInput {
                    name: name.clone(),
                    created: domain
                        .metadata
                        .creation_timestamp
                        .as_ref()
                        .map_or(jiff::Timestamp::MAX, |t| t.0),
                    host: domain.spec.host.clone(),
                    sharing,
                    namespaces: delegated,
                });
                generations.push(domain.metadata.generation);
            }
            Err(why) => {
                let record = DomainRecord {
                    generation: domain.metadata.generation,
                    outcome: Outcome::InvalidSpec(why),
                    sharing,
                    namespaces: BTreeSet::new(),
                };
                records.insert(name, record);
            }
        }
    }
    // Whether a usable domain is in force depends on the others (overlaps), so its record is
    // made once all are known.
    let (delegations, mut verdicts) = Delegations::from_domains(&inputs);
    for (input, generation) in inputs.into_iter().zip(generations) {
        let Some(verdict) = verdicts.remove(&input.name) else {
            continue;
        };
        let outcome = match verdict {
            DomainVerdict::InForce { pattern } => Outcome::InForce { pattern },
            DomainVerdict::Overlapped { pattern, by } => Outcome::Overlapped { pattern, by },
            DomainVerdict::Invalid(why) => Outcome::InvalidSpec(format!("spec.host: {why}")),
        };
        let record = DomainRecord {
            generation,
            outcome,
            sharing: input.sharing,
            namespaces: input.namespaces,
        };
        records.insert(input.name, record);
    }
    (delegations, records)
}

/// `spec.namespaces` and the namespaces `spec.namespaceSelector` matches.
fn delegated_namespaces(
    domain: &ChittyDomain,
    namespaces: &[impl Borrow<PartialObjectMeta<Namespace>>],
) -> Result<BTreeSet<String>, String> {
    let mut delegated: BTreeSet<String> = domain.spec.namespaces.iter().cloned().collect();
    if let Some(selector) = &domain.spec.namespace_selector {
        let selector = Selector::try_from(selector.clone())
            .map_err(|e| format!("spec.namespaceSelector: {e}"))?;
        // An empty selector would delegate the host to every namespace, present and future:
        // that is the open policy, and must be said as such, not by an empty selector.
        if selector.selects_all() {
            return Err(
                "spec.namespaceSelector is empty, which would match every namespace; name the labels to match"
                    .into(),
            );
        }
        let empty = BTreeMap::new();
        delegated.extend(
            namespaces
                .iter()
                .map(Borrow::borrow)
                .filter(|ns| selector.matches(ns.metadata.labels.as_ref().unwrap_or(&empty)))
                .map(|ns| ns.name_any()),
        );
    }
    if domain.spec.mode == DomainMode::Exclusive && delegated.len() != 1 {
        return Err(format!(
            "an Exclusive domain belongs to exactly one namespace, and this one names {}; set mode: Shared to let several namespaces use the host",
            delegated.len()
        ));
    }
    Ok(delegated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(name: &str, second: i64, spec: serde_json::Value) -> ChittyDomain {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDomain",
            "metadata": {"name": name, "generation": 2,
                         "creationTimestamp": format!("2026-01-01T00:00:{second:02}Z")},
            "spec": spec,
        }))
        .unwrap()
    }

    fn namespace(name: &str, labels: &[(&str, &str)]) -> PartialObjectMeta<Namespace> {
        let mut meta = PartialObjectMeta::<Namespace>::default();
        meta.metadata.name = Some(name.into());
        meta.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        meta
    }

    fn namespaces() -> Vec<PartialObjectMeta<Namespace>> {
        vec![
            namespace("team-a", &[("tenant", "yes")]),
            namespace("team-b", &[("tenant", "yes")]),
            namespace("kube-system", &[]),
        ]
    }

    #[test]
    fn a_selector_adds_the_matching_namespaces_to_the_list() {
        let shared = domain(
            "api",
            1,
            serde_json::json!({"host": "api.chitty.cc", "mode": "Shared", "namespaces": ["ops"],
                               "namespaceSelector": {"matchLabels": {"tenant": "yes"}}}),
        );
        let (delegations, records) = resolve(&[shared], &namespaces());
        let record = &records["api"];
        assert_eq!(
            record.outcome,
            Outcome::InForce {
                pattern: "api.chitty.cc".into()
            }
        );
        assert_eq!(
            record.namespaces.iter().collect::<Vec<_>>(),
            ["ops", "team-a", "team-b"]
        );
        assert_eq!(record.generation, Some(2));
        assert_eq!(delegations.len(), 1);
    }

    #[test]
    fn specs_that_cannot_be_used_delegate_nothing() {
        let everyone = domain(
            "everyone",
            1,
            serde_json::json!({"host": "*.chitty.cc", "mode": "Shared", "namespaceSelector": {}}),
        );
        let two = domain(
            "two",
            2,
            serde_json::json!({"host": "shop.chitty.cc", "namespaces": ["team-a"],
                               "namespaceSelector": {"matchLabels": {"tenant": "yes"}}}),
        );
        let (delegations, records) = resolve(&[everyone, two], &namespaces());
        assert!(delegations.is_empty());
        assert!(
            matches!(&records["everyone"].outcome, Outcome::InvalidSpec(why) if why.contains("every namespace"))
        );
        assert!(
            matches!(&records["two"].outcome, Outcome::InvalidSpec(why) if why.contains("exactly one"))
        );
    }

    #[test]
    fn the_younger_of_two_domains_on_one_host_is_overlapped() {
        let spec = |ns: &str| serde_json::json!({"host": "shop.chitty.cc", "namespaces": [ns]});
        let (_, records) = resolve(
            &[
                domain("late", 9, spec("team-b")),
                domain("early", 1, spec("team-a")),
            ],
            &namespaces(),
        );
        assert_eq!(
            records["late"].outcome,
            Outcome::Overlapped {
                pattern: "shop.chitty.cc".into(),
                by: "early".into()
            }
        );
    }
}
