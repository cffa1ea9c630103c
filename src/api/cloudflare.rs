//! What a rollout to Cloudflare recorded: the Worker version wrangler deployed, the routes it is
//! bound to, and the state of a rollback or a routes-only update. Written by the ChittyDeployment
//! controller alone, like the rest of the rollout's status.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CloudflareStatus {
    /// The Worker version this rollout deployed, from wrangler's output; what a later rollback
    /// to this rollout restores with `wrangler rollback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The Worker's name as wrangler deployed it (with its environment suffix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_name: Option<String>,
    /// The route patterns the Worker is bound to: exactly the routes the service holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
    /// The routes-only update in flight or last finished, when the held routes changed after the
    /// deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes_update: Option<EdgeJob>,
    /// The rollback of this rollout, when it failed after deploying (or a rollback was asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<EdgeJob>,
}

/// A wrangler Job the rollout waits on after its deploy.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct EdgeJob {
    /// The Job's name.
    pub job: String,
    /// `Running`, `Succeeded` or `Failed`.
    pub state: String,
    /// What the Job does, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The rollout a rollback returns to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The route patterns a routes-only update binds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
}

impl EdgeJob {
    pub const RUNNING: &'static str = "Running";
    pub const SUCCEEDED: &'static str = "Succeeded";
    pub const FAILED: &'static str = "Failed";

    pub fn is_running(&self) -> bool {
        self.state == Self::RUNNING
    }
}
