//! HTTP plumbing shared by the clients: building the reqwest client, joining URLs, performing
//! one attempt into an [`HttpReply`], and reading JSON error bodies.

use std::time::Duration;

use reqwest::Url;

use super::resilience::{HttpReply, parse_retry_after};

/// Replies larger than this are refused: every legitimate answer is a few KiB.
const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientBuildError {
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot build HTTP client: {0}")]
    Http(String),
}

pub(crate) fn build_http(timeout: Duration) -> Result<reqwest::Client, ClientBuildError> {
    // reqwest is built without a bundled crypto provider; install ring once per process.
    // An error only means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(timeout)
        .user_agent(concat!("chitty-operator/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientBuildError::Http(describe(&e)))
}

/// An absolute http(s) URL, used as a base or a webhook target.
pub(crate) fn parse_url(url: &str) -> Result<Url, ClientBuildError> {
    let invalid = |reason: &str| ClientBuildError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("scheme must be http or https"));
    }
    if parsed.cannot_be_a_base() || parsed.host_str().is_none() {
        return Err(invalid("must be an absolute URL with a host"));
    }
    Ok(parsed)
}

/// `base` plus path segments (each percent-encoded), keeping any path prefix on the base.
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// An idempotency key must be non-empty visible ASCII: anything else would make reqwest fail
/// the request locally, which the retry loop would mistake for a network error.
pub(crate) fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 256 && key.bytes().all(|b| b.is_ascii_graphic())
}

/// Sends one request and reads the whole (bounded) body. `Err` is a transport failure.
pub(crate) async fn send(request: reqwest::RequestBuilder) -> Result<HttpReply, String> {
    let mut response = request.send().await.map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, jiff::Timestamp::now()));
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("reply body exceeds {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(HttpReply {
        status,
        retry_after,
        body,
    })
}

/// reqwest's message plus its causes ("connection refused" lives in a source).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// The `{"error": ..., "code": ...}` fields of an error reply, when present.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub error: Option<serde_json::Value>,
    #[serde(default)]
    pub code: Option<String>,
}

impl ErrorBody {
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// A short, single-line description for error values and conditions.
    pub fn message(&self, status: u16) -> String {
        let text = match &self.error {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => format!("HTTP {status}"),
        };
        let line: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(200)
            .collect();
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_the_base_path_and_encodes_segments() {
        let base = parse_url("http://127.0.0.1:8080/prefix/").unwrap();
        assert_eq!(
            join(&base, &["api", "v1", "tools", "03-1-USA-0955-T-2605-1-37"]).as_str(),
            "http://127.0.0.1:8080/prefix/api/v1/tools/03-1-USA-0955-T-2605-1-37"
        );
        let bare = parse_url("https://registry.example").unwrap();
        assert_eq!(
            join(&bare, &["api", "v1", "tools", "a/b"]).as_str(),
            "https://registry.example/api/v1/tools/a%2Fb"
        );
    }

    #[test]
    fn idempotency_keys_must_be_visible_ascii() {
        assert!(valid_key("chitty-operator-mint-0f8c1a2e"));
        assert!(!valid_key(""));
        assert!(!valid_key("has space"));
        assert!(!valid_key("line\nbreak"));
    }

    #[test]
    fn only_absolute_http_urls_are_accepted() {
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("not a url").is_err());
        assert!(parse_url("http://ok.example/hook").is_ok());
    }

    #[test]
    fn error_bodies_yield_code_and_a_bounded_message() {
        let b = ErrorBody::parse(br#"{"error":"write needs a token","code":"READ_ONLY"}"#);
        assert_eq!(b.code.as_deref(), Some("READ_ONLY"));
        assert_eq!(b.message(401), "write needs a token");
        assert_eq!(ErrorBody::parse(b"<html>").message(502), "HTTP 502");
        let long = format!(r#"{{"error":"{}"}}"#, "x".repeat(1000));
        assert_eq!(ErrorBody::parse(long.as_bytes()).message(400).len(), 200);
    }
}
