//! The core/v1 Services of a service: its own, and during a canary `<service>-canary`, which
//! selects only the canary's pods (so the canary can be probed, and weighted routing can send it
//! its share).

use k8s_openapi::api::core::v1::Service;
use kube::{Resource, ResourceExt};

use super::traffic::canary_service_name;
use super::{TRACK_LABEL, Track, common_labels};
use crate::api::{ChittyService, Target};
use crate::labels;

/// The service's own Service. With weighted routing (`stable_only`) it selects only the stable
/// track, and the canary gets its share through its own Service; without, it selects both tracks
/// and a canary's share follows its number of pods.
pub fn build(service: &ChittyService, stable_only: bool) -> Service {
    let mut selector = serde_json::json!({labels::SERVICE: service.name_any()});
    if stable_only {
        selector[TRACK_LABEL] = Track::Stable.as_str().into();
    }
    object(service, &service.name_any(), selector)
}

/// `<service>-canary`: the canary's pods alone.
pub fn canary(service: &ChittyService) -> Service {
    let selector = serde_json::json!({labels::SERVICE: service.name_any(), TRACK_LABEL: Track::Canary.as_str()});
    object(service, &canary_service_name(&service.name_any()), selector)
}

fn object(service: &ChittyService, name: &str, selector: serde_json::Value) -> Service {
    let owner = service
        .controller_owner_ref(&())
        .map(|o| serde_json::to_value(vec![o]).expect("owner serializes"));
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": service.namespace(),
            "labels": common_labels(service),
            "ownerReferences": owner,
        },
        "spec": {
            "selector": selector,
            "ports": [{"name": "http", "port": service.spec.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }))
    .expect("Service is well-formed")
}

/// The in-cluster base URL of the service's canary Service.
pub fn canary_url(service: &ChittyService) -> String {
    format!(
        "http://{}.{}.svc:{}",
        canary_service_name(&service.name_any()),
        service.namespace().unwrap_or_else(|| "default".into()),
        service.spec.port
    )
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
