//! What the operator tells the ChittyOS services about a service: its registry record and its
//! deploy notifications, built as plain values, and the fan-out of one notification to every
//! webhook. Shared by the rollout steps and the service's own convergence.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use crate::api::{ChittyDeployment, ChittyService};
use crate::clients::chitty_id::format::ChittyId;
use crate::clients::{EventType, NotificationEvent, NotificationSink, RegistryRecord};
use crate::workload::service::public_url;

/// Upper bound on one round of notifications, so a slow receiver never holds a reconcile.
const NOTIFY_BUDGET: Duration = Duration::from_secs(15);

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
    let url = public_url(service);
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
    super::binding::bind(&mut record, service);
    Ok(record)
}

/// The notification for one event of a rollout.
pub fn notification(
    kind: EventType,
    service: &ChittyService,
    rollout: &ChittyDeployment,
    chitty_id: Option<String>,
    started_at: Option<&Time>,
    now: &Time,
) -> NotificationEvent {
    NotificationEvent {
        event: kind,
        chitty_id,
        name: service.name_any(),
        namespace: service.namespace().unwrap_or_else(|| "default".into()),
        version: rollout.spec.snapshot.version.clone(),
        environment: format!("{:?}", rollout.spec.snapshot.environment).to_lowercase(),
        url: Some(public_url(service)),
        duration_ms: started_at.map(|s| now.0.duration_since(s.0).as_millis().max(0) as u64),
        deployment: rollout.name_any(),
        timestamp: Some(now.0.to_string()),
        plan: (rollout.status.as_ref().and_then(|s| s.plan.as_ref())).map(|p| {
            crate::clients::notify::NotifiedPlan {
                decision: p.decision.clone(),
                confidence: p.confidence,
                reasons: p.reasons.clone(),
            }
        }),
    }
}

/// Sends one event to every webhook, concurrently and within a budget; failures are logged
/// and counted, never raised: a receiver that is down must not hold or fail anything.
pub async fn notify_all(
    notifiers: &[Arc<dyn NotificationSink>],
    event: &NotificationEvent,
) -> (usize, usize) {
    let key = event.idempotency_key();
    let kind = event.event;
    let sends = notifiers.iter().map(|n| {
        let key = &key;
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
