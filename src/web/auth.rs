//! Who may read `/api/*` (`--api-auth`): anyone, holders of the static bearer token, or
//! Kubernetes callers (see `kube_auth`), each shown only the namespaces it may list. The static
//! token comes from a mounted Secret file (re-read when it changes, so rotation needs no
//! restart) or from the environment. Presented tokens are compared by their SHA-256 digests in
//! constant time, which hides both content and length; a token is never logged and never
//! appears in a response.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::WebState;
use super::config::{ApiAuthMode, WebConfig};
use super::problem::ApiError;
use super::token_file::{FileToken, Loaded, read_token};
use super::visible::Visible;

pub(super) type TokenDigest = [u8; 32];

pub(super) fn digest(token: &[u8]) -> TokenDigest {
    Sha256::digest(token).into()
}

/// Equal digests, in time that does not depend on where they differ.
fn same(a: &TokenDigest, b: &TokenDigest) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Missing,
    NotBearer,
    Wrong,
}

impl Denied {
    fn message(self) -> &'static str {
        match self {
            Self::Missing => "this endpoint needs an Authorization: Bearer token",
            Self::NotBearer => "the Authorization header must be 'Bearer <token>'",
            Self::Wrong => "the bearer token is not valid",
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(header: Option<&HeaderValue>) -> Result<&[u8], Denied> {
    let value = header.ok_or(Denied::Missing)?.as_bytes();
    let (scheme, token) = value
        .iter()
        .position(|b| *b == b' ')
        .map(|i| (&value[..i], value[i + 1..].trim_ascii()))
        .ok_or(Denied::NotBearer)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || token.is_empty() {
        return Err(Denied::NotBearer);
    }
    Ok(token)
}

/// The decision for one request, given the expected token's digest.
pub fn verdict(expected: &TokenDigest, header: Option<&HeaderValue>) -> Result<(), Denied> {
    if same(&digest(bearer(header)?), expected) {
        Ok(())
    } else {
        Err(Denied::Wrong)
    }
}

/// Who a request's credentials say it is, before any Kubernetes review.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// No credentials are needed.
    Anyone,
    /// The static token: sees everything.
    StaticToken,
    /// A bearer token for the API server to review.
    Kubernetes(&'a [u8]),
}

/// Whether a path is under the protected prefix.
pub fn protected(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

enum Source {
    Open,
    Fixed(TokenDigest),
    File(FileToken),
}

#[derive(Clone)]
pub struct ApiAuth {
    token: Arc<Source>,
    /// Bearer tokens other than the static one go to the API server for review.
    kubernetes: bool,
}

impl ApiAuth {
    /// No token: `/api/*` is open.
    pub fn open() -> Self {
        Self::of(Source::Open)
    }

    pub fn fixed(token: &str) -> Self {
        Self::of(Source::Fixed(digest(token.trim().as_bytes())))
    }

    /// Kubernetes tokens, and the static one of `with_token` when that has one.
    pub fn kubernetes(with_token: Self) -> Self {
        Self {
            kubernetes: true,
            ..with_token
        }
    }

    fn of(source: Source) -> Self {
        Self {
            token: Arc::new(source),
            kubernetes: false,
        }
    }

    /// Fails when a token is configured but unusable, or when the mode asks for a token none
    /// gives, so a misconfigured operator does not start with its API open.
    pub fn from_config(config: &WebConfig) -> anyhow::Result<Self> {
        let token = Self::static_token(config)?;
        match config.api_auth {
            None => Ok(token),
            Some(ApiAuthMode::None) if token.required() => anyhow::bail!(
                "--api-auth=none with an API token configured: say --api-auth=token, or drop the token"
            ),
            Some(ApiAuthMode::None) => Ok(token),
            Some(ApiAuthMode::Token) if !token.required() => {
                anyhow::bail!("--api-auth=token needs --api-token-file or CHITTY_API_TOKEN")
            }
            Some(ApiAuthMode::Token) => Ok(token),
            Some(ApiAuthMode::Kubernetes) => Ok(Self::kubernetes(token)),
        }
    }

    fn static_token(config: &WebConfig) -> anyhow::Result<Self> {
        if let Some(path) = &config.api_token_file {
            let (digest, modified) = read_token(path)?;
            return Ok(Self::of(Source::File(FileToken {
                path: path.clone(),
                loaded: RwLock::new(Loaded {
                    digest,
                    modified,
                    checked: Instant::now(),
                }),
            })));
        }
        match &config.api_token {
            Some(token) if token.is_empty() => anyhow::bail!("CHITTY_API_TOKEN is set but empty"),
            Some(token) => Ok(Self::fixed(token.expose())),
            None => Ok(Self::open()),
        }
    }

    pub fn required(&self) -> bool {
        self.kubernetes || !matches!(*self.token, Source::Open)
    }

    pub fn is_kubernetes(&self) -> bool {
        self.kubernetes
    }

    fn static_digest(&self) -> Option<TokenDigest> {
        match &*self.token {
            Source::Open => None,
            Source::Fixed(d) => Some(*d),
            Source::File(f) => Some(f.current()),
        }
    }

    /// The static-token decision alone (no Kubernetes review).
    pub fn check(&self, header: Option<&HeaderValue>) -> Result<(), Denied> {
        match self.static_digest() {
            None => Ok(()),
            Some(d) => verdict(&d, header),
        }
    }

    /// What the request's credentials are, as far as this replica can tell on its own.
    pub fn credential<'a>(
        &self,
        header: Option<&'a HeaderValue>,
    ) -> Result<Credential<'a>, Denied> {
        if !self.required() {
            return Ok(Credential::Anyone);
        }
        let token = bearer(header)?;
        match self.static_digest() {
            Some(d) if same(&digest(token), &d) => Ok(Credential::StaticToken),
            _ if self.kubernetes => Ok(Credential::Kubernetes(token)),
            _ => Err(Denied::Wrong),
        }
    }
}

/// Middleware over the whole port: every `/api/` path, whichever module serves it.
pub async fn require_token(
    State(state): State<Arc<WebState>>,
    request: Request,
    next: Next,
) -> Response {
    if !protected(request.uri().path()) {
        return next.run(request).await;
    }
    let visible = match state
        .auth
        .credential(request.headers().get(header::AUTHORIZATION))
    {
        Ok(Credential::Anyone | Credential::StaticToken) => Ok(Visible::All),
        Ok(Credential::Kubernetes(token)) => super::kube_auth::review(&state, token).await,
        Err(denied) => Err(refuse(denied)),
    };
    match visible {
        Ok(visible) => {
            let mut request = request;
            request.extensions_mut().insert(visible);
            next.run(request).await
        }
        Err(response) => response,
    }
}

pub(super) fn refuse(denied: Denied) -> Response {
    let mut response = ApiError::unauthorized(denied.message()).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"chitty-operator\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::super::token_file::RECHECK;
    use super::*;

    fn h(v: &str) -> HeaderValue {
        HeaderValue::from_str(v).unwrap()
    }

    #[test]
    fn only_the_right_bearer_token_passes() {
        let expected = digest(b"s3cret");
        assert_eq!(verdict(&expected, Some(&h("Bearer s3cret"))), Ok(()));
        assert_eq!(verdict(&expected, Some(&h("bearer  s3cret "))), Ok(()));
        assert_eq!(
            verdict(&expected, Some(&h("Bearer s3cret2"))),
            Err(Denied::Wrong)
        );
        assert_eq!(
            verdict(&expected, Some(&h("Bearer "))),
            Err(Denied::NotBearer)
        );
        assert_eq!(
            verdict(&expected, Some(&h("Basic czNjcmV0"))),
            Err(Denied::NotBearer)
        );
        assert_eq!(verdict(&expected, None), Err(Denied::Missing));
    }

    #[test]
    fn in_kubernetes_mode_the_static_token_sees_all_and_other_tokens_go_to_review() {
        let auth = ApiAuth::kubernetes(ApiAuth::fixed("s3cret"));
        assert!(auth.required());
        let (ok, other) = (h("Bearer s3cret"), h("Bearer eyJhbGc"));
        assert_eq!(auth.credential(Some(&ok)), Ok(Credential::StaticToken));
        assert_eq!(
            auth.credential(Some(&other)),
            Ok(Credential::Kubernetes(&b"eyJhbGc"[..]))
        );
        assert_eq!(auth.credential(None), Err(Denied::Missing));
        let without_static = ApiAuth::kubernetes(ApiAuth::open());
        assert!(without_static.required());
        assert_eq!(without_static.credential(None), Err(Denied::Missing));
        assert_eq!(ApiAuth::open().credential(None), Ok(Credential::Anyone));
        assert_eq!(
            ApiAuth::fixed("s3cret").credential(Some(&other)),
            Err(Denied::Wrong)
        );
    }

    #[test]
    fn the_mode_must_agree_with_the_token() {
        let with = |mode, token: Option<&str>| WebConfig {
            api_auth: mode,
            api_token: token.map(|t| t.to_string().into()),
            ..Default::default()
        };
        assert!(ApiAuth::from_config(&with(Some(ApiAuthMode::Token), None)).is_err());
        assert!(ApiAuth::from_config(&with(Some(ApiAuthMode::None), Some("t"))).is_err());
        assert!(!ApiAuth::from_config(&with(None, None)).unwrap().required());
        assert!(
            ApiAuth::from_config(&with(None, Some("t")))
                .unwrap()
                .required()
        );
        let kubernetes = ApiAuth::from_config(&with(Some(ApiAuthMode::Kubernetes), None)).unwrap();
        assert!(kubernetes.required() && kubernetes.is_kubernetes());
    }

    #[test]
    fn only_api_paths_are_protected() {
        assert!(protected("/api/deploy/status"));
        assert!(protected("/api/admin/routes"));
        assert!(protected("/api"));
        assert!(!protected("/.well-known/chitty.json"));
        assert!(!protected("/apis"));
        assert!(!protected("/"));
        assert!(!protected("/openapi.json"));
    }

    #[test]
    fn a_rotated_token_file_takes_effect_and_an_emptied_one_keeps_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let config = WebConfig {
            api_token_file: Some(path.clone()),
            ..Default::default()
        };
        let auth = ApiAuth::from_config(&config).unwrap();
        assert!(auth.check(Some(&h("Bearer first"))).is_ok());

        let rewind = |auth: &ApiAuth| {
            if let Source::File(f) = &*auth.token {
                let mut l = f.loaded.write().unwrap();
                l.checked = Instant::now() - RECHECK;
                l.modified = None;
            }
        };
        std::fs::write(&path, "second").unwrap();
        rewind(&auth);
        assert!(auth.check(Some(&h("Bearer second"))).is_ok());
        assert!(auth.check(Some(&h("Bearer first"))).is_err());

        std::fs::write(&path, "").unwrap();
        rewind(&auth);
        assert!(auth.check(Some(&h("Bearer second"))).is_ok());
    }

    #[test]
    fn a_configured_but_empty_token_refuses_to_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  \n").unwrap();
        let config = WebConfig {
            api_token_file: Some(path),
            ..Default::default()
        };
        assert!(ApiAuth::from_config(&config).is_err());
        let config = WebConfig {
            api_token: Some("".into()),
            ..Default::default()
        };
        assert!(ApiAuth::from_config(&config).is_err());
    }
}
