//! The HTTP client for the ChittyID authority: `POST {base}/v1/mint`.

use futures::future::BoxFuture;
use reqwest::Url;

use super::format::{self, ChittyId, FormatError};
use super::{IdentityAuthority, IdentityError, MintRequest, MintedId};
use crate::clients::http::{self, ClientBuildError, ErrorBody};
use crate::clients::resilience::{
    BreakerState, ClientMetrics, HttpReply, MintRateLimiter, RateLimitConfig, Resilience,
    ResilienceConfig,
};
use crate::clients::secret::SecretToken;

/// The metrics label and log field for this service.
pub const SERVICE: &str = "chittyid";

#[derive(Debug, Clone)]
pub struct ChittyIdConfig {
    /// e.g. `https://id.chitty.cc`; a path prefix is kept.
    pub base_url: String,
    pub token: SecretToken,
    pub resilience: ResilienceConfig,
    pub rate_limit: RateLimitConfig,
}

impl ChittyIdConfig {
    /// Production defaults: 10 s timeout, 3 retries, breaker 3 failures in 30 s, 10 mints/min.
    pub fn new(base_url: impl Into<String>, token: SecretToken) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            resilience: ResilienceConfig::chitty_id(),
            rate_limit: RateLimitConfig::default(),
        }
    }
}

#[derive(Debug)]
pub struct ChittyIdClient {
    http: reqwest::Client,
    mint_url: Url,
    token: SecretToken,
    resilience: Resilience,
    limiter: MintRateLimiter,
}

impl ChittyIdClient {
    pub fn new(config: ChittyIdConfig, metrics: ClientMetrics) -> Result<Self, ClientBuildError> {
        let base = http::parse_url(&config.base_url)?;
        Ok(Self {
            http: http::build_http(config.resilience.timeout)?,
            mint_url: http::join(&base, &["v1", "mint"]),
            token: config.token,
            limiter: MintRateLimiter::new(&config.rate_limit),
            resilience: Resilience::new(SERVICE, config.resilience, metrics),
        })
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.resilience.breaker_state()
    }

    async fn mint_once(
        &self,
        request: &MintRequest,
        idempotency_key: &str,
    ) -> Result<MintedId, IdentityError> {
        if !http::valid_key(idempotency_key) {
            return Err(IdentityError::InvalidKey);
        }
        // One budget slot per logical mint; in-call retries reuse the same key and slot.
        self.limiter
            .try_acquire()
            .map_err(|wait| IdentityError::RateLimited {
                retry_after: Some(wait),
            })?;
        let reply = self
            .resilience
            .call(|| {
                let req = self
                    .http
                    .post(self.mint_url.clone())
                    .bearer_auth(self.token.expose())
                    .header("Idempotency-Key", idempotency_key)
                    .json(request);
                http::send(req)
            })
            .await?;
        interpret(request, reply)
    }
}

