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
            let why = gate
                .iter()
                .find(|g| !g.status)
                .map(|g| g.message.clone())
                .unwrap_or_else(|| "waiting to start".into());
            vec![
                Desired::new(types::READY, false, reasons::ROLLOUT_PENDING, why.clone()),
                Desired::new(types::RECONCILING, true, reasons::ROLLOUT_PENDING, why),
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
        DeploymentPhase::Failed => vec![
            Desired::new(types::READY, false, reasons::ROLLOUT_FAILED, error.clone()),
            Desired::new(types::STALLED, true, reasons::ROLLOUT_FAILED, error),
        ],
        DeploymentPhase::RolledBack => {
            let to = status.rolled_back_to.clone().unwrap_or_default();
            let msg = format!("{error}; rolled back to {to}");
            vec![
                Desired::new(types::READY, false, reasons::ROLLED_BACK, msg.clone()),
                Desired::new(types::STALLED, true, reasons::ROLLED_BACK, msg),
            ]
        }
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
