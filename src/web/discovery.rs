//! `GET /.well-known/chitty.json`: the discovery document ChittyOS clients bootstrap from, in
//! ChittyConnect's shape, listing every service that has both an identity and a URL.
//!
//! The body is rendered once per fleet snapshot and carries a strong `ETag` (a hash of the
//! body), so pollers send `If-None-Match` and get an empty 304 until something they would see
//! changes. `updated_at` is the newest change among the listed services, not the time of the
//! request, so an unchanged fleet keeps one ETag.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::WebState;
use super::deploy_status::environment_word;
use super::fleet::{Fleet, Rendered, ServiceRow};
use super::problem::ApiError;
use super::services::{last_change, phase_of};

/// How long clients and caches may reuse the document before revalidating with the ETag.
pub const CACHE_CONTROL: &str = "public, max-age=60, must-revalidate";

#[derive(Serialize)]
pub struct Document<'a> {
    pub version: &'static str,
    pub ecosystem: &'static str,
    pub updated_at: String,
    pub endpoints: Endpoints,
    pub capabilities: Capabilities,
    pub services: Vec<Service<'a>>,
}

#[derive(Serialize)]
pub struct Endpoints {
    pub deploy_status: String,
    pub services: String,
    pub openapi: String,
    pub dashboard: String,
}

#[derive(Serialize)]
pub struct Capabilities {
    pub api: ApiCapability,
}

#[derive(Serialize)]
pub struct ApiCapability {
    pub openapi_spec: String,
    pub version: &'static str,
    /// `bearer_token` when `/api/*` requires one.
    pub authentication: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub url: &'a str,
    /// The service's API base (`<url>/api`), as ChittyConnect lists it.
    pub api: String,
    /// The service's health endpoint.
    pub health: String,
    /// The phase in lower case (`ready`, `degraded`, ...).
    pub status: String,
    pub chitty_id: &'a str,
    pub version: &'a str,
    pub environment: &'static str,
    pub capabilities: &'a [String],
}

/// What the document says about the operator itself.
pub struct Context<'a> {
    /// Prefix of the operator's own links; empty for relative links.
    pub base: &'a str,
    pub token_required: bool,
    /// `updated_at` of an empty document.
    pub started: &'a jiff::Timestamp,
}

fn listed(row: &ServiceRow) -> Option<Service<'_>> {
    let service = &row.service;
    let status = service.status.as_ref()?;
    let chitty_id = status.chitty_id.as_deref()?;
    let url = status.url.as_deref()?;
    Some(Service {
        name: row.name(),
        namespace: row.namespace(),
        url,
        api: format!("{}/api", url.trim_end_matches('/')),
        health: crate::probe::url(url, &service.spec.health.path),
        status: phase_of(service).as_str().to_ascii_lowercase(),
        chitty_id,
        version: &service.spec.version,
        environment: environment_word(service.spec.environment),
        capabilities: &service.spec.capabilities,
    })
}

pub fn document<'a>(fleet: &'a Fleet, cx: &Context) -> Document<'a> {
    let rows: Vec<&ServiceRow> = fleet
        .services
        .iter()
        .filter(|r| listed(r).is_some())
        .collect();
    let updated = rows
        .iter()
        .filter_map(|r| last_change(&r.service))
        .map(|t| t.0)
        .max()
        .unwrap_or(*cx.started);
    let link = |path: &str| format!("{}{path}", cx.base.trim_end_matches('/'));
    Document {
        version: "1.0.0",
        ecosystem: "ChittyOS",
        updated_at: updated.to_string(),
        endpoints: Endpoints {
            deploy_status: link("/api/deploy/status"),
            services: link("/api/services"),
            openapi: link("/openapi.json"),
            dashboard: link("/"),
        },
        capabilities: Capabilities {
            api: ApiCapability {
                openapi_spec: link("/openapi.json"),
                version: "v1",
                authentication: if cx.token_required {
                    vec!["bearer_token"]
                } else {
                    vec![]
                },
            },
        },
        services: rows.into_iter().filter_map(listed).collect(),
    }
}

