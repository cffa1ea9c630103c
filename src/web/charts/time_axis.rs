//! The timeline's time axis: round intervals, few enough to read.

use std::fmt::Write;

use super::duration_words;

/// A round tick interval giving at most six ticks over `span_ms`.
pub fn tick_ms(span_ms: f64) -> f64 {
    const NICE: &[f64] = &[
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        21600.0, 43200.0, 86400.0,
    ];
    NICE.iter()
        .map(|s| s * 1000.0)
        .find(|t| span_ms / t <= 6.0)
        .unwrap_or(86_400_000.0 * (span_ms / 86_400_000.0 / 6.0).ceil())
}

/// Vertical grid lines at each tick across `plot` pixels from `left`, labelled along the top.
pub fn draw(out: &mut String, span: f64, left: f64, plot: f64, top: f64, bottom: f64) {
    let tick = tick_ms(span);
    let mut at = 0.0;
    while at <= span + 0.5 {
        let x = left + at * (plot / span);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#eef1f4"/><text x="{x:.1}" y="14" text-anchor="middle" fill="#59636e" font-size="11">{}</text>"##,
            if at == 0.0 {
                "0".to_string()
            } else {
                duration_words(at)
            },
        );
        at += tick;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_few() {
        assert_eq!(tick_ms(4_000.0), 1_000.0);
        assert_eq!(tick_ms(40_000.0), 10_000.0);
        assert_eq!(tick_ms(300_000.0), 60_000.0);
    }
}
