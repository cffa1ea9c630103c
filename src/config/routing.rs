//! Operator settings for routes: host reservations, and how routing objects are made.

use crate::routing::{Reservations, RoutePolicy};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct RoutingConfig {
    /// Who may claim which host. `delegated`: a RouteClaim needs a ChittyDomain that delegates
    /// its host to its namespace, and may only route to a service in its own namespace; claims
    /// without are `NotAllowed`. `open`: any namespace may claim any host (single-tenant
    /// clusters). Reservations apply under both.
    #[arg(
        long = "route-policy",
        env = "CHITTY_ROUTE_POLICY",
        value_enum,
        default_value = "delegated"
    )]
    pub policy: RoutePolicyMode,

    /// Keep hosts for some namespaces: `pattern=ns1,ns2` (`api.chitty.cc=team-a,team-b`, or a
    /// wildcard `*.internal.chitty.cc=ops` covering every name under it). A RouteClaim from another
    /// namespace is refused (`NotAllowed`); `pattern=` closes a host to everyone. Repeat the flag,
    /// or separate entries with `;` (the environment variable's form).
    #[arg(
        long = "route-reservation",
        env = "CHITTY_ROUTE_RESERVATIONS",
        value_delimiter = ';',
        value_parser = parse_reservation
    )]
    pub reservations: Vec<RouteReservation>,

    /// `ingressClassName` of the Ingresses made for cluster services; the cluster's default
    /// class when unset.
    #[arg(long = "ingress-class", env = "CHITTY_INGRESS_CLASS")]
    pub ingress_class: Option<String>,

    /// cert-manager ClusterIssuer that issues certificates for routes with `tls: true`; when set,
    /// their Ingress carries the `cert-manager.io/cluster-issuer` annotation.
    #[arg(long = "cert-manager-issuer", env = "CHITTY_CERT_MANAGER_ISSUER")]
    pub cert_manager_issuer: Option<String>,

    /// What carries a service's held routes: `ingress` (a networking.k8s.io Ingress) or `gateway`
    /// (a Gateway API HTTPRoute attached to `--gateway`, with weighted canaries and prefix rewrite).
    #[arg(
        long = "route-backend",
        env = "CHITTY_ROUTE_BACKEND",
        value_enum,
        default_value = "ingress"
    )]
    pub backend: RouteBackend,

    /// The Gateway every HTTPRoute attaches to, as `namespace/name`; required with
    /// `--route-backend gateway`.
    #[arg(
        long = "gateway",
        env = "CHITTY_GATEWAY",
        value_name = "NAMESPACE/NAME",
        value_parser = parse_gateway,
        required_if_eq("backend", "gateway")
    )]
    pub gateway: Option<GatewayRef>,

    /// Which controller serves the Ingress class: `ingress-nginx` gets shared-host path routes
    /// rewritten (prefix stripped) and canary weights (a canary Ingress); `other` gets neither,
    /// and canaries split traffic by pod ratio.
    #[arg(
        long = "ingress-controller",
        env = "CHITTY_INGRESS_CONTROLLER",
        value_enum,
        default_value = "other"
    )]
    pub ingress_controller: IngressController,
}

/// `--route-backend`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RouteBackend {
    #[default]
    Ingress,
    Gateway,
}

/// `--ingress-controller`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IngressController {
    IngressNginx,
    #[default]
    Other,
}

/// `--gateway`: the parent Gateway of every HTTPRoute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayRef {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for GatewayRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// `--route-policy`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RoutePolicyMode {
    #[default]
    Delegated,
    Open,
}

/// One `--route-reservation` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteReservation {
    pub pattern: String,
    pub namespaces: Vec<String>,
}

impl RoutingConfig {
    /// The reservations as the routing rule reads them. Every entry was validated when parsed.
    pub fn reservations(&self) -> Reservations {
        let pairs = self
            .reservations
            .iter()
            .map(|r| (r.pattern.as_str(), r.namespaces.iter().cloned()));
        Reservations::from_pairs(pairs).expect("reservations are validated when parsed")
    }

    /// The policy the route rule starts with; under `delegated`, with no delegation until the
    /// ChittyDomains have been read.
    pub fn initial_policy(&self) -> RoutePolicy {
        match self.policy {
            RoutePolicyMode::Open => RoutePolicy::open(self.reservations()),
            RoutePolicyMode::Delegated => {
                RoutePolicy::delegated(self.reservations(), Default::default())
            }
        }
    }
}

impl RoutingConfig {
    /// The Gateway HTTPRoutes attach to, when routes are carried by HTTPRoutes; `None` in
    /// Ingress mode. Start-up refuses gateway mode without a Gateway, so this is never `None`
    /// there.
    pub fn gateway_backend(&self) -> Option<&GatewayRef> {
        match self.backend {
            RouteBackend::Gateway => self.gateway.as_ref(),
            RouteBackend::Ingress => None,
        }
    }

    /// Whether Ingresses are served by ingress-nginx (rewrite and canary annotations apply).
    pub fn ingress_nginx(&self) -> bool {
        self.backend == RouteBackend::Ingress
            && self.ingress_controller == IngressController::IngressNginx
    }
}

fn parse_gateway(text: &str) -> Result<GatewayRef, String> {
    let bad =
        || format!("'{text}' is not namespace/name of a Gateway (e.g. gateway-system/public)");
    let (namespace, name) = text.trim().split_once('/').ok_or_else(bad)?;
    // Gateway names are DNS subdomains; a label is the common case and what is checked here.
    if !is_namespace_name(namespace) || !is_subdomain(name) {
        return Err(bad());
    }
    Ok(GatewayRef {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })
}

