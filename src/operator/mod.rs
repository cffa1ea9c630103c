//! `chitty-operator run`: wires the client, the controllers and the HTTP port together and runs
//! them until SIGTERM or Ctrl-C.

mod assign;
mod controllers;
mod domains;
mod gateway;
mod odd_objects;
mod reflectors;
mod route_rule;
mod sharded;
mod tolerant;
mod triggers;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::FutureExt;
use kube::Client;
use prometheus_client::registry::Registry;

use crate::config::OperatorConfig;
use crate::http::HttpState;
use crate::metrics::Metrics;
use controllers::run_controllers;

/// Resolves on SIGTERM (how Kubernetes stops a pod) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c().map(|_| ());
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => futures::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = futures::future::pending::<()>();
    futures::pin_mut!(term);
    futures::future::select(Box::pin(ctrl_c), term).await;
    tracing::info!("shutting down");
}

/// Runs the operator as a process does: client from kubeconfig or in-cluster config, stopped by signals.
pub async fn run(config: OperatorConfig) -> anyhow::Result<()> {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    // Bad shard settings stop the process here, before it touches the cluster.
    config
        .shards
        .validate(config.leader_election.enabled)
        .map_err(anyhow::Error::msg)?;
    let client = crate::kube_client::build(&metrics, &config.shards).await?;
    serve(client, config, metrics, registry, shutdown_signal()).await
}

/// Runs the controllers and the HTTP port with the given client until `shutdown` resolves. Tests
/// call this directly to run the operator in-process against the local control plane.
pub async fn serve(
    client: Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    registry: Registry,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.http_addr).await?;
    serve_on(listener, client, config, metrics, registry, shutdown).await
}

/// As [`serve`], on an HTTP port the caller has bound (tests bind `127.0.0.1:0` and read it).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    client: Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    registry: Registry,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config
        .shards
        .validate(config.leader_election.enabled)
        .map_err(anyhow::Error::msg)?;
    let shutdown = shutdown.boxed().shared();
    // Every replica of an install listens on the same port: a standby reaches the leader's.
    let peer_port = config
        .leader_election
        .peer_port
        .unwrap_or(listener.local_addr()?.port());
    let mut registry = registry;
    let client_metrics = crate::clients::ClientMetrics::register(&mut registry);
    let http_state = Arc::new(HttpState {
        registry,
        ready: Default::default(),
        routes: Default::default(),
        web: Some(Arc::new(crate::web::WebState::new(&config.web)?)),
    });
    if let Some(web) = &http_state.web
        && web.auth.is_kubernetes()
    {
        let _ = web
            .reviewer
            .set(crate::web::kube_auth::KubeReviewer::new(client.clone()));
    }
    // A shard's standby has no one fleet-wide leader to forward reads to.
    if config.leader_election.enabled
        && !config.shards.is_sharded()
        && let Some(web) = &http_state.web
    {
        let _ = web.forward.set(crate::web::forward::Forwarder::new(
            client.clone(),
            &config.leader_election,
            peer_port,
        )?);
    }
    let http = tokio::spawn(crate::http::serve(
        listener,
        http_state.clone(),
        shutdown.clone(),
    ));

    // Everything the controllers need is made afresh for each run: a new leader starts from a
    // full list of the cluster, not from a cache that stood still while it was on standby.
    let controllers = || {
        run_controllers(
            client.clone(),
            config.clone(),
            crate::shard::Scope::everything(),
            metrics.clone(),
            client_metrics.clone(),
            http_state.clone(),
            shutdown.clone(),
        )
    };
    let result = if config.shards.is_sharded() {
        sharded::run(sharded::Parts {
            client: client.clone(),
            config: config.clone(),
            metrics: metrics.clone(),
            client_metrics: client_metrics.clone(),
            http_state: http_state.clone(),
            shutdown: shutdown.clone(),
        })
        .await
    } else if config.leader_election.enabled {
        let state = http_state.clone();
        // A replica on standby is ready (it does its job: waiting); a new leader is ready once
        // its caches have synced; one that cannot reach its Lease is not.
        let on_role = move |role| {
            state
                .ready
                .store(role == crate::leader::Role::Standby, Ordering::Relaxed)
        };
        // Shards beside an unsharded leader pause once they read its Lease (see
        // `shard::count`): a new leader waits until they have.
        let settle = config.leader_election.settle_time();
        let lead = || {
            let shutdown = shutdown.clone();
            let run = controllers();
            async move {
                tokio::select! {
                    () = shutdown => return Ok(()),
                    () = tokio::time::sleep(settle) => {}
                }
                run.await
            }
        };
        crate::leader::run_elected(
            client.clone(),
            &config.leader_election,
            metrics.leading.clone(),
            on_role,
            lead,
            shutdown.clone(),
        )
        .await
    } else {
        metrics.leading.set(1);
        controllers().await
    };
    if result.is_err() {
        // The controllers could not run (e.g. bad configuration): stop serving probes too.
        http.abort();
        return result;
    }
    http.await??;
    result
}
