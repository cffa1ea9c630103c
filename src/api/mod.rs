//! The `chitty.cc/v1alpha1` API: one file a kind, plus the condition vocabulary they share.
//! These Rust types are the single source of the CRDs in `crds/`.
//!
//! # Who writes what
//!
//! Each status has one writer, the controller of its kind, under the field manager
//! `chitty-operator`:
//! - `ChittyService.status`: the ChittyService controller. One field has a second writer, on
//!   purpose: the rollout's identity step writes `status.chittyId` alone, under the field manager
//!   `chitty-operator-identity`, the moment the ID is minted, so that a crash before the next
//!   status write can never lose it (the mint is keyed by the service's UID, so a repeated mint
//!   returns the same ID anyway). Server-side apply keeps the two managers' fields apart.
//! - `ChittyDeployment.status`: the ChittyDeployment controller, alone. Others ask it for a
//!   rollback through the [`ROLLBACK_REQUEST`] annotation instead of writing its status.
//! - `RouteClaim.status`: the RouteClaim controller.
//! - `ChittyDomain.status`: the ChittyDomain controller.
//!
//! The workload controller writes no status: it applies Deployments, Services and autoscalers,
//! and the ChittyService controller reports what runs.

// kube's `printcolumn(...)` repeats keys such as `type_` by design; clippy reads them as
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]

pub mod autoscaling;
pub mod canary;
pub mod chitty_deployment;
pub mod chitty_domain;
pub mod chitty_service;
pub mod cloudflare;
pub mod conditions;
pub mod decode;
pub mod limits;
pub mod patterns;
pub mod plan;
pub mod pod;
pub mod resources;
pub mod route_claim;
pub mod strategy;

pub use autoscaling::*;
pub use canary::*;
pub use chitty_deployment::*;
pub use chitty_domain::*;
pub use chitty_service::*;
pub use cloudflare::*;
pub use plan::*;
pub use pod::*;
pub use route_claim::*;
pub use strategy::*;

pub const GROUP: &str = "chitty.cc";
pub const VERSION: &str = "v1alpha1";

/// A reference to a ChittyService, in the referrer's namespace unless one is given.
#[derive(
    serde::Serialize,
    serde::Deserialize,
    kube::KubeSchema,
    Clone,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRef {
    /// Name of the ChittyService.
    #[x_kube(validation = patterns::rules::dns_label())]
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// Namespace of the ChittyService; the referrer's own namespace when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = patterns::rules::dns_label())]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

impl ServiceRef {
    /// The namespace this reference points into, given the namespace of the object holding it.
    pub fn namespace_or<'a>(&'a self, own: &'a str) -> &'a str {
        self.namespace.as_deref().unwrap_or(own)
    }
}
