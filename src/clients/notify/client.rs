//! The HTTP client for one notification webhook.

use futures::future::BoxFuture;
use reqwest::Url;

use super::{NotificationEvent, NotificationSink, NotifyError};
use crate::clients::http::{self, ClientBuildError, ErrorBody};
use crate::clients::resilience::{BreakerState, ClientMetrics, Resilience, ResilienceConfig};
use crate::clients::secret::SecretToken;

#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// A short name for logs and metrics (`service="notify-<name>"`).
    pub name: String,
    /// The full webhook URL, used as is.
    pub url: String,
    pub token: Option<SecretToken>,
    pub resilience: ResilienceConfig,
}

impl NotifierConfig {
    pub fn new(
        name: impl Into<String>,
        url: impl Into<String>,
        token: Option<SecretToken>,
    ) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            token,
            resilience: ResilienceConfig::notify(),
        }
    }
}

/// Posts events to one webhook; each webhook has its own breaker so one dead receiver does not
/// silence the others.
#[derive(Debug)]
pub struct Notifier {
    name: String,
    http: reqwest::Client,
    url: Url,
    token: Option<SecretToken>,
    resilience: Resilience,
}

impl Notifier {
    pub fn new(config: NotifierConfig, metrics: ClientMetrics) -> Result<Self, ClientBuildError> {
        Ok(Self {
            http: http::build_http(config.resilience.timeout)?,
            url: http::parse_url(&config.url)?,
            token: config.token,
            resilience: Resilience::new(
                format!("notify-{}", config.name),
                config.resilience,
                metrics,
            ),
            name: config.name,
        })
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.resilience.breaker_state()
    }

    async fn deliver(&self, event: &NotificationEvent, key: &str) -> Result<(), NotifyError> {
        if !http::valid_key(key) {
            return Err(NotifyError::InvalidKey);
        }
        let reply = self
            .resilience
            .call(|| {
                let mut req = self
                    .http
                    .post(self.url.clone())
                    .header("Idempotency-Key", key)
                    .json(event);
                if let Some(t) = &self.token {
                    req = req.bearer_auth(t.expose());
                }
                http::send(req)
            })
            .await?;
        match reply.status {
            200..=299 => Ok(()),
            401 | 403 => Err(NotifyError::Unauthorized {
                status: reply.status,
            }),
            status => Err(NotifyError::Rejected {
                status,
                message: ErrorBody::parse(&reply.body).message(status),
            }),
        }
    }
}

impl NotificationSink for Notifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(
        &'a self,
        event: &'a NotificationEvent,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(self.deliver(event, idempotency_key))
    }
}
