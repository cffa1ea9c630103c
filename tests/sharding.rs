//! Sharding against the local control plane, with every shard a real process: three shards over
//! 300 services write each service from exactly one shard (the audit log, by user agent), decide
//! routes as one shard would, hand a killed shard's services to the next shard within the
//! takeover timeout and take them back when it returns, with no rollout made twice; two shard
//! counts at once pause rather than write one service twice; and bad shard settings stop a
//! process with the reason.

mod common;
mod sharding_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chitty_operator::api::conditions::is_true;
use chitty_operator::api::{ChittyDeployment, ChittyService, RouteClaim};
use chitty_operator::config::{OperatorConfig, RoutePolicyMode};
use chitty_operator::controller::route_claim::input::{claim_id, to_claim};
use chitty_operator::kube_client::AGENT;
use chitty_operator::routing::ClaimIndex;
use chitty_operator::shard::bucket;
use common::audit_lines;
use common::health_server::HealthServer;
use common::{TestNamespace, service};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use serde_json::json;
use sharding_support::{Fleet, agent, all_ready, audited_writes, bump, lease_holder, writers};

const SERVICES: usize = 300;
const SHARDS: u16 = 3;
const CONTESTED_HOSTS: usize = 10;

fn name(i: usize) -> String {
    format!("s-{i:03}")
}

fn shard_of(namespace: &str, service: &str) -> u16 {
    bucket::of(namespace, service) % SHARDS
}

/// Each contested host is claimed by two services of different shards.
fn contested_pairs(namespace: &str) -> Vec<(String, String)> {
    let mut used = BTreeSet::new();
    let mut pairs = Vec::new();
    for a in 0..SERVICES {
        if pairs.len() == CONTESTED_HOSTS {
            break;
        }
        if used.contains(&a) {
            continue;
        }
        let partner = (a + 1..SERVICES).find(|b| {
            !used.contains(b) && shard_of(namespace, &name(*b)) != shard_of(namespace, &name(a))
        });
        if let Some(b) = partner {
            used.extend([a, b]);
            pairs.push((name(a), name(b)));
        }
    }
    pairs
}

/// Every claim's status is what the route rule decides over the same claims in one process.
async fn decisions_match_one_shard(claims: &Api<RouteClaim>) {
    let all = claims.list(&ListParams::default()).await.unwrap().items;
    let mut config = OperatorConfig::defaults();
    config.routing.policy = RoutePolicyMode::Open;
    let mut index = ClaimIndex::new(config.routing.initial_policy());
    for claim in &all {
        index.upsert(to_claim(claim, true));
    }
    let decided = index.resolve();
    let mut held = BTreeMap::new();
    for claim in &all {
        let decision = &decided[&claim_id(claim)];
        let status = claim.status.clone().unwrap_or_default();
        assert_eq!(
            is_true(&status.conditions, "Accepted"),
            decision.accepted,
            "{}: accepted as one shard decides",
            claim.name_any()
        );
        assert_eq!(
            status.holder,
            decision.holder.as_ref().map(ToString::to_string),
            "{}: same holder as one shard",
            claim.name_any()
        );
        if decision.accepted {
            *held.entry(claim.spec.host.clone()).or_insert(0) += 1;
        }
    }
    assert!(
        held.values().all(|n| *n == 1),
        "one holder per host: {held:?}"
    );
    assert_eq!(held.len(), CONTESTED_HOSTS);
}

