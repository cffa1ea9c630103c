//! The deploy advisor against the local control plane: plans on the rollouts, acted on with
//! `strategy: auto`, waits that end by themselves, approval by annotation, and the optional model
//! (chitty-sim's stand-in) that can only add caution.

mod common;

use std::time::Duration;

use chitty_operator::api::conditions::{self, types};
use chitty_operator::api::{ChittyDeployment, DeploymentPhase, HealthState, PlanStatus};
use chitty_operator::clients::SecretToken;
use chitty_operator::sim::{self, SimConfig};
use common::TestEnv;
use common::health_server::HealthServer;
use common::manifest::ServiceManifest;
use common::sim_admin::{script_advisor, set_fault, set_health};
use k8s_openapi::api::core::v1::Event;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

const TOKEN: &str = "sim-token";

fn phase(d: &ChittyDeployment) -> Option<DeploymentPhase> {
    d.status.as_ref()?.phase
}

fn plan(d: &ChittyDeployment) -> PlanStatus {
    d.status
        .clone()
        .unwrap()
        .plan
        .expect("a plan on the rollout")
}

/// The reason of the rollout's `Ready` condition.
fn ready_reason(d: &ChittyDeployment) -> Option<String> {
    let status = d.status.as_ref()?;
    conditions::find(&status.conditions, types::READY).map(|c| c.reason.clone())
}

fn succeeded_at(version: &'static str) -> impl Fn(&ChittyDeployment) -> bool {
    move |d| d.spec.snapshot.version == version && phase(d) == Some(DeploymentPhase::Succeeded)
}

/// `ledger`, and `billing` (auto, four replicas) that depends on it.
fn pair(health: &str) -> (ServiceManifest, ServiceManifest) {
    let ledger = common::service("ledger").health(health);
    let billing = common::service("billing")
        .replicas(4)
        .depends_on(&["ledger"])
        .strategy(json!({"type": "auto"}))
        .health(health);
    (ledger, billing)
}

