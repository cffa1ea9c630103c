//! The ChittyRegistry record follows the serving revision: after a rollback it names the restored
//! version again, and it carries the service's health. The rollout's register step writes the
//! record while a rollout runs; between rollouts this side converges it, comparing what it wants
//! with what it last wrote (`status.registryRecord`), so a steady service makes no call at all.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::ResourceExt;

use crate::api::conditions::{self, Desired, reasons, types};

use crate::api::{ChittyDeployment, ChittyService, HealthState, RegistryRecordStatus};
use crate::controller::Context;
use crate::integrations::Binding;
use crate::pipeline::rollouts;

/// How soon a record the registry refused is tried again.
const RETRY: Duration = Duration::from_secs(30);

pub struct Synced {
    /// What `status.registryRecord` should say now.
    pub record: Option<RegistryRecordStatus>,
    /// When to try again after the registry refused the record.
    pub retry: Option<Duration>,
    /// Why nothing was written: the record under the ChittyID is another service's.
    pub mismatch: Option<String>,
}

/// The record the registry should hold now, or `None` while nothing decides it here: no
/// registry or ChittyID, nothing serving yet, or a rollout in flight (its register step owns it).
pub fn wanted(
    service: &ChittyService,
    owned: &[ChittyDeployment],
    health: HealthState,
) -> Option<RegistryRecordStatus> {
    service.status.as_ref()?.chitty_id.as_ref()?;
    let serving = rollouts::serving(owned)?;
    let newest = rollouts::newest(owned)?;
    if rollouts::is_in_flight(newest) {
        return None;
    }
    Some(RegistryRecordStatus {
        version: serving.spec.snapshot.version.clone(),
        deployment: serving.name_any(),
        health: health.as_str().to_string(),
        synced_after: newest.name_any(),
    })
}

pub async fn sync(
    ctx: &Context,
    service: &ChittyService,
    owned: &[ChittyDeployment],
    health: HealthState,
) -> Synced {
    let previous = service
        .status
        .as_ref()
        .and_then(|s| s.registry_record.clone());
    let keep = Synced {
        record: previous.clone(),
        retry: None,
        mismatch: None,
    };
    let Some(registry) = ctx.integrations.registry.clone() else {
        return keep;
    };
    let Some(want) = wanted(service, owned, health) else {
        return keep;
    };
    if previous.as_ref() == Some(&want) {
        return keep;
    }
    let id = service
        .status
        .as_ref()
        .and_then(|s| s.chitty_id.clone())
        .unwrap_or_default();
    let mut record = match crate::integrations::registry_record(
        service,
        &id,
        &want.version,
        want.deployment.clone(),
    ) {
        Ok(record) => record,
        Err(error) => {
            tracing::warn!(service = %service.name_any(), %error, "no registry record can be made");
            return keep;
        }
    };
    record.health = Some(want.health.clone());
    let active = matches!(health, HealthState::Healthy | HealthState::Unknown);
    record.status = Some(if active { "active" } else { "degraded" }.into());
    let registered =
        match crate::integrations::binding_of(&*registry, &ctx.integrations.bindings, service, &id)
            .await
        {
            Ok(Binding::Theirs(words)) => {
                tracing::warn!(service = %service.name_any(), chitty_id = %id, "{words}");
                return Synced {
                    mismatch: Some(words),
                    ..keep
                };
            }
            Ok(Binding::Free | Binding::Ours) => registry.register(&record).await,
            Err(error) => Err(error),
        };
    match registered {
        Ok(_) => {
            ctx.integrations.bindings.remember(&id, service);
            tracing::info!(service = %service.name_any(), version = %want.version, deployment = %want.deployment, "registry record follows the serving revision");
            Synced {
                record: Some(want),
                retry: None,
                mismatch: None,
            }
        }
        Err(error) => {
            tracing::warn!(service = %service.name_any(), %error, "could not update ChittyRegistry; retrying");
            Synced {
                record: previous,
                retry: Some(RETRY),
                mismatch: None,
            }
        }
    }
}

/// Says on the service's conditions that its ChittyID's record is another service's.
pub fn mark_mismatch(
    conditions: &mut Vec<Condition>,
    words: &str,
    generation: Option<i64>,
    now: &Time,
) {
    let desired = Desired::new(types::REGISTERED, false, reasons::IDENTITY_MISMATCH, words);
    let merged = conditions::merge(conditions, &[desired], generation, now);
    conditions.retain(|c| c.type_ != types::REGISTERED);
    conditions.extend(merged);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ChittyDeploymentStatus, DeploymentPhase};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn service() -> ChittyService {
        let mut s: ChittyService = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"type": "worker", "version": "2.0.0", "environment": "staging",
                     "source": {"image": "r/web:2"}}}))
        .unwrap();
        s.status = Some(crate::api::ChittyServiceStatus {
            chitty_id: Some("01-C-SVC-0001-T-26-0-0".into()),
            ..Default::default()
        });
        s
    }

    fn rollout(name: &str, version: &str, minute: u8, phase: DeploymentPhase) -> ChittyDeployment {
        let mut spec = service().spec;
        spec.version = version.into();
        let mut d: ChittyDeployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"serviceRef": {"name": "web"}, "revision": name, "trigger": "SpecChange",
                     "strategy": "immediate", "snapshot": spec}}))
        .unwrap();
        d.metadata.creation_timestamp = Some(Time(
            format!("2026-01-01T00:{minute:02}:00Z").parse().unwrap(),
        ));
        d.status = Some(ChittyDeploymentStatus {
            phase: Some(phase),
            ..Default::default()
        });
        d
    }

    #[test]
    fn after_a_rollback_the_record_names_the_restored_version() {
        let owned = [
            rollout("r1", "1.0.0", 1, DeploymentPhase::Succeeded),
            rollout("r2", "2.0.0", 2, DeploymentPhase::RolledBack),
        ];
        let want = wanted(&service(), &owned, HealthState::Down).unwrap();
        assert_eq!(
            (
                want.version.as_str(),
                want.deployment.as_str(),
                want.health.as_str()
            ),
            ("1.0.0", "r1", "down")
        );
        assert_eq!(
            want.synced_after, "r2",
            "written after the failed rollout registered 2.0.0"
        );
    }

    #[test]
    fn a_rollout_in_flight_owns_the_record() {
        let owned = [
            rollout("r1", "1.0.0", 1, DeploymentPhase::Succeeded),
            rollout("r2", "2.0.0", 2, DeploymentPhase::Running),
        ];
        assert!(wanted(&service(), &owned, HealthState::Healthy).is_none());
    }

    #[test]
    fn nothing_is_registered_without_an_identity() {
        let mut svc = service();
        svc.status = None;
        let owned = [rollout("r1", "1.0.0", 1, DeploymentPhase::Succeeded)];
        assert!(wanted(&svc, &owned, HealthState::Healthy).is_none());
    }
}
