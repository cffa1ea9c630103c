//! A ChittyDomain's status as a pure function of its record.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::resolve::{DomainRecord, Outcome};
use crate::api::conditions::{self, Desired, reasons, types};
use crate::api::{ChittyDomain, ChittyDomainStatus, DOMAIN_NAMESPACES_LISTED};
use crate::routing::Sharing;

/// The whole status. `enforced` is false under `--route-policy=open`, where delegations are
/// recorded but decide nothing, which the message says so that Ready does not mislead.
pub fn desired(
    domain: &ChittyDomain,
    record: &DomainRecord,
    enforced: bool,
    now: &Time,
) -> ChittyDomainStatus {
    let previous = domain.status.clone().unwrap_or_default();
    let names = || {
        let listed: Vec<&str> = (record.namespaces.iter())
            .take(DOMAIN_NAMESPACES_LISTED)
            .map(String::as_str)
            .collect();
        let more = record.namespaces.len().saturating_sub(listed.len());
        let mut text = if listed.is_empty() {
            "no namespace yet".to_owned()
        } else {
            listed.join(", ")
        };
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text
    };
    let (wanted, pattern) = match &record.outcome {
        Outcome::InForce { pattern } => {
            let mut message = match record.sharing {
                Sharing::Exclusive => format!("{pattern} is delegated exclusively to {}", names()),
                Sharing::Shared => format!(
                    "{pattern} is shared by {}; each service may claim /<its name> and the paths below it",
                    names()
                ),
            };
            if !enforced {
                message.push_str(
                    " (not enforced: the operator runs with --route-policy=open, where any namespace may claim any host)",
                );
            }
            let ready = Desired::new(types::READY, true, reasons::DELEGATED, message);
            (vec![ready], Some(pattern))
        }
        Outcome::Overlapped { pattern, by } => {
            let message = format!(
                "ChittyDomain {by} is older and already delegates {pattern}; this domain has no effect while {by} exists"
            );
            (stalled(reasons::OVERLAPPED, message), Some(pattern))
        }
        Outcome::InvalidSpec(why) => (stalled(reasons::INVALID_SPEC, why.clone()), None),
    };
    ChittyDomainStatus {
        observed_generation: domain.metadata.generation,
        pattern: pattern.cloned(),
        namespace_count: i32::try_from(record.namespaces.len()).unwrap_or(i32::MAX),
        namespaces: (record.namespaces.iter())
            .take(DOMAIN_NAMESPACES_LISTED)
            .cloned()
            .collect(),
        conditions: conditions::merge(
            &previous.conditions,
            &wanted,
            domain.metadata.generation,
            now,
        ),
    }
}

/// `Ready=False` and `Stalled=True` with one reason: only a person can fix it.
fn stalled(reason: &str, message: String) -> Vec<Desired> {
    vec![
        Desired::new(types::READY, false, reason, message.clone()),
        Desired::new(types::STALLED, true, reason, message),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain() -> ChittyDomain {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDomain",
            "metadata": {"name": "shop", "generation": 3},
            "spec": {"host": "Shop.chitty.cc", "namespaces": ["team-a"]},
        }))
        .unwrap()
    }

    fn record(outcome: Outcome) -> DomainRecord {
        DomainRecord {
            generation: Some(3),
            outcome,
            sharing: Sharing::Exclusive,
            namespaces: ["team-a".to_owned()].into(),
        }
    }

    fn now() -> Time {
        Time("2026-01-01T00:00:00Z".parse().unwrap())
    }

    #[test]
    fn a_delegation_in_force_is_ready_and_says_to_whom() {
        let status = desired(
            &domain(),
            &record(Outcome::InForce {
                pattern: "shop.chitty.cc".into(),
            }),
            true,
            &now(),
        );
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "Delegated")
        );
        assert_eq!(
            ready.message,
            "shop.chitty.cc is delegated exclusively to team-a"
        );
        assert_eq!(ready.observed_generation, Some(3));
        assert!(conditions::find(&status.conditions, types::STALLED).is_none());
        assert_eq!(
            (status.namespace_count, status.pattern.as_deref()),
            (1, Some("shop.chitty.cc"))
        );
    }

    #[test]
    fn an_open_policy_is_said_and_an_overlap_stalls() {
        let open = desired(
            &domain(),
            &record(Outcome::InForce {
                pattern: "shop.chitty.cc".into(),
            }),
            false,
            &now(),
        );
        let ready = conditions::find(&open.conditions, types::READY).unwrap();
        assert!(ready.message.contains("not enforced"));
        let overlapped = desired(
            &domain(),
            &record(Outcome::Overlapped {
                pattern: "shop.chitty.cc".into(),
                by: "shop-old".into(),
            }),
            true,
            &now(),
        );
        let stalled = conditions::find(&overlapped.conditions, types::STALLED).unwrap();
        assert_eq!(
            (stalled.status.as_str(), stalled.reason.as_str()),
            ("True", "Overlapped")
        );
        assert!(stalled.message.contains("shop-old"));
    }
}
