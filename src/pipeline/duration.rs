//! Go-style durations (`500ms`, `30s`, `1h30m`) as manifests write them; the CRD schema has
//! already checked the shape, so parsing failures fall back to a default rather than erroring.
//! A number of more than 32 bits (`4294967296s`, 136 years) is no duration at all (None), never
//! a wrapped-around one: it once parsed as 0, and a zero interval probed as fast as reconciles ran.

use std::time::Duration;

pub fn parse(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut digits = String::new();
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let value: u32 = digits.parse().ok()?;
        digits.clear();
        let unit = match c {
            'h' => Duration::from_secs(3600),
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                Duration::from_millis(1)
            }
            'm' => Duration::from_secs(60),
            's' => Duration::from_secs(1),
            _ => return None,
        };
        total = total.checked_add(unit.checked_mul(value)?)?;
        any = true;
    }
    (digits.is_empty() && any).then_some(total)
}

/// A duration as a manifest would write it: whole hours (`24h`), else whole minutes (`30m`), else
/// whole seconds (`30s`), else milliseconds (`100ms`).
pub fn written(d: Duration) -> String {
    match d.as_millis() {
        ms if ms > 0 && ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms > 0 && ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// A duration for a person's message: `45s`, `4m`, `4m12s` (whole seconds).
pub fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Parses, or uses `default` for text the schema should have refused.
pub fn parse_or(text: &str, default: Duration) -> Duration {
    parse(text).unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_manifests_use() {
        assert_eq!(parse("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse("1m30s"), Some(Duration::from_secs(90)));
    }

    #[test]
    fn writes_durations_as_manifests_do() {
        assert_eq!(written(Duration::from_secs(24 * 3600)), "24h");
        assert_eq!(written(Duration::from_secs(5)), "5s");
        assert_eq!(written(Duration::from_millis(100)), "100ms");
        assert_eq!(written(Duration::ZERO), "0s");
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("5"), None);
        assert_eq!(parse("five seconds"), None);
        assert_eq!(parse("4294967296s"), None, "more than u32 units");
        assert_eq!(parse("99999999999999999999s"), None, "more than u64 units");
        assert_eq!(
            parse("4294967295s"),
            Some(Duration::from_secs(4_294_967_295)),
            "the largest number"
        );
        assert_eq!(
            parse_or("x", Duration::from_secs(7)),
            Duration::from_secs(7)
        );
    }
}
