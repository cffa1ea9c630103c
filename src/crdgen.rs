//! The CRDs as YAML, generated from the API types; `crds/` holds this output.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::api::{ChittyDeployment, ChittyDomain, ChittyService, RouteClaim};

/// Every CRD this operator serves, in a stable order, with the file name each has under `crds/`.
pub fn all() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        (
            "chittyservices.chitty.cc.yaml",
            labelled(unobserved_until_reconciled(ChittyService::crd())),
        ),
        (
            "chittydeployments.chitty.cc.yaml",
            labelled(ChittyDeployment::crd()),
        ),
        (
            "routeclaims.chitty.cc.yaml",
            labelled(unobserved_until_reconciled(RouteClaim::crd())),
        ),
        (
            "chittydomains.chitty.cc.yaml",
            labelled(unobserved_until_reconciled(ChittyDomain::crd())),
        ),
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

/// A kind people write reads `status: {observedGeneration: 0}` until the operator writes its
/// status (the apiserver fills in a schema default on every read). kstatus, and so Flux and kpt,
/// calls an object with no status at all Current; generation 1 against an observed 0 reads
/// InProgress, so nothing counts as reconciled before the operator has seen it. (ChittyDeployment
/// is the operator's own, and reconciled the moment it is made.)
fn unobserved_until_reconciled(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSON;
    for version in &mut crd.spec.versions {
        let status = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
            .and_then(|s| s.properties.as_mut())
            .and_then(|p| p.get_mut("status"));
        if let Some(status) = status {
            status.default = Some(JSON(serde_json::json!({"observedGeneration": 0})));
        }
    }
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Paths of the 32-bit integers under `schema` that lack a `minimum` or `maximum`.
    fn unbounded_int32(schema: &Value, path: String, out: &mut Vec<String>) {
        if schema.get("format").and_then(Value::as_str) == Some("int32")
            && (schema.get("minimum").is_none() || schema.get("maximum").is_none())
        {
            out.push(path.clone());
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, child) in props {
                unbounded_int32(child, format!("{path}.{name}"), out);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(child) = schema.get(key).filter(|c| c.is_object()) {
                unbounded_int32(child, format!("{path}[]"), out);
            }
        }
    }

    /// The apiserver does not enforce `format: int32`: a spec integer without bounds would let
    /// `99999999999` in, and the object could not be decoded. Bounds are enforced, so every 32-bit
    /// integer a user writes has them. (Status is the operator's; an odd status is read around.)
    #[test]
    fn every_32_bit_integer_in_a_spec_has_bounds() {
        for (name, crd) in super::all() {
            let crd = serde_json::to_value(&crd).unwrap();
            for version in crd["spec"]["versions"].as_array().unwrap() {
                let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
                let mut missing = Vec::new();
                unbounded_int32(spec, ".spec".into(), &mut missing);
                assert!(missing.is_empty(), "{name}: unbounded int32 at {missing:?}");
            }
        }
    }
}
