//! Errors of the read API, as JSON in the registry's error shape (`{"error", "code"}`), so a
//! client never has to parse a text body or a panic page.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    /// What went wrong, in words.
    pub error: String,
    /// A stable word for programs: `BAD_REQUEST`, `NOT_FOUND`, `UNAUTHORIZED`, `UNAVAILABLE`.
    pub code: &'static str,
    /// The query or path parameter at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

impl ApiError {
    pub fn bad_parameter(parameter: &str, error: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: error.into(),
            code: "BAD_REQUEST",
            parameter: Some(parameter.to_string()),
        }
    }

    pub fn bad_request(error: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: error.into(),
            code: "BAD_REQUEST",
            parameter: None,
        }
    }

    pub fn not_found(error: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            error: error.into(),
            code: "NOT_FOUND",
            parameter: None,
        }
    }

    pub fn unauthorized(error: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: error.into(),
            code: "UNAUTHORIZED",
            parameter: None,
        }
    }
}

impl From<super::fleet::Unavailable> for ApiError {
    fn from(why: super::fleet::Unavailable) -> Self {
        use super::fleet::Unavailable;
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: match why {
                Unavailable::NotServing => {
                    "this replica is not serving the fleet (standby, or starting); try the leader"
                }
                Unavailable::Syncing => {
                    "the operator's caches are still syncing; try again shortly"
                }
            }
            .into(),
            code: "UNAVAILABLE",
            parameter: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self)).into_response()
    }
}
