//! Before a pending rollout starts: the deploy advisor plans it, and the plan (for `strategy:
//! auto`, or with `guard: true`) and the approval policy decide whether it may start now, must
//! wait, or ends here. Re-planned on every look while pending, so a change of an input (a
//! dependency recovering, a window opening) is acted on; frozen once the rollout runs.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::advice;
use crate::advisor::{Decision, Plan, advise};
use crate::api::conditions::{Desired, events, reasons, types};
use crate::api::{
    APPROVED_BY, ApprovalPolicy, ApprovalStatus, ChittyDeployment, ChittyDeploymentStatus,
    ChittyService, Environment, REJECTED_BY, REJECTION_REASON, StrategyType,
};
use crate::controller::Context;
use crate::controller::events::publish;

/// What the plan and the approval let a pending rollout do.
pub enum Go {
    Start,
    /// Not yet: look again after `action`; the conditions say why.
    Hold {
        action: Action,
        conditions: Vec<Desired>,
    },
    /// The rollout ends `Failed` with this error and reason.
    End {
        reason: &'static str,
        error: String,
    },
}

/// Plans `rollout` and decides whether it may start; records the plan and the approval on status.
pub async fn plan_and_approve(
    ctx: &Context,
    service: &ChittyService,
    rollout: &ChittyDeployment,
    status: &mut ChittyDeploymentStatus,
    now: &Time,
) -> Go {
    let input = advice::gather(ctx, service, rollout, now.0);
    let thresholds = ctx.config.advisor.thresholds();
    let rules = advise(&input, &thresholds);
    let facts = advice::plan_inputs(&input);
    let about = serde_json::json!({
        "service": service.name_any(),
        "type": input.service_type.as_str(),
        "environment": input.environment.as_str(),
        "critical": input.critical,
        "version": rollout.spec.snapshot.version,
    });
    let uid = rollout.uid().unwrap_or_default();
    let (advice, model) =
        super::consult::consult(ctx, &uid, &facts, about, rules, &thresholds, now.0).await;
    let advice = crate::advisor::targets::fit(advice, rollout.spec.snapshot.target);
    let decision = advice.plan.decision();
    let acts = follows(
        rollout.spec.strategy,
        rollout.spec.snapshot.strategy.guard,
        decision,
    );
    let mut plan = advice::plan_status(facts, &advice, acts);
    plan.model = model;
    status.plan = Some(plan);
    if acts {
        match &advice.plan {
            Plan::Abort { reason } => {
                return Go::End {
                    reason: reasons::ADVISOR_ABORTED,
                    error: format!("the deploy advisor aborted this rollout: {reason}"),
                };
            }
            Plan::Wait { until, reason } => {
                let wait = until.duration_since(now.0).unsigned_abs();
                let message = format!(
                    "waiting until {}: {reason}; the advisor looks again then, or sooner when something changes",
                    crate::advisor::rules::minute(*until)
                );
                return Go::Hold {
                    action: Action::requeue(wait.max(Duration::from_secs(1))),
                    conditions: vec![Desired::new(types::READY, false, reasons::WAITING, message)],
                };
            }
            Plan::Immediate | Plan::Canary { .. } => {}
        }
    }
    approval(ctx, rollout, status, now, decision).await
}

/// Whether a rollout acts on a plan: always with `auto`; with an explicit strategy only when
/// `guard` is set and the plan would stop it (a wait or an abort), never to change its strategy.
pub fn follows(strategy: StrategyType, guard: bool, decision: Decision) -> bool {
    strategy == StrategyType::Auto
        || (guard && matches!(decision, Decision::Wait | Decision::Abort))
}

/// Approval annotations on a rollout that does not wait for approval (not required, or no
/// longer pending) change nothing; the first time they are seen this records so on status and in
/// a Warning Event, and returns true (the status must be written).
pub async fn note_stray_approval(
    ctx: &Context,
    rollout: &ChittyDeployment,
    status: &mut ChittyDeploymentStatus,
) -> bool {
    let annotations = rollout.annotations();
    let annotated = [APPROVED_BY, REJECTED_BY]
        .iter()
        .any(|k| annotations.get(*k).is_some_and(|v| !v.trim().is_empty()));
    let approval = status.approval.clone().unwrap_or_default();
    let waiting =
        status.phase == Some(crate::api::DeploymentPhase::Pending) && required(ctx, rollout);
    let decided = approval.approved_by.is_some() || approval.rejected_by.is_some();
    if !annotated || waiting || decided || approval.reason.is_some() {
        return false;
    }
    let reason = if approval.required {
        "approval annotations ignored: this rollout no longer waits for approval"
    } else {
        "approval annotations ignored: this rollout does not need approval"
    };
    status.approval = Some(ApprovalStatus {
        reason: Some(reason.to_owned()),
        ..approval
    });
    publish(
        ctx,
        rollout,
        EventType::Warning,
        events::APPROVAL_IGNORED,
        reason.into(),
    )
    .await;
    true
}

