//! `GET /`: the fleet dashboard, plain HTML, CSS and JavaScript compiled into the binary (no
//! network at run time, no CDN). The page polls the read API and redraws in place; a strict
//! Content-Security-Policy keeps it to this origin.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("assets/index.html");
const SERVICE: &str = include_str!("assets/service.html");
const SCRIPT: &str = include_str!("assets/dashboard.js");
const SERVICE_SCRIPT: &str = include_str!("assets/service.js");
const STYLE: &str = include_str!("assets/dashboard.css");

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Small, and replaced with every release: revalidate rather than serve an old page.
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

pub async fn page() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

/// One service's page; its script reads which service from the path.
pub async fn service_page() -> Response {
    asset(SERVICE, "text/html; charset=utf-8")
}

pub async fn file(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "dashboard.js" => asset(SCRIPT, "text/javascript; charset=utf-8"),
        "service.js" => asset(SERVICE_SCRIPT, "text/javascript; charset=utf-8"),
        "dashboard.css" => asset(STYLE, "text/css; charset=utf-8"),
        _ => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
