//! The operator at fleet scale, alone and sharded (issue 16): N ChittyServices with one route each
//! (so each has a ChittyDeployment, Deployment, Service, RouteClaim and Ingress), per shard count:
//!
//! 1. a fresh namespace `bench-scale-<shards>`, the operator process(es) started on it (one per
//!    shard; with more than one, each with `--shard-count/--shard-index`, leader election on its
//!    shard's Lease and `--shard-takeover-after 30s`), their RSS read once all are ready (baseline);
//! 2. the N services applied (16 at a time) and timed until all are Ready, seen on a watch, with
//!    each process's VmRSS sampled every 500 ms (peak);
//! 3. after 30 s idle, each process's VmRSS (steady) and the objects in the namespace (the seven
//!    kinds the operator caches per service, listed); bytes per cached object =
//!    (steady − baseline) / objects, the plain steady RSS / objects too, and peak / steady;
//! 4. the apiserver writes per minute of all processes over the next 60 s, nothing changing;
//! 5. spec-change latency, `spec.version` 1.0.0 -> 1.0.1, timed until a ChittyDeployment of that
//!    service for the new version shows on a watch (a timeout after 20 s): first at idle, on 20
//!    services one every 3 s (the target's case), then under load, on 100 others one every
//!    200 ms (their rollouts overlap, and on two cores the cluster's rolling updates take the
//!    CPU); the cores each process used and the operator's reconciles and writes are reported;
//! 6. the processes stopped, then (after the first shard count only: it does not depend on the
//!    shards) the floor at the same N on a new cluster (support/floor.rs: a bare client writing
//!    what the operator must, then the cluster making the Deployments available); time to Ready
//!    / floor until available.
//!
//! Run: `cargo bench --bench scale` (N from an argument, `-- 300`, or CHITTY_BENCH_SIZE, default
//! 10,000; shard counts from CHITTY_BENCH_SHARDS, default "1,3"; CHITTY_BENCH_FLOOR="<writes
//! s>,<available s>" reuses a floor an earlier run measured at the same N); writes target/bench/scale.md,
//! scale.json, and each process's log as target/bench/bench-scale-<shards>-shard-<i>.log. Runs
//! `scripts/cluster.sh up` itself. A quick check in the debug build: `CHITTY_BENCH_SHARDS=1 cargo
//! test --bench scale -- 200`.
//!
//! Nodes: every service runs one pod and a kwok node holds 110, so the cluster needs
//! N / 100 nodes (10% left for rollouts), 100 for 10,000 services. CHITTY_NODES sets how many
//! `scripts/cluster.sh` creates, and a change recreates the cluster. Unset, the bench sets it to
//! what N needs (at least the default 10); set too low, the bench stops with a message saying
//! what to set. Other runs on the same CHITTY_CLUSTER_NAME without it recreate the cluster with 10.

mod support;

#[path = "scale/measure.rs"]
mod measure;
#[path = "scale/report.rs"]
mod report;

use std::process::ExitCode;

use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::{Api, Client};

const PORT: u16 = 18900;
/// Pods a kwok node holds.
const NODE_PODS: usize = 110;
/// Pods the bench plans per node: the rest is room for the spec-change rollouts' surge.
const PLANNED_PODS_PER_NODE: usize = 100;
/// `scripts/cluster.sh`'s default.
const DEFAULT_NODES: usize = 10;

/// The nodes `n` services need, and whether CHITTY_NODES must be set to that: an error when it
/// is set to something unusable.
fn nodes_for(n: usize, set: Option<String>) -> Result<(usize, bool), String> {
    let needed = n.div_ceil(PLANNED_PODS_PER_NODE).max(DEFAULT_NODES);
    let Some(set) = set else {
        return Ok((needed, true));
    };
    let nodes: usize = set
        .trim()
        .parse()
        .map_err(|_| format!("CHITTY_NODES={set:?} is not a number of nodes"))?;
    if nodes < needed {
        return Err(format!(
            "{n} services need at least {needed} kwok nodes ({NODE_PODS} pods each, \
             {PLANNED_PODS_PER_NODE} planned); CHITTY_NODES={nodes} is too few: set \
             CHITTY_NODES={needed} or unset it (the bench then sets it)"
        ));
    }
    Ok((nodes, false))
}

fn shard_counts() -> Result<Vec<usize>, String> {
    let text = std::env::var("CHITTY_BENCH_SHARDS").unwrap_or_else(|_| "1,3".into());
    text.split(',')
        .map(|s| match s.trim().parse::<usize>() {
            Ok(count) if count > 0 => Ok(count),
            _ => Err(format!(
                "CHITTY_BENCH_SHARDS={text:?}: each shard count must be a whole number above 0"
            )),
        })
        .collect()
}

async fn ready_nodes(client: &Client) -> usize {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    nodes
        .iter()
        .filter(|node| {
            let conditions = node.status.as_ref().and_then(|s| s.conditions.as_ref());
            conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count()
}

fn main() -> ExitCode {
    let n = support::size("CHITTY_BENCH_SIZE", 10_000);
    let plan = shard_counts().and_then(|shards| {
        let (nodes, set) = nodes_for(n, std::env::var("CHITTY_NODES").ok())?;
        Ok((shards, nodes, set))
    });
    let (shards, nodes, set) = match plan {
        Ok(plan) => plan,
        Err(why) => {
            eprintln!("scale: {why}");
            return ExitCode::from(2);
        }
    };
    if set {
        // SAFETY: no other thread exists yet (the runtime starts below), so none reads the
        // environment while it changes. scripts/cluster.sh, run by support::local_cluster, reads it.
        unsafe { std::env::set_var("CHITTY_NODES", nodes.to_string()) };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(bench(n, shards, nodes))
}

async fn bench(n: usize, shard_counts: Vec<usize>, nodes: usize) -> ExitCode {
    let (client, kubeconfig) = support::local_cluster().await;
    let ready = ready_nodes(&client).await;
    if ready < nodes {
        eprintln!(
            "scale: {n} services need {nodes} Ready nodes and the cluster has {ready}; \
             check `scripts/cluster.sh status` (CHITTY_NODES sets how many it creates)"
        );
        return ExitCode::from(2);
    }
    let mut runs = Vec::new();
    let mut failed = None;
    let mut floor = match support::floor::Floor::given() {
        Ok(floor) => floor,
        Err(why) => {
            eprintln!("scale: {why}");
            return ExitCode::from(2);
        }
    };
    if let Some(given) = floor {
        println!(
            "scale: floor given (CHITTY_BENCH_FLOOR): writes {:.1} s, available {:.1} s",
            given.writes.as_secs_f64(),
            given.available.as_secs_f64()
        );
    }
    for (i, shards) in shard_counts.into_iter().enumerate() {
        println!("scale: {n} services, {shards} shard(s)");
        let port = PORT + 10 * i as u16;
        match measure::run(&client, &kubeconfig, n, shards, port, &mut floor).await {
            Ok(run) => {
                println!("{}", report::summary(&run));
                runs.push(run);
            }
            Err(why) => {
                // The runs done so far are still reported.
                eprintln!("scale: {shards} shard(s): {why}");
                failed = Some(format!("{shards} shard(s): {why}"));
                break;
            }
        }
    }
    support::write_report("scale.md", &report::markdown(n, &runs, failed.as_deref()));
    support::write_json("scale.json", &report::json(n, &runs, failed.as_deref()));
    if failed.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
