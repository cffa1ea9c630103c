//! A sharded process: its own shard elected on its own Lease (and the shards it takes over), and
//! the route rule for the whole fleet elected on another, both until shutdown.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use prometheus_client::metrics::gauge::Gauge;

use super::controllers::run_controllers;
use crate::config::OperatorConfig;
use crate::http::HttpState;
use crate::leader::{self, Role};
use crate::metrics::Metrics;
use crate::shard::plan::taker_of;
use crate::shard::returning::ask_back;
use crate::shard::takeover::Takeover;
use crate::shard::{self, Scope, ShardConfig};

type Shutdown = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;

/// What a sharded process runs with.
pub(super) struct Parts {
    pub client: Client,
    pub config: OperatorConfig,
    pub metrics: Arc<Metrics>,
    pub client_metrics: crate::clients::ClientMetrics,
    pub http_state: Arc<HttpState>,
    pub shutdown: Shutdown,
}

pub(super) async fn run(parts: Parts) -> anyhow::Result<()> {
    let Parts { client, config, .. } = &parts;
    let shards = &config.shards;
    let base = &config.leader_election.lease_name;
    let leases: Api<Lease> = Api::namespaced(client.clone(), &config.leader_election.namespace());
    let own = ShardConfig::lease_name(base, shards.index);
    let pod = config
        .leader_election
        .pod_name
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    refuse_a_second_claimant(&leases, &own, &pod, shards, config).await?;

    let mut own_election = config.leader_election.clone();
    own_election.lease_name = own.clone();
    let mut rule_election = config.leader_election.clone();
    rule_election.lease_name = ShardConfig::routes_lease_name(base);

    let state = parts.http_state.clone();
    // As unsharded: a standby is ready; a leader once its caches have synced.
    let on_role = move |role| state.ready.store(role == Role::Standby, Ordering::Relaxed);
    let shard = leader::run_elected(
        client.clone(),
        &own_election,
        parts.metrics.leading.clone(),
        on_role,
        || shard_term(&parts, &leases),
        parts.shutdown.clone(),
    );
    let rule = leader::run_elected(
        client.clone(),
        &rule_election,
        Gauge::default(),
        |_| {},
        || {
            super::route_rule::run_alone(
                client.clone(),
                config.clone(),
                parts.metrics.clone(),
                parts.http_state.clone(),
                parts.shutdown.clone(),
            )
        },
        parts.shutdown.clone(),
    );
    let interval = config.leader_election.lease_duration / 3;
    let asking = ask_back(leases.clone(), own, pod, interval);
    futures::pin_mut!(asking);
    let both = futures::future::try_join(shard, rule);
    futures::pin_mut!(both);
    match futures::future::select(both, asking).await {
        futures::future::Either::Left((result, _)) => result.map(|_| ()),
        futures::future::Either::Right(((), _)) => Ok(()),
    }
}

