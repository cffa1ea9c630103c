//! The optional bearer token on `/api/*`. The token comes from a mounted Secret file (re-read
//! when it changes, so rotation needs no restart) or from the environment. Presented tokens are
//! compared by their SHA-256 digests in constant time, which hides both content and length; the
//! token itself is never logged and never appears in a response.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::WebState;
use super::config::WebConfig;
use super::problem::ApiError;

/// How often a token file is looked at again for a rotated Secret.
const RECHECK: Duration = Duration::from_secs(5);

type TokenDigest = [u8; 32];

fn digest(token: &[u8]) -> TokenDigest {
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

/// The decision for one request, given the expected token's digest.
pub fn verdict(expected: &TokenDigest, header: Option<&HeaderValue>) -> Result<(), Denied> {
    let value = header.ok_or(Denied::Missing)?.as_bytes();
    let (scheme, token) = value
        .iter()
        .position(|b| *b == b' ')
        .map(|i| (&value[..i], value[i + 1..].trim_ascii()))
        .ok_or(Denied::NotBearer)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || token.is_empty() {
        return Err(Denied::NotBearer);
    }
    if same(&digest(token), expected) {
        Ok(())
    } else {
        Err(Denied::Wrong)
    }
}

/// Whether a path is under the protected prefix.
pub fn protected(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

struct FileToken {
    path: PathBuf,
    loaded: RwLock<Loaded>,
}

struct Loaded {
    digest: TokenDigest,
    modified: Option<SystemTime>,
    checked: Instant,
}

fn read_token(path: &Path) -> anyhow::Result<(TokenDigest, Option<SystemTime>)> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let text = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read the API token file {}: {e}", path.display()))?;
    let token = text.trim_ascii();
    anyhow::ensure!(
        !token.is_empty(),
        "the API token file {} is empty",
        path.display()
    );
    Ok((digest(token), modified))
}

impl FileToken {
    fn current(&self) -> TokenDigest {
        {
            let loaded = self.loaded.read().expect("not poisoned");
            if loaded.checked.elapsed() < RECHECK {
                return loaded.digest;
            }
        }
        let mut loaded = self.loaded.write().expect("not poisoned");
        if loaded.checked.elapsed() >= RECHECK {
            loaded.checked = Instant::now();
            let modified = std::fs::metadata(&self.path)
                .and_then(|m| m.modified())
                .ok();
            if modified != loaded.modified {
                match read_token(&self.path) {
                    Ok((digest, modified)) => {
                        loaded.digest = digest;
                        loaded.modified = modified;
                        tracing::info!(file = %self.path.display(), "API token reloaded");
                    }
                    // Keep the last good token: a Secret mid-rotation must not open the API.
                    Err(error) => {
                        tracing::warn!(%error, "keeping the previous API token")
                    }
                }
            }
        }
        loaded.digest
    }
}

enum Source {
    Open,
    Fixed(TokenDigest),
    File(FileToken),
}

#[derive(Clone)]
pub struct ApiAuth(Arc<Source>);

impl ApiAuth {
    /// No token: `/api/*` is open.
    pub fn open() -> Self {
        Self(Arc::new(Source::Open))
    }

    pub fn fixed(token: &str) -> Self {
        Self(Arc::new(Source::Fixed(digest(token.trim().as_bytes()))))
    }

    /// Fails when a token is configured but unusable, so a misconfigured operator does not
    /// start with its API open.
    pub fn from_config(config: &WebConfig) -> anyhow::Result<Self> {
        if let Some(path) = &config.api_token_file {
            let (digest, modified) = read_token(path)?;
            return Ok(Self(Arc::new(Source::File(FileToken {
                path: path.clone(),
                loaded: RwLock::new(Loaded {
                    digest,
                    modified,
                    checked: Instant::now(),
                }),
            }))));
        }
        match &config.api_token {
            Some(token) if token.is_empty() => anyhow::bail!("CHITTY_API_TOKEN is set but empty"),
            Some(token) => Ok(Self::fixed(token.expose())),
            None => Ok(Self::open()),
        }
    }

    pub fn required(&self) -> bool {
        !matches!(*self.0, Source::Open)
    }

    pub fn check(&self, header: Option<&HeaderValue>) -> Result<(), Denied> {
        match &*self.0 {
            Source::Open => Ok(()),
            Source::Fixed(d) => verdict(d, header),
            Source::File(f) => verdict(&f.current(), header),
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
    match state
        .auth
        .check(request.headers().get(header::AUTHORIZATION))
    {
        Ok(()) => next.run(request).await,
        Err(denied) => {
            let mut response = ApiError::unauthorized(denied.message()).into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"chitty-operator\""),
            );
            response
        }
    }
}

#[cfg(test)]
mod tests {
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
            if let Source::File(f) = &*auth.0 {
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
