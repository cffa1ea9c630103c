//! The CRDs as YAML, generated from the API types; `crds/` holds this output.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::api::{ChittyDeployment, ChittyService, RouteClaim};

/// Every CRD this operator serves, in a stable order, with the file name each has under `crds/`.
pub fn all() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        (
            "chittyservices.chitty.cc.yaml",
            labelled(ChittyService::crd()),
        ),
        (
            "chittydeployments.chitty.cc.yaml",
            labelled(ChittyDeployment::crd()),
        ),
        ("routeclaims.chitty.cc.yaml", labelled(RouteClaim::crd())),
    ]
}

/// The label that lets `kubectl wait -l` and cleanup find exactly this operator's CRDs.
fn labelled(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    crd.metadata
        .labels
        .get_or_insert_default()
        .insert("app.kubernetes.io/part-of".into(), "chitty-operator".into());
    crd
}

/// One YAML document per CRD, as `crds/<name>.yaml` holds it.
pub fn to_yaml(crd: &impl serde::Serialize) -> Result<String, serde_yaml_ng::Error> {
    Ok(format!("---\n{}", serde_yaml_ng::to_string(crd)?))
}

/// All CRDs as one multi-document YAML stream.
pub fn all_yaml() -> Result<String, serde_yaml_ng::Error> {
    all().iter().map(|(_, crd)| to_yaml(crd)).collect()
}
