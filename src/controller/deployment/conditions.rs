//! A rollout's kstatus conditions, from its phase: Ready when it succeeded, Reconciling while it
//! runs, Stalled when it failed for good.

use crate::api::conditions::{Desired, reasons, types};
use crate::api::{ChittyDeploymentStatus, DeploymentPhase};

pub fn desired(status: &ChittyDeploymentStatus, gate: Vec<Desired>) -> Vec<Desired> {
    let phase = status.phase.unwrap_or(DeploymentPhase::Pending);
    let step = status.current_step.clone().unwrap_or_default();
    let error = status.error.clone().unwrap_or_default();
    let mut out = match phase {
        DeploymentPhase::Pending => {
            // The plan or the approval may say why it waits (`Waiting`, `AwaitingApproval`).
            let (reason, why) = match gate.iter().find(|g| g.type_ == types::READY) {
                Some(ready) => (ready.reason.clone(), ready.message.clone()),
                None => (
                    reasons::ROLLOUT_PENDING.to_owned(),
                    gate.iter()
                        .find(|g| !g.status)
                        .map(|g| g.message.clone())
                        .unwrap_or_else(|| "waiting to start".into()),
                ),
            };
            vec![
                Desired::new(types::READY, false, reason.clone(), why.clone()),
                Desired::new(types::RECONCILING, true, reason, why),
            ]
        }
        DeploymentPhase::Running => {
            let msg = format!("step {step} is running ({}% done)", status.progress);
            vec![
                Desired::new(
                    types::READY,
                    false,
                    reasons::ROLLOUT_IN_PROGRESS,
                    msg.clone(),
                ),
                Desired::new(types::RECONCILING, true, reasons::ROLLOUT_IN_PROGRESS, msg),
            ]
        }
        DeploymentPhase::Succeeded => vec![Desired::new(
            types::READY,
            true,
            reasons::ROLLOUT_SUCCEEDED,
            "rollout succeeded",
        )],
        DeploymentPhase::Failed => {
            // Ended before it started (the advisor aborted it, a person rejected it): that reason.
            let reason = (gate.iter())
                .find(|g| g.type_ == types::STALLED)
                .map_or(reasons::ROLLOUT_FAILED.to_owned(), |g| g.reason.clone());
            vec![
                Desired::new(types::READY, false, reason.clone(), error.clone()),
                Desired::new(types::STALLED, true, reason, error),
            ]
        }
        DeploymentPhase::RolledBack => {
            let to = status.rolled_back_to.clone().unwrap_or_default();
            let msg = format!("{error}; rolled back to {to}");
            vec![
                Desired::new(types::READY, false, reasons::ROLLED_BACK, msg.clone()),
                Desired::new(types::STALLED, true, reasons::ROLLED_BACK, msg),
            ]
        }
        DeploymentPhase::Aborted => vec![
            Desired::new(types::READY, false, reasons::CANARY_ABORTED, error.clone()),
            Desired::new(types::STALLED, true, reasons::CANARY_ABORTED, error),
        ],
        DeploymentPhase::Superseded => {
            vec![Desired::new(
                types::READY,
                false,
                reasons::SUPERSEDED,
                "a newer revision of the service replaced this rollout",
            )]
        }
    };
    // The gate's conditions join, unless the phase already decided a condition of that type.
    for g in gate {
        if !out.iter().any(|o| o.type_ == g.type_) {
            out.push(g);
        }
    }
    // A stalled rollout is not making progress (kstatus): Ready tells why, Reconciling goes.
    if let Some(stalled) = out
        .iter()
        .find(|o| o.type_ == types::STALLED && o.status)
        .cloned()
    {
        out.retain(|o| o.type_ != types::RECONCILING);
        if let Some(ready) = out
            .iter_mut()
            .find(|o| o.type_ == types::READY && !o.status)
        {
            ready.reason = stalled.reason;
            ready.message = stalled.message;
        }
    }
    out
}
