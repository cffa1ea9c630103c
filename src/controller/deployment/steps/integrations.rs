//! `identity`, `register` and `notify`: the steps that talk to the external ChittyOS services.
//! Each is skipped, and says so, when the operator has no endpoint configured for it.

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};

use super::StepInput;
use crate::api::ChittyService;
use crate::api::conditions::{Desired, types};
use crate::clients::chitty_id::format::ChittyId;
use crate::clients::{
    EventType, MintRequest, NotificationEvent, RegistryRecord, mint_idempotency_key,
};
use crate::controller::service::status::service_url;
use crate::pipeline::machine::Outcome;

/// Field manager for the one status field the identity step writes itself.
const IDENTITY_MANAGER: &str = "chitty-operator-identity";
/// How long the register step waits on an unavailable registry before the rollout goes on
/// without it (the service controller keeps retrying and says so in `Registered`).
const REGISTER_PATIENCE: Duration = Duration::from_secs(120);
/// Upper bound on one round of notifications, so a slow receiver never holds a rollout.
const NOTIFY_BUDGET: Duration = Duration::from_secs(15);

pub async fn identity(input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    if let Some(id) = input.chitty_id.clone() {
        input.conditions.push(identity_ready(&id));
        return Ok(Outcome::Done(format!("ChittyID {id}")));
    }
    let Some(authority) = input.ctx.integrations.identity.clone() else {
        return Ok(Outcome::Skipped(
            "no identity authority is configured".into(),
        ));
    };
    let Some(uid) = input.service.uid() else {
        return Ok(Outcome::Waiting("the service has no UID yet".into()));
    };
    let request = mint_request(input);
    // The key is derived from the service's UID, so a mint repeated after a crash (the call
    // succeeded but its result was never recorded) gets the same ID back: one ID per service, ever.
    match authority.mint(&request, &mint_idempotency_key(&uid)).await {
        Ok(minted) => {
            let id = minted.id.to_string();
            record_chitty_id(input, &id).await?;
            input.chitty_id = Some(id.clone());
            input.conditions.push(identity_ready(&id));
            Ok(Outcome::Done(format!("minted ChittyID {id}")))
        }
        Err(error) => {
            let reason = error.condition_reason();
            input.conditions.push(Desired::new(
                types::IDENTITY_READY,
                false,
                reason,
                error.to_string(),
            ));
            input.retry_after = Some(
                error
                    .retry_after()
                    .unwrap_or(Duration::from_secs(15))
                    .max(Duration::from_secs(1)),
            );
            Ok(Outcome::Waiting(format!("{reason}: {error}; retrying")))
        }
    }
}

fn identity_ready(id: &str) -> Desired {
    Desired::new(
        types::IDENTITY_READY,
        true,
        "Minted",
        format!("ChittyID {id}"),
    )
}

fn mint_request(input: &StepInput) -> MintRequest {
    let eco = &input.ctx.config.ecosystem;
    let spec = input.service.spec.identity.clone().unwrap_or_default();
    let mut request = MintRequest::service();
    request.jurisdiction = Some(
        spec.jurisdiction
            .unwrap_or_else(|| eco.default_jurisdiction.clone()),
    );
    request.region = Some(spec.region.map(|r| r as u8).unwrap_or(eco.default_region));
    request.trust = spec.trust.map(|t| t as u8);
    request.metadata = Some(serde_json::json!({
        "name": input.service.name_any(),
        "namespace": input.namespace(),
        "kind": "ChittyService",
    }));
    request
}

/// Writes the ID to the service's status at once, before anything else can fail.
async fn record_chitty_id(input: &StepInput<'_>, id: &str) -> crate::Result<()> {
    let api: Api<ChittyService> = Api::namespaced(input.ctx.client.clone(), &input.namespace());
    let patch = serde_json::json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "status": {"chittyId": id},
    });
    api.patch_status(
        &input.service.name_any(),
        &PatchParams::apply(IDENTITY_MANAGER).force(),
        &Patch::Apply(patch),
    )
    .await?;
    tracing::info!(service = %input.service.name_any(), chitty_id = %id, "recorded ChittyID");
    Ok(())
}

