//! The newest rollout's steps one under another, each with a bar as long as it took (on a scale
//! of its own: the longest step spans the plot) and the duration in words beside it. On the
//! timeline a step of a few milliseconds is a sliver; here it still reads.

use std::fmt::Write;

use jiff::Timestamp;

use super::timeline::{LABEL, PLOT, RolloutRow, step_tone};
use super::{clip, duration_words, escape};
use crate::api::StepPhase;

const HEADING: f64 = 30.0;
const STEP_ROW: f64 = 20.0;

/// Room the list takes.
pub fn height(row: &RolloutRow) -> f64 {
    HEADING + STEP_ROW * row.steps.len() as f64 + 8.0
}

pub fn draw(out: &mut String, row: &RolloutRow, y: f64, now: Timestamp) {
    let took = |step: &super::timeline::StepSpan| step.took(now);
    let longest = row.steps.iter().filter_map(took).fold(1.0, f64::max);
    let scale = PLOT / longest;
    let _ = write!(
        out,
        r##"<g class="latest-steps" data-rollout="{name}"><line x1="0" y1="{y}" x2="{x2}" y2="{y}" stroke="#d1d9e0"/><text x="0" y="{ty}" font-weight="600">Steps of the newest rollout, {version} ({short})</text>"##,
        name = escape(&row.name),
        version = escape(&clip(&row.version, 28)),
        short = escape(&clip(&row.name, 40)),
        x2 = LABEL + PLOT,
        ty = y + 20.0,
    );
    for (i, step) in row.steps.iter().enumerate() {
        let top = y + HEADING + STEP_ROW * i as f64;
        let sub = step.name.contains('/');
        let _ = write!(
            out,
            r##"<text x="{x}" y="{ty}" text-anchor="end" font-size="{size}" fill="#1f2328">{}</text>"##,
            escape(&clip(&step.name, 28)),
            x = LABEL - 10.0,
            ty = top + 13.0,
            size = if sub { 11 } else { 12 },
        );
        let Some(ms) = took(step) else {
            let word = match step.phase {
                StepPhase::Skipped => "skipped",
                _ => "not started",
            };
            let _ = write!(
                out,
                r##"<text x="{LABEL}" y="{ty}" font-size="11" fill="#59636e" data-step-bar="{name}">{word}</text>"##,
                name = escape(&step.name),
                ty = top + 13.0,
            );
            continue;
        };
        let (fill, stroke) = step_tone(step.phase);
        let width = (ms * scale).max(1.5);
        let words = match step.phase {
            StepPhase::Running => format!("{} so far", duration_words(ms)),
            StepPhase::Failed => format!("{}, failed", duration_words(ms)),
            _ => duration_words(ms),
        };
        let _ = write!(
            out,
            r##"<rect x="{LABEL}" y="{by}" width="{width:.2}" height="{h}" rx="2" fill="{fill}" stroke="{stroke}" data-step-bar="{name}" data-ms="{ms}"/><text x="{tx:.2}" y="{ty}" font-size="11" fill="#1f2328">{words}</text>"##,
            name = escape(&step.name),
            by = top + 3.0,
            h = if sub { 8.0 } else { 13.0 },
            tx = LABEL + width + 6.0,
            ty = top + 13.0,
        );
    }
    out.push_str("</g>");
}

#[cfg(test)]
mod tests {
    use super::super::timeline::{StepSpan, render};
    use super::*;
    use crate::api::DeploymentPhase;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_800_000_000_000 + ms).unwrap()
    }

    fn step(name: &str, phase: StepPhase, from: i64, to: Option<i64>) -> StepSpan {
        StepSpan {
            name: name.into(),
            phase,
            start: Some(at(from)),
            end: to.map(at),
            message: None,
            duration_ms: None,
        }
    }

    #[test]
    fn every_step_of_the_newest_rollout_reads_with_its_duration() {
        let row = RolloutRow {
            name: "svc-g2".into(),
            version: "1.1.0".into(),
            phase: DeploymentPhase::Running,
            started: Some(at(0)),
            steps: vec![
                step("deploy", StepPhase::Succeeded, 0, Some(12)),
                step("health", StepPhase::Running, 12, None),
                StepSpan {
                    start: None,
                    ..step("notify", StepPhase::Pending, 0, None)
                },
            ],
        };
        let svg = render(&[row], at(4_012));
        assert!(
            svg.contains("Steps of the newest rollout, 1.1.0 (svc-g2)"),
            "{svg}"
        );
        assert!(
            svg.contains(">12 ms<"),
            "an instant step still reads: {svg}"
        );
        assert!(svg.contains(">4.0 s so far<"));
        assert!(svg.contains(r#"data-step-bar="notify">not started<"#));
        let bar = |name: &str| {
            let marker = format!(r#"data-step-bar="{name}" data-ms=""#);
            let from = svg.find(&marker).unwrap();
            let before = &svg[..from];
            let width = before.rsplit(" width=\"").next().unwrap();
            width.split('"').next().unwrap().parse::<f64>().unwrap()
        };
        assert!(
            (bar("health") - PLOT).abs() < 0.01,
            "the longest spans the plot"
        );
        assert!((bar("deploy") / bar("health") - 12.0 / 4000.0).abs() < 0.001);
    }

    #[test]
    fn a_measured_duration_wins_over_times_kept_to_the_second() {
        let measured = StepSpan {
            duration_ms: Some(340),
            ..step("deploy", StepPhase::Succeeded, 0, Some(0))
        };
        assert_eq!(measured.took(at(9_000)), Some(340.0));
        let running = StepSpan {
            duration_ms: Some(340),
            ..step("health", StepPhase::Running, 0, None)
        };
        assert_eq!(
            running.took(at(2_000)),
            Some(2_000.0),
            "so far, while it runs"
        );
    }
}