fn is_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_namespace_name)
}

fn parse_reservation(text: &str) -> Result<RouteReservation, String> {
    let (pattern, namespaces) = text.trim().split_once('=').ok_or_else(|| {
        format!("'{text}' is not pattern=namespace,... (e.g. api.chitty.cc=team-a,team-b)")
    })?;
    let namespaces: Vec<String> = namespaces
        .split(',')
        .map(str::trim)
        .filter(|ns| !ns.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(bad) = namespaces.iter().find(|ns| !is_namespace_name(ns)) {
        return Err(format!("'{bad}' in '{text}' is not a namespace name"));
    }
    let pattern = pattern.trim().to_owned();
    Reservations::new()
        .reserve(&pattern, namespaces.iter().cloned())
        .map_err(|e| format!("'{text}': {e}"))?;
    Ok(RouteReservation {
        pattern,
        namespaces,
    })
}

/// RFC 1123 label, as Kubernetes requires of namespace names.
fn is_namespace_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        routing: RoutingConfig,
    }

    fn parse(args: &[&str]) -> Result<RoutingConfig, clap::Error> {
        Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied())).map(|c| c.routing)
    }

    #[test]
    fn the_route_policy_is_delegated_unless_opened() {
        let delegated = parse(&[]).unwrap();
        assert_eq!(delegated.policy, RoutePolicyMode::Delegated);
        assert!(delegated.initial_policy().delegations().is_some());
        let open = parse(&["--route-policy", "open"]).unwrap();
        assert!(open.initial_policy().delegations().is_none());
        assert!(parse(&["--route-policy", "everyone"]).is_err());
    }

    #[test]
    fn reservations_repeat_and_split_on_semicolons() {
        let config = parse(&[
            "--route-reservation",
            "api.chitty.cc=team-a,team-b",
            "--route-reservation",
            "*.internal.chitty.cc=ops;closed.chitty.cc=",
        ])
        .unwrap();
        assert_eq!(
            config.reservations,
            [
                RouteReservation {
                    pattern: "api.chitty.cc".into(),
                    namespaces: vec!["team-a".into(), "team-b".into()]
                },
                RouteReservation {
                    pattern: "*.internal.chitty.cc".into(),
                    namespaces: vec!["ops".into()]
                },
                RouteReservation {
                    pattern: "closed.chitty.cc".into(),
                    namespaces: vec![]
                },
            ]
        );
        let reservations = config.reservations();
        assert!(reservations.check("api.chitty.cc", "team-b").is_ok());
        assert!(reservations.check("api.chitty.cc", "team-c").is_err());
        assert!(reservations.check("db.internal.chitty.cc", "ops").is_ok());
        assert!(reservations.check("closed.chitty.cc", "ops").is_err());
        assert!(reservations.check("open.chitty.cc", "anyone").is_ok());
    }

    #[test]
    fn malformed_reservations_are_refused_at_startup() {
        for bad in ["api.chitty.cc", "a.*.chitty.cc=x", "api.chitty.cc=Team_A"] {
            assert!(
                parse(&["--route-reservation", bad]).is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn ingress_settings_are_unset_by_default() {
        let config = parse(&[]).unwrap();
        assert!(config.reservations.is_empty());
        assert_eq!(config.ingress_class, None);
        assert_eq!(config.cert_manager_issuer, None);
    }

    #[test]
    fn routes_are_ingresses_of_an_unknown_controller_by_default() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.backend, RouteBackend::Ingress);
        assert_eq!(config.ingress_controller, IngressController::Other);
        assert_eq!(config.gateway_backend(), None);
        assert!(!config.ingress_nginx());
    }

    #[test]
    fn gateway_mode_needs_a_gateway() {
        let err = parse(&["--route-backend", "gateway"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert!(err.to_string().contains("--gateway"), "{err}");
        let config = parse(&["--route-backend", "gateway", "--gateway", "gw/public"]).unwrap();
        let gateway = GatewayRef {
            namespace: "gw".into(),
            name: "public".into(),
        };
        assert_eq!(config.gateway_backend(), Some(&gateway));
        assert_eq!(gateway.to_string(), "gw/public");
    }

    #[test]
    fn a_gateway_is_namespace_slash_name() {
        for bad in ["public", "gw/", "/public", "GW/public", "gw/Public"] {
            let err = parse(&["--route-backend", "gateway", "--gateway", bad]).unwrap_err();
            assert!(err.to_string().contains("namespace/name"), "{bad}: {err}");
        }
    }

    #[test]
    fn ingress_nginx_applies_only_to_ingresses() {
        let nginx = parse(&["--ingress-controller", "ingress-nginx"]).unwrap();
        assert!(nginx.ingress_nginx());
        let gateway = parse(&[
            "--ingress-controller",
            "ingress-nginx",
            "--route-backend",
            "gateway",
            "--gateway",
            "gw/public",
        ])
        .unwrap();
        assert!(!gateway.ingress_nginx());
        assert!(parse(&["--ingress-controller", "traefik"]).is_err());
    }

    #[test]
    fn the_canary_mechanism_follows_the_route_backend() {
        use crate::workload::traffic::{Mechanism, mechanism};
        let of = |args: &[&str]| mechanism(&parse(args).unwrap());
        assert_eq!(of(&[]), Mechanism::PodRatio);
        assert_eq!(
            of(&["--ingress-controller", "ingress-nginx"]),
            Mechanism::IngressNginxCanary
        );
        assert_eq!(
            of(&["--route-backend", "gateway", "--gateway", "gw/public"]),
            Mechanism::GatewayWeights
        );
    }
}
