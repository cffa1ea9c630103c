use super::*;

fn steps(weights: &[i32]) -> Vec<CanaryStep> {
    weights
        .iter()
        .map(|w| CanaryStep {
            weight: *w,
            pause: "1m".into(),
        })
        .collect()
}

fn measured(results: &[(bool, u64)], max: Option<Duration>) -> StepAnalysis {
    let mut a = StepAnalysis::default();
    for (healthy, ms) in results {
        let probe = Probe {
            healthy: *healthy,
            latency: Duration::from_millis(*ms),
            detail: "HTTP 503",
        };
        record(&mut a, &probe, max);
    }
    a
}

fn analysis(rate: Option<f64>, max: Option<&str>, limit: Option<i32>) -> CanaryAnalysis {
    CanaryAnalysis {
        success_rate: rate,
        max_latency: max.map(str::to_owned),
        failure_limit: limit,
        url: None,
    }
}

#[test]
fn p95_is_the_nearest_rank() {
    assert_eq!(p95(&[]), None);
    assert_eq!(p95(&[7]), Some(7));
    let hundred: Vec<i64> = (1..=100).collect();
    assert_eq!(p95(&hundred), Some(95));
    assert_eq!(p95(&[10, 20, 30, 1000]), Some(1000));
}

#[test]
fn a_step_holds_through_its_pause_then_moves_on_and_the_last_promotes() {
    let s = steps(&[10, 50, 100]);
    let ok = measured(&[(true, 5), (true, 6)], None);
    assert_eq!(judge(&s, 0, None, &ok, 0, 3, false), Verdict::Hold);
    assert_eq!(judge(&s, 0, None, &ok, 0, 3, true), Verdict::Next(1));
    assert_eq!(judge(&s, 2, None, &ok, 0, 3, true), Verdict::Promote);
}

#[test]
fn failures_over_the_limit_abort_at_once_naming_the_measurement() {
    let s = steps(&[10, 50, 100]);
    let a = analysis(None, None, Some(1));
    let bad = measured(&[(true, 5), (false, 5), (false, 5)], None);
    let Verdict::Abort(why) = judge(&s, 1, Some(&a), &bad, 2, 3, false) else {
        panic!("expected an abort")
    };
    assert!(why.contains("step 2 of 3 (weight 50%)"), "{why}");
    assert!(why.contains("2 of 3 probes"), "{why}");
    assert!(why.contains("HTTP 503"), "{why}");
    let one = measured(&[(false, 5)], None);
    assert_eq!(
        judge(&s, 1, Some(&a), &one, 1, 3, false),
        Verdict::Hold,
        "within the limit"
    );
}

#[test]
fn the_success_rate_and_p95_are_judged_at_the_end_of_the_pause() {
    let s = steps(&[20]);
    let mostly = measured(&[(true, 5), (true, 5), (true, 5), (false, 5)], None);
    let strict = analysis(Some(90.0), None, Some(5));
    let Verdict::Abort(why) = judge(&s, 0, Some(&strict), &mostly, 1, 3, true) else {
        panic!("75% is below 90%")
    };
    assert!(why.contains("success rate 75%"), "{why}");
    let slow = measured(&[(true, 100), (true, 900)], None);
    let fast = analysis(None, Some("500ms"), Some(5));
    let Verdict::Abort(why) = judge(&s, 0, Some(&fast), &slow, 0, 3, true) else {
        panic!("900ms is over 500ms")
    };
    assert!(why.contains("p95 latency 900ms"), "{why}");
    let fine = measured(&[(true, 100), (true, 120)], None);
    assert_eq!(
        judge(&s, 0, Some(&fast), &fine, 0, 3, true),
        Verdict::Promote
    );
}

#[test]
fn a_slow_probe_counts_as_a_failure_when_a_latency_gate_is_set() {
    let a = measured(&[(true, 900)], Some(Duration::from_millis(500)));
    assert_eq!((a.probes, a.failures), (1, 1));
    assert!(a.last_failure.unwrap().contains("900ms"));
}

#[test]
fn without_an_analysis_the_health_checks_own_threshold_decides() {
    let s = steps(&[10]);
    let a = StepAnalysis::default();
    assert!(matches!(
        judge(&s, 0, None, &a, 3, 3, false),
        Verdict::Abort(_)
    ));
    assert_eq!(judge(&s, 0, None, &a, 2, 3, false), Verdict::Hold);
}

#[test]
fn only_the_latest_latencies_are_kept() {
    let many: Vec<(bool, u64)> = (0..150).map(|i| (true, i)).collect();
    let a = measured(&many, None);
    assert_eq!(a.latencies_ms.len(), 100);
    assert_eq!(a.probes, 150);
}
