//! Small response helpers shared by the sim's handlers.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::clients::SecretToken;

pub fn json(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub fn error(status: StatusCode, message: &str, code: &str) -> Response {
    json(
        status,
        json!({"success": false, "error": message, "code": code}),
    )
}

pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// 401 without a bearer token, 403 with another than `token`.
pub fn check_token(headers: &HeaderMap, token: &SecretToken) -> Result<(), Response> {
    match bearer(headers) {
        None => Err(error(
            StatusCode::UNAUTHORIZED,
            "missing bearer token",
            "UNAUTHORIZED",
        )),
        Some(t) if t != token.expose() => {
            Err(error(StatusCode::FORBIDDEN, "invalid token", "FORBIDDEN"))
        }
        Some(_) => Ok(()),
    }
}

/// The bearer token, if the request carries one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

pub fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get("idempotency-key")?
        .to_str()
        .ok()
        .map(str::to_owned)
        .filter(|k| !k.is_empty())
}

/// Parses a JSON body, or answers 400 like the real services do.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("invalid JSON body: {e}"),
            "INVALID_REQUEST",
        )
    })
}
