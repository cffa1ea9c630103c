//! Clients of the external ChittyOS services: the identity authority (ChittyID), the service
//! registry (ChittyRegistry) and notification webhooks.
//!
//! Each client sits behind a small, dyn-compatible trait ([`IdentityAuthority`],
//! [`ServiceRegistry`], [`NotificationSink`]) so the deploy pipeline can be unit-tested against the
//! in-memory fakes in [`fake`]. All three share the retry / circuit-breaker / metrics machinery in
//! [`resilience`]. URLs and tokens always come from configuration.

pub mod chitty_id;
pub mod fake;
mod http;
pub mod notify;
pub mod registry;
pub mod resilience;
mod secret;

pub use chitty_id::{
    ChittyIdClient, ChittyIdConfig, IdentityAuthority, IdentityError, MintRequest, MintedId,
    mint_idempotency_key,
};
pub use http::ClientBuildError;
pub use notify::{
    EventType, NotificationEvent, NotificationSink, Notifier, NotifierConfig, NotifyError,
};
pub use registry::{
    RegisterOutcome, RegistryClient, RegistryConfig, RegistryError, RegistryRecord, RetireOutcome,
    ServiceRegistry, StoredRecord,
};
pub use resilience::{
    BreakerConfig, CallError, ClientMetrics, RateLimitConfig, ResilienceConfig, RetryPolicy,
};
pub use secret::SecretToken;
