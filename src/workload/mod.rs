//! The Kubernetes objects a ChittyService runs as, built as plain values (no I/O) so they can be
//! checked in unit tests and applied with server-side apply by the controllers.

pub mod build_job;
pub mod cloudflare;
pub mod deployment;
pub mod desired;
pub mod drift;
pub mod gateway_api;
pub mod hpa;
pub mod httproute;
pub mod ingress;
pub mod ingress_nginx;
pub mod pod_template;
pub mod probes;
pub mod security;
pub mod service;
pub mod traffic;

use std::collections::BTreeMap;

use kube::ResourceExt;

use crate::api::ChittyService;
use crate::labels;

/// Which side of a canary a Deployment runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    Stable,
    Canary,
}

impl Track {
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Stable => "stable",
            Track::Canary => "canary",
        }
    }
}

pub const TRACK_LABEL: &str = "chitty.cc/track";
pub const ROLLOUT_LABEL: &str = "chitty.cc/rollout";
/// Marks the image build Job (value `"true"`): its `image` container is the one pod the operator
/// makes that meets only the `baseline` Pod Security Standard, and the chart's admission policy
/// lets exactly that container of a Job so labelled be baseline instead of restricted.
pub const BUILD_JOB_LABEL: &str = "chitty.cc/build-job";

/// Name of the Deployment for a track of a service.
pub fn deployment_name(service: &str, track: Track) -> String {
    match track {
        Track::Stable => service.to_string(),
        Track::Canary => format!("{service}-canary"),
    }
}

/// Labels every object of the service carries.
pub fn common_labels(service: &ChittyService) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::SERVICE.to_string(), service.name_any()),
        (labels::MANAGED_BY.to_string(), labels::MANAGER.to_string()),
        ("app.kubernetes.io/name".to_string(), service.name_any()),
        crate::shard::bucket::label_for(service),
    ])
}
