//! A cluster service's Ingresses in Ingress mode, by name. Under any Ingress class one Ingress,
//! `<service>`, with every held route. When the class is served by ingress-nginx
//! (`--ingress-controller ingress-nginx`), also:
//!
//! - `<service>-rewrite`: the path routes (a path other than `/`), as regex paths with
//!   `rewrite-target`, so the backend sees the path without the claimed prefix. ingress-nginx
//!   applies `rewrite-target` to a whole Ingress, hence an Ingress of their own; `<service>` then
//!   keeps the routes of whole hosts.
//! - `<service>-canary` while a canary runs: every path of the two, spelled the same, to the
//!   canary Service, with `canary: "true"` and `canary-weight`. ingress-nginx pairs a canary
//!   Ingress with the main Ingress of the same host and path, whose rewrite it inherits.
//!
//! TLS is declared once, on the first of `<service>` and `<service>-rewrite` that exists, so
//! cert-manager makes one Certificate per Secret.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::Ingress;
use kube::ResourceExt;

use super::ingress::{self, HeldRoute, IngressSettings, IngressShape};
use super::traffic::{Traffic, canary_service_name};
use crate::api::ChittyService;

pub const REWRITE_TARGET: &str = "nginx.ingress.kubernetes.io/rewrite-target";
pub const USE_REGEX: &str = "nginx.ingress.kubernetes.io/use-regex";
pub const CANARY: &str = "nginx.ingress.kubernetes.io/canary";
pub const CANARY_WEIGHT: &str = "nginx.ingress.kubernetes.io/canary-weight";

pub fn rewrite_ingress_name(service: &ChittyService) -> String {
    format!("{}-rewrite", service.name_any())
}

pub fn canary_ingress_name(service: &ChittyService) -> String {
    canary_service_name(&service.name_any())
}

/// Every name an Ingress of the service may have, so that those no longer wanted are removed.
pub fn ingress_names(service: &ChittyService) -> [String; 3] {
    [
        ingress::ingress_name(service),
        rewrite_ingress_name(service),
        canary_ingress_name(service),
    ]
}

/// The service's Ingresses for the held routes, by name (absent names must not exist).
pub fn build_all(
    service: &ChittyService,
    held: &[HeldRoute],
    settings: &IngressSettings,
    ingress_nginx: bool,
    traffic: Traffic,
) -> BTreeMap<String, Ingress> {
    if !ingress_nginx {
        return ingress::build(service, held, settings)
            .map(|i| (i.name_any(), i))
            .into_iter()
            .collect();
    }
    let (whole_hosts, path_routes): (Vec<HeldRoute>, Vec<HeldRoute>) =
        held.iter().cloned().partition(|r| r.path == "/");
    let none: &[HeldRoute] = &[];
    let main_tls = if whole_hosts.is_empty() { none } else { held };
    let rewrite_tls = if whole_hosts.is_empty() { held } else { none };
    let main = ingress::build_shaped(
        service,
        &whole_hosts,
        settings,
        &IngressShape::plain(service, main_tls),
    );
    let rewrite = ingress::build_shaped(
        service,
        &path_routes,
        settings,
        &IngressShape {
            name: rewrite_ingress_name(service),
            backend: service.name_any(),
            regex_paths: true,
            annotations: BTreeMap::from([
                (REWRITE_TARGET, "/$2".to_owned()),
                (USE_REGEX, "true".to_owned()),
            ]),
            tls_routes: rewrite_tls,
        },
    );
    let mut all: Vec<Ingress> = main.into_iter().chain(rewrite).collect();
    if let Some(weight) = traffic.canary_weight {
        all.extend(canary(service, &all, weight.clamp(0, 100)));
    }
    all.into_iter().map(|i| (i.name_any(), i)).collect()
}

/// The canary Ingress: the rules of the main Ingresses with the canary Service as backend.
fn canary(service: &ChittyService, main: &[Ingress], weight: i32) -> Option<Ingress> {
    let first = main.first()?;
    let mut canary = first.clone();
    let canary_backend = canary_service_name(&service.name_any());
    let mut rules = Vec::new();
    for ingress in main {
        for rule in ingress.spec.iter().flat_map(|s| s.rules.iter().flatten()) {
            let mut rule = rule.clone();
            for path in rule.http.iter_mut().flat_map(|h| h.paths.iter_mut()) {
                if let Some(backend) = path.backend.service.as_mut() {
                    backend.name = canary_backend.clone();
                }
            }
            rules.push(rule);
        }
    }
    canary.metadata.name = Some(canary_ingress_name(service));
    canary.metadata.annotations = Some(BTreeMap::from([
        (CANARY.to_owned(), "true".to_owned()),
        (CANARY_WEIGHT.to_owned(), weight.to_string()),
    ]));
    let spec = canary.spec.get_or_insert_default();
    spec.rules = Some(rules);
    spec.tls = None;
    Some(canary)
}

#[cfg(test)]
#[path = "ingress_nginx_tests.rs"]
mod tests;
