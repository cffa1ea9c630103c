//! What the operator itself checks of a spec before acting on it: the bounds the CRD schema
//! states too, for objects an older CRD admitted. A spec that fails them gets no rollout (the
//! serving revision keeps serving) and its service says `Stalled`, reason `InvalidSpec`, with
//! every problem named, instead of a probe loop with no floor or a timeout with no cap.

use std::time::Duration;

use super::duration;
use crate::api::ChittyServiceSpec;
use crate::probe::bounds::{MAX_DEADLINE, MAX_INTERVAL, MAX_TIMEOUT, MIN_INTERVAL, MIN_TIMEOUT};

/// Every problem with `spec`, each a sentence naming the field; empty when it is fine.
pub fn problems(spec: &ChittyServiceSpec) -> Vec<String> {
    let mut out = Vec::new();
    let health = &spec.health;
    let mut check = |field: &str, text: &str, min: Option<Duration>, max: Option<Duration>| {
        match duration::parse(text) {
            None => out.push(format!(
                "{field} '{text}' is not a duration such as 500ms, 10s or 1m30s"
            )),
            Some(d) if min.is_some_and(|m| d < m) => out.push(format!(
                "{field} {text} is below the minimum of {}",
                duration::written(min.unwrap_or_default())
            )),
            Some(d) if max.is_some_and(|m| d > m) => out.push(format!(
                "{field} {text} is above the maximum of {}",
                duration::written(max.unwrap_or_default())
            )),
            Some(d) if d.is_zero() => out.push(format!("{field} must be more than 0")),
            Some(_) => {}
        }
    };
    check(
        "health.interval",
        &health.interval,
        Some(MIN_INTERVAL),
        Some(MAX_INTERVAL),
    );
    check(
        "health.timeout",
        &health.timeout,
        Some(MIN_TIMEOUT),
        Some(MAX_TIMEOUT),
    );
    check(
        "health.progressDeadline",
        &health.progress_deadline,
        None,
        Some(MAX_DEADLINE),
    );
    if let Some(canary) = &spec.strategy.canary {
        check(
            "strategy.canary.monitorDuration",
            &canary.monitor_duration,
            None,
            Some(MAX_DEADLINE),
        );
    }
    // The schema checks the shape of a window; whether its time zone exists only the zone
    // database can tell.
    for (i, w) in spec.strategy.windows.iter().enumerate() {
        let zone = w.time_zone.as_deref().unwrap_or_default();
        if let Err(why) = crate::advisor::Window::new(&w.days, &w.start, &w.end, zone) {
            out.push(format!("strategy.windows[{i}]: {why}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(health: serde_json::Value) -> ChittyServiceSpec {
        serde_json::from_value(serde_json::json!({
            "type": "worker", "version": "1.0.0", "environment": "staging",
            "source": {"image": "registry.local/x:1"}, "health": health
        }))
        .unwrap()
    }

    #[test]
    fn a_window_in_a_time_zone_that_does_not_exist_is_named() {
        let mut s = spec(serde_json::json!({}));
        s.strategy.windows =
            vec![serde_json::from_value(serde_json::json!(
            {"days": "Mon-Fri", "start": "09:00", "end": "17:00", "timeZone": "Europe/Atlantis"}
        ))
        .unwrap()];
        assert_eq!(
            problems(&s),
            [
                "strategy.windows[0]: time zone `Europe/Atlantis` does not exist (use an IANA name such as Europe/Berlin)"
            ]
        );
    }

    #[test]
    fn the_defaults_are_fine() {
        assert!(problems(&spec(serde_json::json!({}))).is_empty());
    }

    #[test]
    fn an_interval_of_zero_and_a_timeout_of_an_hour_are_named() {
        let found = problems(&spec(
            serde_json::json!({"interval": "0s", "timeout": "1h"}),
        ));
        assert_eq!(
            found,
            vec![
                "health.interval 0s is below the minimum of 1s".to_string(),
                "health.timeout 1h is above the maximum of 30s".to_string(),
            ]
        );
    }

    #[test]
    fn an_overflowing_or_malformed_duration_is_not_a_duration() {
        let found = problems(&spec(
            serde_json::json!({"interval": "99999999999999999999s", "progressDeadline": "soon"}),
        ));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("health.interval '99999999999999999999s' is not a duration"));
        assert!(found[1].starts_with("health.progressDeadline 'soon'"));
    }
}
