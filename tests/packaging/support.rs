//! Rendering the Helm chart and the kustomize bases, and reading what they grant. Shared by
//! tests/packaging.rs and tests/rbac.rs.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

use crate::common;

pub fn chart_dir() -> PathBuf {
    common::repo().join("charts/chitty-operator")
}

/// Runs the project's helm; returns (success, stdout, stderr).
pub fn helm(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(common::tool("helm"))
        .args(args)
        .output()
        .expect("helm runs (built by scripts/cluster.sh up)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `helm template` of the chart as release `release` in `namespace`, with extra arguments.
pub fn helm_template(release: &str, namespace: &str, extra: &[&str]) -> String {
    let chart = chart_dir();
    let mut args = vec![
        "template",
        release,
        chart.to_str().unwrap(),
        "-n",
        namespace,
    ];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = helm(&args);
    assert!(ok, "helm template {extra:?} failed:\n{stderr}");
    stdout
}

/// `kubectl kustomize <dir>` (kubectl's built-in kustomize; no cluster needed).
pub fn kustomize(dir: &str) -> String {
    let out = Command::new(common::tool("kubectl"))
        .args(["kustomize", common::repo().join(dir).to_str().unwrap()])
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl kustomize {dir} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every document of a multi-document YAML stream, empty ones left out.
pub fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|doc| Value::deserialize(doc).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

pub fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// The one object of a kind; fails when there is none or several.
pub fn only<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(docs, kind);
    assert_eq!(found.len(), 1, "expected one {kind}, found {}", found.len());
    found[0]
}

/// A Role's or ClusterRole's rules as one line per permission (`group/resource[name]: verb`), so
/// that rules written differently but granting the same compare equal.
pub fn permissions(role: &Value) -> BTreeSet<String> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_array().expect("rules") {
        let names = strings(&rule["resourceNames"]);
        let names = if names.is_empty() {
            vec![String::new()]
        } else {
            names.into_iter().map(|n| format!("[{n}]")).collect()
        };
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                for verb in strings(&rule["verbs"]) {
                    for name in &names {
                        let group = if group.is_empty() { "core" } else { &group };
                        out.insert(format!("{group}/{resource}{name}: {verb}"));
                    }
                }
            }
        }
    }
    out
}

/// The operator container's environment as (name, literal value or the Secret key it comes from).
pub fn operator_env(deployment: &Value) -> Vec<(String, String)> {
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_string();
            let value = if let Some(v) = e["value"].as_str() {
                v.to_string()
            } else if let Some(r) = e["valueFrom"]["secretKeyRef"].as_object() {
                format!(
                    "secret:{}/{}",
                    r["name"].as_str().unwrap(),
                    r["key"].as_str().unwrap()
                )
            } else if let Some(f) = e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                format!("field:{f}")
            } else {
                panic!("unexpected env entry {e}")
            };
            (name, value)
        })
        .collect()
}

pub fn env_value(deployment: &Value, name: &str) -> Option<String> {
    operator_env(deployment)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// Creates (server-side dry run) a Pod from the Deployment's template in `namespace`, so the
/// namespace's Pod Security admission judges it now, whatever the scheduler is doing.
pub fn assert_pod_template_admitted(deployment: &Value, namespace: &str) {
    let mut template = deployment["spec"]["template"].clone();
    let pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "admission-check-",
            "namespace": namespace,
            "labels": template["metadata"]["labels"].take(),
        },
        "spec": template["spec"].take(),
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pod.json");
    std::fs::write(&file, serde_json::to_string(&pod).unwrap()).unwrap();
    let (ok, out) =
        common::kubectl_try(&["create", "--dry-run=server", "-f", file.to_str().unwrap()]);
    assert!(ok, "the operator pod is refused in {namespace}: {out}");
    assert!(!out.contains("Warning"), "admission warned: {out}");
}
