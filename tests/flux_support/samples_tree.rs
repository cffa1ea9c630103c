//! The tree the test's git repository serves: the sample ChittyServices of config/samples as
//! they are, under `samples/`, with one kustomize patch of the test's own so that one service's
//! health can be made to fail.
//!
//! Only the files with ChittyServices are served: the sample's hand-made RouteClaim reserves a
//! host for a service that is not deployed, so it holds no route and says Ready=False, which
//! kstatus reads InProgress for as long as the service is missing: a Kustomization with
//! `wait: true` that applied it would never be Ready, whatever the services do.

use std::path::Path;

use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};

use crate::common::repo;

/// Where the samples are in the served tree; the Kustomization's `path`.
pub const SAMPLES_PATH: &str = "./samples";

/// Writes the served tree under `tree`, probing `probed_service` at `health_url` (every
/// second, down after two failures) while every other service keeps the operator's probe
/// target. Returns the names of the sample ChittyServices.
pub fn write(tree: &Path, probed_service: &str, health_url: &str) -> Vec<String> {
    let src = repo().join("config/samples");
    let dst = tree.join("samples");
    std::fs::create_dir_all(&dst).unwrap();
    let kustomization: Value =
        serde_yaml_ng::from_str(&read(&src.join("kustomization.yaml"))).unwrap();
    let resources: Vec<String> = kustomization["resources"]
        .as_sequence()
        .expect("config/samples/kustomization.yaml lists resources")
        .iter()
        .map(|r| r.as_str().expect("a resource is a file name").to_string())
        .collect();
    let (mut services, mut served) = (Vec::new(), Vec::new());
    for file in &resources {
        let text = read(&src.join(file));
        let in_file = chitty_services(&text);
        if in_file.is_empty() {
            continue;
        }
        std::fs::write(dst.join(file), &text).unwrap();
        services.extend(in_file);
        served.push(Value::from(file.as_str()));
    }
    assert!(
        services.iter().any(|s| s == probed_service),
        "{probed_service} is no sample ChittyService ({services:?})"
    );
    let mut own = kustomization.as_mapping().cloned().unwrap_or_default();
    own.insert("resources".into(), Value::Sequence(served));
    own.insert("patches".into(), health_patch(probed_service, health_url));
    std::fs::write(
        dst.join("kustomization.yaml"),
        serde_yaml_ng::to_string(&Value::Mapping(own)).unwrap(),
    )
    .unwrap();
    services
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The names of the ChittyServices among the documents of one manifest.
fn chitty_services(text: &str) -> Vec<String> {
    serde_yaml_ng::Deserializer::from_str(text)
        .filter_map(|doc| {
            let v = Value::deserialize(doc).ok()?;
            (v["kind"].as_str() == Some("ChittyService"))
                .then(|| v["metadata"]["name"].as_str().map(str::to_string))
                .flatten()
        })
        .collect()
}

fn health_patch(service: &str, url: &str) -> Value {
    let ops = serde_json::json!([{
        "op": "add",
        "path": "/spec/health",
        "value": {"url": url, "interval": "1s", "timeout": "1s", "failureThreshold": 2},
    }]);
    let mut target = Mapping::new();
    target.insert("kind".into(), "ChittyService".into());
    target.insert("name".into(), service.into());
    let mut patch = Mapping::new();
    patch.insert("target".into(), Value::Mapping(target));
    patch.insert("patch".into(), ops.to_string().into());
    Value::Sequence(vec![Value::Mapping(patch)])
}
