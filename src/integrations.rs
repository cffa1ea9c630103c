//! The external ChittyOS services as the controllers see them: each present only when the
//! operator is configured for it, behind the client traits so tests can swap in fakes.

mod binding;
mod records;

pub use binding::{Binding, KnownBindings, SERVICE_UID, binding, binding_of};
pub use records::{notification, notify_all, registry_record};

use std::num::NonZeroU32;
use std::sync::Arc;

use crate::clients::{
    ChittyIdClient, ChittyIdConfig, ClientBuildError, ClientMetrics, IdentityAuthority,
    NotificationSink, Notifier, NotifierConfig, RateLimitConfig, RegistryClient, RegistryConfig,
    SecretToken, ServiceRegistry,
};
use crate::config::EcosystemConfig;

#[derive(Clone, Default)]
pub struct Integrations {
    pub identity: Option<Arc<dyn IdentityAuthority>>,
    pub registry: Option<Arc<dyn ServiceRegistry>>,
    pub notifiers: Vec<Arc<dyn NotificationSink>>,
    /// Which ChittyIDs are known to be which service's (see `binding`).
    pub bindings: Arc<KnownBindings>,
    /// The optional advisor model (`--advisor-model-url`), asked beside the advisor's rules.
    pub advisor_model: Option<Arc<dyn crate::clients::AdvisorModel>>,
    /// What the model said of each rollout's current rules plan, so that a rollout looked at
    /// again with the same plan does not ask again.
    pub model_answers: Arc<crate::controller::deployment::consult::ModelAnswers>,
}

impl Integrations {
    pub fn from_config(
        config: &EcosystemConfig,
        metrics: &ClientMetrics,
    ) -> Result<Self, ClientBuildError> {
        let identity = match &config.chitty_id_url {
            Some(url) => {
                let token = config
                    .chitty_id_token
                    .clone()
                    .unwrap_or_else(|| SecretToken::new(""));
                let mut c = ChittyIdConfig::new(url.clone(), token);
                c.resilience.timeout = config.timeout;
                c.rate_limit = RateLimitConfig {
                    per_minute: NonZeroU32::new(config.mint_rate_per_minute.max(1))
                        .expect("at least one"),
                    burst: NonZeroU32::new(config.mint_burst.max(1)).expect("at least one"),
                };
                Some(Arc::new(ChittyIdClient::new(c, metrics.clone())?)
                    as Arc<dyn IdentityAuthority>)
            }
            None => None,
        };
        let registry = match &config.registry_url {
            Some(url) => {
                let mut c = RegistryConfig::new(url.clone(), config.registry_token.clone());
                c.resilience.timeout = config.timeout;
                Some(Arc::new(RegistryClient::new(c, metrics.clone())?) as Arc<dyn ServiceRegistry>)
            }
            None => None,
        };
        let notifiers = config
            .notify_webhooks
            .iter()
            .map(|w| {
                let mut c =
                    NotifierConfig::new(w.name.clone(), w.url.clone(), config.notify_token.clone());
                c.resilience.timeout = config.timeout;
                Ok(Arc::new(Notifier::new(c, metrics.clone())?) as Arc<dyn NotificationSink>)
            })
            .collect::<Result<_, ClientBuildError>>()?;
        Ok(Self {
            identity,
            registry,
            notifiers,
            bindings: Default::default(),
            advisor_model: None,
            model_answers: Default::default(),
        })
    }
}
