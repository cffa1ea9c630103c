//! What the service's status says when the apiserver refuses an object this controller writes
//! (a rollout, a claim, an Ingress): `Ready=False` and `Stalled=True` with the apiserver's words,
//! within the reconcile that met the refusal. Everything else the status held stays as it was;
//! the refusal is retried with backoff, and the next clean reconcile writes the full status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;

use crate::Refusal;
use crate::api::conditions::{self, Desired, reasons, types};
use crate::api::{ChittyService, ChittyServiceStatus, ServicePhase};
use crate::controller::Context;

/// The stored status with the refusal said on it.
pub fn status(service: &ChittyService, why: &Refusal, now: &Time) -> ChittyServiceStatus {
    let previous = service.status.clone().unwrap_or_default();
    let message = with_remedy(&why.message);
    // The other conditions stay as their own sources last said; Ready and Stalled tell of the
    // refusal, and Reconciling goes: nothing progresses until someone acts.
    let refusal = [
        Desired::new(
            types::READY,
            false,
            reasons::OBJECT_REFUSED,
            message.clone(),
        ),
        Desired::new(types::STALLED, true, reasons::OBJECT_REFUSED, message),
    ];
    let mut conditions: Vec<_> = previous
        .conditions
        .iter()
        .filter(|c| ![types::READY, types::RECONCILING, types::STALLED].contains(&c.type_.as_str()))
        .cloned()
        .collect();
    conditions.extend(conditions::merge(
        &previous.conditions,
        &refusal,
        service.metadata.generation,
        now,
    ));
    ChittyServiceStatus {
        observed_generation: service.metadata.generation,
        phase: Some(match previous.phase {
            Some(ServicePhase::Ready) => ServicePhase::Degraded,
            Some(phase) => phase,
            None => ServicePhase::Failed,
        }),
        conditions,
        ..previous
    }
}

/// Turns the readiness just decided into a stall when objects another controller applies for the
/// service stand refused (see `controller::refusals`): a service whose Deployment the apiserver
/// refuses is not Ready, whatever its last rollout said.
pub fn stall_on(
    refused: &[Refusal],
    phase: ServicePhase,
    desired: &mut Vec<Desired>,
) -> ServicePhase {
    let Some(first) = refused.first() else {
        return phase;
    };
    let words: Vec<&str> = refused.iter().map(|r| r.message.as_str()).collect();
    let message = with_remedy(&words.join("; "));
    desired.retain(|d| ![types::READY, types::RECONCILING, types::STALLED].contains(&d.type_));
    desired.push(Desired::new(
        types::READY,
        false,
        first.reason,
        message.clone(),
    ));
    desired.push(Desired::new(types::STALLED, true, first.reason, message));
    match phase {
        ServicePhase::Ready => ServicePhase::Degraded,
        other => other,
    }
}

/// A refusal's words, and that the operator keeps trying. A name in use says its own remedy.
fn with_remedy(words: &str) -> String {
    if words.contains("the operator leaves it untouched") {
        return words.to_string();
    }
    format!("{words}; change the spec (or what refuses it) and the operator retries")
}

/// Writes the refusal onto the service's status (only if that changes it).
pub async fn report(ctx: &Context, service: &ChittyService, why: &Refusal) -> crate::Result<()> {
    let desired = status(service, why, &crate::controller::now());
    let api: Api<ChittyService> = ctx.api_for(service);
    ctx.write_status(&api, service, service.status.as_ref(), &desired)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> ChittyService {
        let mut s: ChittyService = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "web", "namespace": "team", "generation": 3},
            "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                     "source": {"image": "registry.local/x:1"}}
        }))
        .unwrap();
        s.metadata.generation = Some(3);
        s
    }

    fn now() -> Time {
        Time("2026-11-30T00:00:00Z".parse().unwrap())
    }

    fn refusal(message: &str) -> Refusal {
        Refusal {
            reason: reasons::OBJECT_REFUSED,
            message: message.into(),
        }
    }

    #[test]
    fn a_service_with_no_status_gets_ready_false_and_stalled_with_the_words() {
        let status = status(
            &service(),
            &refusal("the apiserver refused it: Service \"1web\" is invalid"),
            &now(),
        );
        assert_eq!(status.observed_generation, Some(3));
        let ready = conditions::find(&status.conditions, types::READY).unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", reasons::OBJECT_REFUSED)
        );
        assert!(
            ready.message.contains(r#"Service "1web" is invalid"#),
            "{}",
            ready.message
        );
        assert!(conditions::is_true(&status.conditions, types::STALLED));
        assert_eq!(status.phase, Some(ServicePhase::Failed));
    }

    #[test]
    fn the_same_refusal_again_is_the_same_status_so_no_write() {
        let mut svc = service();
        svc.status = Some(status(&svc, &refusal("refused"), &now()));
        let later = Time("2026-11-30T01:00:00Z".parse().unwrap());
        assert_eq!(Some(status(&svc, &refusal("refused"), &later)), svc.status);
    }

    #[test]
    fn refused_workload_objects_stall_a_ready_service() {
        let mut desired = vec![Desired::new(
            types::READY,
            true,
            reasons::ROLLOUT_SUCCEEDED,
            "ok",
        )];
        let phase = stall_on(
            &[refusal("the apiserver refused it: bad")],
            ServicePhase::Ready,
            &mut desired,
        );
        assert_eq!(phase, ServicePhase::Degraded);
        assert_eq!(desired.len(), 2);
        assert!(desired.iter().all(|d| d.reason == reasons::OBJECT_REFUSED));
        let mut untouched = vec![Desired::new(
            types::READY,
            true,
            reasons::ROLLOUT_SUCCEEDED,
            "ok",
        )];
        assert_eq!(
            stall_on(&[], ServicePhase::Ready, &mut untouched),
            ServicePhase::Ready
        );
        assert_eq!(untouched.len(), 1);
    }

    #[test]
    fn other_conditions_and_fields_carry_over() {
        let mut svc = service();
        let mut before = ChittyServiceStatus {
            chitty_id: Some("01-C-ABC".into()),
            phase: Some(ServicePhase::Ready),
            ..Default::default()
        };
        before.conditions = conditions::merge(
            &[],
            &[
                Desired::new(types::READY, true, reasons::ROLLOUT_SUCCEEDED, "ok"),
                Desired::new(types::ROUTED, true, reasons::ROUTES_HELD, "held"),
            ],
            Some(2),
            &now(),
        );
        svc.status = Some(before);
        let after = status(&svc, &refusal("refused"), &now());
        assert_eq!(after.chitty_id.as_deref(), Some("01-C-ABC"));
        assert_eq!(after.phase, Some(ServicePhase::Degraded));
        assert!(conditions::is_true(&after.conditions, types::ROUTED));
        assert!(!conditions::is_true(&after.conditions, types::READY));
    }
}
