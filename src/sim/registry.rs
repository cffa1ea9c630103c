//! The ChittyRegistry stand-in: public reads, bearer-token writes (401 READ_ONLY without one),
//! upsert on `POST /api/v1/tools`, and `DELETE` to retire (which production lacks).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::faults::{self, FaultService, Injected};
use super::reply;
use super::state::Sim;
use crate::clients::chitty_id::ChittyId;

async fn fault(sim: &Sim) -> Option<Response> {
    match faults::inject(sim, FaultService::Registry, false).await {
        Some(Injected::Respond(r)) => Some(r),
        _ => None,
    }
}

/// Writes need the service token; anything else is read-only access.
fn check_write(sim: &Sim, headers: &HeaderMap) -> Result<(), Response> {
    if reply::bearer(headers) == Some(sim.config.token.expose()) {
        return Ok(());
    }
    sim.stats().registry.read_only_rejections += 1;
    Err(reply::error(
        StatusCode::UNAUTHORIZED,
        "writes require a valid service token",
        "READ_ONLY",
    ))
}

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

pub async fn upsert(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = fault(&sim).await {
        return r;
    }
    if let Err(r) = check_write(&sim, &headers) {
        return r;
    }
    let mut submitted: Map<String, Value> = match reply::parse_json(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Some(id) = str_field(&submitted, "chitty_id").map(str::to_owned) else {
        return reply::error(
            StatusCode::BAD_REQUEST,
            "chitty_id is required",
            "INVALID_REQUEST",
        );
    };
    if let Err(e) = ChittyId::parse(&id) {
        return reply::error(StatusCode::BAD_REQUEST, &e.to_string(), "INVALID_CHITTY_ID");
    }
    if str_field(&submitted, "name").is_none() {
        return reply::error(
            StatusCode::BAD_REQUEST,
            "name is required",
            "INVALID_REQUEST",
        );
    }
    let now = reply::now();
    let health_given = submitted.get("health").is_some_and(Value::is_string);
    let (record, created) = sim.with_data(|d| {
        let previous = d.tools.get(&id).and_then(Value::as_object).cloned();
        let created = previous.is_none();
        let previous = previous.unwrap_or_default();
        let keep = |key: &str, default: Value| previous.get(key).cloned().unwrap_or(default);
        for (key, default) in [("status", json!("active")), ("health", json!("unknown"))] {
            if !submitted.get(key).is_some_and(Value::is_string) {
                submitted.insert(key.into(), keep(key, default));
            }
        }
        submitted.insert("registered_at".into(), keep("registered_at", json!(now)));
        submitted.insert("updated_at".into(), json!(now));
        let checked = if health_given {
            json!(now)
        } else {
            keep("last_health_check", Value::Null)
        };
        submitted.insert("last_health_check".into(), checked);
        let record = Value::Object(submitted);
        d.tools.insert(id.clone(), record.clone());
        ((record, created), true)
    });
    {
        let mut stats = sim.stats();
        stats.registry.writes += 1;
        if created {
            stats.registry.creates += 1;
        } else {
            stats.registry.updates += 1;
        }
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    reply::json(status, json!({"success": true, "tool": record}))
}

pub async fn list(State(sim): State<Arc<Sim>>) -> Response {
    sim.stats().registry.reads += 1;
    if let Some(r) = fault(&sim).await {
        return r;
    }
    let tools: Vec<Value> = sim.with_data(|d| (d.tools.values().cloned().collect(), false));
    reply::json(
        StatusCode::OK,
        json!({"success": true, "count": tools.len(), "tools": tools}),
    )
}

pub async fn get_one(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    sim.stats().registry.reads += 1;
    if let Some(r) = fault(&sim).await {
        return r;
    }
    match sim.with_data(|d| (d.tools.get(&id).cloned(), false)) {
        Some(tool) => reply::json(StatusCode::OK, json!({"success": true, "tool": tool})),
        None => reply::error(StatusCode::NOT_FOUND, "tool not found", "NOT_FOUND"),
    }
}

pub async fn retire(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = fault(&sim).await {
        return r;
    }
    if let Err(r) = check_write(&sim, &headers) {
        return r;
    }
    let removed = sim.with_data(|d| {
        let removed = d.tools.remove(&id).is_some();
        (removed, removed)
    });
    if !removed {
        return reply::error(StatusCode::NOT_FOUND, "tool not found", "NOT_FOUND");
    }
    {
        let mut stats = sim.stats();
        stats.registry.writes += 1;
        stats.registry.deletes += 1;
    }
    reply::json(StatusCode::OK, json!({"success": true, "retired": id}))
}

pub async fn manifest(State(sim): State<Arc<Sim>>) -> Response {
    sim.stats().registry.reads += 1;
    if let Some(r) = fault(&sim).await {
        return r;
    }
    let entries: Vec<Value> = sim.with_data(|d| (d.tools.values().cloned().collect(), false));
    let canonical = serde_json::to_vec(&entries).unwrap_or_default();
    let hash: String = Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    reply::json(
        StatusCode::OK,
        json!({
            "version": "1.0",
            "generated_at": reply::now(),
            "count": entries.len(),
            "entries": entries,
            "content_hash": format!("sha256:{hash}"),
        }),
    )
}
