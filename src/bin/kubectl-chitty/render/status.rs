//! `status` as text: one tree per service.

use std::fmt::Write;

use super::{duration, one_line};
use crate::style::{Health, Style};
use crate::tree::{OwnedNode, RolloutNode, ServiceNode};

pub fn render(services: &[ServiceNode], style: Style) -> String {
    if services.is_empty() {
        return "No ChittyServices found.\n".to_string();
    }
    let trees: Vec<String> = services.iter().map(|s| service(s, style)).collect();
    trees.join("\n")
}

fn service(s: &ServiceNode, style: Style) -> String {
    let mut out = String::new();
    let phase = s.phase.as_deref().unwrap_or("Unknown");
    let mut head = format!(
        "{} {}/{}  {}  v{}",
        style.mark(s.health),
        s.namespace,
        style.bold(&s.name),
        style.paint(s.health, phase),
        s.version
    );
    if s.suspended && phase != "Suspended" {
        head.push_str("  rollouts suspended");
    }
    if let Some(probe) = &s.probe {
        let _ = write!(head, "  health {probe}");
    }
    if let Some(url) = &s.url {
        let _ = write!(head, "  {url}");
    }
    let _ = writeln!(out, "{head}");
    if let Some(ready) = s.ready.as_ref().filter(|r| r.status != "True") {
        let _ = writeln!(
            out,
            "   Ready={} {}: {}",
            ready.status,
            ready.reason,
            one_line(&ready.message)
        );
    }
    let sections = [
        (!s.rollouts.is_empty()).then(|| rollouts(&s.rollouts, style)),
        (!s.owned.is_empty()).then(|| owned(&s.owned, style)),
    ];
    let sections: Vec<(&str, Vec<String>)> = ["Rollouts", "Owns"]
        .into_iter()
        .zip(sections)
        .filter_map(|(title, lines)| lines.map(|l| (title, l)))
        .collect();
    for (i, (title, lines)) in sections.iter().enumerate() {
        let last = i + 1 == sections.len();
        let _ = writeln!(out, "{}{title}", style.branch(last));
        for line in lines {
            let _ = writeln!(out, "{}{line}", style.stem(last));
        }
    }
    out
}

/// The rollouts, newest first; the steps of the current one and of any still under way.
fn rollouts(rollouts: &[RolloutNode], style: Style) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, r) in rollouts.iter().enumerate() {
        let last = i + 1 == rollouts.len();
        let phase = r.phase.as_deref().unwrap_or("Pending");
        let mut line = format!(
            "{}{} {}  v{}  {}  {}  {}%",
            style.branch(last),
            style.mark(r.health),
            r.name,
            r.version,
            style.paint(r.health, phase),
            r.trigger,
            r.progress
        );
        if r.current {
            line.push_str("  (current)");
        }
        if let Some(error) = &r.error {
            let _ = write!(line, "  {}", one_line(error));
        }
        lines.push(line);
        if r.current || r.health == Health::Progressing {
            for (j, step) in r.steps.iter().enumerate() {
                let mut line = format!(
                    "{}{}{} {}  {}",
                    style.stem(last),
                    style.branch(j + 1 == r.steps.len()),
                    style.mark(step.health),
                    step.name,
                    step.phase
                );
                if let Some(ms) = step.duration_ms {
                    let _ = write!(line, "  {}", duration(ms));
                }
                if let Some(message) = &step.message {
                    let _ = write!(line, "  {}", one_line(message));
                }
                lines.push(line);
            }
        }
    }
    lines
}

fn owned(objects: &[OwnedNode], style: Style) -> Vec<String> {
    (objects.iter().enumerate())
        .map(|(i, o)| {
            format!(
                "{}{} {}/{}  {}",
                style.branch(i + 1 == objects.len()),
                style.mark(o.health),
                o.kind,
                o.name,
                o.state
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{ConditionView, StepNode};

    fn conflicted() -> ServiceNode {
        ServiceNode {
            namespace: "team-a".into(),
            name: "chittymcp".into(),
            version: "1.0.0".into(),
            phase: Some("Degraded".into()),
            health: Health::Failed,
            ready: Some(ConditionView {
                type_: "Ready".into(),
                status: "False".into(),
                reason: "RouteConflict".into(),
                message: "mcp.chitty.cc/* is held by team-a/chittyconnect-1".into(),
            }),
            probe: Some("healthy".into()),
            url: None,
            suspended: false,
            rollouts: vec![RolloutNode {
                name: "chittymcp-g1-abc".into(),
                version: "1.0.0".into(),
                trigger: "Initial".into(),
                phase: Some("Succeeded".into()),
                health: Health::Ok,
                current: true,
                current_step: None,
                progress: 100,
                error: None,
                steps: vec![StepNode {
                    name: "deploy".into(),
                    phase: "Succeeded".into(),
                    health: Health::Ok,
                    duration_ms: Some(1200),
                    message: None,
                }],
            }],
            owned: vec![OwnedNode {
                kind: "RouteClaim".into(),
                name: "chittymcp-1".into(),
                health: Health::Failed,
                state: "mcp.chitty.cc/*: Conflicted, held by team-a/chittyconnect-1".into(),
            }],
        }
    }

    #[test]
    fn a_tree_shows_why_rollouts_steps_and_owned_objects() {
        let text = render(&[conflicted()], Style::PLAIN);
        assert_eq!(
            text,
            "[!!] team-a/chittymcp  Degraded  v1.0.0  health healthy\n\
             \x20  Ready=False RouteConflict: mcp.chitty.cc/* is held by team-a/chittyconnect-1\n\
             |- Rollouts\n\
             |  `- [ok] chittymcp-g1-abc  v1.0.0  Succeeded  Initial  100%  (current)\n\
             |     `- [ok] deploy  Succeeded  1.2s\n\
             `- Owns\n\
             \x20  `- [!!] RouteClaim/chittymcp-1  mcp.chitty.cc/*: Conflicted, held by team-a/chittyconnect-1\n"
        );
    }

    #[test]
    fn no_services_is_said_in_words() {
        assert_eq!(render(&[], Style::PLAIN), "No ChittyServices found.\n");
    }

    #[test]
    fn a_terminal_gets_box_drawing() {
        let tty = Style {
            colour: false,
            symbols: true,
        };
        let text = render(&[conflicted()], tty);
        assert!(
            text.contains("├─ Rollouts") && text.contains("└─ Owns"),
            "{text}"
        );
        assert!(text.starts_with("✖ team-a/chittymcp"), "{text}");
    }
}
