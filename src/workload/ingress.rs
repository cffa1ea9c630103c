//! The networking.k8s.io/v1 Ingress of a cluster service: exactly the routes it holds (accepted
//! RouteClaims), each a `Prefix` path to its Service. A route it does not hold is never in it.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::networking::v1::Ingress;
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

use super::common_labels;
use crate::api::ChittyService;

/// The annotation that makes cert-manager's ingress-shim issue the certificates of the TLS section.
pub const CERT_MANAGER_ISSUER: &str = "cert-manager.io/cluster-issuer";

/// The prefix of ingress-nginx's annotations, which the operator sets on ingress-nginx Ingresses.
pub const NGINX_ANNOTATIONS: &str = "nginx.ingress.kubernetes.io/";

/// Operator configuration that shapes every Ingress.
#[derive(Clone, Copy, Debug, Default)]
pub struct IngressSettings<'a> {
    /// `spec.ingressClassName`; omitted when unset, so the cluster's default class applies.
    pub class: Option<&'a str>,
    /// ClusterIssuer for cert-manager; the annotation is set when a route asks for TLS.
    pub cert_manager_issuer: Option<&'a str>,
}

/// A route the service holds, normalised (`api.chitty.cc`, `/` or `/v1`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HeldRoute {
    pub host: String,
    pub path: String,
    pub tls: bool,
    pub tls_secret_name: Option<String>,
}

/// The Ingress is named after its service, like the Deployment and the Service.
pub fn ingress_name(service: &ChittyService) -> String {
    service.name_any()
}

/// The Ingress for the held routes, or `None` when the service holds none (then it must not exist).
pub fn build(
    service: &ChittyService,
    routes: &[HeldRoute],
    settings: &IngressSettings,
) -> Option<Ingress> {
    build_shaped(
        service,
        routes,
        settings,
        &IngressShape::plain(service, routes),
    )
}

/// What sets one of a service's Ingresses apart from another (see `ingress_nginx`).
#[derive(Clone, Debug)]
pub struct IngressShape<'a> {
    pub name: String,
    /// The Service its paths go to.
    pub backend: String,
    /// ingress-nginx regex paths (`/mcp(/|$)(.*)`) whose second group is the path without the
    /// prefix, for `rewrite-target: /$2`; plain `Prefix` paths otherwise.
    pub regex_paths: bool,
    /// Annotations besides cert-manager's.
    pub annotations: BTreeMap<&'static str, String>,
    /// The routes whose TLS this Ingress declares (and has cert-manager issue): one Ingress per
    /// host must, as two declaring one Secret would have cert-manager fight over its Certificate.
    pub tls_routes: &'a [HeldRoute],
}

impl<'a> IngressShape<'a> {
    /// The service's own Ingress: named after it, to its Service, declaring the TLS of `routes`.
    pub fn plain(service: &ChittyService, tls_routes: &'a [HeldRoute]) -> Self {
        Self {
            name: ingress_name(service),
            backend: service.name_any(),
            regex_paths: false,
            annotations: BTreeMap::new(),
            tls_routes,
        }
    }
}

