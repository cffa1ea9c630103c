//! The identity authority (ChittyID): the trait the pipeline uses, its request/response types
//! and errors, the HTTP client, and the pure format logic.

mod client;
pub mod format;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

pub use client::{ChittyIdClient, ChittyIdConfig};
pub use format::{ChittyId, EntityType, FormatError};

use super::resilience::CallError;

/// The body of `POST /v1/mint`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MintRequest {
    pub entity_type: EntityType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

impl MintRequest {
    /// A request for a service's identity (entity type `T`), authority defaults elsewhere.
    pub fn service() -> Self {
        Self {
            entity_type: EntityType::Thing,
            region: None,
            jurisdiction: None,
            trust: None,
            metadata: None,
        }
    }
}

/// A validated identity the authority minted.
#[derive(Debug, Clone, PartialEq)]
pub struct MintedId {
    pub id: ChittyId,
    /// The authority's `timestamp`, verbatim, when it sent one.
    pub minted_at: Option<String>,
}

/// Why no identity came back. Messages never contain the token.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IdentityError {
    /// The authority answered with an error/fallback ID (`ERR`, region 0, `fallback: true`).
    #[error("the authority returned a fallback ID (code {code}); it is not an identity")]
    Fallback { code: String },
    /// The reply's ID is malformed, has wrong check digits, is a legacy format, or is missing.
    #[error("the authority returned an invalid identity: {reason}")]
    InvalidIdentity { reason: String },
    /// The authority answered 429, or the client-side mint budget is spent.
    #[error("minting is rate limited (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the authority refused the token (HTTP {status})")]
    Unauthorized { status: u16 },
    /// Any other 4xx: the request itself is wrong; retrying it unchanged will not help.
    #[error("the authority rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// Network error, timeout, 5xx after retries, or the breaker is open.
    #[error("the authority is unavailable: {0}")]
    Unavailable(CallError),
    /// The idempotency key is empty or not a valid header value; nothing was sent.
    #[error("the idempotency key is empty or not printable ASCII")]
    InvalidKey,
}

impl IdentityError {
    /// A suggested delay before trying again, when the failure carries one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            Self::Unavailable(e) => e.retry_after(),
            _ => None,
        }
    }

    /// A CamelCase reason for the `IdentityReady=False` condition.
    pub fn condition_reason(&self) -> &'static str {
        match self {
            Self::Fallback { code } if code == "RATE_LIMITED" || code == "0007" => "RateLimited",
            Self::Fallback { .. } | Self::Unavailable(_) => "AuthorityUnavailable",
            Self::RateLimited { .. } => "RateLimited",
            Self::InvalidIdentity { .. } => "InvalidIdentity",
            Self::Unauthorized { .. } => "AuthorityUnauthorized",
            Self::Rejected { .. } | Self::InvalidKey => "MintRejected",
        }
    }
}

impl From<CallError> for IdentityError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            other => Self::Unavailable(other),
        }
    }
}

/// Mints identities. The same `idempotency_key` must yield the same ID, forever: that is what
/// makes "exactly once per service" survive an operator crash between mint and status write.
pub trait IdentityAuthority: Send + Sync {
    fn mint<'a>(
        &'a self,
        request: &'a MintRequest,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<MintedId, IdentityError>>;
}

impl<T: IdentityAuthority + ?Sized> IdentityAuthority for Arc<T> {
    fn mint<'a>(
        &'a self,
        request: &'a MintRequest,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<MintedId, IdentityError>> {
        (**self).mint(request, idempotency_key)
    }
}

/// The idempotency key for a ChittyService's mint, from its Kubernetes UID (stable for the
/// object's life, new for a re-created object).
pub fn mint_idempotency_key(uid: &str) -> String {
    format!("chitty-operator-mint-{uid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_mint_request_serializes_like_the_api() {
        let mut r = MintRequest::service();
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"entityType": "T"})
        );
        r.region = Some(1);
        r.jurisdiction = Some("USA".into());
        r.trust = Some(0);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"entityType": "T", "region": 1, "jurisdiction": "USA", "trust": 0})
        );
    }

    #[test]
    fn errors_map_to_condition_reasons() {
        let unavailable = IdentityError::from(CallError::Timeout(Duration::from_secs(10)));
        assert_eq!(unavailable.condition_reason(), "AuthorityUnavailable");
        let limited = IdentityError::from(CallError::RateLimited {
            retry_after: Some(Duration::from_secs(5)),
        });
        assert_eq!(limited.condition_reason(), "RateLimited");
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(5)));
        let fallback = IdentityError::Fallback {
            code: "RATE_LIMITED".into(),
        };
        assert_eq!(fallback.condition_reason(), "RateLimited");
        assert_eq!(
            IdentityError::InvalidIdentity { reason: "x".into() }.condition_reason(),
            "InvalidIdentity"
        );
    }

    #[test]
    fn idempotency_key_is_stable_per_uid() {
        assert_eq!(mint_idempotency_key("u-1"), mint_idempotency_key("u-1"));
        assert_ne!(mint_idempotency_key("u-1"), mint_idempotency_key("u-2"));
    }
}
