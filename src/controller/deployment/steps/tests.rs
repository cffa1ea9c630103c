//! The steps that talk to ChittyOS, run against the in-memory fakes of `clients::fake`, with no
//! cluster: a context whose Kubernetes client refuses every request proves they make none.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{StepInput, integrations};
use crate::api::{ChittyDeployment, ChittyDeploymentStatus, ChittyService};
use crate::clients::fake::{FakeIdentityAuthority, FakeNotificationSink, FakeRegistry};
use crate::clients::{IdentityError, RegistryError};
use crate::controller::{Caches, Context};
use crate::integrations::Integrations;
use crate::pipeline::machine::Outcome;

/// A Kubernetes client with no cluster behind it: any request a step makes fails the test.
fn offline_client() -> kube::Client {
    let refuse = tower::service_fn(|req: http::Request<kube::client::Body>| async move {
        Err::<http::Response<kube::client::Body>, _>(std::io::Error::other(format!(
            "a unit test made a Kubernetes request: {} {}",
            req.method(),
            req.uri()
        )))
    });
    kube::Client::new(refuse, "default")
}

async fn context(integrations: Integrations) -> Context {
    let client = offline_client();
    let recorder = crate::controller::events::Publisher::recorder(client.clone());
    Context::new(
        client,
        crate::config::OperatorConfig::defaults(),
        crate::metrics::Metrics::register(&mut prometheus_client::registry::Registry::default()),
        Caches::empty(),
        integrations,
        Default::default(),
        crate::controller::events::Publisher::Direct(recorder),
    )
}

fn service() -> ChittyService {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "metadata": {"name": "chittycharge", "namespace": "billing", "uid": "0b9c-uid"},
        "spec": {"type": "worker", "version": "1.2.0", "environment": "production",
                 "source": {"image": "registry.local/charge:1.2.0"}, "capabilities": ["payments"]}
    }))
    .unwrap()
}

fn rollout(svc: &ChittyService) -> ChittyDeployment {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
        "metadata": {"name": "chittycharge-g1-abcd", "namespace": "billing"},
        "spec": {"serviceRef": {"name": "chittycharge"}, "revision": "abcd", "trigger": "Initial",
                 "strategy": "immediate", "snapshot": svc.spec}
    }))
    .unwrap()
}

fn now() -> Time {
    Time("2026-11-30T00:00:00Z".parse().unwrap())
}

/// Runs one step function over a fresh input and hands back what it reported.
macro_rules! run_step {
    ($ctx:expr, $svc:expr, $rollout:expr, $status:expr, $chitty_id:expr, $step:path) => {{
        let now = now();
        let mut input = StepInput {
            ctx: $ctx,
            service: $svc,
            rollout: $rollout,
            status: $status,
            now: &now,
            chitty_id: $chitty_id,
            conditions: vec![],
            retry_after: None,
            minted: None,
        };
        let outcome = $step(&mut input)
            .await
            .expect("the step makes no failing call");
        (outcome, input.minted, input.conditions, input.retry_after)
    }};
}

#[tokio::test]
async fn identity_mints_once_per_service_and_leaves_recording_to_the_runner() {
    let authority = Arc::new(FakeIdentityAuthority::new());
    let ctx = context(Integrations {
        identity: Some(authority.clone()),
        ..Default::default()
    })
    .await;
    let (svc, mut status) = (service(), ChittyDeploymentStatus::default());
    let cd = rollout(&svc);
    let (outcome, minted, conditions, _) =
        run_step!(&ctx, &svc, &cd, &mut status, None, integrations::identity);
    let id = minted.expect("a new ID to record");
    assert!(
        matches!(outcome, Outcome::Done(ref m) if m.contains(&id)),
        "{outcome:?}"
    );
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "IdentityReady" && c.status)
    );

    // The same service again (a crash before the ID was recorded): the same ID comes back.
    let (_, again, _, _) = run_step!(&ctx, &svc, &cd, &mut status, None, integrations::identity);
    assert_eq!(again.as_deref(), Some(id.as_str()));
    assert_eq!(authority.minted(), 1);

    // With the ID on status, nothing is minted.
    let (outcome, minted, _, _) = run_step!(
        &ctx,
        &svc,
        &cd,
        &mut status,
        Some(id.clone()),
        integrations::identity
    );
    assert!(minted.is_none() && matches!(outcome, Outcome::Done(_)));
    assert_eq!(authority.calls(), 2);
}