/// Bumps the version of `names`, with the rollouts this makes.
#[tokio::test]
async fn three_shards_split_the_fleet_and_cover_for_a_killed_one() {
    let client = common::client().await;
    let ns = TestNamespace::create(&client, "shards").await;
    let lease_ns = TestNamespace::create(&client, "shard-leases").await;
    let health = HealthServer::start().await;
    let fleet = Fleet {
        namespace: ns.name.clone(),
        lease_namespace: lease_ns.name.clone(),
        count: SHARDS,
        health: health.url.clone(),
    };
    let http = reqwest::Client::new();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pod = |i: u16, n: &str| format!("chitty-operator-shard-{i}-5d8f7c9b6-{n}");
    let mut shards: Vec<_> = (0..SHARDS)
        .map(|i| fleet.start(i, &pod(i, "a1b2c")))
        .collect();
    for shard in &shards {
        shard.ready(&http).await;
    }

    let from = audit_lines();
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    let pairs = contested_pairs(&ns.name);
    let mut hosts: BTreeMap<String, String> = BTreeMap::new();
    for (i, (a, b)) in pairs.iter().enumerate() {
        hosts.insert(a.clone(), format!("h{i}.shards.chitty.cc"));
        hosts.insert(b.clone(), format!("h{i}.shards.chitty.cc"));
    }
    let names: BTreeSet<String> = (0..SERVICES).map(name).collect();
    futures::stream::iter(names.iter())
        .for_each_concurrent(8, |n| {
            let services = services.clone();
            let manifest = match hosts.get(n) {
                Some(host) => service(n).routes(json!([{"host": host}])),
                None => service(n),
            };
            async move { manifest.apply(&services).await }
        })
        .await;
    all_ready(&services, &names, "1.0.0").await;

    // Each service's objects were written by its own shard, and by no other.
    let written = writers(&ns.name, from, &names);
    for n in &names {
        let expected = BTreeSet::from([agent(shard_of(&ns.name, n), SHARDS)]);
        assert_eq!(
            written.get(n),
            Some(&expected),
            "{n} written by its shard only"
        );
    }
    let claims: Api<RouteClaim> = Api::namespaced(client.clone(), &ns.name);
    common::eventually(
        "every claim decided",
        || async { claims.list(&ListParams::default()).await.unwrap().items },
        |all| all.len() == 2 * CONTESTED_HOSTS && all.iter().all(|c| c.status.is_some()),
    )
    .await;
    decisions_match_one_shard(&claims).await;
    let rule_writers: BTreeSet<String> = audited_writes(&ns.name, from)
        .into_iter()
        .filter(|(_, resource, sub, _, _)| resource == "routeclaims" && sub == "status")
        .map(|(agent, ..)| agent)
        .collect();
    assert_eq!(rule_writers.len(), 1, "one route rule: {rule_writers:?}");

    // Shard 1 dies; shard 2, the next led shard, takes its Lease and its services.
    let leases: Api<Lease> = Api::namespaced(client.clone(), &lease_ns.name);
    shards[1].kill();
    let killed_at = audit_lines();
    common::wait::eventually_within(
        "shard 2 takes shard 1 over",
        Duration::from_secs(180),
        || lease_holder(&leases, "chitty-shard-1"),
        |holder| holder.starts_with("takeover-by-shard-2."),
    )
    .await;
    let of_shard_1: BTreeSet<String> = (names.iter())
        .filter(|n| shard_of(&ns.name, n) == 1)
        .take(10)
        .cloned()
        .collect();
    bump(&services, &of_shard_1, "1.0.1").await;
    all_ready(&services, &of_shard_1, "1.0.1").await;
    let written = writers(&ns.name, killed_at, &of_shard_1);
    for n in &of_shard_1 {
        let expected = BTreeSet::from([agent(2, SHARDS)]);
        assert_eq!(
            written.get(n),
            Some(&expected),
            "{n} written by its taker only"
        );
    }

    // Shard 1 comes back (a new pod of its Deployment) and gets its Lease back.
    shards[1] = fleet.start(1, &pod(1, "d3e4f"));
    common::wait::eventually_within(
        "shard 1 gets its Lease back",
        Duration::from_secs(180),
        || lease_holder(&leases, "chitty-shard-1"),
        |holder| holder.starts_with(&pod(1, "d3e4f")),
    )
    .await;
    shards[1].ready(&http).await;
    let returned_at = audit_lines();
    bump(&services, &of_shard_1, "1.0.2").await;
    all_ready(&services, &of_shard_1, "1.0.2").await;
    let written = writers(&ns.name, returned_at, &of_shard_1);
    for n in &of_shard_1 {
        let expected = BTreeSet::from([agent(1, SHARDS)]);
        assert_eq!(
            written.get(n),
            Some(&expected),
            "{n} written by its own shard again"
        );
    }

    // No rollout was made twice: one per revision, three for the services bumped twice.
    let rollouts: Api<ChittyDeployment> = Api::namespaced(client.clone(), &ns.name);
    let mut per_service: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rollouts.list(&ListParams::default()).await.unwrap().items {
        per_service
            .entry(r.spec.service_ref.name.clone())
            .or_default()
            .push(r.spec.revision.clone());
    }
    for n in &names {
        let revisions = &per_service[n];
        let distinct: BTreeSet<_> = revisions.iter().collect();
        assert_eq!(
            distinct.len(),
            revisions.len(),
            "{n}: a revision rolled out twice"
        );
        let expected = if of_shard_1.contains(n) { 3 } else { 1 };
        assert_eq!(revisions.len(), expected, "{n}: rollouts {revisions:?}");
    }

    // The shards release the finalizers before they stop.
    ns.delete_and_wait(&client).await;
    drop(shards);
    lease_ns.delete_and_wait(&client).await;
}

