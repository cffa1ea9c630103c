//! The HTTP client for ChittyRegistry: `POST /api/v1/tools` (upsert),
//! `GET /api/v1/tools/{id}`, `DELETE /api/v1/tools/{id}` (retire).

use futures::future::BoxFuture;
use reqwest::Url;

use super::{
    RegisterOutcome, RegistryError, RegistryRecord, RetireOutcome, ServiceRegistry, StoredRecord,
};
use crate::clients::http::{self, ClientBuildError, ErrorBody};
use crate::clients::resilience::{
    BreakerState, ClientMetrics, HttpReply, Resilience, ResilienceConfig,
};
use crate::clients::secret::SecretToken;

/// The metrics label and log field for this service.
pub const SERVICE: &str = "registry";

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// e.g. `https://registry.chitty.cc`; a path prefix is kept.
    pub base_url: String,
    /// Needed for writes; reads are public. Without it writes fail with `ReadOnly`.
    pub token: Option<SecretToken>,
    pub resilience: ResilienceConfig,
}

impl RegistryConfig {
    /// Production defaults: 10 s timeout, 3 retries, breaker 5 failures in 60 s.
    pub fn new(base_url: impl Into<String>, token: Option<SecretToken>) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            resilience: ResilienceConfig::registry(),
        }
    }
}

#[derive(Debug)]
pub struct RegistryClient {
    http: reqwest::Client,
    base: Url,
    token: Option<SecretToken>,
    resilience: Resilience,
}

impl RegistryClient {
    pub fn new(config: RegistryConfig, metrics: ClientMetrics) -> Result<Self, ClientBuildError> {
        Ok(Self {
            http: http::build_http(config.resilience.timeout)?,
            base: http::parse_url(&config.base_url)?,
            token: config.token,
            resilience: Resilience::new(SERVICE, config.resilience, metrics),
        })
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.resilience.breaker_state()
    }

    fn tools_url(&self, id: Option<&str>) -> Url {
        match id {
            Some(id) => http::join(&self.base, &["api", "v1", "tools", id]),
            None => http::join(&self.base, &["api", "v1", "tools"]),
        }
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t.expose()),
            None => req,
        }
    }

    async fn do_register(&self, record: &RegistryRecord) -> Result<RegisterOutcome, RegistryError> {
        let url = self.tools_url(None);
        let reply = self
            .resilience
            .call(|| http::send(self.authorize(self.http.post(url.clone()).json(record))))
            .await?;
        match reply.status {
            201 => Ok(RegisterOutcome::Created),
            200..=299 => Ok(RegisterOutcome::Updated),
            _ => Err(failure(&reply)),
        }
    }

    async fn do_get(&self, chitty_id: &str) -> Result<Option<StoredRecord>, RegistryError> {
        let url = self.tools_url(Some(chitty_id));
        let reply = self
            .resilience
            .call(|| http::send(self.http.get(url.clone())))
            .await?;
        match reply.status {
            404 => Ok(None),
            200..=299 => parse_tool(&reply.body).map(Some),
            _ => Err(failure(&reply)),
        }
    }

    async fn do_retire(&self, chitty_id: &str) -> Result<RetireOutcome, RegistryError> {
        let url = self.tools_url(Some(chitty_id));
        let reply = self
            .resilience
            .call(|| http::send(self.authorize(self.http.delete(url.clone()))))
            .await?;
        match reply.status {
            404 | 410 => Ok(RetireOutcome::AlreadyAbsent),
            200..=299 => Ok(RetireOutcome::Retired),
            _ => Err(failure(&reply)),
        }
    }
}

impl ServiceRegistry for RegistryClient {
    fn register<'a>(
        &'a self,
        record: &'a RegistryRecord,
    ) -> BoxFuture<'a, Result<RegisterOutcome, RegistryError>> {
        Box::pin(self.do_register(record))
    }

    fn get<'a>(
        &'a self,
        chitty_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredRecord>, RegistryError>> {
        Box::pin(self.do_get(chitty_id))
    }

    fn retire<'a>(
        &'a self,
        chitty_id: &'a str,
    ) -> BoxFuture<'a, Result<RetireOutcome, RegistryError>> {
        Box::pin(self.do_retire(chitty_id))
    }
}

/// Maps a non-success, non-retryable reply to an error.
fn failure(reply: &HttpReply) -> RegistryError {
    let body = ErrorBody::parse(&reply.body);
    match reply.status {
        401 | 403 if body.code.as_deref() == Some("READ_ONLY") => RegistryError::ReadOnly,
        401 | 403 => RegistryError::Unauthorized {
            status: reply.status,
        },
        status => RegistryError::Rejected {
            status,
            message: body.message(status),
        },
    }
}

/// `{"success": true, "tool": {...}}`, or the bare record.
fn parse_tool(body: &[u8]) -> Result<StoredRecord, RegistryError> {
    let invalid = |e: serde_json::Error| RegistryError::InvalidResponse {
        reason: e.to_string(),
    };
    let mut value: serde_json::Value = serde_json::from_slice(body).map_err(invalid)?;
    if let Some(tool) = value.get_mut("tool").map(serde_json::Value::take) {
        value = tool;
    }
    serde_json::from_value(value).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> HttpReply {
        HttpReply {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn read_only_is_told_apart_from_other_auth_failures() {
        assert_eq!(
            failure(&reply(401, r#"{"error":"no token","code":"READ_ONLY"}"#)),
            RegistryError::ReadOnly
        );
        assert_eq!(
            failure(&reply(401, r#"{"error":"bad token"}"#)),
            RegistryError::Unauthorized { status: 401 }
        );
        assert_eq!(
            failure(&reply(405, "")),
            RegistryError::Rejected {
                status: 405,
                message: "HTTP 405".into()
            }
        );
    }

    #[test]
    fn tools_are_read_wrapped_or_bare() {
        let wrapped = parse_tool(br#"{"success":true,"tool":{"chitty_id":"a","name":"n"}}"#);
        assert_eq!(wrapped.unwrap().record.chitty_id, "a");
        let bare = parse_tool(br#"{"chitty_id":"b","name":"n"}"#);
        assert_eq!(bare.unwrap().record.chitty_id, "b");
        assert!(matches!(
            parse_tool(b"[]"),
            Err(RegistryError::InvalidResponse { .. })
        ));
    }
}