pub fn render(document: &Document) -> Rendered {
    let body = serde_json::to_vec(document).expect("the document serializes");
    let digest = Sha256::digest(&body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Rendered {
        body: Bytes::from(body),
        etag: format!("\"{hex}\""),
    }
}

/// Whether an `If-None-Match` header names this ETag (weak or strong, or `*`).
pub fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

pub async fn handler(State(state): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    let fleet = match state.fleet.snapshot().await {
        Ok(fleet) => fleet,
        Err(why) => return ApiError::from(why).into_response(),
    };
    let rendered = fleet.discovery.get_or_init(|| {
        render(&document(
            &fleet,
            &Context {
                base: state.public_url.as_deref().unwrap_or(""),
                token_required: state.auth.required(),
                started: &state.started,
            },
        ))
    });
    let fresh = not_modified(&headers, &rendered.etag);
    let mut response = if fresh {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(rendered.body.clone()))
    };
    if fresh {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let h = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&rendered.etag) {
        h.insert(header::ETAG, etag);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    // Public by design: browser-based ChittyOS clients on other origins read it too.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if !fresh {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ChittyServiceStatus, ServicePhase};
    use crate::web::fleet::tests::service;

    fn fleet() -> Fleet {
        let mut identified = service("prod", "chittyid");
        identified.spec.capabilities = vec!["identity".into()];
        identified.status = Some(ChittyServiceStatus {
            phase: Some(ServicePhase::Ready),
            chitty_id: Some("03-1-USA-0955-T-2605-1-37".into()),
            url: Some("https://id.chitty.cc".into()),
            ..Default::default()
        });
        let mut no_identity = service("prod", "chittyledger");
        no_identity.status = Some(ChittyServiceStatus {
            url: Some("https://ledger.chitty.cc".into()),
            ..Default::default()
        });
        Fleet::build(
            &[identified, no_identity, service("prod", "fresh")].map(Arc::new),
            &[],
        )
    }

    fn cx(started: &jiff::Timestamp) -> Context<'_> {
        Context {
            base: "https://deploy.chitty.cc",
            token_required: true,
            started,
        }
    }

    #[test]
    fn only_services_with_an_identity_and_a_url_are_listed() {
        let started = jiff::Timestamp::UNIX_EPOCH;
        let f = fleet();
        let doc = serde_json::to_value(document(&f, &cx(&started))).unwrap();
        let services = doc["services"].as_array().unwrap();
        assert_eq!(services.len(), 1);
        let s = &services[0];
        assert_eq!(s["name"], "chittyid");
        assert_eq!(s["chittyId"], "03-1-USA-0955-T-2605-1-37");
        assert_eq!(s["api"], "https://id.chitty.cc/api");
        assert_eq!(s["health"], "https://id.chitty.cc/health");
        assert_eq!(s["status"], "ready");
        assert_eq!(s["capabilities"][0], "identity");
        assert_eq!(doc["ecosystem"], "ChittyOS");
        assert_eq!(
            doc["endpoints"]["deploy_status"],
            "https://deploy.chitty.cc/api/deploy/status"
        );
        assert_eq!(
            doc["capabilities"]["api"]["authentication"][0],
            "bearer_token"
        );
    }

    #[test]
    fn an_unchanged_fleet_renders_the_same_etag() {
        let started = jiff::Timestamp::UNIX_EPOCH;
        let a = render(&document(&fleet(), &cx(&started)));
        let b = render(&document(&fleet(), &cx(&started)));
        assert_eq!(a.etag, b.etag);
        assert_eq!(
            document(&fleet(), &cx(&started)).updated_at,
            "2026-05-01T00:00:00Z",
            "the newest change of a listed service, not the time of the request"
        );
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, "\"x\", W/\"abc\"".parse().unwrap());
        assert!(not_modified(&h, "\"abc\""));
        assert!(!not_modified(&h, "\"abd\""));
        h.insert(header::IF_NONE_MATCH, "*".parse().unwrap());
        assert!(not_modified(&h, "\"anything\""));
        assert!(!not_modified(&HeaderMap::new(), "\"abc\""));
    }
}
