//! The advisor model over HTTP: an OpenAI-compatible chat completions endpoint the rollout
//! controller may also ask for a plan (`crate::advisor::model` writes the request and reads the
//! answer). One attempt per question, cut off at its timeout: the rules' plan is always there to
//! fall back on, so retrying would only hold a rollout up.

use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::Url;

use super::http::{self, ClientBuildError};
use super::secret::SecretToken;

/// Replies larger than this are refused: an answer is one short JSON object.
const MAX_REPLY: usize = 64 * 1024;

/// How long a question may take when the configuration says nothing else.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the model gave no reply to read. Messages never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("the advisor model did not answer within its timeout (--advisor-model-timeout)")]
    Timeout,
    #[error("the advisor model's endpoint answered HTTP {0}")]
    Status(u16),
    #[error("cannot reach the advisor model: {0}")]
    Transport(String),
    #[error("the advisor model's reply is larger than 64 KiB")]
    TooLarge,
}

/// Asks the advisor model one question.
pub trait AdvisorModel: Send + Sync {
    /// Posts `body` (a chat-completions request) and returns the 2xx response body as text, for
    /// `crate::advisor::model::parse_answer`.
    fn ask(&self, body: serde_json::Value) -> BoxFuture<'_, Result<String, ModelError>>;
}

/// The endpoint for a configured URL: a URL ending in `/chat/completions` is the endpoint itself
/// (query included, as some providers want one); a base ending in `/v1` gets
/// `/chat/completions`; any other base gets `/v1/chat/completions`.
pub fn chat_completions_url(url: &str) -> Result<Url, ClientBuildError> {
    let base = http::parse_url(url)?;
    let path = base.path().trim_end_matches('/');
    if path.ends_with("/chat/completions") {
        return Ok(base);
    }
    let segments: &[&str] = if path.ends_with("/v1") {
        &["chat", "completions"]
    } else {
        &["v1", "chat", "completions"]
    };
    Ok(http::join(&base, segments))
}

/// Posts to one chat completions endpoint.
#[derive(Debug)]
pub struct AdvisorModelClient {
    http: reqwest::Client,
    url: Url,
    token: Option<SecretToken>,
    timeout: Duration,
}

impl AdvisorModelClient {
    /// A client for `url` (see [`chat_completions_url`]); an empty token sends no
    /// `Authorization` header.
    pub fn new(
        url: &str,
        token: Option<SecretToken>,
        timeout: Duration,
    ) -> Result<Self, ClientBuildError> {
        Ok(Self {
            http: http::build_http(timeout)?,
            url: chat_completions_url(url)?,
            token: token.filter(|t| !t.is_empty()),
            timeout,
        })
    }

    /// The endpoint every question is posted to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    async fn post(&self, body: serde_json::Value) -> Result<String, ModelError> {
        let mut request = self.http.post(self.url.clone()).json(&body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(ModelError::Status(status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_REPLY as u64)
        {
            return Err(ModelError::TooLarge);
        }
        let mut reply = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if reply.len() + chunk.len() > MAX_REPLY {
                return Err(ModelError::TooLarge);
            }
            reply.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&reply).into_owned())
    }
}

impl AdvisorModel for AdvisorModelClient {
    fn ask(&self, body: serde_json::Value) -> BoxFuture<'_, Result<String, ModelError>> {
        // The timeout covers the whole exchange, body included: a model that streams slowly is
        // as late as one that never answers.
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.post(body))
                .await
                .unwrap_or(Err(ModelError::Timeout))
        })
    }
}

/// reqwest's error without the URL (a URL may carry credentials of its own).
fn transport(e: reqwest::Error) -> ModelError {
    if e.is_timeout() {
        return ModelError::Timeout;
    }
    ModelError::Transport(http::describe(&e.without_url()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_found_from_a_base_or_given_whole() {
        let endpoint = |url: &str| chat_completions_url(url).unwrap().to_string();
        assert_eq!(
            endpoint("http://127.0.0.1:9000"),
            "http://127.0.0.1:9000/v1/chat/completions"
        );
        assert_eq!(
            endpoint("https://models.example/proxy/"),
            "https://models.example/proxy/v1/chat/completions"
        );
        assert_eq!(
            endpoint("https://api.example/v1"),
            "https://api.example/v1/chat/completions"
        );
        assert_eq!(
            endpoint("https://x.example/deployments/a/chat/completions?api-version=2024-10-21"),
            "https://x.example/deployments/a/chat/completions?api-version=2024-10-21"
        );
        assert!(chat_completions_url("ftp://models.example").is_err());
    }

    #[test]
    fn the_client_never_shows_its_token() {
        let client = AdvisorModelClient::new(
            "http://127.0.0.1:9",
            Some(SecretToken::new("model-secret")),
            DEFAULT_TIMEOUT,
        )
        .unwrap();
        assert!(!format!("{client:?}").contains("model-secret"));
        let empty = AdvisorModelClient::new(
            "http://127.0.0.1:9",
            Some(SecretToken::new(" ")),
            DEFAULT_TIMEOUT,
        )
        .unwrap();
        assert!(empty.token.is_none(), "a blank token sends no header");
    }

    #[test]
    fn errors_read_as_sentences() {
        assert_eq!(
            ModelError::Status(503).to_string(),
            "the advisor model's endpoint answered HTTP 503"
        );
        assert_eq!(
            ModelError::TooLarge.to_string(),
            "the advisor model's reply is larger than 64 KiB"
        );
    }
}