pub async fn register(input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    let Some(registry) = input.ctx.integrations.registry.clone() else {
        return Ok(Outcome::Skipped("no service registry is configured".into()));
    };
    let Some(id) = input.chitty_id.clone() else {
        return Ok(Outcome::Skipped(
            "the service has no ChittyID to register under".into(),
        ));
    };
    let record = registry_record(
        input.service,
        &id,
        &input.rollout.spec.snapshot.version,
        input.rollout.name_any(),
    )?;
    match registry.register(&record).await {
        Ok(outcome) => {
            input.conditions.push(Desired::new(
                types::REGISTERED,
                true,
                "Registered",
                format!("ChittyRegistry record {id} is current"),
            ));
            Ok(Outcome::Done(
                format!("registry record {:?}", outcome).to_lowercase(),
            ))
        }
        Err(error) => {
            let reason = error.condition_reason();
            input.conditions.push(Desired::new(
                types::REGISTERED,
                false,
                reason,
                error.to_string(),
            ));
            let waited = waited_in_step(input, "register");
            if waited >= REGISTER_PATIENCE {
                return Ok(Outcome::Done(format!(
                    "{reason}: {error}; the rollout goes on and registration is retried"
                )));
            }
            input.retry_after = Some(error.retry_after().unwrap_or(Duration::from_secs(10)));
            Ok(Outcome::Waiting(format!("{reason}: {error}; retrying")))
        }
    }
}

/// The record ChittyRegistry keeps for a service.
pub fn registry_record(
    service: &ChittyService,
    id: &str,
    version: &str,
    deployment: String,
) -> crate::Result<RegistryRecord> {
    let parsed: ChittyId = id
        .parse()
        .map_err(|e| crate::Error::InvalidObject(format!("status.chittyId {id}: {e}")))?;
    let url = service_url(service);
    let mut record = RegistryRecord::service(&parsed, service.name_any(), version);
    record.description = format!(
        "{} {} service {} in {}",
        format!("{:?}", service.spec.environment).to_lowercase(),
        format!("{:?}", service.spec.service_type).to_lowercase(),
        service.name_any(),
        service.namespace().unwrap_or_default()
    );
    record.endpoints = vec![
        url.clone(),
        crate::probe::url(&url, &service.spec.health.path),
    ];
    record.metadata.insert(
        "capabilities".into(),
        serde_json::json!(service.spec.capabilities),
    );
    record.metadata.insert(
        "environment".into(),
        serde_json::json!(service.spec.environment),
    );
    record
        .metadata
        .insert("namespace".into(), serde_json::json!(service.namespace()));
    record
        .metadata
        .insert("deployment".into(), serde_json::json!(deployment));
    record.status = Some("active".into());
    Ok(record)
}

fn waited_in_step(input: &StepInput, step: &str) -> Duration {
    input
        .status
        .steps
        .iter()
        .find(|s| s.name == step)
        .and_then(|s| s.started_at.as_ref())
        .map(|t| input.now.0.duration_since(t.0).unsigned_abs())
        .unwrap_or_default()
}

pub async fn notify(input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    if input.ctx.integrations.notifiers.is_empty() {
        return Ok(Outcome::Skipped(
            "no notification webhooks are configured".into(),
        ));
    }
    let (sent, total) = send_event(input, EventType::ServiceDeployed).await;
    Ok(Outcome::Done(format!(
        "notified {sent} of {total} receivers"
    )))
}

/// Sends one event to every webhook, concurrently and within a budget; failures are logged
/// and counted, never raised: a receiver that is down must not hold or fail a rollout.
pub async fn send_event(input: &StepInput<'_>, kind: EventType) -> (usize, usize) {
    let event = NotificationEvent {
        event: kind,
        chitty_id: input.chitty_id.clone(),
        name: input.service.name_any(),
        namespace: input.namespace(),
        version: input.rollout.spec.snapshot.version.clone(),
        environment: format!("{:?}", input.rollout.spec.snapshot.environment).to_lowercase(),
        url: Some(service_url(input.service)),
        duration_ms: input
            .status
            .started_at
            .as_ref()
            .map(|s| input.now.0.duration_since(s.0).as_millis().max(0) as u64),
        deployment: input.rollout.name_any(),
        timestamp: Some(input.now.0.to_string()),
    };
    let key = event.idempotency_key();
    let notifiers = input.ctx.integrations.notifiers.clone();
    let sends = notifiers.iter().map(|n| {
        let (event, key) = (&event, &key);
        async move {
            match tokio::time::timeout(NOTIFY_BUDGET, n.send(event, key)).await {
                Ok(Ok(())) => true,
                Ok(Err(error)) => {
                    tracing::warn!(receiver = n.name(), %error, event = kind.as_str(), "notification not delivered");
                    false
                }
                Err(_) => {
                    tracing::warn!(receiver = n.name(), event = kind.as_str(), "notification timed out");
                    false
                }
            }
        }
    });
    let results = futures::future::join_all(sends).await;
    (results.iter().filter(|ok| **ok).count(), results.len())
}
