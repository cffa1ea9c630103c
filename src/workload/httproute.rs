//! The HTTPRoutes of a cluster service in gateway mode: exactly the routes it holds, attached to
//! the configured Gateway, with the claimed prefix stripped on path routes and the canary's
//! weight on the backends.
//!
//! An HTTPRoute's `hostnames` apply to every one of its rules, so hosts that hold different
//! paths cannot share one: `api.chitty.cc/mcp` and `mcp.chitty.cc/` together would also route
//! `api.chitty.cc/` and `mcp.chitty.cc/mcp` here. Hosts are therefore grouped by the paths they
//! hold, one HTTPRoute a group: the usual service (one path set) has one, named after it.

use std::collections::{BTreeMap, BTreeSet};

use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

use super::common_labels;
use super::gateway_api::{
    GROUP, HTTPRoute, HttpBackendRef, HttpPathMatch, HttpPathModifier, HttpRouteFilter,
    HttpRouteMatch, HttpRouteRule, HttpRouteSpec, HttpUrlRewrite, ParentRef,
};
use super::ingress::HeldRoute;
use super::traffic::{Traffic, canary_service_name};
use crate::api::ChittyService;
use crate::config::GatewayRef;

/// The HTTPRoutes for the held routes, by name; none when the service holds none.
pub fn build(
    service: &ChittyService,
    held: &[HeldRoute],
    gateway: &GatewayRef,
    traffic: Traffic,
) -> BTreeMap<String, HTTPRoute> {
    let mut paths_by_host: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for route in held {
        paths_by_host
            .entry(&route.host)
            .or_default()
            .insert(&route.path);
    }
    let mut hosts_by_paths: BTreeMap<BTreeSet<&str>, BTreeSet<&str>> = BTreeMap::new();
    for (host, paths) in paths_by_host {
        hosts_by_paths.entry(paths).or_default().insert(host);
    }
    // The smallest path set names the service's HTTPRoute: `{"/"}` when it has a host of its own.
    hosts_by_paths
        .iter()
        .enumerate()
        .map(|(i, (paths, hosts))| {
            let name = if i == 0 {
                service.name_any()
            } else {
                group_name(&service.name_any(), paths)
            };
            let route = HTTPRoute {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: service.namespace(),
                    labels: Some(common_labels(service)),
                    owner_references: service.controller_owner_ref(&()).map(|o| vec![o]),
                    ..Default::default()
                },
                spec: HttpRouteSpec {
                    parent_refs: vec![parent_ref(gateway)],
                    hostnames: hosts.iter().map(|h| h.to_string()).collect(),
                    rules: paths.iter().map(|p| rule(service, p, traffic)).collect(),
                },
                status: None,
            };
            (name, route)
        })
        .collect()
}

/// The reference to the configured Gateway, as routes carry it and statuses echo it.
pub fn parent_ref(gateway: &GatewayRef) -> ParentRef {
    ParentRef {
        group: Some(GROUP.to_owned()),
        kind: Some("Gateway".to_owned()),
        namespace: Some(gateway.namespace.clone()),
        name: gateway.name.clone(),
    }
}

fn rule(service: &ChittyService, path: &str, traffic: Traffic) -> HttpRouteRule {
    // The backend sees the path as it would on a host of its own.
    let filters = if path == "/" {
        vec![]
    } else {
        vec![HttpRouteFilter {
            type_: "URLRewrite".to_owned(),
            url_rewrite: Some(HttpUrlRewrite {
                path: Some(HttpPathModifier {
                    type_: "ReplacePrefixMatch".to_owned(),
                    replace_prefix_match: Some("/".to_owned()),
                }),
            }),
        }]
    };
    HttpRouteRule {
        matches: vec![HttpRouteMatch {
            path: Some(HttpPathMatch {
                type_: "PathPrefix".to_owned(),
                value: path.to_owned(),
            }),
        }],
        filters,
        backend_refs: backends(service, traffic),
    }
}

/// All to the service's Service, or split with its canary Service while a canary runs.
fn backends(service: &ChittyService, traffic: Traffic) -> Vec<HttpBackendRef> {
    let to = |name: String, weight: i32| HttpBackendRef {
        group: Some(String::new()),
        kind: Some("Service".to_owned()),
        name,
        port: Some(service.spec.port),
        weight: Some(weight),
    };
    match traffic.canary_weight {
        None => vec![to(service.name_any(), 100)],
        Some(weight) => {
            let weight = weight.clamp(0, 100);
            vec![
                to(service.name_any(), 100 - weight),
                to(canary_service_name(&service.name_any()), weight),
            ]
        }
    }
}

/// `<service>-<8 hex>`, from the group's paths, for a service whose hosts hold different paths.
fn group_name(service: &str, paths: &BTreeSet<&str>) -> String {
    let joined: Vec<&str> = paths.iter().copied().collect();
    let digest = Sha256::digest(joined.join("\n").as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{service}-{hash}")
}

/// Whether the HTTPRoute there says what `desired` says, in the parts the operator owns.
pub fn is_current(existing: &HTTPRoute, desired: &HTTPRoute) -> bool {
    let labelled = desired
        .labels()
        .iter()
        .all(|(k, v)| existing.labels().get(k) == Some(v));
    existing.spec == desired.spec
        && labelled
        && existing.owner_references() == desired.owner_references()
}

#[cfg(test)]
#[path = "httproute_tests.rs"]
mod tests;
