//! chitty-sim's admin API as the tests drive it: faults, scripted model answers, the stand-in
//! services' health and the stats. One copy, so every test file asks the same way.

use chitty_operator::sim::SimHandle;
use serde_json::Value;

use super::http;

/// `GET` a JSON document from the sim (admin paths need no token).
pub async fn get_json(sim: &SimHandle, path: &str) -> Value {
    http()
        .get(format!("{}{path}", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `PUT` a body to an admin path; the sim must take it (200).
pub async fn put(sim: &SimHandle, path: &str, body: impl Into<reqwest::Body>) {
    let resp = http()
        .put(format!("{}{path}", sim.base_url()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_eq!(
        status,
        200,
        "{path}: {}",
        resp.text().await.unwrap_or_default()
    );
}

/// Sets a fault mode for one stand-in service (`identity`, `registry`, `notify`, `advisor`).
pub async fn set_fault(sim: &SimHandle, service: &str, spec: Value) {
    put(sim, &format!("/_sim/faults/{service}"), spec.to_string()).await;
}

/// Sets what the stand-in health endpoint `/svc/{name}/health` answers (`ok`, `down`, ...).
pub async fn set_health(sim: &SimHandle, name: &str, status: &str) {
    let body = serde_json::json!({"status": status}).to_string();
    put(sim, &format!("/_sim/svc/{name}"), body).await;
}

/// The content the stand-in advisor model answers with from now on.
pub async fn script_advisor(sim: &SimHandle, content: &str) {
    put(sim, "/_sim/advisor/answer", content.to_owned()).await;
}

/// Counters of every stand-in.
pub async fn stats(sim: &SimHandle) -> Value {
    get_json(sim, "/_sim/stats").await
}
