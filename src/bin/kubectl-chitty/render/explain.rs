//! `explain` as text: one line when Ready; otherwise the summary and a line per finding.

use std::fmt::Write;

use crate::diagnose::{Explanation, FindingKind};
use crate::style::{Health, Style};

pub fn render(e: &Explanation, style: Style) -> String {
    if e.ready {
        return format!("{} {}\n", style.mark(Health::Ok), e.summary);
    }
    let mut out = format!("{} {}\n", style.mark(Health::Failed), e.summary);
    for f in &e.findings {
        let look = match f.kind {
            FindingKind::Suspended => Health::Idle,
            FindingKind::Event => Health::Progressing,
            _ => Health::Failed,
        };
        let _ = writeln!(out, "  {} {}", style.mark(look), f.sentence);
    }
    if e.findings.is_empty() {
        out.push_str("  Nothing else stands out.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Finding;

    #[test]
    fn ready_is_one_line() {
        let e = Explanation {
            namespace: "ns".into(),
            service: "a".into(),
            ready: true,
            summary: "ns/a is Ready: serving 1.0.0".into(),
            findings: vec![],
        };
        assert_eq!(
            render(&e, Style::PLAIN),
            "[ok] ns/a is Ready: serving 1.0.0\n"
        );
    }

    #[test]
    fn each_finding_is_a_line_under_the_summary() {
        let e = Explanation {
            namespace: "ns".into(),
            service: "a".into(),
            ready: false,
            summary: "ns/a is not Ready (DependencyNotReady): waiting".into(),
            findings: vec![
                Finding {
                    kind: FindingKind::Dependency,
                    subject: "ns/b".into(),
                    sentence: "Dependency ns/b does not exist.".into(),
                },
                Finding {
                    kind: FindingKind::Suspended,
                    subject: "spec.suspend".into(),
                    sentence: "Rollouts are suspended.".into(),
                },
            ],
        };
        assert_eq!(
            render(&e, Style::PLAIN),
            "[!!] ns/a is not Ready (DependencyNotReady): waiting\n  \
             [!!] Dependency ns/b does not exist.\n  \
             [--] Rollouts are suspended.\n"
        );
    }
}
