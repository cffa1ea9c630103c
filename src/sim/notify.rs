//! The notification sink: records what webhooks receive, per channel, dropping duplicates by
//! `Idempotency-Key` but counting them, and lists it back for tests.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::faults::{self, FaultService, Injected};
use super::reply;
use super::state::{Received, Sim};

pub async fn receive(
    State(sim): State<Arc<Sim>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(Injected::Respond(r)) = faults::inject(&sim, FaultService::Notify, false).await {
        return r;
    }
    let event: Value = match reply::parse_json(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let key = reply::idempotency_key(&headers);
    let duplicate = sim.with_data(|d| {
        let events = d.notifications.entry(channel).or_default();
        if let Some(seen) = key.as_ref().and_then(|k| {
            events
                .iter_mut()
                .find(|e| e.idempotency_key.as_ref() == Some(k))
        }) {
            seen.deliveries += 1;
            return (true, true);
        }
        events.push(Received {
            idempotency_key: key.clone(),
            received_at: reply::now(),
            deliveries: 1,
            event,
        });
        (false, true)
    });
    {
        let mut stats = sim.stats();
        stats.notify.received += 1;
        if duplicate {
            stats.notify.duplicates += 1;
        } else {
            stats.notify.events += 1;
        }
    }
    reply::json(
        StatusCode::OK,
        json!({"success": true, "duplicate": duplicate}),
    )
}

pub async fn list(State(sim): State<Arc<Sim>>, Path(channel): Path<String>) -> Response {
    let events = sim.with_data(|d| {
        (
            d.notifications.get(&channel).cloned().unwrap_or_default(),
            false,
        )
    });
    let duplicates: u64 = events.iter().map(|e| e.deliveries.saturating_sub(1)).sum();
    reply::json(
        StatusCode::OK,
        json!({"channel": channel, "count": events.len(), "duplicates": duplicates, "events": events}),
    )
}
