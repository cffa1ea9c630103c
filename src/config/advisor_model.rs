//! The optional advisor model (`crate::advisor::model`): where it is, which model, the token,
//! and how long a question may take.

use std::sync::Arc;
use std::time::Duration;

use crate::clients::advisor_model::{
    AdvisorModel, AdvisorModelClient, DEFAULT_TIMEOUT, chat_completions_url,
};
use crate::clients::{ClientBuildError, SecretToken};

const DEFAULT_MODEL: &str = "chitty-advisor";

/// Each argument has an id of its own: the field names alone would clash with other flattened
/// settings (`timeout`, `url`, `token`) in `OperatorConfig`.
#[derive(clap::Args, Clone, Debug)]
pub struct AdvisorModelConfig {
    /// An OpenAI-compatible chat completions endpoint the advisor also asks for a plan, from the
    /// same facts as its rules. Its answer is recorded beside the rules' plan and can only make it
    /// more cautious; a timeout, an error or an answer that does not parse leaves the rules' plan.
    /// A base URL gets `/v1/chat/completions` (`/chat/completions` after `/v1`); a URL ending in
    /// `/chat/completions` is used as is. Unset: no model is asked.
    #[arg(
        id = "advisor_model_url",
        long = "advisor-model-url",
        env = "CHITTY_ADVISOR_MODEL_URL",
        value_parser = parse_url
    )]
    pub url: Option<String>,

    /// The `model` of each chat completions request.
    #[arg(
        id = "advisor_model_model",
        long = "advisor-model",
        env = "CHITTY_ADVISOR_MODEL",
        default_value = DEFAULT_MODEL
    )]
    pub model: String,

    /// Bearer token for the model endpoint, if it requires one.
    #[arg(
        id = "advisor_model_token",
        long = "advisor-model-token",
        env = "CHITTY_ADVISOR_MODEL_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<SecretToken>,

    /// How long one question to the model may take, answer included; later, the rules' plan
    /// stands.
    #[arg(
        id = "advisor_model_timeout",
        long = "advisor-model-timeout",
        env = "CHITTY_ADVISOR_MODEL_TIMEOUT",
        default_value = "5s",
        value_parser = parse_timeout
    )]
    pub timeout: Duration,
}

/// The flags' defaults, so a configuration made in code behaves as one parsed from nothing.
impl Default for AdvisorModelConfig {
    fn default() -> Self {
        Self {
            url: None,
            model: DEFAULT_MODEL.to_owned(),
            token: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl AdvisorModelConfig {
    /// The model's client, when a URL is configured. The URL was checked when parsed, so an
    /// error here means the HTTP client itself could not be built.
    pub fn client(&self) -> Result<Option<Arc<dyn AdvisorModel>>, ClientBuildError> {
        let Some(url) = &self.url else {
            return Ok(None);
        };
        let client = AdvisorModelClient::new(url, self.token.clone(), self.timeout)?;
        Ok(Some(Arc::new(client)))
    }
}

/// Checked at startup, so a mistyped URL stops the operator rather than failing every question.
fn parse_url(text: &str) -> Result<String, String> {
    chat_completions_url(text)
        .map(|_| text.to_owned())
        .map_err(|e| e.to_string())
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = super::parse_duration(text)?;
    if timeout.is_zero() {
        return Err("the advisor model's timeout must be more than 0s".to_owned());
    }
    Ok(timeout)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// The whole operator's flags, so that a clash with another flattened setting fails here.
    #[derive(Parser)]
    struct Run {
        #[command(flatten)]
        operator: crate::config::OperatorConfig,
    }

    #[test]
    fn no_model_is_asked_by_default() {
        let config = Run::parse_from(["run"]).operator.advisor_model;
        assert_eq!(config.url, None);
        assert_eq!(config.model, "chitty-advisor");
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert!(config.client().unwrap().is_none());
        let made = AdvisorModelConfig::default();
        assert_eq!(
            (made.model, made.timeout),
            (config.model, config.timeout),
            "Default is what the flags default to"
        );
    }

    #[test]
    fn a_url_makes_a_client_and_bad_values_stop_the_start() {
        let config = Run::parse_from([
            "run",
            "--advisor-model-url",
            "http://models.local:8000",
            "--advisor-model-timeout",
            "300ms",
            "--advisor-model-token",
            "t0ken",
        ])
        .operator
        .advisor_model;
        assert_eq!(config.timeout, Duration::from_millis(300));
        assert!(!format!("{config:?}").contains("t0ken"));
        assert!(config.client().unwrap().is_some());
        for bad in [
            ["--advisor-model-url", "models.local"],
            ["--advisor-model-timeout", "0s"],
            ["--advisor-model-timeout", "soon"],
        ] {
            assert!(
                Run::try_parse_from(["run", bad[0], bad[1]]).is_err(),
                "{bad:?}"
            );
        }
    }
}