/// An Ingress of the service with `routes` as rules, shaped by `shape`; `None` without routes.
pub fn build_shaped(
    service: &ChittyService,
    routes: &[HeldRoute],
    settings: &IngressSettings,
    shape: &IngressShape,
) -> Option<Ingress> {
    if routes.is_empty() {
        return None;
    }
    let mut paths_by_host: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut hosts_by_secret: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for route in routes {
        paths_by_host
            .entry(&route.host)
            .or_default()
            .insert(&route.path);
    }
    for route in shape.tls_routes.iter().filter(|r| r.tls) {
        let secret = route
            .tls_secret_name
            .clone()
            .unwrap_or_else(|| tls_secret_name(&route.host));
        hosts_by_secret
            .entry(secret)
            .or_default()
            .insert(&route.host);
    }
    let backend = serde_json::json!({
        "service": {"name": shape.backend, "port": {"number": service.spec.port}}
    });
    let rules: Vec<serde_json::Value> = paths_by_host
        .iter()
        .map(|(host, paths)| {
            let paths: Vec<serde_json::Value> = paths
                .iter()
                .map(|path| {
                    if shape.regex_paths {
                        serde_json::json!({"path": regex_path(path), "pathType": "ImplementationSpecific", "backend": backend})
                    } else {
                        serde_json::json!({"path": path, "pathType": "Prefix", "backend": backend})
                    }
                })
                .collect();
            serde_json::json!({"host": host, "http": {"paths": paths}})
        })
        .collect();
    let tls: Vec<serde_json::Value> = hosts_by_secret
        .iter()
        .map(|(secret, hosts)| serde_json::json!({"hosts": hosts, "secretName": secret}))
        .collect();
    let mut annotations: BTreeMap<&str, String> = shape.annotations.clone();
    if let Some(issuer) = settings.cert_manager_issuer.filter(|_| !tls.is_empty()) {
        annotations.insert(CERT_MANAGER_ISSUER, issuer.to_owned());
    }
    let owner = service
        .controller_owner_ref(&())
        .map(|o| serde_json::to_value(vec![o]).expect("owner serializes"));

    let mut spec = serde_json::json!({"rules": rules});
    if !tls.is_empty() {
        spec["tls"] = tls.into();
    }
    if let Some(class) = settings.class {
        spec["ingressClassName"] = class.into();
    }
    let mut metadata = serde_json::json!({
        "name": shape.name,
        "namespace": service.namespace(),
        "labels": common_labels(service),
        "ownerReferences": owner,
    });
    if !annotations.is_empty() {
        metadata["annotations"] = serde_json::to_value(annotations).expect("map serializes");
    }
    Some(
        serde_json::from_value(serde_json::json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": metadata,
            "spec": spec,
        }))
        .expect("Ingress is well-formed"),
    )
}

/// `/mcp` as an ingress-nginx regex path: the prefix (its regex characters escaped), then `/` or
/// the end, then the rest, which `rewrite-target: /$2` keeps.
pub fn regex_path(path: &str) -> String {
    let mut escaped = String::with_capacity(path.len() + 12);
    for c in path.trim_end_matches('/').chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push_str("(/|$)(.*)");
    escaped
}

