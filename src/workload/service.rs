//! The core/v1 Service in front of both tracks of a service.

use k8s_openapi::api::core::v1::Service;
use kube::{Resource, ResourceExt};

use super::common_labels;
use crate::api::ChittyService;
use crate::labels;

pub fn build(service: &ChittyService) -> Service {
    let owner = service
        .controller_owner_ref(&())
        .map(|o| serde_json::to_value(vec![o]).expect("owner serializes"));
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service.name_any(),
            "namespace": service.namespace(),
            "labels": common_labels(service),
            "ownerReferences": owner,
        },
        "spec": {
            // Both tracks: during a canary, traffic splits by pod count.
            "selector": {labels::SERVICE: service.name_any()},
            "ports": [{"name": "http", "port": service.spec.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }))
    .expect("Service is well-formed")
}

/// The in-cluster base URL of the service.
pub fn cluster_url(service: &ChittyService) -> String {
    format!(
        "http://{}.{}.svc:{}",
        service.name_any(),
        service.namespace().unwrap_or_else(|| "default".into()),
        service.spec.port
    )
}
