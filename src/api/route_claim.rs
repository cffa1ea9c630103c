//! `RouteClaim`: a claim by one service on a host and path prefix.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::ServiceRef;
use super::patterns;

#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "chitty.cc",
    version = "v1alpha1",
    kind = "RouteClaim",
    namespaced,
    status = "RouteClaimStatus",
    derive = "PartialEq",
    shortname = "rclaim",
    category = "chitty",
    doc = "A claim by a service on a host and path prefix; conflicting claims are resolved by a written rule.",
    printcolumn(name = "Host", type_ = "string", json_path = ".spec.host"),
    printcolumn(name = "Path", type_ = "string", json_path = ".spec.path"),
    printcolumn(
        name = "Service",
        type_ = "string",
        json_path = ".spec.serviceRef.name"
    ),
    printcolumn(
        name = "Accepted",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Accepted\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Accepted\")].reason"
    ),
    printcolumn(name = "Holder", type_ = "string", json_path = ".status.holder"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct RouteClaimSpec {
    /// Host name, exact (`api.chitty.cc`) or with one leading wildcard label (`*.chitty.cc`).
    #[x_kube(validation = patterns::rules::route_host())]
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// Path prefix; `/` and `/*` both mean the whole host.
    #[serde(default = "super::chitty_service::default_route_path")]
    #[x_kube(validation = patterns::rules::route_path())]
    #[schemars(length(min = 1, max = 256))]
    pub path: String,
    /// The service that would receive this route's traffic.
    pub service_ref: ServiceRef,
    /// Serve this route over TLS.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
    /// Secret holding the TLS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = patterns::rules::dns_label())]
    #[schemars(length(max = 253))]
    pub tls_secret_name: Option<String>,
}

#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RouteClaimStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `namespace/name` of the claim that holds this host and path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// `namespace/name` of every other claim on the same host and path (at most 32 are listed;
    /// the holder always is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts_with: Vec<String>,
    /// The normalised route this claim was accepted for (`mcp.chitty.cc/*`), present while it
    /// holds it. The claim keeps the route as incumbent only while its spec still normalises to
    /// this, so editing `spec.host` or `spec.path` cannot carry incumbency to another route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_route: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// `status.routes[].reason` of a route whose claim is not decided yet.
pub const ROUTE_PENDING: &str = "Pending";