async fn annotate(env: &TestEnv, rollout: &str, annotations: Value) {
    let patch = json!({"metadata": {"annotations": annotations}});
    env.rollouts
        .patch(rollout, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_auto_service_whose_dependency_was_just_rolled_out_runs_as_a_canary() {
    let env = TestEnv::with("advisor-canary", |c, _| {
        c.advisor.canary_monitor = Duration::from_secs(2);
    })
    .await;
    let health = HealthServer::start().await;
    let (ledger, billing) = pair(&health.url);
    env.apply(&ledger).await;
    env.wait_ready("ledger").await;
    env.apply(&billing).await;
    env.wait_ready("billing").await;
    let first = env
        .current_rollout(
            "billing",
            "the first rollout succeeded",
            succeeded_at("1.0.0"),
        )
        .await;
    let first_plan = plan(&first);
    assert_eq!(
        (first_plan.decision.as_str(), first_plan.followed),
        ("Immediate", true)
    );
    assert!(
        first_plan.reasons[0].starts_with("the first rollout"),
        "{:?}",
        first_plan.reasons
    );

    // ledger changes; billing's next rollout comes within the advisor's 30 minutes.
    env.apply(&ledger.clone().version("1.1.0")).await;
    env.wait_ready_at("ledger", "1.1.0").await;
    env.apply(&billing.clone().version("1.0.1")).await;
    common::eventually(
        "billing's canary Deployment runs beside the stable one",
        || async { env.deployments.get_opt("billing-canary").await.unwrap() },
        |d| d.as_ref().and_then(|d| d.spec.as_ref()?.replicas) == Some(1),
    )
    .await;
    let done = env
        .current_rollout(
            "billing",
            "the canary rollout succeeded",
            succeeded_at("1.0.1"),
        )
        .await;
    let status = done.status.clone().unwrap();
    let canary_plan = plan(&done);
    assert_eq!(canary_plan.decision, "Canary");
    assert_eq!(canary_plan.canary_percent, Some(10));
    assert_eq!(canary_plan.confidence, 0.85);
    assert!(
        canary_plan.reasons[0].starts_with("dependency ledger was rolled out at"),
        "{:?}",
        canary_plan.reasons
    );
    assert_eq!(canary_plan.inputs.change, "patch");
    assert_eq!(status.canary.unwrap().percent, 10);
    let planned = conditions::find(&status.conditions, types::PLANNED).unwrap();
    assert_eq!(
        (planned.status.as_str(), planned.reason.as_str()),
        ("True", "Canary")
    );
    env.teardown().await;
}

async fn health_of(env: &TestEnv, name: &str) -> Option<HealthState> {
    let svc = env.services.get(name).await.ok()?;
    Some(svc.status?.health?.status)
}

#[tokio::test]
async fn a_dependency_that_is_down_holds_the_next_rollout_until_it_recovers() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let env = TestEnv::with("advisor-wait", |c, _| {
        c.advisor.recheck = Duration::from_secs(2);
        c.advisor.canary_monitor = Duration::from_secs(2);
    })
    .await;
    let probe = |endpoint: &str| {
        json!({"url": format!("{}/svc/{endpoint}", sim.base_url()),
               "interval": "1s", "timeout": "1s", "failureThreshold": 1})
    };
    let (ledger, billing) = pair("http://unused.invalid");
    let (ledger, billing) = (
        ledger.health_spec(probe("ledger-dep")),
        billing.health_spec(probe("billing-dep")),
    );
    env.apply(&ledger).await;
    env.wait_ready("ledger").await;
    env.apply(&billing).await;
    env.wait_ready("billing").await;

    set_health(&sim, "ledger-dep", "down").await;
    common::eventually(
        "ledger is down",
        || health_of(&env, "ledger"),
        |h| *h == Some(HealthState::Down),
    )
    .await;
    env.apply(&billing.clone().version("1.0.1")).await;
    let waiting = env
        .current_rollout("billing", "the new rollout waits", |d| {
            d.spec.snapshot.version == "1.0.1" && ready_reason(d).as_deref() == Some("Waiting")
        })
        .await;
    assert_eq!(phase(&waiting), Some(DeploymentPhase::Pending));
    let wait_plan = plan(&waiting);
    assert_eq!(wait_plan.decision, "Wait");
    assert!(wait_plan.wait_until.is_some());
    assert_eq!(
        wait_plan.reasons,
        ["dependency ledger is down: the rollout waits until it recovers"]
    );

    // ledger recovers; nobody touches billing, and it proceeds by itself.
    set_health(&sim, "ledger-dep", "ok").await;
    let done = env
        .current_rollout("billing", "the rollout proceeded", succeeded_at("1.0.1"))
        .await;
    assert_ne!(plan(&done).decision, "Wait");
    env.teardown().await;
}

#[tokio::test]
async fn an_approval_required_production_rollout_waits_for_an_approver_and_records_them() {
    let env = TestEnv::new("advisor-approval").await;
    let health = HealthServer::start().await;
    let vault = common::service("vault")
        .environment("production")
        .strategy(json!({"type": "immediate", "approval": "required"}))
        .health(&health.url);
    env.apply(&vault).await;
    let waiting = env
        .current_rollout("vault", "the rollout awaits approval", |d| {
            ready_reason(d).as_deref() == Some("AwaitingApproval")
        })
        .await;
    let ready = conditions::find(&waiting.status.clone().unwrap().conditions, types::READY)
        .cloned()
        .unwrap();
    assert!(
        ready.message.contains("chitty.cc/approved-by="),
        "{}",
        ready.message
    );
    assert!(
        env.deployments.get_opt("vault").await.unwrap().is_none(),
        "nothing deployed before approval"
    );
    let advice = plan(&waiting);
    assert!(
        !advice.followed,
        "an explicit strategy records the plan as advice"
    );

    annotate(
        &env,
        &waiting.name_any(),
        json!({"chitty.cc/approved-by": "alice"}),
    )
    .await;
    env.wait_ready("vault").await;
    let done = env
        .current_rollout(
            "vault",
            "the approved rollout succeeded",
            succeeded_at("1.0.0"),
        )
        .await;
    let approval = done.status.unwrap().approval.unwrap();
    assert_eq!(
        (approval.required, approval.approved_by.as_deref()),
        (true, Some("alice"))
    );
    assert!(approval.decided_at.is_some());
    let events: Api<Event> = env.api();
    let approved = common::eventually(
        "an Approved Event names the approver",
        || async {
            (events
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .into_iter())
            .filter(|e| e.reason.as_deref() == Some("Approved"))
            .filter_map(|e| e.message)
            .collect::<Vec<_>>()
        },
        |m| !m.is_empty(),
    )
    .await;
    assert!(approved[0].starts_with("approved by alice"), "{approved:?}");

    // The next version is rejected: it ends with the rejector's reason, 1.0.0 keeps serving.
    env.apply(&vault.clone().version("1.1.0")).await;
    let pending = env
        .current_rollout("vault", "1.1.0 awaits approval", |d| {
            d.spec.snapshot.version == "1.1.0"
                && ready_reason(d).as_deref() == Some("AwaitingApproval")
        })
        .await;
    annotate(
        &env,
        &pending.name_any(),
        json!({"chitty.cc/rejected-by": "bob", "chitty.cc/rejection-reason": "change freeze"}),
    )
    .await;
    let rejected = common::wait_for(&env.rollouts, &pending.name_any(), "rejected", |d| {
        phase(d) == Some(DeploymentPhase::Failed)
    })
    .await;
    assert_eq!(ready_reason(&rejected).as_deref(), Some("Rejected"));
    assert_eq!(
        rejected.status.unwrap().error.as_deref(),
        Some("rejected by bob: change freeze")
    );
    assert_eq!(
        env.image_of("vault").await.as_deref(),
        Some("registry.local/vault:1.0.0")
    );
    env.teardown().await;
}

#[tokio::test]
async fn the_model_can_only_add_caution_and_its_timeout_is_only_a_note() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let url = sim.base_url();
    let env = TestEnv::with("advisor-model", move |c, _| {
        c.advisor.canary_monitor = Duration::from_secs(2);
        c.advisor_model.url = Some(url.clone());
        c.advisor_model.token = Some(SecretToken::new(TOKEN));
        c.advisor_model.timeout = Duration::from_millis(500);
    })
    .await;
    let health = HealthServer::start().await;
    let (ledger, billing) = pair(&health.url);
    env.apply(&ledger).await;
    env.wait_ready("ledger").await;
    env.apply(&billing).await;
    env.wait_ready("billing").await;
    env.apply(&ledger.clone().version("1.1.0")).await;
    env.wait_ready_at("ledger", "1.1.0").await;

    // The rules say canary; the stand-in says immediate: it stays a canary.
    let answer = json!({"decision": "immediate", "reason": "the change is small"}).to_string();
    script_advisor(&sim, &answer).await;
    env.apply(&billing.clone().version("1.0.1")).await;
    let done = env
        .current_rollout(
            "billing",
            "the canary rollout succeeded",
            succeeded_at("1.0.1"),
        )
        .await;
    let canary = plan(&done);
    assert_eq!(canary.decision, "Canary");
    let note = canary.model.expect("the model's answer is recorded");
    assert_eq!(note.decision.as_deref(), Some("Immediate"));
    assert_eq!(note.reason.as_deref(), Some("the change is small"));
    assert!(note.note.contains("not more cautious"), "{}", note.note);

    // The stand-in times out: the plan is the rules' alone, with a note.
    let slow = json!({"mode": "latency", "latencyMs": 3000});
    set_fault(&sim, "advisor", slow).await;
    env.apply(&billing.clone().version("1.0.2")).await;
    let done = env
        .current_rollout(
            "billing",
            "the next rollout succeeded",
            succeeded_at("1.0.2"),
        )
        .await;
    let timed_out = plan(&done);
    assert_eq!(timed_out.decision, "Canary");
    let note = timed_out.model.unwrap();
    assert_eq!(note.decision, None);
    assert!(
        note.note.starts_with("the advisor model was not used ("),
        "{}",
        note.note
    );
    env.teardown().await;
}

