//! A person steering a canary in flight with the `chitty.cc/canary` annotation on its
//! ChittyDeployment (`pause`, `resume`, `promote`, `abort`; `chitty.cc/canary-by` says who). A
//! patch, so kubectl RBAC and the audit log apply. Each new command is acted on once, recorded in
//! `status.canary.control` and told in an Event naming who.

use kube::ResourceExt;
use kube::runtime::events::EventType;

use super::StepInput;
use crate::api::{CANARY_CONTROL, CANARY_CONTROL_BY, CanaryStep};
use crate::controller::events::publish;

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Pause(String),
    Resume(String),
    Promote(String),
    Abort(String),
}

/// The command the annotations give, if it is one not yet acted on; pause and resume are applied
/// here, promote and abort are the caller's to carry out.
pub async fn take(input: &mut StepInput<'_>, steps: &[CanaryStep]) -> Option<Command> {
    let annotations = input.rollout.annotations();
    let word = annotations.get(CANARY_CONTROL)?.trim().to_ascii_lowercase();
    let who = (annotations.get(CANARY_CONTROL_BY))
        .map(|w| crate::names::truncated(w.trim(), 100))
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| format!("someone ({CANARY_CONTROL_BY} not set)"));
    let key = format!("{word} by {who}");
    let state = input.status.canary.get_or_insert_with(Default::default);
    if state.control.as_deref() == Some(key.as_str()) {
        return None;
    }
    state.control = Some(key);
    let at = (state.step.unwrap_or(1).max(1) - 1) as usize;
    let where_ = match steps.get(at) {
        Some(step) => format!(
            "step {} of {} (weight {}%)",
            at + 1,
            steps.len(),
            step.weight
        ),
        None => "before its first step".into(),
    };
    let (command, kind, reason, note) = match word.as_str() {
        "pause" => {
            super::canary::set_paused(input, true);
            let note = format!("canary paused by {who} at {where_}");
            (
                Some(Command::Pause(who)),
                EventType::Normal,
                "CanaryPaused",
                note,
            )
        }
        "resume" => {
            super::canary::set_paused(input, false);
            let note = format!("canary resumed by {who} at {where_}");
            (
                Some(Command::Resume(who)),
                EventType::Normal,
                "CanaryResumed",
                note,
            )
        }
        "promote" => {
            let note = format!("canary promoted by {who} at {where_}, skipping the steps left");
            (
                Some(Command::Promote(who)),
                EventType::Normal,
                "CanaryPromoted",
                note,
            )
        }
        "abort" => {
            let note = format!("canary aborted by {who} at {where_}; traffic returns to stable");
            (
                Some(Command::Abort(who)),
                EventType::Warning,
                "CanaryAborted",
                note,
            )
        }
        _ => {
            let note = format!(
                "{CANARY_CONTROL}: '{}' is not a command (pause, resume, promote or abort); ignored",
                crate::names::truncated(&word, 40)
            );
            (None, EventType::Warning, "CanaryCommandUnknown", note)
        }
    };
    publish(input.ctx, input.rollout, kind, reason, note).await;
    command
}
