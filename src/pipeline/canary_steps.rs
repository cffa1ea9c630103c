//! The canary's steps, decided purely from what the rollout recorded and the probe just taken:
//! each step sends its weight to the canary and holds for its pause while the analysis measures
//! the canary alone; a step passes at the end of its pause when the success rate and p95 latency
//! are within the thresholds, and fails at once when its failed probes go over the limit.

use std::time::Duration;

use crate::api::{CanaryAnalysis, CanaryStep, StepAnalysis};

/// Latencies kept per step for the p95: the latest this many.
const KEPT_LATENCIES: usize = 100;

/// A probe of the canary, as the analysis takes it.
pub struct Probe<'a> {
    pub healthy: bool,
    pub latency: Duration,
    pub detail: &'a str,
}

/// Adds a probe to the step's analysis. A probe fails when it is unhealthy or slower than
/// `max_latency`.
pub fn record(analysis: &mut StepAnalysis, probe: &Probe, max_latency: Option<Duration>) {
    let ms = probe.latency.as_millis() as i64;
    let slow = max_latency.is_some_and(|max| probe.latency > max);
    analysis.probes += 1;
    if !probe.healthy || slow {
        analysis.failures += 1;
        analysis.last_failure = Some(if probe.healthy {
            format!("answered in {ms}ms, over maxLatency")
        } else {
            probe.detail.to_owned()
        });
    }
    analysis.latencies_ms.push(ms);
    if analysis.latencies_ms.len() > KEPT_LATENCIES {
        analysis.latencies_ms.remove(0);
    }
    let ok = (analysis.probes - analysis.failures) as f64;
    analysis.success_rate = Some((1000.0 * ok / analysis.probes as f64).round() / 10.0);
    analysis.p95_latency_ms = p95(&analysis.latencies_ms);
}

/// The 95th percentile (nearest rank) of the latencies.
pub fn p95(latencies: &[i64]) -> Option<i64> {
    if latencies.is_empty() {
        return None;
    }
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let rank = ((sorted.len() as f64) * 0.95).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// What the canary does next.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Stay in the step.
    Hold,
    /// The step passed; go on to the step with this index (0-based).
    Next(usize),
    /// The last step passed: promote.
    Promote,
    /// Abort, with the measurement that failed.
    Abort(String),
}

/// What the current step (index `at`) says now. `pause_over`: its pause has run out (never while
/// a person has paused the canary). Without an analysis, only `consecutive_failures` reaching
/// `failure_threshold` (the health check's own rule) fails a step.
pub fn judge(
    steps: &[CanaryStep],
    at: usize,
    analysis: Option<&CanaryAnalysis>,
    measured: &StepAnalysis,
    consecutive_failures: i32,
    failure_threshold: i32,
    pause_over: bool,
) -> Verdict {
    let step = &steps[at];
    let here = format!(
        "step {} of {} (weight {}%)",
        at + 1,
        steps.len(),
        step.weight
    );
    let last = measured.last_failure.as_deref().unwrap_or("no detail");
    match analysis {
        Some(a) if measured.failures > a.failure_limit() => {
            return Verdict::Abort(format!(
                "{here}: {} of {} probes of the canary failed, over the failure limit of {}; last: {last}",
                measured.failures,
                measured.probes,
                a.failure_limit()
            ));
        }
        None if consecutive_failures >= failure_threshold => {
            return Verdict::Abort(format!(
                "{here}: {consecutive_failures} probes of the canary failed in a row; last: {last}"
            ));
        }
        _ => {}
    }
    if !pause_over {
        return Verdict::Hold;
    }
    if let Some(a) = analysis {
        if measured.probes == 0 {
            return Verdict::Hold;
        }
        if let (Some(min), Some(rate)) = (a.success_rate, measured.success_rate)
            && rate < min
        {
            return Verdict::Abort(format!(
                "{here}: success rate {rate}% over {} probes, below the required {min}%",
                measured.probes
            ));
        }
        let max = a
            .max_latency
            .as_deref()
            .and_then(crate::pipeline::duration::parse);
        if let (Some(max), Some(p95)) = (max, measured.p95_latency_ms)
            && p95 as u128 > max.as_millis()
        {
            return Verdict::Abort(format!(
                "{here}: p95 latency {p95}ms over {} probes, above the allowed {}ms",
                measured.probes,
                max.as_millis()
            ));
        }
    }
    if at + 1 < steps.len() {
        Verdict::Next(at + 1)
    } else {
        Verdict::Promote
    }
}

/// One line on where the canary stands, for the health step's message.
pub fn summary(
    steps: &[CanaryStep],
    at: usize,
    measured: &StepAnalysis,
    left: Option<Duration>,
) -> String {
    let step = &steps[at];
    let time = match left {
        Some(left) => format!("{} left", super::duration::humanize(left)),
        None => "paused".into(),
    };
    let rate = measured
        .success_rate
        .map_or("-".into(), |r| format!("{r}%"));
    let p95 = measured
        .p95_latency_ms
        .map_or("-".into(), |p| format!("{p}ms"));
    format!(
        "canary step {} of {}: {}% of traffic, {time}; {} probes, {rate} ok, p95 {p95}",
        at + 1,
        steps.len(),
        step.weight,
        measured.probes
    )
}

#[cfg(test)]
#[path = "canary_steps_tests.rs"]
mod tests;
