//! `ChittyDomain`: a cluster administrator's delegation of a host, or every name under a domain,
//! to namespaces. Cluster-scoped, so that no namespace can delegate a host to itself.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::patterns;

#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "chitty.cc",
    version = "v1alpha1",
    kind = "ChittyDomain",
    status = "ChittyDomainStatus",
    derive = "PartialEq",
    shortname = "cdomain",
    category = "chitty",
    doc = "Delegates a host (or every name under a *.domain) to namespaces: exclusively to one, or shared, each service under its own path.",
    printcolumn(name = "Host", type_ = "string", json_path = ".spec.host"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.mode"),
    printcolumn(
        name = "Namespaces",
        type_ = "integer",
        json_path = ".status.namespaceCount"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("self.mode != 'Exclusive' || (has(self.namespaces) && size(self.namespaces) == 1 && !has(self.namespaceSelector))")
        .message("an Exclusive domain belongs to exactly one namespace: list it in namespaces (and set no namespaceSelector); to let several namespaces use one host, set mode: Shared"),
    validation = Rule::new("(has(self.namespaces) && size(self.namespaces) > 0) || has(self.namespaceSelector)")
        .message("name the namespaces the host is delegated to, in namespaces or with a namespaceSelector"),
)]
#[serde(rename_all = "camelCase")]
pub struct ChittyDomainSpec {
    /// The host delegated: exact (`shop.chitty.cc`), or `*.team-a.chitty.cc` for every name under
    /// that domain at any depth. The most specific ChittyDomain governs a host.
    #[x_kube(validation = patterns::rules::route_host())]
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// `Exclusive`: one namespace may claim any path of the host. `Shared`: the namespaces share
    /// the host, and each service may claim only `/<service name>` and the paths below it.
    #[serde(default)]
    pub mode: DomainMode,
    /// Namespaces the host is delegated to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 1000),
        inner(length(max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))
    )]
    pub namespaces: Vec<String>,
    /// Namespaces the host is delegated to, by their labels (with `mode: Shared`), in addition to
    /// `namespaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
}

#[derive(
    Serialize, Deserialize, schemars::JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default,
)]
pub enum DomainMode {
    #[default]
    Exclusive,
    Shared,
}

#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChittyDomainStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The host as the route rule reads it (lower case, no trailing dot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// How many namespaces the host is delegated to now.
    #[serde(default)]
    pub namespace_count: i32,
    /// The first of them, by name (at most 20 are listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// Namespaces listed in a domain's status.
pub const DOMAIN_NAMESPACES_LISTED: usize = 20;
