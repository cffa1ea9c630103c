//! The core/v1 Service in front of both tracks of a service.

use k8s_openapi::api::core::v1::Service;
use kube::{Resource, ResourceExt};

use super::common_labels;
use crate::api::{ChittyService, Target};
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

/// Where the service answers: its Cloudflare URL, its first exact route, or its in-cluster Service.
pub fn public_url(service: &ChittyService) -> String {
    if let Some(cf) = &service.spec.cloudflare
        && service.spec.target == Target::Cloudflare
    {
        return cf.url.clone();
    }
    if let Some(route) = service.spec.routes.first() {
        let scheme = if route.tls { "https" } else { "http" };
        let host = route.host.trim_end_matches('.').to_ascii_lowercase();
        if !host.starts_with("*.") {
            let path = route.path.trim_end_matches('*').trim_end_matches('/');
            return format!("{scheme}://{host}{path}");
        }
    }
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let ns = service.metadata.namespace.as_deref().unwrap_or("default");
    format!("http://{name}.{ns}.svc:{}", service.spec.port)
}
