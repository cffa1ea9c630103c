//! A service's rollouts as a timeline: one row a rollout, newest on top, each step a bar placed
//! where it started and as long as it took, on one time scale shared by every row, so a slow
//! step stands out against the same step of earlier rollouts. Sub-steps (`build/test`) run within
//! their step and are drawn as a thin bar beneath it. Beneath the rows, the newest rollout's
//! steps one by one (`steps`), where a step of a few milliseconds still reads.

use std::fmt::Write;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{clip, duration_words, escape, open, steps, time_axis, tone};
use crate::api::{ChittyDeployment, DeploymentPhase, StepPhase};

/// Rows drawn at most: the newest rollouts.
pub const ROWS: usize = 10;

pub(super) const WIDTH: f64 = 1160.0;
pub(super) const LABEL: f64 = 210.0;
const TOTAL: f64 = 96.0;
pub(super) const PLOT: f64 = WIDTH - LABEL - TOTAL - 16.0;
const AXIS: f64 = 26.0;
const ROW: f64 = 44.0;
const LEGEND: f64 = 28.0;
/// A step that took a few milliseconds still shows.
const MIN_BAR: f64 = 2.0;

/// One step as drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct StepSpan {
    pub name: String,
    pub phase: StepPhase,
    pub start: Option<Timestamp>,
    /// `None` while it runs (drawn to `now`).
    pub end: Option<Timestamp>,
    pub message: Option<String>,
    /// What the operator measured; the times on status are to the second only.
    pub duration_ms: Option<i64>,
}

impl StepSpan {
    /// Milliseconds the step took (so far, while it runs); `None` before it starts.
    pub fn took(&self, now: Timestamp) -> Option<f64> {
        let start = self.start?;
        Some(match (self.end, self.duration_ms) {
            (Some(_), Some(ms)) => ms.max(0) as f64,
            (end, _) => ms_between(start, end.unwrap_or(now)),
        })
    }
}

/// One rollout as drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutRow {
    pub name: String,
    pub version: String,
    pub phase: DeploymentPhase,
    pub started: Option<Timestamp>,
    pub steps: Vec<StepSpan>,
}

fn time(t: &Option<Time>) -> Option<Timestamp> {
    t.as_ref().map(|Time(t)| *t)
}

impl RolloutRow {
    pub fn of(d: &ChittyDeployment) -> Self {
        let status = d.status.as_ref();
        Self {
            name: d.metadata.name.clone().unwrap_or_default(),
            version: d.spec.snapshot.version.clone(),
            phase: super::super::fleet::phase(d),
            started: status.and_then(|s| time(&s.started_at)),
            steps: status.map_or_else(Vec::new, |s| {
                s.steps
                    .iter()
                    .map(|step| StepSpan {
                        name: step.name.clone(),
                        phase: step.phase,
                        start: time(&step.started_at),
                        end: time(&step.finished_at),
                        message: step.message.clone(),
                        duration_ms: step.duration_ms,
                    })
                    .collect()
            }),
        }
    }

