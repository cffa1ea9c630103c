//! Fault injection, set at run time through `PUT /_sim/faults/{service}`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::reply;

/// The simulated services that faults can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultService {
    Id,
    Registry,
    Notify,
    /// The advisor model's chat completions endpoint.
    Advisor,
}

impl FaultService {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "id" => Some(Self::Id),
            "registry" => Some(Self::Registry),
            "notify" => Some(Self::Notify),
            "advisor" => Some(Self::Advisor),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultMode {
    None,
    /// Answer with `status` (default 503).
    Error,
    /// Accept the request and never answer (held for `latencyMs`, default ten minutes, then 503).
    Outage,
    /// Delay by `latencyMs` (default 2000), then answer normally.
    Latency,
    /// Do the work at once, then hold the answer for `latencyMs` (default 2000): a client that
    /// gives up or dies meanwhile has had its request carried out (ChittyID mints only).
    Slowreply,
    /// Mint an `ERR` fallback ID with `fallback: true` (ChittyID only).
    Fallback,
    /// Mint an ID with wrong check digits (ChittyID only).
    Invalid,
    /// 429 with `Retry-After: retryAfterSecs` (default 1).
    Ratelimit,
    /// `status` 401 (default) or 403.
    Unauthorized,
}

/// The body of `PUT /_sim/faults/{service}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultSpec {
    pub mode: FaultMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Apply to the next N calls only, then revert to `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// Apply to this fraction of calls (0..1), chosen at random; unset means every call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

impl FaultSpec {
    pub fn mode(mode: FaultMode) -> Self {
        Self {
            mode,
            status: None,
            latency_ms: None,
            count: None,
            retry_after_secs: None,
            rate: None,
        }
    }

    /// Rejects combinations that make no sense, before they are stored.
    pub fn check(&self, service: FaultService) -> Result<(), String> {
        if matches!(
            self.mode,
            FaultMode::Fallback | FaultMode::Invalid | FaultMode::Slowreply
        ) && service != FaultService::Id
        {
            return Err("modes fallback and invalid apply to the id service only".into());
        }
        if let Some(s) = self.status
            && StatusCode::from_u16(s).is_err()
        {
            return Err(format!("{s} is not an HTTP status"));
        }
        if self.rate.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
            return Err("rate must be between 0 and 1".into());
        }
        Ok(())
    }
}

/// The fault currently set per service, with the calls it has left.
#[derive(Debug, Default)]
pub struct FaultTable {
    active: BTreeMap<FaultService, FaultSpec>,
}

impl FaultTable {
    pub fn set(&mut self, service: FaultService, spec: FaultSpec) {
        if spec.mode == FaultMode::None || spec.count == Some(0) {
            self.active.remove(&service);
        } else {
            self.active.insert(service, spec);
        }
    }

    pub fn get(&self, service: FaultService) -> Option<&FaultSpec> {
        self.active.get(&service)
    }

    pub fn all(&self) -> &BTreeMap<FaultService, FaultSpec> {
        &self.active
    }

    /// The fault to apply to this call, if any, consuming one from its count. `minting` says
    /// whether mint-only modes apply; when they do not, the call is left alone and the count
    /// is not spent.
    pub fn take(&mut self, service: FaultService, minting: bool) -> Option<FaultSpec> {
        let spec = self.active.get_mut(&service)?;
        if matches!(
            spec.mode,
            FaultMode::Fallback | FaultMode::Invalid | FaultMode::Slowreply
        ) && !minting
        {
            return None;
        }
        if spec.rate.is_some_and(|r| fastrand::f64() >= r) {
            return None;
        }
        let out = spec.clone();
        if let Some(n) = spec.count.as_mut() {
            *n -= 1;
            if *n == 0 {
                self.active.remove(&service);
            }
        }
        Some(out)
    }
}

/// What a handler must do about an injected fault.
pub enum Injected {
    /// Answer with this instead of doing the work.
    Respond(Response),
    /// Answer the mint with a fallback ID.
    Fallback,
    /// Answer the mint with a malformed ID.
    Invalid,
    /// Mint, then hold the answer this long.
    SlowReply(Duration),
}

/// Carries out `spec`. Latency sleeps and lets the call proceed (`None`); the others replace it.
pub async fn apply(spec: FaultSpec) -> Option<Injected> {
    let status = |default: u16| {
        spec.status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::from_u16(default).unwrap_or(StatusCode::SERVICE_UNAVAILABLE))
    };
    match spec.mode {
        FaultMode::None => None,
        FaultMode::Latency => {
            tokio::time::sleep(Duration::from_millis(spec.latency_ms.unwrap_or(2000))).await;
            None
        }
        FaultMode::Slowreply => Some(Injected::SlowReply(Duration::from_millis(
            spec.latency_ms.unwrap_or(2000),
        ))),
        FaultMode::Outage => {
            // Never answer in any useful time: the client's timeout is what is under test.
            tokio::time::sleep(Duration::from_millis(spec.latency_ms.unwrap_or(600_000))).await;
            Some(Injected::Respond(reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "simulated outage",
                "SIM_OUTAGE",
            )))
        }
        FaultMode::Error => Some(Injected::Respond(reply::error(
            status(503),
            "simulated failure",
            "SIM_FAULT",
        ))),
        FaultMode::Ratelimit => {
            let secs = spec.retry_after_secs.unwrap_or(1);
            let mut resp = reply::json(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"success": false, "error": "rate limit exceeded", "code": "RATE_LIMITED", "retryAfter": secs}),
            );
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
            Some(Injected::Respond(resp))
        }
        FaultMode::Unauthorized => Some(Injected::Respond(reply::error(
            status(401),
            "simulated authorization failure",
            "UNAUTHORIZED",
        ))),
        FaultMode::Fallback => Some(Injected::Fallback),
        FaultMode::Invalid => Some(Injected::Invalid),
    }
}

/// Takes and carries out the fault set for `service`, counting it in the stats.
pub async fn inject(
    sim: &super::state::Sim,
    service: FaultService,
    minting: bool,
) -> Option<Injected> {
    let spec = sim.faults().take(service, minting)?;
    {
        let mut stats = sim.stats();
        match service {
            FaultService::Id => stats.id.faults_injected += 1,
            FaultService::Registry => stats.registry.faults_injected += 1,
            FaultService::Notify => stats.notify.faults_injected += 1,
            FaultService::Advisor => stats.advisor.faults_injected += 1,
        }
    }
    apply(spec).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_fault_reverts_after_its_calls() {
        let mut t = FaultTable::default();
        t.set(
            FaultService::Id,
            FaultSpec {
                count: Some(2),
                ..FaultSpec::mode(FaultMode::Error)
            },
        );
        assert!(t.take(FaultService::Id, true).is_some());
        assert!(t.take(FaultService::Id, true).is_some());
        assert!(t.take(FaultService::Id, true).is_none());
        assert!(t.get(FaultService::Id).is_none());
    }

    #[test]
    fn mint_only_modes_skip_other_calls_without_spending_the_count() {
        let mut t = FaultTable::default();
        t.set(
            FaultService::Id,
            FaultSpec {
                count: Some(1),
                ..FaultSpec::mode(FaultMode::Fallback)
            },
        );
        assert!(t.take(FaultService::Id, false).is_none());
        assert!(t.take(FaultService::Id, true).is_some());
        assert!(t.take(FaultService::Id, true).is_none());
    }

    #[test]
    fn nonsense_faults_are_refused() {
        assert!(
            FaultSpec::mode(FaultMode::Invalid)
                .check(FaultService::Registry)
                .is_err()
        );
        let bad_rate = FaultSpec {
            rate: Some(2.0),
            ..FaultSpec::mode(FaultMode::Error)
        };
        assert!(bad_rate.check(FaultService::Notify).is_err());
        assert!(
            FaultSpec::mode(FaultMode::Outage)
                .check(FaultService::Notify)
                .is_ok()
        );
    }

    #[test]
    fn fault_spec_reads_the_documented_json() {
        let s: FaultSpec =
            serde_json::from_str(r#"{"mode":"error","status":503,"latencyMs":5,"count":2}"#)
                .unwrap();
        assert_eq!(s.mode, FaultMode::Error);
        assert_eq!(
            (s.status, s.latency_ms, s.count),
            (Some(503), Some(5), Some(2))
        );
    }
}