#[tokio::test]
async fn bad_shard_settings_stop_the_process_with_the_reason() {
    let client = common::client().await;
    let ns = TestNamespace::create(&client, "shards-bad").await;
    let fleet = |count| Fleet {
        namespace: ns.name.clone(),
        lease_namespace: ns.name.clone(),
        count,
        health: "http://127.0.0.1:9".into(),
    };
    let exit = |fleet: &Fleet, index, pod: &str| {
        let port = sharding_support::free_port();
        let out = fleet.command(index, port, pod).output().unwrap();
        assert!(!out.status.success(), "exits with an error");
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
    };
    let zero = exit(&fleet(0), 0, "op-5d8f7c9b6-a1b2c");
    assert!(zero.contains("--shard-count must be at least 1"), "{zero}");
    let out_of_range = exit(&fleet(3), 3, "op-5d8f7c9b6-a1b2c");
    assert!(
        out_of_range.contains("out of range for --shard-count 3"),
        "{out_of_range}"
    );

    // Two Deployments give the same shard index: the second refuses to start.
    let two = fleet(2);
    let http = reqwest::Client::new();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let first = two.start(0, "team-a-operator-5d8f7c9b6-a1b2c");
    first.ready(&http).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns.name);
    common::wait::eventually_within(
        "the first Deployment holds shard 0",
        Duration::from_secs(60),
        || lease_holder(&leases, "chitty-shard-0"),
        |holder| holder.starts_with("team-a-operator-"),
    )
    .await;
    let second = exit(&two, 0, "team-b-operator-7c6b5a4d3-f6g7h");
    assert!(
        second.contains("two Deployments must not claim one shard"),
        "{second}"
    );
    assert!(second.contains("team-a-operator"), "{second}");
    // A second replica of the same Deployment stands by instead: that is high availability.
    let replica = two.start(0, "team-a-operator-5d8f7c9b6-z9y8x");
    replica.ready(&http).await;
    drop(replica);
    drop(first);
    ns.delete_and_wait(&client).await;
}

/// Two shard counts at once, as in a half-done change of the chart's `shards`: shard 0 of 2 and
/// shard 1 of 3 would both work bucket 4 (and 10, 16, ...), each under its own Lease. Each reads
/// the count the other announces on its Lease and pauses; nothing is written while they do; once
/// the odd one is gone, the other works again, alone.
#[tokio::test]
async fn two_shard_counts_at_once_pause_rather_than_write_twice() {
    let client = common::client().await;
    let ns = TestNamespace::create(&client, "shards-counts").await;
    let health = HealthServer::start().await;
    let fleet = |count| Fleet {
        namespace: ns.name.clone(),
        lease_namespace: ns.name.clone(),
        count,
        health: health.url.clone(),
    };
    let http = reqwest::Client::new();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let from = audit_lines();
    let first = fleet(2).start(0, "chitty-operator-shard-0-5d8f7c9b6-a1b2c");
    first.ready(&http).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns.name);
    common::eventually(
        "shard 0 of 2 announces its count on its Lease",
        || async {
            let lease = leases.get_opt("chitty-shard-0").await.ok().flatten();
            lease.and_then(|l| l.annotations().get("chitty.cc/shard-count").cloned())
        },
        |count| count.as_deref() == Some("2"),
    )
    .await;

    let mut odd = fleet(3).start(1, "chitty-operator-shard-1-7c6b5a4d3-f6g7h");
    odd.paused(&http, true).await;
    first.paused(&http, true).await;
    // Services in buckets both would work: while paused, neither writes them.
    let both: BTreeSet<String> = (0..)
        .map(name)
        .filter(|n| {
            let b = bucket::of(&ns.name, n);
            b.is_multiple_of(2) && b % 3 == 1
        })
        .take(3)
        .collect();
    let services: Api<ChittyService> = Api::namespaced(client.clone(), &ns.name);
    for n in &both {
        service(n).apply(&services).await;
    }
    // Three check intervals (the Leases are read every 3 s here).
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(writers(&ns.name, from, &both), BTreeMap::new(), "paused");

    // The odd process dies; once its Lease runs out, shard 0 of 2 works again, and alone.
    odd.kill();
    first.paused(&http, false).await;
    all_ready(&services, &both, "1.0.0").await;
    let only_first = BTreeSet::from([agent(0, 2)]);
    for (service, agents) in writers(&ns.name, from, &both) {
        assert_eq!(agents, only_first, "{service} written by shard 0 of 2 only");
    }
    let odd_writes: Vec<_> = audited_writes(&ns.name, from)
        .into_iter()
        .filter(|(who, resource, ..)| *who == agent(1, 3) && resource != "leases")
        .collect();
    assert!(odd_writes.is_empty(), "the odd shard wrote: {odd_writes:?}");

    // An unsharded operator beside the shard (as when the chart's `shards` goes from 1 to 2): the
    // shard reads its Lease and pauses, and the services are the unsharded one's alone.
    let unsharded = fleet(1).start(0, "chitty-operator-6b5a4c3d2-k1l2m");
    first.paused(&http, true).await;
    let from = audit_lines();
    bump(&services, &both, "1.0.1").await;
    all_ready(&services, &both, "1.0.1").await;
    let only_unsharded = BTreeSet::from([AGENT.to_string()]);
    for (service, agents) in writers(&ns.name, from, &both) {
        assert_eq!(
            agents, only_unsharded,
            "{service} written by the unsharded one only"
        );
    }
    ns.delete_and_wait(&client).await;
    drop(unsharded);
    drop(first);
}
