//! `identity`, `register` and `notify`: the steps that talk to the external ChittyOS services.
//! Each is skipped, and says so, when the operator has no endpoint configured for it.

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};

use super::StepInput;
use crate::api::ChittyService;
use crate::api::conditions::{Desired, reasons, types};
use crate::clients::{EventType, MintRequest, mint_idempotency_key};
use crate::integrations::Binding;
use crate::integrations::registry_record;
use crate::pipeline::machine::Outcome;

/// Field manager for the one status field the identity step writes itself.
const IDENTITY_MANAGER: &str = "chitty-operator-identity";
/// How long the register step waits on an unavailable registry before the rollout goes on
/// without it (the service controller keeps retrying and says so in `Registered`).
const REGISTER_PATIENCE: Duration = Duration::from_secs(120);

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
            // Recorded by the step runner before any other step can fail (see `steps::run`).
            input.minted = Some(id.clone());
            // Minted for this very service: its registry record needs no ownership read.
            input.ctx.integrations.bindings.remember(&id, input.service);
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
        reasons::MINTED,
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
pub async fn record_chitty_id(input: &StepInput<'_>, id: &str) -> crate::Result<()> {
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
    // The ChittyID in status may have been written by anyone who can write status: the record
    // under it must be this service's (or nobody's yet) before anything is written to it.
    let registered = match crate::integrations::binding_of(
        &*registry,
        &input.ctx.integrations.bindings,
        input.service,
        &id,
    )
    .await
    {
        Ok(Binding::Theirs(words)) => {
            tracing::warn!(service = %input.service.name_any(), chitty_id = %id, "{words}");
            input.conditions.push(Desired::new(
                types::REGISTERED,
                false,
                reasons::IDENTITY_MISMATCH,
                words.clone(),
            ));
            return Ok(Outcome::Done(format!(
                "{words}; the rollout goes on unregistered"
            )));
        }
        Ok(Binding::Free | Binding::Ours) => registry.register(&record).await,
        Err(error) => Err(error),
    };
    match registered {
        Ok(outcome) => {
            input.ctx.integrations.bindings.remember(&id, input.service);
            input.conditions.push(Desired::new(
                types::REGISTERED,
                true,
                reasons::REGISTERED,
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

/// Sends this rollout's event to every webhook; never fails the rollout.
pub async fn send_event(input: &StepInput<'_>, kind: EventType) -> (usize, usize) {
    let event = crate::integrations::notification(
        kind,
        input.service,
        input.rollout,
        input.chitty_id.clone(),
        input.status.started_at.as_ref(),
        input.now,
    );
    crate::integrations::notify_all(&input.ctx.integrations.notifiers, &event).await
}
