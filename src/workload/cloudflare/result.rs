//! What the deploy container leaves as its termination message (written by the script from
//! wrangler's output file), read back from the Job's pod.

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;

/// The container that runs wrangler in a deploy Job.
pub const DEPLOY_CONTAINER: &str = "deploy";

#[derive(Deserialize, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeployResult {
    pub version_id: Option<String>,
    pub worker_name: Option<String>,
    pub deployment_id: Option<String>,
}

/// The deploy container's result, if it finished and left one. Anything else (no pod, no
/// message, a message that is not ours) is `None`: the rollout then has no version to return to
/// and a rollback redeploys the last good revision instead.
pub fn from_pod(pod: Option<&Pod>) -> Option<DeployResult> {
    let statuses = pod?.status.as_ref()?.container_statuses.as_ref()?;
    let terminated = statuses
        .iter()
        .find(|c| c.name == DEPLOY_CONTAINER)?
        .state
        .as_ref()?
        .terminated
        .as_ref()?;
    if terminated.exit_code != 0 {
        return None;
    }
    let result: DeployResult = serde_json::from_str(terminated.message.as_deref()?).ok()?;
    (result != DeployResult::default()).then_some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, code: i32, message: &str) -> Pod {
        serde_json::from_value(serde_json::json!({"status": {"containerStatuses": [{
            "name": name, "image": "node", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": code, "message": message}}}]}}))
        .unwrap()
    }

    #[test]
    fn reads_the_version_wrangler_reported() {
        let r = from_pod(Some(&pod(
            "deploy",
            0,
            r#"{"versionId":"v-1","workerName":"w"}"#,
        )));
        assert_eq!(r.unwrap().version_id.as_deref(), Some("v-1"));
    }

    #[test]
    fn anything_else_is_no_result() {
        assert!(from_pod(None).is_none());
        assert!(from_pod(Some(&pod("deploy", 1, r#"{"versionId":"v"}"#))).is_none());
        assert!(from_pod(Some(&pod("deploy", 0, "npm ERR! something"))).is_none());
        assert!(from_pod(Some(&pod("deploy", 0, "{}"))).is_none());
        assert!(from_pod(Some(&pod("other", 0, r#"{"versionId":"v"}"#))).is_none());
    }
}
