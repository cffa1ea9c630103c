//! The advisor model's HTTP client against chitty-sim's stand-in over real HTTP: scripted
//! answers, the sim's fault modes, and the strict reading of what comes back. Timing is asserted
//! only as far as a correct client cannot miss: it gives up after its timeout, long before a
//! slow model would have answered.

use std::time::{Duration, Instant};

use chitty_operator::advisor::model::{ModelAnswer, parse_answer, request_body};
use chitty_operator::advisor::{Advice, Decision, Plan};
use chitty_operator::clients::{AdvisorModel, AdvisorModelClient, ModelError, SecretToken};
use chitty_operator::sim::{self, SimConfig, SimHandle};
use common::sim_admin::{get_json, script_advisor, set_fault};
use serde_json::{Value, json};

mod common;

const TOKEN: &str = "sim-token";
const TIMEOUT: Duration = Duration::from_millis(300);

async fn start() -> SimHandle {
    sim::spawn_local(SimConfig::default()).await.unwrap()
}

fn client(sim: &SimHandle, token: Option<&str>) -> AdvisorModelClient {
    AdvisorModelClient::new(&sim.base_url(), token.map(SecretToken::new), TIMEOUT).unwrap()
}

/// The question the rollout controller would ask about a canary the rules planned.
fn question() -> Value {
    let rules = Advice {
        plan: Plan::Canary {
            percent: 10,
            monitor: Duration::from_secs(600),
        },
        confidence: 0.85,
        reasons: vec!["a critical service in production".into()],
    };
    let facts = json!({"service": "chittycharge", "environment": "production"});
    request_body("chitty-advisor", &facts, &rules)
}

#[tokio::test]
async fn a_scripted_canary_answer_comes_back_and_parses() {
    let sim = start().await;
    script_advisor(
        &sim,
        r#"{"decision":"canary","percent":5,"reason":"payments change on a Friday"}"#,
    )
    .await;
    let body = client(&sim, Some(TOKEN)).ask(question()).await.unwrap();
    assert_eq!(
        parse_answer(&body),
        Ok(ModelAnswer {
            decision: Decision::Canary,
            percent: Some(5),
            reason: "payments change on a Friday".into(),
        })
    );
    let seen = get_json(&sim, "/_sim/advisor").await;
    assert_eq!(
        seen["lastRequest"],
        question(),
        "the model is asked exactly the question written"
    );
    let stats = get_json(&sim, "/_sim/stats").await;
    assert_eq!(stats["advisor"]["answered"], 1);
    assert_eq!(stats["requests"]["POST /v1/chat/completions"], 1);
}

#[tokio::test]
async fn the_default_answer_is_a_valid_immediate() {
    let sim = start().await;
    let body = client(&sim, Some(TOKEN)).ask(question()).await.unwrap();
    let answer = parse_answer(&body).unwrap();
    assert_eq!(
        (answer.decision, answer.reason.as_str()),
        (Decision::Immediate, "sim default")
    );
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_a_status_error() {
    let sim = start().await;
    let missing = client(&sim, None).ask(question()).await;
    assert_eq!(missing, Err(ModelError::Status(401)));
    let wrong = client(&sim, Some("not-the-token")).ask(question()).await;
    assert_eq!(wrong, Err(ModelError::Status(403)));
    assert!(!format!("{wrong:?}").contains("not-the-token"));
    assert_eq!(
        get_json(&sim, "/_sim/stats").await["advisor"]["unauthorized"],
        2
    );
}

#[tokio::test]
async fn a_model_slower_than_the_timeout_is_a_timeout() {
    let sim = start().await;
    set_fault(
        &sim,
        "advisor",
        json!({"mode": "latency", "latencyMs": 10_000, "count": 1}),
    )
    .await;
    let started = Instant::now();
    let result = client(&sim, Some(TOKEN)).ask(question()).await;
    let took = started.elapsed();
    assert_eq!(result, Err(ModelError::Timeout));
    assert!(
        took >= TIMEOUT,
        "gave up after {took:?}, before its timeout"
    );
    assert!(
        took < Duration::from_secs(5),
        "gave up after {took:?}: the timeout did not cut the call off"
    );
    assert_eq!(
        get_json(&sim, "/_sim/stats").await["advisor"]["faultsInjected"],
        1
    );
}

#[tokio::test]
async fn an_error_fault_is_a_status_error_and_the_next_call_answers() {
    let sim = start().await;
    set_fault(
        &sim,
        "advisor",
        json!({"mode": "error", "status": 502, "count": 1}),
    )
    .await;
    let model = client(&sim, Some(TOKEN));
    assert_eq!(model.ask(question()).await, Err(ModelError::Status(502)));
    assert!(
        model.ask(question()).await.is_ok(),
        "one attempt per question: the fault was spent on the first"
    );
}

#[tokio::test]
async fn scripted_garbage_reaches_the_parser_as_an_error() {
    let sim = start().await;
    script_advisor(&sim, "I think a canary would be wise here.").await;
    let body = client(&sim, Some(TOKEN)).ask(question()).await.unwrap();
    let error = parse_answer(&body).unwrap_err();
    assert!(
        error.starts_with("the advisor model did not answer with one JSON object"),
        "{error}"
    );
    assert!(error.contains("I think a canary"), "{error}");
}

#[tokio::test]
async fn a_reply_over_64_kib_is_refused() {
    let sim = start().await;
    script_advisor(&sim, &"x".repeat(70 * 1024)).await;
    let result = client(&sim, Some(TOKEN)).ask(question()).await;
    assert_eq!(result, Err(ModelError::TooLarge));
}

#[tokio::test]
async fn an_unreachable_model_is_a_transport_error() {
    // A port that was free a moment ago: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let model = AdvisorModelClient::new(
        &format!("http://{addr}"),
        Some(SecretToken::new(TOKEN)),
        TIMEOUT,
    )
    .unwrap();
    match model.ask(question()).await {
        Err(ModelError::Transport(why)) => assert!(!why.contains(TOKEN), "{why}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
}
