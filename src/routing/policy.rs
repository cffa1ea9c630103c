//! Who may compete for a route at all: the route policy, before the conflict rule.
//!
//! - `open` (single-tenant clusters): any namespace may claim any host, except hosts that the
//!   operator configuration reserves for other namespaces.
//! - `delegated` (the default): on top of the reservations, a claim must route to a service in
//!   its own namespace, and its host must be delegated to its namespace by a ChittyDomain, within
//!   that domain's mode (see [`delegation`](super::delegation)).
//!
//! A refused claim does not compete, so it can never hold a route, appear in an Ingress or get a
//! certificate; its status says which rule refused it and what would allow it.

use std::fmt;

use super::claim::Claim;
use super::delegation::{Delegation, Delegations, Sharing, within_service_path};
use super::host_patterns::Governed;
use super::normalize::RouteKey;
use super::reservation::{self, Governing, Reservations};

/// Namespaces named in a message before the rest are counted.
const NAMESPACES_LISTED: usize = 5;

/// The reservations, and the delegations when the policy is `delegated` (`None`: `open`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePolicy {
    reservations: Reservations,
    delegations: Option<Delegations>,
}

/// Why a claim may not compete; its `Display` is the first half of the status message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Reserved(reservation::Refusal),
    /// `serviceRef` points into another namespace.
    ForeignService {
        namespace: String,
        service_namespace: String,
    },
    /// No ChittyDomain delegates the host.
    Undelegated {
        host: String,
        namespace: String,
    },
    /// A ChittyDomain delegates the host, to other namespaces.
    NotDelegated {
        domain: String,
        pattern: String,
        sharing: Sharing,
        allowed: Vec<String>,
        more: usize,
        namespace: String,
    },
    /// A shared host, and the path is not under the service's name.
    OutsideServicePath {
        domain: String,
        pattern: String,
        service: String,
        path: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reserved(refusal) => refusal.fmt(f),
            Self::ForeignService {
                namespace,
                service_namespace,
            } => write!(
                f,
                "serviceRef names a ChittyService in namespace {service_namespace}; a RouteClaim may only route to a service in its own namespace {namespace}"
            ),
            Self::Undelegated { host, namespace } => write!(
                f,
                "no ChittyDomain delegates {host} (route policy: delegated); a cluster administrator must create a ChittyDomain for it that names namespace {namespace}"
            ),
            Self::NotDelegated {
                domain,
                pattern,
                sharing,
                allowed,
                more,
                namespace,
            } => {
                let how = match sharing {
                    Sharing::Exclusive => "exclusively ",
                    Sharing::Shared => "as a shared host ",
                };
                let mut to = if allowed.is_empty() {
                    "no namespace".to_owned()
                } else {
                    allowed.join(", ")
                };
                if *more > 0 {
                    to.push_str(&format!(" and {more} more"));
                }
                write!(
                    f,
                    "ChittyDomain {domain} delegates {pattern} {how}to {to}; this claim's namespace {namespace} is not among them"
                )
            }
            Self::OutsideServicePath {
                domain,
                pattern,
                service,
                path,
            } => write!(
                f,
                "ChittyDomain {domain} shares {pattern} between namespaces, each service under its own name; this claim routes to {service}, so its path must be /{service} or below it, not {path}"
            ),
        }
    }
}

impl From<Reservations> for RoutePolicy {
    /// The `open` policy with these reservations.
    fn from(reservations: Reservations) -> Self {
        Self::open(reservations)
    }
}

impl RoutePolicy {
    pub fn open(reservations: Reservations) -> Self {
        Self {
            reservations,
            delegations: None,
        }
    }

    pub fn delegated(reservations: Reservations, delegations: Delegations) -> Self {
        Self {
            reservations,
            delegations: Some(delegations),
        }
    }

    pub fn reservations(&self) -> &Reservations {
        &self.reservations
    }

    /// The delegations in force; `None` under the `open` policy.
    pub fn delegations(&self) -> Option<&Delegations> {
        self.delegations.as_ref()
    }

    /// The same policy with other delegations (a ChittyDomain or a namespace changed).
    pub fn with_delegations(&self, delegations: Delegations) -> Self {
        Self::delegated(self.reservations.clone(), delegations)
    }

