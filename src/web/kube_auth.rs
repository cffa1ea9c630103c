//! Kubernetes callers of the read API: a bearer token is checked with a TokenReview
//! (`authentication.k8s.io/v1`), and the namespaces it may see are those in which a
//! SubjectAccessReview (`authorization.k8s.io/v1`) lets its user `list` ChittyServices. Answers
//! are cached briefly (see `review_cache`); tokens are kept only as SHA-256 digests and never
//! appear in a log or an error.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, UserInfo};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::{Api, Client};
use sha2::{Digest, Sha256};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::problem::ApiError;
use super::review_cache::ReviewCache;
use super::visible::Visible;

/// How long a review's answer is reused: a revoked token or binding takes at most this long.
const REVIEW_TTL: Duration = Duration::from_secs(10);
/// Distinct tokens, and (caller, namespace) pairs, remembered at once.
const CAPACITY: usize = 4096;

/// What the caller may read: ChittyServices, with `list`.
const GROUP: &str = "chitty.cc";
const RESOURCE: &str = "chittyservices";
const VERB: &str = "list";

/// The API server could not be asked; the caller is neither admitted nor refused.
#[derive(Debug)]
pub struct Unverifiable;

pub struct KubeReviewer {
    tokens: Api<TokenReview>,
    access: Api<SubjectAccessReview>,
    users: ReviewCache<[u8; 32], Option<Arc<UserInfo>>>,
    /// Keyed by the caller (its user info, serialized) and the namespace, `""` for all.
    allowed: ReviewCache<(String, String), bool>,
}

impl KubeReviewer {
    pub fn new(client: Client) -> Self {
        Self {
            tokens: Api::all(client.clone()),
            access: Api::all(client),
            users: ReviewCache::new(REVIEW_TTL, CAPACITY),
            allowed: ReviewCache::new(REVIEW_TTL, CAPACITY),
        }
    }

    /// The token's user, or `None` when the API server does not accept the token.
    pub async fn authenticate(&self, token: &[u8]) -> Result<Option<Arc<UserInfo>>, Unverifiable> {
        let digest: [u8; 32] = Sha256::digest(token).into();
        if let Some(user) = self.users.get(&digest) {
            return Ok(user);
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(String::from_utf8_lossy(token).into_owned()),
                audiences: None,
            },
            ..Default::default()
        };
        let answer = self
            .tokens
            .create(&PostParams::default(), &review)
            .await
            .map_err(|error| {
                // The error names the request, never the token it carried.
                tracing::warn!(%error, "TokenReview failed");
                Unverifiable
            })?;
        let user = answer
            .status
            .filter(|s| {
                s.authenticated == Some(true) && s.error.as_deref().is_none_or(str::is_empty)
            })
            .and_then(|s| s.user)
            .filter(|u| u.username.as_deref().is_some_and(|n| !n.is_empty()))
            .map(Arc::new);
        self.users.insert(digest, user.clone());
        Ok(user)
    }

    /// The namespaces among `present` that `user` may see: all of them at once when it may
    /// list ChittyServices cluster-wide.
    pub async fn visible(
        &self,
        user: &UserInfo,
        present: impl IntoIterator<Item = &str>,
    ) -> Result<Visible, Unverifiable> {
        let caller = serde_json::to_string(user).unwrap_or_default();
        if self.may_list(&caller, user, "").await? {
            return Ok(Visible::All);
        }
        let mut namespaces = BTreeSet::new();
        for namespace in present {
            if !namespaces.contains(namespace) && self.may_list(&caller, user, namespace).await? {
                namespaces.insert(namespace.to_string());
            }
        }
        Ok(Visible::Only(Arc::new(namespaces)))
    }

    async fn may_list(
        &self,
        caller: &str,
        user: &UserInfo,
        namespace: &str,
    ) -> Result<bool, Unverifiable> {
        let key = (caller.to_string(), namespace.to_string());
        if let Some(allowed) = self.allowed.get(&key) {
            return Ok(allowed);
        }
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username.clone(),
                uid: user.uid.clone(),
                groups: user.groups.clone(),
                extra: user.extra.clone(),
                resource_attributes: Some(ResourceAttributes {
                    group: Some(GROUP.into()),
                    resource: Some(RESOURCE.into()),
                    verb: Some(VERB.into()),
                    namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let answer = self
            .access
            .create(&PostParams::default(), &review)
            .await
            .map_err(|error| {
                tracing::warn!(%error, namespace, "SubjectAccessReview failed");
                Unverifiable
            })?;
        let allowed = answer
            .status
            .is_some_and(|s| s.allowed && s.denied != Some(true));
        self.allowed.insert(key, allowed);
        Ok(allowed)
    }
}

/// The middleware's Kubernetes branch: the namespaces the token's user may see, or the answer
/// that refuses it (401 for a token the API server rejects, 503 when it cannot be asked).
pub async fn review(state: &super::WebState, token: &[u8]) -> Result<Visible, Response> {
    let Some(reviewer) = state.reviewer.get() else {
        return Err(unverifiable());
    };
    let user = match reviewer.authenticate(token).await {
        Ok(Some(user)) => user,
        Ok(None) => return Err(super::auth::refuse(super::auth::Denied::Wrong)),
        Err(Unverifiable) => return Err(unverifiable()),
    };
    // Only namespaces that hold services matter; a replica not serving the fleet answers 503
    // further in, whatever is visible.
    let present: BTreeSet<String> = match state.fleet.snapshot().await {
        Ok(fleet) => fleet
            .services
            .iter()
            .map(|row| row.namespace().to_string())
            .collect(),
        Err(_) => BTreeSet::new(),
    };
    reviewer
        .visible(&user, present.iter().map(String::as_str))
        .await
        .map_err(|Unverifiable| unverifiable())
}

fn unverifiable() -> Response {
    ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        error: "the caller's credentials cannot be checked right now; try again shortly".into(),
        code: "UNAVAILABLE",
        parameter: None,
    }
    .into_response()
}
