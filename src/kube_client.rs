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

pub async fn build(metrics: &Metrics) -> crate::Result<Client> {
    let config = Config::infer()
        .await
        .map_err(|e| crate::Error::Config(e.to_string()))?;
    from_config(config, metrics)
}

pub fn from_config(mut config: Config, metrics: &Metrics) -> crate::Result<Client> {
    config
        .headers
        .push((USER_AGENT, HeaderValue::from_static(AGENT)));
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