    /// Whether `claim` may compete for `key`, and if not, why.
    pub fn check(&self, key: &RouteKey, claim: &Claim) -> Result<(), Refusal> {
        self.on_host(key).check(claim)
    }

    /// The patterns governing `key`'s host, looked up once per key and then checked for each claim
    /// on it, since every claim on a key has the same host.
    pub(crate) fn on_host<'a>(&'a self, key: &'a RouteKey) -> OnHost<'a> {
        OnHost {
            key,
            reserved: self.reservations.governing(key.host()),
            delegated: self.delegations.as_ref().map(|d| d.governing(key.host())),
        }
    }
}

/// The policy as it applies to one key.
pub(crate) struct OnHost<'a> {
    key: &'a RouteKey,
    reserved: Option<Governing<'a>>,
    /// `None` under `open`; `Some(None)` for an undelegated host.
    delegated: Option<Option<Governed<'a, Delegation>>>,
}

impl OnHost<'_> {
    /// Whether `claim` may compete; cheap and allocation-free when it may, as nearly every claim may.
    pub(crate) fn allows(&self, claim: &Claim) -> bool {
        self.check(claim).is_ok()
    }

    pub(crate) fn check(&self, claim: &Claim) -> Result<(), Refusal> {
        let namespace = claim.id.namespace();
        let Some(delegated) = &self.delegated else {
            return self.reserved_for(namespace);
        };
        if let Some(service_namespace) = &claim.service_namespace
            && service_namespace != namespace
        {
            return Err(Refusal::ForeignService {
                namespace: namespace.to_owned(),
                service_namespace: service_namespace.clone(),
            });
        }
        self.reserved_for(namespace)?;
        let Some(governed) = delegated else {
            return Err(Refusal::Undelegated {
                host: self.key.host().to_owned(),
                namespace: namespace.to_owned(),
            });
        };
        let delegation = governed.value;
        if !delegation.namespaces.contains(namespace) {
            return Err(Refusal::NotDelegated {
                domain: delegation.domain.clone(),
                pattern: governed.pattern(),
                sharing: delegation.sharing,
                allowed: (delegation.namespaces.iter())
                    .take(NAMESPACES_LISTED)
                    .cloned()
                    .collect(),
                more: delegation
                    .namespaces
                    .len()
                    .saturating_sub(NAMESPACES_LISTED),
                namespace: namespace.to_owned(),
            });
        }
        if delegation.sharing == Sharing::Shared
            && !within_service_path(self.key.path(), &claim.service)
        {
            return Err(Refusal::OutsideServicePath {
                domain: delegation.domain.clone(),
                pattern: governed.pattern(),
                service: claim.service.clone(),
                path: self.key.path().to_owned(),
            });
        }
        Ok(())
    }

    fn reserved_for(&self, namespace: &str) -> Result<(), Refusal> {
        match &self.reserved {
            Some(governing) => governing.check(namespace).map_err(Refusal::Reserved),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::routing::{ClaimId, DomainInput, Reason, resolve};

    /// `id` is `namespace/name`, routing to `service`, with an optional foreign service namespace.
    fn claim(id: &str, route: &str, service: &str) -> Claim {
        let (namespace, name) = id.split_once('/').unwrap();
        let (host, path) = route.split_once('/').unwrap();
        Claim {
            id: ClaimId::new(namespace, name),
            host: host.into(),
            path: format!("/{path}"),
            created: Timestamp::from_second(1_750_000_000).unwrap(),
            incumbent: false,
            service_found: true,
            service: service.into(),
            service_namespace: None,
        }
    }

    fn delegated() -> RoutePolicy {
        let domain = |name: &str, host: &str, sharing, namespaces: &[&str]| DomainInput {
            name: name.into(),
            created: Timestamp::from_second(1_700_000_000).unwrap(),
            host: host.into(),
            sharing,
            namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
        };
        let (delegations, _) = Delegations::from_domains(&[
            domain("shop", "shop.chitty.cc", Sharing::Exclusive, &["team-a"]),
            domain(
                "api",
                "api.chitty.cc",
                Sharing::Shared,
                &["team-a", "team-b"],
            ),
            domain(
                "team-b",
                "*.team-b.chitty.cc",
                Sharing::Exclusive,
                &["team-b"],
            ),
        ]);
        RoutePolicy::delegated(Reservations::new(), delegations)
    }

    fn refusal(policy: &RoutePolicy, claim: &Claim) -> Option<String> {
        let key = RouteKey::parse(&claim.host, &claim.path).unwrap();
        policy.check(&key, claim).err().map(|r| r.to_string())
    }

    #[test]
    fn another_namespace_may_not_take_a_sub_path_of_an_exclusive_host() {
        let policy = delegated();
        assert_eq!(
            refusal(&policy, &claim("team-a/shop", "shop.chitty.cc/", "shop")),
            None
        );
        assert_eq!(
            refusal(
                &policy,
                &claim("team-b/checkout", "shop.chitty.cc/checkout", "checkout")
            )
            .unwrap(),
            "ChittyDomain shop delegates shop.chitty.cc exclusively to team-a; this claim's namespace team-b is not among them"
        );
        // And the refused claim never competes: the sub-path stays unrouted rather than B's.
        let r = resolve(
            &[claim(
                "team-b/checkout",
                "shop.chitty.cc/checkout",
                "checkout",
            )],
            &policy,
        );
        let decision = r.decisions.values().next().unwrap();
        assert_eq!(
            (decision.accepted, decision.reason),
            (false, Reason::NotAllowed)
        );
        assert!(
            decision.message.contains("ChittyDomain shop"),
            "{}",
            decision.message
        );
    }

    #[test]
    fn an_undelegated_host_or_wildcard_is_refused_naming_what_is_missing() {
        let policy = delegated();
        assert_eq!(
            refusal(&policy, &claim("team-b/all", "*.chitty.cc/", "web")).unwrap(),
            "no ChittyDomain delegates *.chitty.cc (route policy: delegated); a cluster administrator must create a ChittyDomain for it that names namespace team-b"
        );
        assert!(refusal(&policy, &claim("team-a/x", "elsewhere.example.com/", "x")).is_some());
        // A wildcard inside a namespace's own delegated domain is its own to claim.
        assert_eq!(
            refusal(&policy, &claim("team-b/w", "*.team-b.chitty.cc/", "web")),
            None
        );
        assert!(refusal(&policy, &claim("team-a/w", "*.team-b.chitty.cc/", "web")).is_some());
        assert!(refusal(&policy, &claim("team-a/w", "x.y.team-b.chitty.cc/", "web")).is_some());
    }

    #[test]
    fn a_shared_host_gives_each_service_the_paths_under_its_name() {
        let policy = delegated();
        assert_eq!(
            refusal(
                &policy,
                &claim("team-a/id", "api.chitty.cc/chittyid/*", "chittyid")
            ),
            None
        );
        assert_eq!(
            refusal(
                &policy,
                &claim("team-b/fin", "api.chitty.cc/finance", "finance")
            ),
            None
        );
        assert_eq!(
            refusal(
                &policy,
                &claim("team-b/fin", "api.chitty.cc/chittyid/x", "finance")
            )
            .unwrap(),
            "ChittyDomain api shares api.chitty.cc between namespaces, each service under its own name; this claim routes to finance, so its path must be /finance or below it, not /chittyid/x"
        );
        assert!(refusal(&policy, &claim("team-b/root", "api.chitty.cc/", "finance")).is_some());
        assert!(refusal(&policy, &claim("team-c/id", "api.chitty.cc/id", "id")).is_some());
    }

    #[test]
    fn a_claim_routes_only_to_a_service_in_its_own_namespace() {
        let mut foreign = claim("team-a/shop", "shop.chitty.cc/", "shop");
        foreign.service_namespace = Some("team-b".into());
        assert_eq!(
            refusal(&delegated(), &foreign).unwrap(),
            "serviceRef names a ChittyService in namespace team-b; a RouteClaim may only route to a service in its own namespace team-a"
        );
        assert_eq!(
            refusal(&RoutePolicy::default(), &foreign),
            None,
            "open keeps today's behaviour"
        );
    }

    #[test]
    fn reservations_still_apply_under_delegation() {
        let reservations = Reservations::from_pairs([("shop.chitty.cc", ["platform"])]).unwrap();
        let policy = RoutePolicy::delegated(reservations, delegated().delegations.unwrap());
        let text = refusal(&policy, &claim("team-a/shop", "shop.chitty.cc/", "shop")).unwrap();
        assert!(
            text.contains("reserved by operator configuration"),
            "{text}"
        );
    }
}
