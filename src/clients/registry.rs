//! The service registry (ChittyRegistry): the trait the pipeline uses, record types, errors,
//! and the HTTP client.

mod client;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

pub use client::{RegistryClient, RegistryConfig};

use super::chitty_id::ChittyId;
use super::resilience::CallError;

/// The body of `POST /api/v1/tools`: what the operator asserts about a service.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RegistryRecord {
    pub chitty_id: String,
    pub name: String,
    #[serde(default = "default_entity_type")]
    pub entity_type: String,
    #[serde(default = "default_subtype")]
    pub subtype: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub version: String,
    /// Absolute URLs; one of them ends with `/health`.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Capabilities, environment and the like.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// e.g. `active`, `degraded`; the registry defaults it to `active`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// e.g. `healthy`, `unhealthy`; the registry defaults it to `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
}

fn default_entity_type() -> String {
    "T".into()
}

fn default_subtype() -> String {
    "service".into()
}

impl RegistryRecord {
    /// A service record (entity type `T`, subtype `service`) with empty optional parts.
    pub fn service(
        chitty_id: &ChittyId,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        Self {
            chitty_id: chitty_id.to_string(),
            name: name.into(),
            entity_type: default_entity_type(),
            subtype: default_subtype(),
            description: String::new(),
            version: version.into(),
            endpoints: Vec::new(),
            metadata: serde_json::Map::new(),
            status: None,
            health: None,
        }
    }
}

/// A record as the registry stores it: the submitted fields plus the registry's own.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredRecord {
    #[serde(flatten)]
    pub record: RegistryRecord,
    #[serde(default)]
    pub registered_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub last_health_check: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterOutcome {
    Created,
    Updated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetireOutcome {
    Retired,
    /// The registry had no such record (404): nothing left to do.
    AlreadyAbsent,
}

/// Why a registry call failed. Messages never contain the token.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    /// 401 with code `READ_ONLY`: the write carried no (valid) service token.
    #[error("the registry is read-only for this client (no valid service token)")]
    ReadOnly,
    #[error("the registry refused the token (HTTP {status})")]
    Unauthorized { status: u16 },
    #[error("the registry rate-limited the call (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the registry rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("the registry sent an unexpected reply: {reason}")]
    InvalidResponse { reason: String },
    /// Network error, timeout, 5xx after retries, or the breaker is open.
    #[error("the registry is unavailable: {0}")]
    Unavailable(CallError),
}

impl RegistryError {
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            Self::Unavailable(e) => e.retry_after(),
            _ => None,
        }
    }

    /// A CamelCase reason for the registration condition.
    pub fn condition_reason(&self) -> &'static str {
        match self {
            Self::ReadOnly => "RegistryReadOnly",
            Self::Unauthorized { .. } => "RegistryUnauthorized",
            Self::RateLimited { .. } => "RegistryRateLimited",
            Self::Rejected { .. } => "RegistryRejected",
            Self::InvalidResponse { .. } => "RegistryInvalidResponse",
            Self::Unavailable(_) => "RegistryUnavailable",
        }
    }
}

impl From<CallError> for RegistryError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            other => Self::Unavailable(other),
        }
    }
}

/// Keeps service records in the registry. `register` is an upsert; `retire` is idempotent.
pub trait ServiceRegistry: Send + Sync {
    fn register<'a>(
        &'a self,
        record: &'a RegistryRecord,
    ) -> BoxFuture<'a, Result<RegisterOutcome, RegistryError>>;

    fn get<'a>(
        &'a self,
        chitty_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredRecord>, RegistryError>>;

    fn retire<'a>(
        &'a self,
        chitty_id: &'a str,
    ) -> BoxFuture<'a, Result<RetireOutcome, RegistryError>>;
}

impl<T: ServiceRegistry + ?Sized> ServiceRegistry for Arc<T> {
    fn register<'a>(
        &'a self,
        record: &'a RegistryRecord,
    ) -> BoxFuture<'a, Result<RegisterOutcome, RegistryError>> {
        (**self).register(record)
    }

    fn get<'a>(
        &'a self,
        chitty_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredRecord>, RegistryError>> {
        (**self).get(chitty_id)
    }

    fn retire<'a>(
        &'a self,
        chitty_id: &'a str,
    ) -> BoxFuture<'a, Result<RetireOutcome, RegistryError>> {
        (**self).retire(chitty_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_record_serializes_like_the_api() {
        let id = ChittyId::parse("03-1-USA-0955-T-2605-1-37").unwrap();
        let mut r = RegistryRecord::service(&id, "billing", "1.2.0");
        r.endpoints.push("https://billing.example/health".into());
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["chitty_id"], "03-1-USA-0955-T-2605-1-37");
        assert_eq!(v["entity_type"], "T");
        assert_eq!(v["subtype"], "service");
        assert!(
            v.get("status").is_none(),
            "unset status is left to the registry"
        );
    }

    #[test]
    fn stored_records_tolerate_missing_fields() {
        let s: StoredRecord = serde_json::from_value(serde_json::json!({
            "chitty_id": "x", "name": "n", "status": "active", "health": "unknown",
            "registered_at": "2026-05-01T00:00:00Z"
        }))
        .unwrap();
        assert_eq!(s.record.status.as_deref(), Some("active"));
        assert_eq!(s.registered_at.as_deref(), Some("2026-05-01T00:00:00Z"));
        assert_eq!(s.record.subtype, "service");
    }

    #[test]
    fn read_only_and_unauthorized_have_distinct_reasons() {
        assert_eq!(
            RegistryError::ReadOnly.condition_reason(),
            "RegistryReadOnly"
        );
        assert_eq!(
            RegistryError::Unauthorized { status: 403 }.condition_reason(),
            "RegistryUnauthorized"
        );
    }
}
