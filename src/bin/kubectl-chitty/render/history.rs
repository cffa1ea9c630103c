//! `history` as text: a line per rollout, with its plan and approval beneath.

use std::fmt::Write;

use super::{duration, one_line};
use crate::history::History;
use crate::style::Style;

pub fn render(h: &History, style: Style) -> String {
    let mut out = format!(
        "{}/{}: {} rollout{}\n",
        h.namespace,
        style.bold(&h.service),
        h.rollouts.len(),
        if h.rollouts.len() == 1 { "" } else { "s" }
    );
    for r in &h.rollouts {
        let phase = r.phase.as_deref().unwrap_or("Pending");
        let mut line = format!(
            "{} {}  v{}  {}  {}  {}",
            style.mark(r.health),
            r.name,
            r.version,
            r.trigger,
            r.strategy,
            style.paint(r.health, phase)
        );
        if let Some(ms) = r.duration_ms {
            let _ = write!(line, "  took {}", duration(ms));
        }
        if let Some(to) = &r.rolled_back_to {
            let _ = write!(line, "  -> {to}");
        }
        if let Some(error) = &r.error {
            let _ = write!(line, "  {}", one_line(error));
        }
        let _ = writeln!(out, "{line}");
        if let Some(plan) = &r.plan {
            let followed = if plan.followed {
                "followed"
            } else {
                "advice only"
            };
            let mut text = format!(
                "     plan: {} ({followed}, confidence {:.2})",
                plan.decision, plan.confidence
            );
            if !plan.reasons.is_empty() {
                let _ = write!(text, ": {}", one_line(&plan.reasons.join("; ")));
            }
            let _ = writeln!(out, "{text}");
        }
        if let Some(a) = r.approval.as_ref().filter(|a| a.required) {
            let decided = match (&a.approved_by, &a.rejected_by) {
                (Some(by), _) => format!("approved by {by}"),
                (None, Some(by)) => format!(
                    "rejected by {by}: {}",
                    a.reason.as_deref().unwrap_or("no reason given")
                ),
                (None, None) => "waiting for approval".to_string(),
            };
            let _ = writeln!(out, "     approval: {decided}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Entry;
    use crate::style::Health;
    use chitty_operator::api::{ApprovalStatus, PlanStatus};

    #[test]
    fn each_rollout_shows_outcome_duration_plan_and_approval() {
        let h = History {
            namespace: "ns".into(),
            service: "a".into(),
            rollouts: vec![Entry {
                name: "a-g2-abc".into(),
                version: "1.1.0".into(),
                revision: "abc".into(),
                trigger: "SpecChange".into(),
                strategy: "auto".into(),
                phase: Some("RolledBack".into()),
                health: Health::Failed,
                started_at: None,
                duration_ms: Some(62_000),
                error: Some("health returned 503".into()),
                rolled_back_to: Some("a-g1-def".into()),
                plan: Some(PlanStatus {
                    decision: "Canary".into(),
                    followed: true,
                    confidence: 0.8,
                    reasons: vec!["a minor change".into(), "2 failures in 5".into()],
                    ..PlanStatus::default()
                }),
                approval: Some(ApprovalStatus {
                    required: true,
                    approved_by: Some("alice".into()),
                    ..ApprovalStatus::default()
                }),
            }],
        };
        assert_eq!(
            render(&h, Style::PLAIN),
            "ns/a: 1 rollout\n\
             [!!] a-g2-abc  v1.1.0  SpecChange  auto  RolledBack  took 1m02s  -> a-g1-def  health returned 503\n\
             \x20    plan: Canary (followed, confidence 0.80): a minor change; 2 failures in 5\n\
             \x20    approval: approved by alice\n"
        );
    }
}
