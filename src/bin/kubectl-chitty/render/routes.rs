//! `routes` and `routes --what-if` as text.

use std::fmt::Write;

use super::one_line;
use crate::route_table::RouteGroup;
use crate::style::{Health, Style};
use crate::what_if::{Outcome, Source};

pub fn render(groups: &[RouteGroup], style: Style) -> String {
    if groups.is_empty() {
        return "No RouteClaims found.\n".to_string();
    }
    let mut out = String::new();
    for group in groups {
        let held = group
            .holder
            .as_ref()
            .map_or("held by nobody".to_string(), |h| format!("held by {h}"));
        let _ = writeln!(out, "{}  {held}", style.bold(&group.route));
        for (i, c) in group.claims.iter().enumerate() {
            let (look, what) = match (c.accepted, c.reason.as_str()) {
                (true, _) => (Health::Ok, "holds it".to_string()),
                (false, "Pending") => (Health::Progressing, "not decided yet".to_string()),
                (false, reason) => (
                    Health::Failed,
                    format!("{reason}: {}", one_line(&c.message)),
                ),
            };
            let _ = writeln!(
                out,
                "{}{} {} -> {}  {what}",
                style.branch(i + 1 == group.claims.len()),
                style.mark(look),
                c.claim,
                c.service
            );
        }
    }
    out
}

pub fn render_what_if(outcome: &Outcome, style: Style) -> String {
    let mut out = String::from("What the conflict rule would decide (nothing was written):\n");
    for row in &outcome.rows {
        let look = if row.accepted {
            Health::Ok
        } else {
            Health::Failed
        };
        let whose = match row.source {
            Source::Manifest => "",
            Source::Live => " (live)",
        };
        let verdict = match (row.accepted, &row.holder) {
            (true, _) => "would hold it".to_string(),
            (false, Some(holder)) => format!("would lose to {holder} ({})", row.reason),
            (false, None) => format!("would not be routed ({})", row.reason),
        };
        let _ = writeln!(
            out,
            "{} {}{whose}  {}  {verdict}: {}",
            style.mark(look),
            row.claim,
            row.route,
            one_line(&row.message)
        );
    }
    if outcome.rows.is_empty() {
        out.push_str("The manifest claims no routes, and no live claim would change.\n");
    }
    for note in &outcome.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route_table::ClaimRow;
    use crate::what_if::Row;

    #[test]
    fn a_route_lists_its_holder_then_who_lost_and_why() {
        let group = RouteGroup {
            route: "mcp.chitty.cc/*".into(),
            holder: Some("a/x".into()),
            claims: vec![
                ClaimRow {
                    claim: "a/x".into(),
                    service: "a/conn".into(),
                    accepted: true,
                    reason: "Accepted".into(),
                    message: "held".into(),
                },
                ClaimRow {
                    claim: "a/y".into(),
                    service: "a/mcp".into(),
                    accepted: false,
                    reason: "Conflicted".into(),
                    message: "held by a/x, which already held it (incumbent)".into(),
                },
            ],
        };
        assert_eq!(
            render(&[group], Style::PLAIN),
            "mcp.chitty.cc/*  held by a/x\n\
             |- [ok] a/x -> a/conn  holds it\n\
             `- [!!] a/y -> a/mcp  Conflicted: held by a/x, which already held it (incumbent)\n"
        );
    }

    #[test]
    fn what_if_says_who_would_win() {
        let outcome = Outcome {
            rows: vec![Row {
                claim: "a/new".into(),
                route: "mcp.chitty.cc/*".into(),
                service: "a/new".into(),
                source: Source::Manifest,
                accepted: false,
                reason: "Conflicted".into(),
                holder: Some("a/x".into()),
                message: "held by a/x".into(),
            }],
            notes: vec![],
        };
        assert_eq!(
            render_what_if(&outcome, Style::PLAIN),
            "What the conflict rule would decide (nothing was written):\n\
             [!!] a/new  mcp.chitty.cc/*  would lose to a/x (Conflicted): held by a/x\n"
        );
    }
}
