//! Deploy notifications to webhooks (ContextConsciousness and others): the event, the trait the
//! pipeline uses, errors, and the HTTP client. A failing receiver must never fail a rollout, so
//! callers log these errors rather than propagate them.

mod client;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

pub use client::{Notifier, NotifierConfig};

use super::resilience::CallError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    ServiceDeployed,
    ServiceRolledBack,
    ServiceDegraded,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServiceDeployed => "service_deployed",
            Self::ServiceRolledBack => "service_rolled_back",
            Self::ServiceDegraded => "service_degraded",
        }
    }
}

/// The JSON body posted to each webhook.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationEvent {
    pub event: EventType,
    pub chitty_id: Option<String>,
    pub name: String,
    pub namespace: String,
    pub version: String,
    pub environment: String,
    pub url: Option<String>,
    pub duration_ms: Option<u64>,
    /// The ChittyDeployment's name.
    pub deployment: String,
    /// RFC 3339; informational, not part of the idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// How the deploy advisor planned the rollout; informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<NotifiedPlan>,
}

/// The advisor's plan as a notification carries it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifiedPlan {
    pub decision: String,
    pub confidence: f64,
    pub reasons: Vec<String>,
}

impl NotificationEvent {
    /// A key that is the same for every re-send of the same event (same kind, object,
    /// deployment and version), so receivers can drop duplicates.
    pub fn idempotency_key(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.event.as_str(),
            &self.namespace,
            &self.name,
            &self.deployment,
            &self.version,
        ] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        let digest = h.finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}-{hex}", self.event.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotifyError {
    #[error("the webhook refused the token (HTTP {status})")]
    Unauthorized { status: u16 },
    #[error("the webhook rate-limited the event (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the webhook rejected the event (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// Network error, timeout, 5xx after retries, or the breaker is open.
    #[error("the webhook is unavailable: {0}")]
    Unavailable(CallError),
    /// The idempotency key is empty or not a valid header value; nothing was sent.
    #[error("the idempotency key is empty or not printable ASCII")]
    InvalidKey,
}

impl From<CallError> for NotifyError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            other => Self::Unavailable(other),
        }
    }
}

/// Delivers events to one receiver.
pub trait NotificationSink: Send + Sync {
    /// The receiver's configured name (for logs and Events).
    fn name(&self) -> &str;

    fn send<'a>(
        &'a self,
        event: &'a NotificationEvent,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), NotifyError>>;
}

impl<T: NotificationSink + ?Sized> NotificationSink for Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn send<'a>(
        &'a self,
        event: &'a NotificationEvent,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), NotifyError>> {
        (**self).send(event, idempotency_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn event() -> NotificationEvent {
        NotificationEvent {
            event: EventType::ServiceDeployed,
            chitty_id: Some("03-1-USA-0955-T-2605-1-37".into()),
            name: "billing".into(),
            namespace: "prod".into(),
            version: "1.2.0".into(),
            environment: "production".into(),
            url: Some("https://billing.example".into()),
            duration_ms: Some(4200),
            deployment: "billing-rollout-7".into(),
            timestamp: None,
            plan: None,
        }
    }

    #[test]
    fn event_serializes_with_the_documented_field_names() {
        let v = serde_json::to_value(event()).unwrap();
        assert_eq!(v["event"], "service_deployed");
        assert_eq!(v["chittyId"], "03-1-USA-0955-T-2605-1-37");
        assert_eq!(v["durationMs"], 4200);
        assert_eq!(v["deployment"], "billing-rollout-7");
    }

    #[test]
    fn idempotency_key_is_stable_across_resends_and_distinct_per_event() {
        let a = event();
        let mut resent = a.clone();
        resent.timestamp = Some("later".into());
        resent.duration_ms = Some(1);
        assert_eq!(a.idempotency_key(), resent.idempotency_key());
        let mut rolled = a.clone();
        rolled.event = EventType::ServiceRolledBack;
        assert_ne!(a.idempotency_key(), rolled.idempotency_key());
        let mut next = a.clone();
        next.version = "1.3.0".into();
        assert_ne!(a.idempotency_key(), next.idempotency_key());
    }
}