#[tokio::test]
async fn a_window_in_no_time_zone_stalls_the_service_and_a_stray_approval_is_said() {
    let env = TestEnv::new("advisor-bad-input").await;
    let health = HealthServer::start().await;
    // A production service whose window names a time zone that does not exist: no rollout, and
    // the service says why.
    let nowhere = common::service("nowhere")
        .environment("production")
        .strategy(json!({"type": "auto", "windows": [
            {"days": "Mon-Fri", "start": "09:00", "end": "17:00", "timeZone": "Mars/Olympus"}]}))
        .health(&health.url);
    env.apply(&nowhere).await;
    let stalled = env.wait_stalled("nowhere").await;
    let condition = conditions::find(&stalled.status.unwrap().conditions, types::STALLED)
        .cloned()
        .unwrap();
    assert_eq!(condition.reason, "InvalidSpec");
    assert!(
        condition
            .message
            .contains("strategy.windows[0]: time zone `Mars/Olympus` does not exist"),
        "{}",
        condition.message
    );

    // Approval annotations on a rollout that never needed approval change nothing, and say so.
    let plain = common::service("plain").health(&health.url);
    env.apply(&plain).await;
    env.wait_ready("plain").await;
    let done = env
        .current_rollout("plain", "the rollout succeeded", succeeded_at("1.0.0"))
        .await;
    annotate(
        &env,
        &done.name_any(),
        json!({"chitty.cc/approved-by": "mallory"}),
    )
    .await;
    let noted = common::wait_for(
        &env.rollouts,
        &done.name_any(),
        "the stray approval is said",
        |d| {
            d.status
                .as_ref()
                .and_then(|s| s.approval.as_ref())
                .is_some()
        },
    )
    .await;
    let approval = noted.status.unwrap().approval.unwrap();
    assert_eq!(
        approval.reason.as_deref(),
        Some("approval annotations ignored: this rollout does not need approval")
    );
    assert_eq!(approval.approved_by, None);
    env.teardown().await;
}
