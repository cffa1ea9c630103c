//! A shard's own process that comes back while another shard covers for it asks for its Lease
//! back; the taker (see [`super::takeover`]) stops working the shard, then frees the Lease.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::plan;
use super::takeover::FIELD_MANAGER;

/// Set on a lent Lease by the shard's own process: it is back and wants its Lease.
pub const RETURNING: &str = "chitty.cc/shard-returning";

/// Runs beside a shard's own election: while its Lease is lent to a taker, asks for it back,
/// once per interval until the taker frees it (the election then takes it as usual).
pub async fn ask_back(api: Api<Lease>, lease_name: String, who: String, interval: Duration) {
    loop {
        if let Ok(Some(lease)) = api.get_opt(&lease_name).await {
            let lent = (lease
                .spec
                .as_ref()
                .and_then(|s| s.holder_identity.as_deref()))
            .and_then(plan::taker_of);
            let asked =
                (lease.metadata.annotations.as_ref()).is_some_and(|a| a.contains_key(RETURNING));
            if let Some(taker) = lent
                && !asked
            {
                tracing::info!(lease = %lease_name, taker, "this shard's Lease is lent; asking for it back");
                let patch = json!({"metadata": {"annotations": {RETURNING: who}}});
                let params = PatchParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..Default::default()
                };
                if let Err(error) = api.patch(&lease_name, &params, &Patch::Merge(patch)).await {
                    tracing::debug!(%error, "could not ask for the shard Lease back");
                }
            }
        }
        tokio::time::sleep(interval).await;
    }
}