impl IdentityAuthority for ChittyIdClient {
    fn mint<'a>(
        &'a self,
        request: &'a MintRequest,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<MintedId, IdentityError>> {
        Box::pin(self.mint_once(request, idempotency_key))
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct MintResponse {
    #[serde(default)]
    chitty_id: Option<String>,
    #[serde(default)]
    fallback: bool,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

/// Turns a non-retryable reply into an identity or the reason there is none.
fn interpret(request: &MintRequest, reply: HttpReply) -> Result<MintedId, IdentityError> {
    match reply.status {
        200..=299 => {}
        401 | 403 => {
            return Err(IdentityError::Unauthorized {
                status: reply.status,
            });
        }
        status => {
            return Err(IdentityError::Rejected {
                status,
                message: ErrorBody::parse(&reply.body).message(status),
            });
        }
    }
    let body: MintResponse =
        serde_json::from_slice(&reply.body).map_err(|e| IdentityError::InvalidIdentity {
            reason: format!("reply is not a mint response: {e}"),
        })?;
    let raw = body.chitty_id.as_deref();
    if body.fallback {
        let code = body.error_code.clone().unwrap_or_else(|| {
            match raw.map(ChittyId::parse) {
                Some(Err(FormatError::ErrorId { code })) => format::error_code_name(code),
                _ => "UNKNOWN",
            }
            .to_owned()
        });
        return Err(IdentityError::Fallback { code });
    }
    let raw = raw.ok_or_else(|| IdentityError::InvalidIdentity {
        reason: "reply has no chittyId".into(),
    })?;
    let id = match ChittyId::parse(raw) {
        Ok(id) => id,
        Err(FormatError::ErrorId { code }) => {
            return Err(IdentityError::Fallback {
                code: body
                    .error_code
                    .unwrap_or_else(|| format::error_code_name(code).to_owned()),
            });
        }
        Err(e) => {
            return Err(IdentityError::InvalidIdentity {
                reason: e.to_string(),
            });
        }
    };
    if id.entity_type() != request.entity_type {
        return Err(IdentityError::InvalidIdentity {
            reason: format!(
                "asked for entity type {}, got {}",
                request.entity_type.letter(),
                id.entity_type().letter()
            ),
        });
    }
    Ok(MintedId {
        id,
        minted_at: body.timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: serde_json::Value) -> HttpReply {
        HttpReply {
            status: 200,
            retry_after: None,
            body: serde_json::to_vec(&body).unwrap(),
        }
    }

    #[test]
    fn a_valid_reply_yields_the_identity() {
        let r = interpret(
            &MintRequest::service(),
            ok(serde_json::json!({"success": true, "chittyId": "03-1-USA-0955-T-2605-1-37", "timestamp": "t"})),
        )
        .unwrap();
        assert_eq!(r.id.to_string(), "03-1-USA-0955-T-2605-1-37");
        assert_eq!(r.minted_at.as_deref(), Some("t"));
    }

    #[test]
    fn fallback_replies_are_never_identities() {
        let flagged = interpret(
            &MintRequest::service(),
            ok(
                serde_json::json!({"success": true, "chittyId": "03-0-ERR-0001-T-2605-0-92", "fallback": true, "errorCode": "MINT_UNAVAILABLE"}),
            ),
        );
        assert_eq!(
            flagged,
            Err(IdentityError::Fallback {
                code: "MINT_UNAVAILABLE".into()
            })
        );
        // Even without the flag, an ERR ID is recognised by its shape.
        let unflagged = interpret(
            &MintRequest::service(),
            ok(serde_json::json!({"chittyId": "03-0-ERR-0002-T-2605-0-00"})),
        );
        assert_eq!(
            unflagged,
            Err(IdentityError::Fallback {
                code: "TIMEOUT".into()
            })
        );
    }

    #[test]
    fn bad_ids_and_bodies_are_invalid_identities() {
        for body in [
            serde_json::json!({"chittyId": "03-1-USA-0955-T-2605-1-38"}),
            serde_json::json!({"chittyId": "CT-A-CHI-1234-I-24-A-0"}),
            serde_json::json!({"chittyId": "03-1-USA-5537-P-2602-0-38"}),
            serde_json::json!({"success": true}),
        ] {
            let r = interpret(&MintRequest::service(), ok(body.clone()));
            assert!(
                matches!(r, Err(IdentityError::InvalidIdentity { .. })),
                "{body}: {r:?}"
            );
        }
        let not_json = HttpReply {
            status: 200,
            retry_after: None,
            body: b"<html>".to_vec(),
        };
        assert!(matches!(
            interpret(&MintRequest::service(), not_json),
            Err(IdentityError::InvalidIdentity { .. })
        ));
    }

    #[test]
    fn auth_failures_and_other_client_errors_are_distinct() {
        let reply = |status| HttpReply {
            status,
            retry_after: None,
            body: br#"{"error":"bad entity"}"#.to_vec(),
        };
        assert_eq!(
            interpret(&MintRequest::service(), reply(403)),
            Err(IdentityError::Unauthorized { status: 403 })
        );
        assert_eq!(
            interpret(&MintRequest::service(), reply(400)),
            Err(IdentityError::Rejected {
                status: 400,
                message: "bad entity".into()
            })
        );
    }

    #[test]
    fn config_debug_hides_the_token() {
        let c = ChittyIdConfig::new("http://x", SecretToken::new("tok-123"));
        assert!(!format!("{c:?}").contains("tok-123"));
    }
}
