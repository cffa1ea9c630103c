//! The ChittyID stand-in: `POST /v1/mint` (bearer token, idempotency keys, real sequences and
//! check digits) and `POST /api/validate`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::faults::{self, FaultService, Injected};
use super::reply;
use super::state::Sim;
use crate::clients::chitty_id::format::{self, ChittyId, Components, FormatError};
use crate::clients::chitty_id::{EntityType, MintRequest};

fn components_json(id: &ChittyId) -> Value {
    let c = id.components();
    json!({
        "version": format!("{:02}", c.version),
        "region": c.region.to_string(),
        "jurisdiction": c.jurisdiction,
        "sequential": format!("{:04}", c.sequence),
        "entityType": c.entity_type.letter().to_string(),
        "yearMonth": format!("{:02}{:02}", c.year, c.month),
        "trustLevel": c.trust.to_string(),
        "checksum": format!("{:02}", id.check()),
    })
}

fn year_month() -> (u8, u8) {
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    ((now.year() % 100) as u8, now.month() as u8)
}

/// The request's segments, with the authority's defaults (region 1, USA, trust 0).
struct Wanted {
    entity_type: EntityType,
    region: u8,
    jurisdiction: String,
    trust: u8,
}

fn wanted(req: MintRequest) -> Result<Wanted, &'static str> {
    let region = req.region.unwrap_or(1);
    let jurisdiction = req.jurisdiction.unwrap_or_else(|| "USA".into());
    let trust = req.trust.unwrap_or(0);
    if !(1..=9).contains(&region) {
        return Err("region must be 1-9");
    }
    if jurisdiction.len() != 3
        || !jurisdiction.bytes().all(|b| b.is_ascii_uppercase())
        || jurisdiction == "ERR"
    {
        return Err("jurisdiction must be an ISO 3166 alpha-3 code");
    }
    if trust > 5 {
        return Err("trust must be 0-5");
    }
    Ok(Wanted {
        entity_type: req.entity_type,
        region,
        jurisdiction,
        trust,
    })
}

fn components(w: &Wanted, sequence: u16) -> Components {
    let (year, month) = year_month();
    Components {
        version: 3,
        region: w.region,
        jurisdiction: w.jurisdiction.clone(),
        sequence,
        entity_type: w.entity_type,
        year,
        month,
        trust: w.trust,
    }
}

enum Minted {
    New(Value),
    Replay(Value),
    Exhausted,
}

pub async fn mint(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    sim.stats().id.mint_calls += 1;
    let injected = faults::inject(&sim, FaultService::Id, true).await;
    if let Some(Injected::Respond(r)) = injected {
        return r;
    }
    if let Err(r) = reply::check_token(&headers, &sim.config.token) {
        sim.stats().id.unauthorized += 1;
        return r;
    }
    let wanted = match reply::parse_json::<MintRequest>(&body).map(wanted) {
        Ok(Ok(w)) => w,
        Ok(Err(why)) => return reply::error(StatusCode::BAD_REQUEST, why, "INVALID_REQUEST"),
        Err(r) => return r,
    };
    match injected {
        Some(Injected::Fallback) => return fallback_reply(&wanted),
        Some(Injected::Invalid) => return invalid_reply(&sim, &wanted),
        _ => {}
    }
    let key = reply::idempotency_key(&headers);
    let outcome = sim.with_data(|d| {
        if let Some(prev) = key.as_ref().and_then(|k| d.mints.get(k)) {
            return (Minted::Replay(prev.clone()), false);
        }
        if d.last_sequence >= 9999 {
            return (Minted::Exhausted, false);
        }
        let sequence = d.last_sequence + 1;
        let Ok(id) = components(&wanted, sequence).mint() else {
            return (Minted::Exhausted, false);
        };
        let body = json!({
            "success": true,
            "chittyId": id.to_string(),
            "components": components_json(&id),
            "timestamp": reply::now(),
        });
        d.last_sequence = sequence;
        d.minted_ids.push(id.to_string());
        if let Some(k) = &key {
            d.mints.insert(k.clone(), body.clone());
        }
        (Minted::New(body), true)
    });
    // Counted when the work is done, not when the answer leaves: a lost answer still minted.
    match &outcome {
        Minted::New(_) => sim.stats().id.ids_minted += 1,
        Minted::Replay(_) => sim.stats().id.idempotent_replays += 1,
        Minted::Exhausted => {}
    }
    if let Some(Injected::SlowReply(delay)) = injected {
        // The mint is stored; only the answer is late. Dropped connections lose the answer,
        // not the ID: what a client that crashed mid-call faces.
        tokio::time::sleep(delay).await;
    }
    match outcome {
        Minted::New(body) => reply::json(StatusCode::OK, body),
        Minted::Replay(body) => {
            let mut r = reply::json(StatusCode::OK, body);
            r.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            r
        }
        Minted::Exhausted => reply::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "sequence space exhausted",
            "MINT_UNAVAILABLE",
        ),
    }
}

/// What the real authority sends when it cannot mint: an ERR ID flagged as a fallback.
fn fallback_reply(w: &Wanted) -> Response {
    let (year, month) = year_month();
    reply::json(
        StatusCode::OK,
        json!({
            "success": true,
            "chittyId": format::fallback_id(1, w.entity_type, year, month),
            "fallback": true,
            "errorCode": format::error_code_name(1),
            "timestamp": reply::now(),
        }),
    )
}

/// A well-shaped ID with wrong check digits; nothing is recorded or consumed.
fn invalid_reply(sim: &Sim, w: &Wanted) -> Response {
    let next = sim.with_data(|d| (d.last_sequence.saturating_add(1).min(9999), false));
    let id = components(w, next)
        .mint()
        .map(|id| {
            let s = id.to_string();
            format!("{}-{:02}", &s[..s.len() - 3], (id.check() + 1) % 97)
        })
        .unwrap_or_else(|_| "03-1-USA-0000-T-0000-0-00".into());
    reply::json(
        StatusCode::OK,
        json!({"success": true, "chittyId": id, "timestamp": reply::now()}),
    )
}

#[derive(serde::Deserialize)]
struct ValidateRequest {
    id: String,
}

pub async fn validate(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    sim.stats().id.validate_calls += 1;
    if let Some(Injected::Respond(r)) = faults::inject(&sim, FaultService::Id, false).await {
        return r;
    }
    let req: ValidateRequest = match reply::parse_json(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let body = match ChittyId::parse(&req.id) {
        Ok(id) => json!({
            "success": true, "valid": true, "id": req.id, "components": components_json(&id),
        }),
        Err(e) => json!({
            "success": true, "valid": false, "id": req.id, "error": e.to_string(),
            "fallback": matches!(e, FormatError::ErrorId { .. }),
        }),
    };
    reply::json(StatusCode::OK, body)
}
