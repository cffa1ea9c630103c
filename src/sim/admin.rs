//! Health, simulated service health, and the admin API tests use to inject faults and read
//! counters.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use super::faults::{FaultService, FaultSpec};
use super::reply;
use super::state::{ServiceHealth, Sim};

pub async fn health() -> Response {
    reply::json(
        StatusCode::OK,
        json!({
            "status": "ok",
            "service": "chitty-sim",
            "version": env!("CARGO_PKG_VERSION"),
            "timestamp": reply::now(),
        }),
    )
}

/// Counts every routed request as `"METHOD /route"`, before any fault can swallow it.
pub async fn count_request(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    if let Some(path) = req.extensions().get::<MatchedPath>() {
        let key = format!("{} {}", req.method(), path.as_str());
        *sim.stats().requests.entry(key).or_default() += 1;
    }
    next.run(req).await
}

/// `GET /svc/{name}/health`: a simulated ChittyOS service, healthy unless told otherwise.
pub async fn service_health(State(sim): State<Arc<Sim>>, Path(name): Path<String>) -> Response {
    let set = sim.with_data(|d| (d.services.get(&name).cloned(), false));
    let (status, code) = set.map_or(("ok".to_owned(), 200), |s| (s.status, s.code));
    reply::json(
        StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        json!({"status": status, "service": name, "timestamp": reply::now()}),
    )
}

#[derive(serde::Deserialize)]
struct SetHealth {
    status: String,
    #[serde(default)]
    code: Option<u16>,
}

/// `PUT /_sim/svc/{name}` `{"status": "ok"|"degraded"|..., "code"?: 503}`.
pub async fn set_service_health(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let req: SetHealth = match reply::parse_json(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let code = req
        .code
        .unwrap_or(if req.status == "ok" { 200 } else { 503 });
    if StatusCode::from_u16(code).is_err() {
        return reply::error(
            StatusCode::BAD_REQUEST,
            "code is not an HTTP status",
            "INVALID_REQUEST",
        );
    }
    let health = ServiceHealth {
        status: req.status,
        code,
    };
    sim.with_data(|d| {
        d.services.insert(name.clone(), health.clone());
        ((), true)
    });
    reply::json(StatusCode::OK, json!({"service": name, "health": health}))
}

fn service_or_404(service: &str) -> Result<FaultService, Response> {
    FaultService::parse(service).ok_or_else(|| {
        reply::error(
            StatusCode::NOT_FOUND,
            "service must be one of id, registry, notify, advisor",
            "NOT_FOUND",
        )
    })
}

pub async fn set_fault(
    State(sim): State<Arc<Sim>>,
    Path(service): Path<String>,
    body: Bytes,
) -> Response {
    let service = match service_or_404(&service) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let spec: FaultSpec = match reply::parse_json(&body) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(why) = spec.check(service) {
        return reply::error(StatusCode::BAD_REQUEST, &why, "INVALID_REQUEST");
    }
    tracing::info!(?service, ?spec, "fault set");
    sim.faults().set(service, spec.clone());
    reply::json(StatusCode::OK, json!({"service": service, "fault": spec}))
}

pub async fn get_fault(State(sim): State<Arc<Sim>>, Path(service): Path<String>) -> Response {
    let service = match service_or_404(&service) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let fault = sim.faults().get(service).cloned();
    reply::json(StatusCode::OK, json!({"service": service, "fault": fault}))
}

pub async fn list_faults(State(sim): State<Arc<Sim>>) -> Response {
    let all = serde_json::to_value(sim.faults().all()).unwrap_or_default();
    reply::json(StatusCode::OK, json!({"faults": all}))
}

pub async fn clear_faults(State(sim): State<Arc<Sim>>) -> Response {
    *sim.faults() = Default::default();
    reply::json(StatusCode::OK, json!({"faults": {}}))
}

pub async fn stats(State(sim): State<Arc<Sim>>) -> Response {
    let stats = serde_json::to_value(&*sim.stats()).unwrap_or_default();
    reply::json(StatusCode::OK, stats)
}

pub async fn reset(State(sim): State<Arc<Sim>>) -> Response {
    sim.reset();
    reply::json(StatusCode::OK, json!({"success": true}))
}