/// The Secret a TLS route uses when it names none: `api-chitty-cc-tls`, `wildcard-chitty-cc-tls`.
/// Hosts are DNS names, so this is a valid Secret name; one too long is cut and made unique with
/// a hash of the host.
pub fn tls_secret_name(host: &str) -> String {
    const LIMIT: usize = 253;
    let base = host.replacen("*.", "wildcard.", 1).replace('.', "-");
    let name = format!("{base}-tls");
    if name.len() <= LIMIT {
        return name;
    }
    let digest = Sha256::digest(host.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let kept = base[..LIMIT - "-12345678-tls".len()].trim_end_matches('-');
    format!("{kept}-{hash}-tls")
}

/// Whether the Ingress already there says what `desired` says, in the parts the operator owns:
/// spec, the cert-manager annotation, its labels and its owner. Saves a write per reconcile.
pub fn is_current(existing: &Ingress, desired: &Ingress) -> bool {
    // The annotations the operator may set: cert-manager's and ingress-nginx's.
    let annotation = |i: &Ingress| -> BTreeMap<String, String> {
        i.annotations()
            .iter()
            .filter(|(k, _)| *k == CERT_MANAGER_ISSUER || k.starts_with(NGINX_ANNOTATIONS))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let labelled = desired
        .labels()
        .iter()
        .all(|(k, v)| existing.labels().get(k) == Some(v));
    existing.spec == desired.spec
        && annotation(existing) == annotation(desired)
        && labelled
        && existing.owner_references() == desired.owner_references()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> ChittyService {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "chittymcp", "namespace": "chitty", "uid": "u-1"},
            "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                     "source": {"image": "registry.local/mcp:1"}, "port": 3000}
        }))
        .unwrap()
    }

    fn route(host: &str, path: &str, tls: bool, secret: Option<&str>) -> HeldRoute {
        HeldRoute {
            host: host.into(),
            path: path.into(),
            tls,
            tls_secret_name: secret.map(Into::into),
        }
    }

    fn json(ingress: &Ingress) -> serde_json::Value {
        serde_json::to_value(ingress).unwrap()
    }

    #[test]
    fn no_held_route_means_no_ingress() {
        assert!(build(&service(), &[], &IngressSettings::default()).is_none());
    }

    #[test]
    fn each_held_route_is_a_prefix_rule_to_the_service_port() {
        let ingress = build(
            &service(),
            &[
                route("mcp.chitty.cc", "/", false, None),
                route("api.chitty.cc", "/mcp", false, None),
                route("api.chitty.cc", "/admin", false, None),
            ],
            &IngressSettings::default(),
        )
        .unwrap();
        let value = json(&ingress);
        let backend =
            serde_json::json!({"service": {"name": "chittymcp", "port": {"number": 3000}}});
        assert_eq!(
            value["spec"],
            serde_json::json!({"rules": [
                {"host": "api.chitty.cc", "http": {"paths": [
                    {"path": "/admin", "pathType": "Prefix", "backend": backend},
                    {"path": "/mcp", "pathType": "Prefix", "backend": backend},
                ]}},
                {"host": "mcp.chitty.cc", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": backend},
                ]}},
            ]})
        );
        assert_eq!(value["metadata"]["name"], "chittymcp");
        assert_eq!(value["metadata"]["ownerReferences"][0]["uid"], "u-1");
        assert_eq!(value["metadata"]["ownerReferences"][0]["controller"], true);
        assert!(value["metadata"].get("annotations").is_none());
    }

    #[test]
    fn tls_routes_get_a_tls_section_and_the_issuer_annotation() {
        let settings = IngressSettings {
            class: Some("nginx"),
            cert_manager_issuer: Some("letsencrypt"),
        };
        let ingress = build(
            &service(),
            &[
                route("mcp.chitty.cc", "/", true, None),
                route("*.chitty.cc", "/", true, None),
                route("api.chitty.cc", "/mcp", true, Some("api-cert")),
                route("plain.chitty.cc", "/", false, None),
            ],
            &settings,
        )
        .unwrap();
        let value = json(&ingress);
        assert_eq!(value["spec"]["ingressClassName"], "nginx");
        assert_eq!(
            value["spec"]["tls"],
            serde_json::json!([
                {"hosts": ["api.chitty.cc"], "secretName": "api-cert"},
                {"hosts": ["mcp.chitty.cc"], "secretName": "mcp-chitty-cc-tls"},
                {"hosts": ["*.chitty.cc"], "secretName": "wildcard-chitty-cc-tls"},
            ])
        );
        assert_eq!(
            value["metadata"]["annotations"],
            serde_json::json!({CERT_MANAGER_ISSUER: "letsencrypt"})
        );
    }

    #[test]
    fn issuer_annotation_only_when_something_asks_for_tls() {
        let settings = IngressSettings {
            class: None,
            cert_manager_issuer: Some("letsencrypt"),
        };
        let ingress = build(
            &service(),
            &[route("a.chitty.cc", "/", false, None)],
            &settings,
        )
        .unwrap();
        let value = json(&ingress);
        assert!(value["metadata"].get("annotations").is_none());
        assert!(value["spec"].get("tls").is_none());
        assert!(value["spec"].get("ingressClassName").is_none());
    }

    #[test]
    fn derived_secret_names_are_valid_and_bounded() {
        assert_eq!(tls_secret_name("api.chitty.cc"), "api-chitty-cc-tls");
        let long_host = format!("{}.chitty.cc", vec!["a".repeat(63); 3].join("."));
        let other = format!("{}.chitty.cc", vec!["b".repeat(63); 3].join("."));
        let name = tls_secret_name(&long_host);
        assert!(name.len() <= 253, "{}", name.len());
        assert!(name.ends_with("-tls") && !name.contains("--"));
        assert_ne!(name, tls_secret_name(&other));
    }

    #[test]
    fn an_unchanged_ingress_is_current_and_a_changed_one_is_not() {
        let held = [route("a.chitty.cc", "/", true, None)];
        let settings = IngressSettings {
            class: None,
            cert_manager_issuer: Some("issuer"),
        };
        let desired = build(&service(), &held, &settings).unwrap();
        let mut existing = desired.clone();
        existing
            .labels_mut()
            .insert("added-by-someone".into(), "x".into());
        assert!(is_current(&existing, &desired));
        let without_issuer = build(&service(), &held, &IngressSettings::default()).unwrap();
        assert!(!is_current(&existing, &without_issuer));
        let more = build(
            &service(),
            &[held[0].clone(), route("b.chitty.cc", "/", false, None)],
            &settings,
        )
        .unwrap();
        assert!(!is_current(&existing, &more));
    }
}