#[tokio::test]
async fn identity_waits_with_the_reason_when_the_authority_refuses() {
    let authority = Arc::new(FakeIdentityAuthority::new());
    authority.fail_next(IdentityError::RateLimited {
        retry_after: Some(std::time::Duration::from_secs(7)),
    });
    let ctx = context(Integrations {
        identity: Some(authority.clone()),
        ..Default::default()
    })
    .await;
    let (svc, mut status) = (service(), ChittyDeploymentStatus::default());
    let cd = rollout(&svc);
    let (outcome, minted, conditions, retry) =
        run_step!(&ctx, &svc, &cd, &mut status, None, integrations::identity);
    assert!(matches!(outcome, Outcome::Waiting(_)), "{outcome:?}");
    assert!(minted.is_none());
    let c = conditions
        .iter()
        .find(|c| c.type_ == "IdentityReady")
        .unwrap();
    assert!(!c.status && c.reason == "RateLimited", "{c:?}");
    assert_eq!(retry, Some(std::time::Duration::from_secs(7)));
}

#[tokio::test]
async fn register_keeps_the_record_current_and_waits_on_a_refusal() {
    let registry = Arc::new(FakeRegistry::new());
    let ctx = context(Integrations {
        registry: Some(registry.clone()),
        ..Default::default()
    })
    .await;
    let (svc, mut status) = (service(), ChittyDeploymentStatus::default());
    let cd = rollout(&svc);
    let id = FakeIdentityAuthority::new();
    let id = {
        use crate::clients::IdentityAuthority;
        id.mint(&crate::clients::MintRequest::service(), "k")
            .await
            .unwrap()
            .id
            .to_string()
    };
    let (outcome, _, conditions, _) = run_step!(
        &ctx,
        &svc,
        &cd,
        &mut status,
        Some(id.clone()),
        integrations::register
    );
    assert!(matches!(outcome, Outcome::Done(_)), "{outcome:?}");
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Registered" && c.status)
    );
    let stored = registry.record(&id).expect("the record is stored");
    assert_eq!(stored.record.version, "1.2.0");

    registry.fail_next(RegistryError::ReadOnly);
    let (outcome, _, conditions, _) = run_step!(
        &ctx,
        &svc,
        &cd,
        &mut status,
        Some(id),
        integrations::register
    );
    assert!(matches!(outcome, Outcome::Waiting(_)), "{outcome:?}");
    let c = conditions.iter().find(|c| c.type_ == "Registered").unwrap();
    assert_eq!((c.status, c.reason.as_str()), (false, "RegistryReadOnly"));
}

#[tokio::test]
async fn notify_reaches_every_receiver_and_a_failing_one_holds_nothing() {
    let (good, bad) = (
        Arc::new(FakeNotificationSink::new("ops")),
        Arc::new(FakeNotificationSink::new("down")),
    );
    bad.fail_next(crate::clients::NotifyError::Unavailable(
        crate::clients::CallError::Timeout(std::time::Duration::from_secs(1)),
    ));
    let ctx = context(Integrations {
        notifiers: vec![good.clone(), bad.clone()],
        ..Default::default()
    })
    .await;
    let (svc, mut status) = (service(), ChittyDeploymentStatus::default());
    let cd = rollout(&svc);
    let (outcome, _, _, _) = run_step!(&ctx, &svc, &cd, &mut status, None, integrations::notify);
    assert!(
        matches!(outcome, Outcome::Done(ref m) if m == "notified 1 of 2 receivers"),
        "{outcome:?}"
    );
    let received = good.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].1.deployment, "chittycharge-g1-abcd");
}
