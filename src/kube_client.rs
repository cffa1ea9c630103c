//! The Kubernetes client the operator uses: identified by its user agent (visible in the apiserver
//! audit log) and counting its own writes.

use http::header::{HeaderValue, USER_AGENT};
use kube::client::{Body, ClientBuilder};
use kube::{Client, Config};
use tower::util::MapRequestLayer;

use crate::metrics::{Metrics, VerbLabel};

mod refusals;
pub use refusals::{RefusalLabels, labels_of};

pub const AGENT: &str = concat!("chitty-operator/", env!("CARGO_PKG_VERSION"));

/// The client of an operator process; a shard says which in its user agent, so the audit log
/// tells the shards' writes apart.
pub async fn build(metrics: &Metrics, shards: &crate::shard::ShardConfig) -> crate::Result<Client> {
    let config = Config::infer()
        .await
        .map_err(|e| crate::Error::Config(e.to_string()))?;
    let agent = match shards.is_sharded() {
        true => format!("{AGENT} (shard {} of {})", shards.index, shards.count),
        false => AGENT.to_string(),
    };
    with_agent(config, metrics, &agent)
}

pub fn from_config(config: Config, metrics: &Metrics) -> crate::Result<Client> {
    with_agent(config, metrics, AGENT)
}

/// As [`from_config`], with another user agent.
pub fn with_agent(mut config: Config, metrics: &Metrics, agent: &str) -> crate::Result<Client> {
    let agent = HeaderValue::from_str(agent).map_err(|e| crate::Error::Config(e.to_string()))?;
    config.headers.push((USER_AGENT, agent));
    let requests = metrics.kube_requests.clone();
    let count_writes = MapRequestLayer::new(move |request: http::Request<Body>| {
        requests
            .get_or_create(&VerbLabel {
                verb: request.method().to_string(),
            })
            .inc();
        request
    });
    let count_refusals = refusals::CountRefusals {
        family: metrics.kube_refusals.clone(),
    };
    Ok(ClientBuilder::try_from(config)?
        .with_layer(&count_writes)
        .with_layer(&count_refusals)
        .build())
}
