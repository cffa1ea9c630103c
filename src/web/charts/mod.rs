//! Pictures of one service for its dashboard page, drawn here as SVG text by pure functions from
//! what the caches and the probe history hold, so they are unit-tested like any other output and
//! the page needs nothing from the network. Every name and message is escaped: they come from
//! users' manifests and the endpoints the operator probes.
//!
//! - `timeline`: the service's rollouts, each step a bar as long as it took; `steps`: the newest
//!   rollout's steps one under another.
//! - `latency`: probe latency over time, with each probe's outcome.
//! - `graph` (which services, which edges, which cycles) and `graph_svg` (where and how drawn):
//!   who waits on whom around the service.

pub mod graph;
pub mod graph_svg;
pub mod latency;
pub mod steps;
pub mod time_axis;
pub mod timeline;

use std::fmt::Write;

/// Text made safe for SVG content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0 at all.
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A duration as a person reads it: `850 ms`, `12.4 s`, `3 min 5 s`, `2 h 10 min`.
pub fn duration_words(ms: f64) -> String {
    let ms = ms.max(0.0);
    if ms < 1000.0 {
        return format!("{} ms", ms.round());
    }
    let seconds = ms / 1000.0;
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds.round() as u64;
    if whole < 3600 {
        return format!("{} min {} s", whole / 60, whole % 60);
    }
    format!("{} h {} min", whole / 3600, whole % 3600 / 60)
}

/// Shortens `text` to `max` characters, marking the cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// The opening tag every chart shares: a fixed coordinate system that scales to the page width,
/// and a label for screen readers.
pub fn open(out: &mut String, chart: &str, width: f64, height: f64, label: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{chart}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}" font-family="system-ui, sans-serif" font-size="12">"#,
        escape(label)
    );
    let _ = write!(out, "<title>{}</title>", escape(label));
}

/// A chart with nothing to show says why, in the same frame.
pub fn empty(chart: &str, width: f64, label: &str, why: &str) -> String {
    let mut out = String::new();
    open(&mut out, chart, width, 40.0, label);
    let _ = write!(
        out,
        r##"<text x="8" y="24" fill="#59636e" data-empty="true">{}</text></svg>"##,
        escape(why)
    );
    out
}

/// Colours of the dashboard's tones (see `dashboard.css`): a fill and a darker stroke/text.
pub mod tone {
    pub const OK: (&str, &str) = ("#4ac26b", "#1a7f37");
    pub const INFO: (&str, &str) = ("#54aeff", "#0550ae");
    pub const WAIT: (&str, &str) = ("#d1d9e0", "#59636e");
    pub const WARN: (&str, &str) = ("#f0ce53", "#7d4e00");
    pub const BAD: (&str, &str) = ("#ff8182", "#b3121f");
    pub const PAUSE: (&str, &str) = ("#c297ff", "#6639ba");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            escape(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert_eq!(escape("bell\u{7}"), "bell ");
    }

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(duration_words(850.2), "850 ms");
        assert_eq!(duration_words(12_440.0), "12.4 s");
        assert_eq!(duration_words(185_000.0), "3 min 5 s");
        assert_eq!(duration_words(7_800_000.0), "2 h 10 min");
    }

    #[test]
    fn long_text_is_clipped_with_a_mark() {
        assert_eq!(clip("chittyrental", 20), "chittyrental");
        assert_eq!(clip("chittyrental", 6), "chitt…");
    }
}
