//! What the GitOps tools' own health logic says of an object as the cluster serves it: kstatus
//! (the upstream library, as Flux and kpt use it) and Argo CD's health script (run in Argo CD's
//! Lua interpreter). Both run as small Go helpers from the tool cache (hack/tools/kstatus,
//! hack/tools/argolua), fed the object's JSON exactly as the apiserver returned it.

use std::io::Write;
use std::process::{Command, Stdio};

use kube::Api;
use kube::api::{ApiResource, DynamicObject};
use serde::Deserialize;
use serde_json::Value;

use super::TestEnv;

/// One tool's word on one object.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Verdict {
    pub status: String,
    pub message: String,
}

/// kstatus and Argo CD on the same object, read once.
#[derive(Clone, Debug)]
pub struct Health {
    pub kstatus: Verdict,
    pub argo: Verdict,
    /// The object they judged, for failure messages.
    pub object: Value,
}

impl Health {
    /// (kstatus status, Argo CD health status).
    pub fn pair(&self) -> (&str, &str) {
        (&self.kstatus.status, &self.argo.status)
    }
}

/// The Lua health check the chart ships and the docs embed.
pub fn argo_script() -> std::path::PathBuf {
    super::repo().join("charts/chitty-operator/files/argocd-health.lua")
}

/// Runs a cache tool with the object's JSON on stdin; its one JSON line is the verdict.
fn run(tool: &str, args: &[&str], object: &Value) -> Verdict {
    let mut child = Command::new(super::tool(tool))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} runs (built by hack/build-tools.sh): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(object.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{tool} printed {:?}: {e}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub fn judge(object: Value) -> Health {
    let script = argo_script();
    Health {
        kstatus: run("kstatus", &[], &object),
        argo: run("argolua", &[script.to_str().unwrap()], &object),
        object,
    }
}

/// The object of kind `K` named `name` in the test's namespace, as the apiserver returns it
/// (every field, none added or dropped by a Rust type); `None` while there is none.
async fn read<K>(env: &TestEnv, name: &str) -> Option<Value>
where
    K: kube::Resource<DynamicType = ()>,
{
    let api: Api<DynamicObject> =
        Api::namespaced_with(env.client.clone(), env.ns(), &ApiResource::erase::<K>(&()));
    let object = api
        .get_opt(name)
        .await
        .unwrap_or_else(|e| panic!("reading {} {name}: {e}", K::kind(&())))?;
    Some(serde_json::to_value(object).unwrap())
}

/// What both tools say of the object now.
pub async fn health_of<K>(env: &TestEnv, name: &str) -> Health
where
    K: kube::Resource<DynamicType = ()>,
{
    let object = read::<K>(env, name).await;
    judge(object.unwrap_or_else(|| panic!("no {} {name}", K::kind(&()))))
}

/// Polls until the object exists and `check` holds for what both tools say of it; fails with the
/// last verdicts and object.
pub async fn health_where<K>(
    env: &TestEnv,
    name: &str,
    what: &str,
    check: impl Fn(&Health) -> bool,
) -> Health
where
    K: kube::Resource<DynamicType = ()>,
{
    super::eventually(
        &format!("{} {name}: {what}", K::kind(&())),
        || async { read::<K>(env, name).await.map(judge) },
        |h| h.as_ref().is_some_and(&check),
    )
    .await
    .unwrap()
}