/// One leadership term of this process's shard: its controllers over its own buckets and those
/// of the shards it has taken over, restarted whenever that set changes, and paused while a live
/// shard Lease announces another shard count.
async fn shard_term(parts: &Parts, leases: &Api<Lease>) -> anyhow::Result<()> {
    let config = &parts.config;
    let identity = leader::fresh_identity(config.leader_election.pod_name.as_deref());
    let mut takeover = Takeover::new(
        leases.clone(),
        &config.leader_election.lease_name,
        &config.shards,
        &config.leader_election,
        &identity,
    );
    let own = ShardConfig::lease_name(&config.leader_election.lease_name, config.shards.index);
    // Until it is written this process must not work; a failure here is the API server's, so
    // retry (the election drops this term if the Lease is lost meanwhile).
    while let Err(error) = announce_count(leases, &own, config.shards.count).await {
        tracing::warn!(%error, "retrying");
        tokio::select! {
            () = parts.shutdown.clone() => return Ok(()),
            () = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
        }
    }
    tokio::select! {
        () = parts.shutdown.clone() => {
            takeover.release_all().await;
            return Ok(());
        }
        () = takeover.settle() => {}
    }
    loop {
        let paused = takeover.disagreement().is_some();
        parts.metrics.shard_paused.set(i64::from(paused));
        let finished = if paused {
            // Not ready: a process that does not work is not doing its job.
            parts.http_state.ready.store(false, Ordering::Relaxed);
            tokio::select! {
                () = parts.shutdown.clone() => Some(Ok(())),
                () = takeover.next_change() => None,
            }
        } else {
            let mut shards: BTreeSet<u16> = takeover.working();
            shards.insert(config.shards.index);
            let scope = Scope::shards(shards, config.shards.count);
            let work = run_controllers(
                parts.client.clone(),
                config.clone(),
                scope,
                parts.metrics.clone(),
                parts.client_metrics.clone(),
                parts.http_state.clone(),
                parts.shutdown.clone(),
            );
            futures::pin_mut!(work);
            tokio::select! {
                result = &mut work => Some(result),
                () = takeover.next_change() => None,
            }
            // The controllers stop here, before any Lease they worked under is given back.
        };
        if let Some(result) = finished {
            parts.metrics.shard_paused.set(0);
            takeover.release_all().await;
            return result;
        }
        takeover.give_back().await;
    }
}

/// Writes this process's shard count on its own Lease, which it holds: before it works, so that
/// a process counting differently reads it and stops (see `shard::count`).
async fn announce_count(leases: &Api<Lease>, own: &str, count: u16) -> anyhow::Result<()> {
    let patch = serde_json::json!({
        "metadata": {"annotations": shard::count::announcement(count)}
    });
    let params = PatchParams {
        field_manager: Some("chitty-operator-shard-count".into()),
        ..Default::default()
    };
    leases
        .patch(own, &params, &Patch::Merge(patch))
        .await
        .map_err(|error| anyhow::anyhow!("cannot write the shard count on Lease {own}: {error}"))?;
    Ok(())
}

/// Refuses to start a shard that another Deployment already runs: its Lease is held, and
/// renewed, by a pod of another Deployment (not a replica of this one, not a taker).
async fn refuse_a_second_claimant(
    leases: &Api<Lease>,
    own: &str,
    pod: &str,
    shards: &ShardConfig,
    config: &OperatorConfig,
) -> anyhow::Result<()> {
    let Ok(Some(lease)) = leases.get_opt(own).await else {
        return Ok(());
    };
    let Some(spec) = lease.spec else {
        return Ok(());
    };
    let Some(holder) = spec.holder_identity.filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    let fresh = spec
        .renew_time
        .is_some_and(|t| jiff::Timestamp::now().as_second() - t.0.as_second() <= duration);
    let holder_deployment = leader::holder_pod(&holder).and_then(deployment_of);
    if fresh
        && taker_of(&holder).is_none()
        && let (Some(theirs), Some(mine)) = (holder_deployment, deployment_of(pod))
        && theirs != mine
    {
        anyhow::bail!(
            "shard {} of {} is already run by Deployment {theirs} (its pod holds Lease {own} in \
             namespace {}); two Deployments must not claim one shard: give this one ({mine}) \
             another --shard-index, or remove it",
            shards.index,
            shards.count,
            config.leader_election.namespace(),
        );
    }
    Ok(())
}

/// The Deployment a pod belongs to, from its name: `<deployment>-<template hash>-<suffix>`.
fn deployment_of(pod: &str) -> Option<&str> {
    let mut parts = pod.rsplitn(3, '-');
    let (_, _, deployment) = (parts.next()?, parts.next()?, parts.next()?);
    (!deployment.is_empty()).then_some(deployment)
}

#[cfg(test)]
mod tests {
    use super::deployment_of;

    #[test]
    fn a_pod_names_its_deployment() {
        assert_eq!(
            deployment_of("chitty-operator-shard-1-7d9f8b6c5-x2b4c"),
            Some("chitty-operator-shard-1")
        );
        assert_eq!(deployment_of("laptop"), None);
        assert_eq!(deployment_of("a-b"), None);
    }
}
