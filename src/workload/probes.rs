//! The kubelet probes of a service's container, derived from `spec.health` so the kubelet and the
//! operator's own health step judge the app by the same endpoint and cadence, then adjusted by
//! `spec.pod.probes`.

use std::time::Duration;

use k8s_openapi::api::core::v1::{HTTPGetAction, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::{HealthCheck, ProbeOverride};
use crate::pipeline::duration;

/// Longest the startup probe waits for an app: a rollout whose progress deadline is longer still
/// gets its rollback from the operator, but a pod that has not started within an hour is stuck.
const STARTUP_WINDOW_CAP: Duration = Duration::from_secs(3600);

/// The name of the container port the probes target.
pub const HTTP_PORT: &str = "http";

/// Readiness, which the rollout's health step and the Service's endpoints depend on; not
/// overridable.
pub fn readiness(health: &HealthCheck) -> Probe {
    Probe {
        period_seconds: Some(period(health)),
        timeout_seconds: Some(timeout(health)),
        failure_threshold: Some(health.failure_threshold),
        ..http_get(&health.path)
    }
}

/// Liveness at the health step's interval, timeout and threshold; `None` when disabled.
pub fn liveness(health: &HealthCheck, over: Option<&ProbeOverride>) -> Option<Probe> {
    let derived = Probe {
        period_seconds: Some(period(health)),
        timeout_seconds: Some(timeout(health)),
        failure_threshold: Some(health.failure_threshold),
        ..http_get(&health.path)
    };
    apply(derived, over)
}

/// Startup at the same interval, with enough attempts to cover the progress deadline (capped), so
/// a slow-starting app is not restarted by liveness before the rollout would have given up on it.
pub fn startup(health: &HealthCheck, over: Option<&ProbeOverride>) -> Option<Probe> {
    let period = over
        .and_then(|o| o.period_seconds)
        .unwrap_or_else(|| period(health));
    let window = duration::parse(&health.progress_deadline)
        .unwrap_or(Duration::from_secs(600))
        .min(STARTUP_WINDOW_CAP);
    let attempts = window.as_secs().div_ceil(period.max(1) as u64).max(1);
    let derived = Probe {
        period_seconds: Some(period),
        timeout_seconds: Some(timeout(health)),
        failure_threshold: Some(i32::try_from(attempts).unwrap_or(i32::MAX)),
        ..http_get(&health.path)
    };
    apply(derived, over)
}

fn apply(mut probe: Probe, over: Option<&ProbeOverride>) -> Option<Probe> {
    let Some(over) = over else {
        return Some(probe);
    };
    if !over.enabled {
        return None;
    }
    if let Some(path) = &over.path {
        probe.http_get = http_get(path).http_get;
    }
    probe.initial_delay_seconds = over.initial_delay_seconds.or(probe.initial_delay_seconds);
    probe.period_seconds = over.period_seconds.or(probe.period_seconds);
    probe.timeout_seconds = over.timeout_seconds.or(probe.timeout_seconds);
    probe.failure_threshold = over.failure_threshold.or(probe.failure_threshold);
    Some(probe)
}

fn http_get(path: &str) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(HTTP_PORT.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Whole seconds, at least one (the kubelet's minimum), rounding a sub-second duration up.
fn seconds(text: &str, fallback: Duration) -> i32 {
    let d = duration::parse(text).unwrap_or(fallback);
    let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(whole.max(1)).unwrap_or(i32::MAX)
}

fn period(health: &HealthCheck) -> i32 {
    seconds(&health.interval, Duration::from_secs(10))
}

fn timeout(health: &HealthCheck) -> i32 {
    seconds(&health.timeout, Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health() -> HealthCheck {
        HealthCheck {
            path: "/healthz".into(),
            interval: "15s".into(),
            timeout: "3s".into(),
            failure_threshold: 4,
            progress_deadline: "5m".into(),
            ..Default::default()
        }
    }

    fn path_of(p: &Probe) -> &str {
        p.http_get.as_ref().unwrap().path.as_deref().unwrap()
    }

    #[test]
    fn liveness_follows_the_health_check() {
        let p = liveness(&health(), None).unwrap();
        assert_eq!(path_of(&p), "/healthz");
        assert_eq!(
            p.http_get.as_ref().unwrap().port,
            IntOrString::String("http".into())
        );
        assert_eq!(
            (p.period_seconds, p.timeout_seconds, p.failure_threshold),
            (Some(15), Some(3), Some(4))
        );
    }

    #[test]
    fn startup_covers_the_progress_deadline_at_the_probe_period() {
        let p = startup(&health(), None).unwrap();
        assert_eq!(p.period_seconds, Some(15));
        assert_eq!(p.failure_threshold, Some(20), "5m / 15s");
    }

    #[test]
    fn startup_is_capped_at_an_hour() {
        let h = HealthCheck {
            progress_deadline: "24h".into(),
            interval: "10s".into(),
            ..health()
        };
        assert_eq!(startup(&h, None).unwrap().failure_threshold, Some(360));
    }

    #[test]
    fn overrides_replace_only_what_they_set() {
        let over = ProbeOverride {
            path: Some("/live".into()),
            failure_threshold: Some(9),
            initial_delay_seconds: Some(0),
            ..Default::default()
        };
        let p = liveness(&health(), Some(&over)).unwrap();
        assert_eq!(path_of(&p), "/live");
        assert_eq!(p.failure_threshold, Some(9));
        assert_eq!(p.initial_delay_seconds, Some(0));
        assert_eq!(p.period_seconds, Some(15));
    }

    #[test]
    fn a_startup_period_override_recounts_the_attempts() {
        let over = ProbeOverride {
            period_seconds: Some(30),
            ..Default::default()
        };
        assert_eq!(
            startup(&health(), Some(&over)).unwrap().failure_threshold,
            Some(10)
        );
    }

    #[test]
    fn disabled_probes_are_left_out() {
        let off = ProbeOverride {
            enabled: false,
            ..Default::default()
        };
        assert!(liveness(&health(), Some(&off)).is_none());
        assert!(startup(&health(), Some(&off)).is_none());
    }

    #[test]
    fn sub_second_durations_round_up_to_one_second() {
        let h = HealthCheck {
            timeout: "500ms".into(),
            ..health()
        };
        assert_eq!(readiness(&h).timeout_seconds, Some(1));
    }
}
