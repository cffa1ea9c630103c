//! Clients of the external ChittyOS services: the identity authority (ChittyID), the service
//! registry (ChittyRegistry), notification webhooks, and the optional advisor model.
//!
//! Each client sits behind a small, dyn-compatible trait ([`IdentityAuthority`],
//! [`ServiceRegistry`], [`NotificationSink`], [`AdvisorModel`]) so the deploy pipeline can be
//! unit-tested against in-memory implementations (the fakes in [`fake`]). The three ChittyOS
//! clients share the retry / circuit-breaker / metrics machinery in [`resilience`]; the advisor
//! model makes one attempt per question, since the rules' plan stands when it fails. URLs and
//! tokens always come from configuration.

pub mod advisor_model;
pub mod chitty_id;
pub mod fake;
mod http;
pub mod notify;
pub mod registry;
pub mod resilience;
mod secret;

pub use advisor_model::{AdvisorModel, AdvisorModelClient, ModelError};
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
