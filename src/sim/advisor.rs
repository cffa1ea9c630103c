//! The advisor model stand-in: `POST /v1/chat/completions` answers in the chat completions
//! shape with a scripted content string, so tests decide what "the model" says (a plan, garbage,
//! prose) and the fault modes decide how it fails (errors, latency, outages). Admin:
//! `PUT /_sim/advisor/answer` (the body is the content to answer with, verbatim) and
//! `GET /_sim/advisor` (that content and the last request received).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::faults::{self, FaultService, Injected};
use super::reply;
use super::state::Sim;

/// What the model says until a test scripts otherwise: a valid answer that asks for no caution.
const DEFAULT_ANSWER: &str = r#"{"decision":"immediate","reason":"sim default"}"#;

/// The scripted answer, and what the model was last asked (so a test can check the question).
#[derive(Debug, Clone)]
pub struct Script {
    pub answer: String,
    pub last_request: Option<Value>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            answer: DEFAULT_ANSWER.to_owned(),
            last_request: None,
        }
    }
}

/// `POST /v1/chat/completions`: the bearer token the sim was started with, a request with
/// messages, and then the scripted content as the one choice.
pub async fn complete(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    sim.stats().advisor.calls += 1;
    if let Some(Injected::Respond(r)) = faults::inject(&sim, FaultService::Advisor, false).await {
        return r;
    }
    if let Err(r) = reply::check_token(&headers, &sim.config.token) {
        sim.stats().advisor.unauthorized += 1;
        return r;
    }
    let request: Value = match reply::parse_json(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if request["messages"].as_array().is_none_or(Vec::is_empty) {
        return reply::error(
            StatusCode::BAD_REQUEST,
            "messages must be a non-empty list",
            "INVALID_REQUEST",
        );
    }
    let model = request["model"].clone();
    let content = {
        let mut script = sim.advisor();
        script.last_request = Some(request);
        script.answer.clone()
    };
    let calls = {
        let mut stats = sim.stats();
        stats.advisor.answered += 1;
        stats.advisor.answered
    };
    reply::json(
        StatusCode::OK,
        json!({
            "id": format!("chatcmpl-sim-{calls}"),
            "object": "chat.completion",
            "created": jiff::Timestamp::now().as_second(),
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }),
    )
}

/// `PUT /_sim/advisor/answer`: the request body, as text, is what the model answers from now on.
pub async fn set_answer(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let Ok(answer) = String::from_utf8(body.to_vec()) else {
        return reply::error(
            StatusCode::BAD_REQUEST,
            "the answer must be UTF-8 text",
            "INVALID_REQUEST",
        );
    };
    tracing::info!(%answer, "advisor answer scripted");
    sim.advisor().answer = answer.clone();
    reply::json(StatusCode::OK, json!({"answer": answer}))
}

/// `GET /_sim/advisor`.
pub async fn script(State(sim): State<Arc<Sim>>) -> Response {
    let script = sim.advisor().clone();
    reply::json(
        StatusCode::OK,
        json!({"answer": script.answer, "lastRequest": script.last_request}),
    )
}