/// The `Planned` condition, from the plan on status (kept on every later look, as a condition
/// not in the desired list is dropped).
pub fn planned_condition(status: &ChittyDeploymentStatus) -> Option<Desired> {
    let plan = status.plan.as_ref()?;
    let mut message = format!(
        "{} (confidence {:.2}): {}",
        plan.decision,
        plan.confidence,
        plan.reasons.join("; ")
    );
    if !plan.followed {
        message.push_str(" [advice only: the service's strategy decides]");
    }
    Some(Desired::new(
        types::PLANNED,
        true,
        plan.decision.clone(),
        message,
    ))
}

/// Whether a person must approve the rollout: the service says so, or says nothing and it runs
/// in production under `--require-approval-in-production`.
fn required(ctx: &Context, rollout: &ChittyDeployment) -> bool {
    let strategy = &rollout.spec.snapshot.strategy;
    match strategy.approval {
        Some(ApprovalPolicy::Required) => true,
        Some(ApprovalPolicy::None) => false,
        None => {
            ctx.config.advisor.require_approval_in_production
                && rollout.spec.snapshot.environment == Environment::Production
        }
    }
}

async fn approval(
    ctx: &Context,
    rollout: &ChittyDeployment,
    status: &mut ChittyDeploymentStatus,
    now: &Time,
    decision: Decision,
) -> Go {
    let annotations = rollout.annotations();
    let nonempty = |key: &str| {
        annotations
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let (approved_by, rejected_by) = (nonempty(APPROVED_BY), nonempty(REJECTED_BY));
    let previous = status.approval.clone().unwrap_or_default();
    if !required(ctx, rollout) {
        // Stray annotations are said by `note_stray_approval`, in whatever phase.
        return Go::Start;
    }
    let decided_at = previous.decided_at.clone().unwrap_or_else(|| now.clone());
    if let Some(who) = rejected_by {
        let why = nonempty(REJECTION_REASON).unwrap_or("no reason given");
        status.approval = Some(ApprovalStatus {
            required: true,
            rejected_by: Some(who.to_owned()),
            reason: Some(why.to_owned()),
            decided_at: Some(decided_at),
            ..ApprovalStatus::default()
        });
        return Go::End {
            reason: reasons::REJECTED,
            error: format!("rejected by {who}: {why}"),
        };
    }
    if let Some(who) = approved_by {
        if previous.approved_by.as_deref() != Some(who) {
            let note = format!("approved by {who} (planned as {decision})");
            publish(ctx, rollout, EventType::Normal, events::APPROVED, note).await;
        }
        status.approval = Some(ApprovalStatus {
            required: true,
            approved_by: Some(who.to_owned()),
            decided_at: Some(decided_at),
            ..ApprovalStatus::default()
        });
        return Go::Start;
    }
    status.approval = Some(ApprovalStatus {
        required: true,
        ..ApprovalStatus::default()
    });
    let name = rollout.name_any();
    let message = format!(
        "planned as {decision}; waiting for approval: kubectl annotate chittydeployment {name} {APPROVED_BY}=<your name> (or {REJECTED_BY}=<your name> {REJECTION_REASON}=<why>)"
    );
    Go::Hold {
        // The annotation is a change of the rollout, which wakes it.
        action: Action::await_change(),
        conditions: vec![Desired::new(
            types::READY,
            false,
            reasons::AWAITING_APPROVAL,
            message,
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_every_plan_and_a_guard_only_stops() {
        for decision in [
            Decision::Immediate,
            Decision::Canary,
            Decision::Wait,
            Decision::Abort,
        ] {
            assert!(follows(StrategyType::Auto, false, decision));
            assert!(
                !follows(StrategyType::Immediate, false, decision),
                "advice only"
            );
        }
        assert!(follows(StrategyType::Canary, true, Decision::Abort));
        assert!(follows(StrategyType::Immediate, true, Decision::Wait));
        assert!(!follows(StrategyType::Immediate, true, Decision::Canary));
        assert!(!follows(StrategyType::Canary, true, Decision::Immediate));
    }
}