    /// Where the row's clock starts: the rollout's start, or its first step's.
    fn origin(&self) -> Option<Timestamp> {
        let first_step = self.steps.iter().filter_map(|s| s.start).min();
        match (self.started, first_step) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Milliseconds from the origin to the last step's end (`now` for a running one).
    fn span_ms(&self, now: Timestamp) -> f64 {
        let Some(origin) = self.origin() else {
            return 0.0;
        };
        self.steps
            .iter()
            .filter_map(|s| Some(ms_between(origin, s.start?) + s.took(now)?))
            .fold(0.0, f64::max)
    }
}

pub(super) fn ms_between(from: Timestamp, to: Timestamp) -> f64 {
    (to.as_millisecond() - from.as_millisecond()).max(0) as f64
}

pub(super) fn step_tone(phase: StepPhase) -> (&'static str, &'static str) {
    match phase {
        StepPhase::Succeeded => tone::OK,
        StepPhase::Running => tone::INFO,
        StepPhase::Failed => tone::BAD,
        StepPhase::Pending | StepPhase::Skipped => tone::WAIT,
    }
}

fn rollout_word(phase: DeploymentPhase) -> (&'static str, &'static str) {
    match phase {
        DeploymentPhase::Pending => ("pending", tone::WAIT.1),
        DeploymentPhase::Running => ("in progress", tone::INFO.1),
        DeploymentPhase::Succeeded => ("completed", tone::OK.1),
        DeploymentPhase::Failed => ("failed", tone::BAD.1),
        DeploymentPhase::RolledBack => ("rolled back", tone::BAD.1),
        DeploymentPhase::Superseded => ("superseded", tone::WAIT.1),
        DeploymentPhase::Aborted => ("canary aborted", tone::BAD.1),
    }
}

/// The SVG of `rows` (newest first; at most [`ROWS`] are drawn) as of `now`.
pub fn render(rows: &[RolloutRow], now: Timestamp) -> String {
    let label = "Rollouts: each step's duration";
    let rows: Vec<&RolloutRow> = rows
        .iter()
        .filter(|r| r.origin().is_some())
        .take(ROWS)
        .collect();
    if rows.is_empty() {
        return super::empty("timeline", WIDTH, label, "No rollout has started yet.");
    }
    // One scale for every row; at least a second, so an instant rollout is not a full-width bar.
    let span = rows.iter().map(|r| r.span_ms(now)).fold(1000.0, f64::max);
    let scale = PLOT / span;
    let timeline_bottom = AXIS + ROW * rows.len() as f64;
    let height = timeline_bottom + LEGEND + steps::height(rows[0]);
    let mut out = String::new();
    open(&mut out, "timeline", WIDTH, height, label);
    time_axis::draw(&mut out, span, LABEL, PLOT, AXIS - 6.0, timeline_bottom);
    for (i, row) in rows.iter().enumerate() {
        draw_row(&mut out, row, AXIS + ROW * i as f64, scale, now);
    }
    legend(&mut out, timeline_bottom + 8.0);
    steps::draw(&mut out, rows[0], timeline_bottom + LEGEND, now);
    out.push_str("</svg>");
    out
}

fn draw_row(out: &mut String, row: &RolloutRow, y: f64, scale: f64, now: Timestamp) {
    let origin = row.origin().expect("rows without an origin are left out");
    let (word, colour) = rollout_word(row.phase);
    let _ = write!(
        out,
        r##"<g class="rollout-row" data-rollout="{name}"><text x="0" y="{y1}" font-weight="600">{version}</text><text x="0" y="{y2}" fill="{colour}" font-size="11">{word}</text><text x="70" y="{y2}" fill="#59636e" font-size="11">{short}</text>"##,
        name = escape(&row.name),
        version = escape(&clip(&row.version, 28)),
        short = escape(&clip(&row.name, 22)),
        y1 = y + 15.0,
        y2 = y + 30.0,
    );
    for step in &row.steps {
        let Some(start) = step.start else { continue };
        let sub = step.name.contains('/');
        let x = LABEL + ms_between(origin, start) * scale;
        let ms = step.took(now).unwrap_or_default();
        let width = (ms * scale).max(MIN_BAR);
        let (bar_y, bar_h) = if sub {
            (y + 27.0, 6.0)
        } else {
            (y + 4.0, 20.0)
        };
        let (fill, stroke) = step_tone(step.phase);
        let detail = step
            .message
            .as_deref()
            .map(|m| format!(" — {}", clip(m, 200)))
            .unwrap_or_default();
        let _ = write!(
            out,
            r#"<g class="step" data-step="{name}" data-phase="{phase:?}" data-ms="{ms}"><title>{name}: {phase:?}, {took}{detail}</title><rect x="{x:.2}" y="{bar_y}" width="{width:.2}" height="{bar_h}" rx="3" fill="{fill}" stroke="{stroke}" stroke-width="{sw}"{dash}/>"#,
            name = escape(&step.name),
            phase = step.phase,
            took = duration_words(ms),
            detail = escape(&detail),
            sw = if step.phase == StepPhase::Failed {
                2
            } else {
                1
            },
            dash = if step.end.is_none() {
                r#" stroke-dasharray="4 2""#
            } else {
                ""
            },
        );
        // A name goes inside its bar when it fits (about 6.5 px a character at 11 px).
        if !sub && width >= step.name.len() as f64 * 6.5 + 8.0 {
            let _ = write!(
                out,
                r##"<text x="{tx:.2}" y="{ty}" font-size="11" fill="#1f2328">{}</text>"##,
                escape(&step.name),
                tx = x + 4.0,
                ty = y + 18.0,
            );
        }
        out.push_str("</g>");
    }
    let total = row.span_ms(now);
    let _ = write!(
        out,
        r##"<text x="{x}" y="{ty}" text-anchor="end" fill="#1f2328" data-total-ms="{total}">{}</text></g>"##,
        duration_words(total),
        x = WIDTH - 4.0,
        ty = y + 18.0,
    );
}

fn legend(out: &mut String, y: f64) {
    let mut x = LABEL;
    for (word, phase) in [
        ("succeeded", StepPhase::Succeeded),
        ("running", StepPhase::Running),
        ("failed", StepPhase::Failed),
        ("skipped", StepPhase::Skipped),
    ] {
        let (fill, stroke) = step_tone(phase);
        let _ = write!(
            out,
            r##"<rect x="{x}" y="{y}" width="12" height="12" rx="2" fill="{fill}" stroke="{stroke}"/><text x="{tx}" y="{ty}" font-size="11" fill="#59636e">{word}</text>"##,
            tx = x + 16.0,
            ty = y + 10.0,
        );
        x += 90.0;
    }
    let _ = write!(
        out,
        r##"<text x="{x}" y="{ty}" font-size="11" fill="#59636e">bar length = how long the step took; thin bars are sub-steps</text>"##,
        ty = y + 10.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).unwrap()
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

    fn row(name: &str, steps: Vec<StepSpan>) -> RolloutRow {
        RolloutRow {
            name: name.into(),
            version: "1.0.0".into(),
            phase: DeploymentPhase::Succeeded,
            started: steps.first().and_then(|s| s.start),
            steps,
        }
    }

    /// The value of `attribute` on the first element after `marker`.
    pub(crate) fn attribute_after(svg: &str, marker: &str, attribute: &str) -> f64 {
        let from = svg
            .find(marker)
            .unwrap_or_else(|| panic!("{marker} in {svg}"));
        let key = format!(" {attribute}=\"");
        let start = svg[from..].find(&key).unwrap() + from + key.len();
        let end = svg[start..].find('"').unwrap() + start;
        svg[start..end].parse().unwrap()
    }

    #[test]
    fn bars_are_as_long_as_their_steps_took_on_one_scale_for_every_row() {
        let rows = [
            row(
                "svc-new",
                vec![
                    step("build", StepPhase::Succeeded, 0, Some(10)),
                    step("deploy", StepPhase::Succeeded, 10, Some(40)),
                ],
            ),
            row(
                "svc-old",
                vec![step("health", StepPhase::Succeeded, 100, Some(120))],
            ),
        ];
        let svg = render(&rows, at(1000));
        let build = attribute_after(&svg, r#"data-step="build""#, "width");
        let deploy = attribute_after(&svg, r#"data-step="deploy""#, "width");
        let health = attribute_after(&svg, r#"data-step="health""#, "width");
        assert!((deploy / build - 3.0).abs() < 0.01, "{build} {deploy}");
        assert!((health / build - 2.0).abs() < 0.01, "rows share the scale");
        assert!(
            (build + deploy - PLOT).abs() < 0.01,
            "the longest row fills the plot"
        );
        let deploy_x = attribute_after(&svg, r#"data-step="deploy""#, "x");
        assert!(
            (deploy_x - (LABEL + build)).abs() < 0.01,
            "deploy starts where build ended"
        );
        assert!(svg.find("svc-new").unwrap() < svg.find("svc-old").unwrap());
        assert!(svg.contains(">40.0 s<"), "the row's total: {svg}");
    }

    #[test]
    fn a_running_step_reaches_now_and_a_pending_one_is_not_drawn() {
        let rows = [row(
            "svc-a",
            vec![
                step("deploy", StepPhase::Succeeded, 0, Some(5)),
                step("health", StepPhase::Running, 5, None),
                StepSpan {
                    start: None,
                    ..step("notify", StepPhase::Pending, 0, None)
                },
            ],
        )];
        let svg = render(&rows, at(20));
        let deploy = attribute_after(&svg, r#"data-step="deploy""#, "width");
        let health = attribute_after(&svg, r#"data-step="health""#, "width");
        assert!((health / deploy - 3.0).abs() < 0.01);
        assert!(
            svg.contains(r#"stroke-dasharray="4 2""#),
            "running is dashed"
        );
        assert!(!svg.contains(r#"data-step="notify""#));
    }

    #[test]
    fn an_instant_step_still_shows_and_messages_are_escaped() {
        let mut quick = step("identity", StepPhase::Failed, 0, Some(0));
        quick.message = Some("<b>refused</b> & gone".into());
        let svg = render(&[row("svc-<x>", vec![quick])], at(5));
        assert_eq!(
            attribute_after(&svg, r#"data-step="identity""#, "width"),
            MIN_BAR
        );
        assert!(svg.contains("&lt;b&gt;refused&lt;/b&gt; &amp; gone"));
        assert!(svg.contains("svc-&lt;x&gt;") && !svg.contains("<x>"));
    }

    #[test]
    fn no_rollout_says_so() {
        let svg = render(&[], at(0));
        assert!(svg.contains("No rollout has started yet."));
    }
}
