//! How a canary gets its share of traffic, shared by the routing objects (Ingress, HTTPRoute)
//! that carry the weights and the rollout that decides them.
//!
//! - `GatewayWeights`: the service's HTTPRoute sends `weight` percent to the canary Service and
//!   the rest to the stable Service (Gateway API `backendRefs` weights).
//! - `IngressNginxCanary`: a second Ingress `<service>-canary` with ingress-nginx's canary
//!   annotations (`canary-weight`) beside the service's own Ingress.
//! - `PodRatio`: neither is available; one Service selects both tracks and the share follows the
//!   number of pods (the fallback, and the only mechanism before weighted routing).
//!
//! With a weighted mechanism the service's own Service selects only stable pods, and a second
//! Service `<service>-canary` selects only the canary's.

use crate::config::RoutingConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    GatewayWeights,
    IngressNginxCanary,
    PodRatio,
}

impl Mechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GatewayWeights => "GatewayWeights",
            Self::IngressNginxCanary => "IngressNginxCanary",
            Self::PodRatio => "PodRatio",
        }
    }

    /// Whether traffic is split by weight rather than by pods.
    pub fn weighted(self) -> bool {
        self != Self::PodRatio
    }
}

/// The mechanism the operator's routing configuration gives.
pub fn mechanism(routing: &RoutingConfig) -> Mechanism {
    if routing.gateway_backend().is_some() {
        Mechanism::GatewayWeights
    } else if routing.ingress_nginx() {
        Mechanism::IngressNginxCanary
    } else {
        Mechanism::PodRatio
    }
}

/// The canary's share of the service's traffic now: `None` when no canary is in flight (all to
/// stable), `Some(weight)` (0-100) while one is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub canary_weight: Option<i32>,
}

/// The Service that selects only a service's canary pods.
pub fn canary_service_name(service: &str) -> String {
    format!("{service}-canary")
}
