//! Health and probe latency over time: the service's last probes as a line of latency over time,
//! each probe a dot (red where it failed), a strip of outcomes beneath, and the median, 95th
//! percentile and share healthy in words above.

use std::fmt::Write;

use jiff::Timestamp;

use super::{duration_words, escape, open, tone};
use crate::probe::history::Sample;

const WIDTH: f64 = 1160.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const PLOT_H: f64 = 110.0;
const STRIP: f64 = 12.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;

/// A round upper bound for the latency axis: 1, 2 or 5 times a power of ten, at least 1 ms.
pub fn axis_max(max_ms: f64) -> f64 {
    let mut unit = 1.0;
    loop {
        for step in [1.0, 2.0, 5.0] {
            if max_ms <= step * unit {
                return step * unit;
            }
        }
        unit *= 10.0;
    }
}

/// The `q` quantile (0-1) of the values, by nearest rank.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The SVG of `samples` (oldest first).
pub fn render(samples: &[Sample]) -> String {
    let label = "Health and probe latency over time";
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return super::empty(
            "latency",
            WIDTH,
            label,
            "No probe yet: the serving revision is probed once a rollout has succeeded.",
        );
    };
    let span_ms = (last.at.as_millisecond() - first.at.as_millisecond()).max(1000) as f64;
    let latencies: Vec<f64> = samples.iter().map(|s| s.latency_ms).collect();
    let top = axis_max(latencies.iter().copied().fold(0.0, f64::max));
    let x_of = |at: Timestamp| {
        LEFT + (at.as_millisecond() - first.at.as_millisecond()) as f64 / span_ms * PLOT_W
    };
    let y_of = |ms: f64| TOP + PLOT_H - (ms / top).min(1.0) * PLOT_H;

    let mut out = String::new();
    open(&mut out, "latency", WIDTH, HEIGHT, label);
    let healthy = samples.iter().filter(|s| s.ok).count();
    let _ = write!(
        out,
        r##"<text x="{LEFT}" y="16" font-weight="600" data-summary="true">median {} · 95th percentile {} · {healthy} of {} probes healthy</text>"##,
        duration_words(quantile(&latencies, 0.5)),
        duration_words(quantile(&latencies, 0.95)),
        samples.len(),
    );
    for fraction in [0.0, 0.5, 1.0] {
        let y = y_of(top * fraction);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{y}" x2="{x2}" y2="{y}" stroke="#eef1f4"/><text x="{tx}" y="{ty}" text-anchor="end" font-size="11" fill="#59636e">{}</text>"##,
            duration_words(top * fraction),
            x2 = WIDTH - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 4.0,
        );
    }
    let points: Vec<String> = samples
        .iter()
        .map(|s| format!("{:.1},{:.1}", x_of(s.at), y_of(s.latency_ms)))
        .collect();
    let _ = write!(
        out,
        r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5" data-line="latency"/>"#,
        points.join(" "),
        tone::INFO.1
    );
    let strip_y = TOP + PLOT_H + 8.0;
    // Each probe's outcome holds until the next probe: the strip has no gaps.
    let ends: Vec<f64> = samples
        .iter()
        .skip(1)
        .map(|s| x_of(s.at))
        .chain([WIDTH - RIGHT])
        .collect();
    for (s, end) in samples.iter().zip(ends) {
        let (x, y) = (x_of(s.at), y_of(s.latency_ms));
        let (fill, stroke) = if s.ok { tone::INFO } else { tone::BAD };
        let (word, radius) = if s.ok {
            ("healthy", 2.5)
        } else {
            ("failed", 4.0)
        };
        let title = format!("{}: {word}, {}", s.at, duration_words(s.latency_ms));
        let _ = write!(
            out,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="{radius}" fill="{fill}" stroke="{stroke}" data-ok="{ok}"><title>{t}</title></circle>"#,
            ok = s.ok,
            t = escape(&title),
        );
        let (strip_fill, _) = if s.ok { tone::OK } else { tone::BAD };
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="{strip_y}" width="{w:.1}" height="{STRIP}" fill="{strip_fill}"><title>{t}</title></rect>"#,
            w = (end - x).max(2.0),
            t = escape(&title),
        );
    }
    let _ = write!(
        out,
        r##"<text x="{tx}" y="{ty}" text-anchor="end" font-size="11" fill="#59636e">health</text><text x="{LEFT}" y="{by}" font-size="11" fill="#59636e">{} earlier</text><text x="{rx}" y="{by}" text-anchor="end" font-size="11" fill="#59636e">latest probe</text></svg>"##,
        duration_words(span_ms),
        tx = LEFT - 6.0,
        ty = strip_y + 10.0,
        by = strip_y + STRIP + 16.0,
        rx = WIDTH - RIGHT,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(second: i64, ok: bool, latency_ms: f64) -> Sample {
        Sample {
            at: Timestamp::from_second(1_800_000_000 + second).unwrap(),
            ok,
            latency_ms,
        }
    }

    #[test]
    fn every_probe_is_a_dot_and_failures_are_marked() {
        let samples = [
            sample(0, true, 4.0),
            sample(10, false, 5000.0),
            sample(20, true, 6.0),
        ];
        let svg = render(&samples);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches(r#"data-ok="false""#).count(), 1);
        assert!(svg.contains("2 of 3 probes healthy"), "{svg}");
        assert!(svg.contains("20.0 s earlier"));
        assert!(svg.contains(r#"data-chart="latency""#));
    }

    #[test]
    fn higher_latency_is_drawn_higher() {
        let svg = render(&[sample(0, true, 10.0), sample(10, true, 100.0)]);
        let points = svg.split("points=\"").nth(1).unwrap();
        let ys: Vec<f64> = points
            .split('"')
            .next()
            .unwrap()
            .split(' ')
            .map(|p| p.split(',').nth(1).unwrap().parse().unwrap())
            .collect();
        assert!(ys[1] < ys[0], "SVG's y grows downwards: {ys:?}");
        assert_eq!(ys[1], TOP, "the largest sits at the axis maximum");
    }

    #[test]
    fn no_probe_says_so() {
        assert!(render(&[]).contains("No probe yet"));
    }

    #[test]
    fn the_axis_and_percentiles_are_round_and_by_rank() {
        assert_eq!(axis_max(0.3), 1.0);
        assert_eq!(axis_max(3.0), 5.0);
        assert_eq!(axis_max(101.0), 200.0);
        let values = [1.0, 2.0, 3.0, 4.0, 100.0];
        assert_eq!(quantile(&values, 0.5), 3.0);
        assert_eq!(quantile(&values, 0.95), 100.0);
    }
}
