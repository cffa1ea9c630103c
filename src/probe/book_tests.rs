//! The probe book's rules, without a clock or a network.

use super::*;

fn key(name: &str) -> ProbeKey {
    ProbeKey {
        owner: ProbeOwner::Service,
        namespace: "team".into(),
        name: name.into(),
    }
}

fn target(url: &str) -> ProbeTarget {
    ProbeTarget {
        url: url.into(),
        timeout: Duration::from_secs(5),
        interval: Duration::from_secs(10),
    }
}

fn result(healthy: bool, unresponsive: bool) -> ProbeResult {
    ProbeResult {
        healthy,
        detail: "d".into(),
        latency: Duration::from_millis(3),
        unresponsive,
    }
}

fn start(lane: Lane, after_secs: u64) -> Option<Start> {
    Some(Start {
        lane,
        after: Duration::from_secs(after_secs),
    })
}

#[test]
fn one_probe_in_flight_per_key_and_its_result_is_consumed_once() {
    let (mut book, t0) = (Book::default(), Instant::now());
    let (a, t) = (key("a"), target("http://a/health"));
    assert_eq!(
        book.take(&a, &t, t0),
        (Lookup::Pending, start(Lane::Main, 0))
    );
    assert_eq!(
        book.take(&a, &t, t0),
        (Lookup::Pending, None),
        "deduplicated"
    );
    assert_eq!(
        book.take(&key("b"), &t, t0).1,
        start(Lane::Main, 0),
        "another key is its own"
    );
    assert_eq!(book.in_flight(), 2);
    let done = t0 + Duration::from_secs(4);
    book.complete(&a, &t, result(true, false), done);
    assert_eq!(
        book.take(&a, &t, done),
        (
            Lookup::Fresh {
                result: result(true, false),
                healthy_between: false
            },
            start(Lane::Main, 6)
        ),
        "consumed; the next probe is scheduled one interval after the last one started"
    );
    assert_eq!(
        book.take(&a, &t, done),
        (Lookup::Pending, None),
        "consumed once, and the next one is already scheduled"
    );
}

#[test]
fn a_key_that_did_not_answer_takes_the_slow_lane_until_it_answers() {
    let (mut book, t0) = (Book::default(), Instant::now());
    let (a, t) = (key("tarpit"), target("http://a/health"));
    let at = |s: u64| t0 + Duration::from_secs(s);
    assert_eq!(book.take(&a, &t, at(0)).1, start(Lane::Main, 0), "fresh");
    book.complete(&a, &t, result(false, true), at(5));
    let (lookup, next) = book.take(&a, &t, at(5));
    assert!(matches!(lookup, Lookup::Fresh { .. }));
    assert_eq!(next, start(Lane::Slow, 5));
    book.complete(&a, &t, result(false, false), at(12));
    assert_eq!(
        book.take(&a, &t, at(12)).1,
        start(Lane::Main, 8),
        "an answer, even a 503, is not a tarpit"
    );
}

#[test]
fn a_result_for_another_url_is_dropped() {
    let (mut book, t0) = (Book::default(), Instant::now());
    let a = key("a");
    book.take(&a, &target("http://old/health"), t0);
    book.complete(&a, &target("http://old/health"), result(true, false), t0);
    let (lookup, next) = book.take(&a, &target("http://new/health"), t0);
    assert_eq!(lookup, Lookup::Pending);
    assert_eq!(next, start(Lane::Main, 10));
}

fn every(secs: u64) -> ProbeTarget {
    ProbeTarget {
        interval: Duration::from_secs(secs),
        ..target("http://a/health")
    }
}

#[test]
fn within_the_budget_every_service_keeps_its_interval() {
    let (mut book, t0) = (Book::with_budget(10), Instant::now());
    for i in 0..20 {
        book.take(&key(&format!("s{i}")), &every(2), t0);
    }
    assert_eq!(
        book.stretch(),
        1.0,
        "20 services every 2 s ask for 10 a second"
    );
    book.complete(
        &key("s0"),
        &target("http://a/health"),
        result(true, false),
        t0,
    );
    let at = t0 + Duration::from_millis(500);
    assert_eq!(
        book.take(&key("s0"), &every(2), at).1,
        Some(Start {
            lane: Lane::Main,
            after: Duration::from_millis(1500)
        })
    );
}

#[test]
fn past_the_budget_every_service_waits_the_same_times_longer() {
    let (mut book, t0) = (Book::with_budget(10), Instant::now());
    for i in 0..40 {
        book.take(&key(&format!("s{i}")), &every(2), t0);
    }
    assert_eq!(book.stretch(), 2.0, "20 a second asked of 10");
    book.complete(
        &key("s0"),
        &target("http://a/health"),
        result(true, false),
        t0,
    );
    assert_eq!(book.take(&key("s0"), &every(2), t0).1, start(Lane::Main, 4));
    // A rollout's health step holds a rollout up: never stretched, never counted.
    let rollout = ProbeKey {
        owner: ProbeOwner::Rollout,
        ..key("r")
    };
    book.take(&rollout, &every(2), t0);
    book.complete(
        &rollout,
        &target("http://a/health"),
        result(true, false),
        t0,
    );
    assert_eq!(book.take(&rollout, &every(2), t0).1, start(Lane::Main, 2));
    assert_eq!(book.stretch(), 2.0);
}

#[test]
fn a_service_no_longer_asked_about_stops_counting() {
    let (mut book, t0) = (Book::with_budget(1), Instant::now());
    for name in ["gone", "kept"] {
        book.take(&key(name), &every(1), t0);
        book.complete(
            &key(name),
            &target("http://a/health"),
            result(true, false),
            t0,
        );
    }
    assert_eq!(book.stretch(), 2.0);
    // `kept` is asked about on each of its (stretched) intervals; `gone` never again.
    // The sweep looks every minute; `gone` has missed two probes by the second one.
    let mut now = t0;
    for _ in 0..70 {
        now += Duration::from_secs(2);
        book.take(&key("kept"), &every(1), now);
        book.complete(
            &key("kept"),
            &target("http://a/health"),
            result(true, false),
            now,
        );
    }
    assert_eq!(book.stretch(), 1.0);
}

#[test]
fn without_a_budget_nothing_is_stretched() {
    let (mut book, t0) = (Book::default(), Instant::now());
    for i in 0..1000 {
        book.take(&key(&format!("s{i}")), &every(1), t0);
    }
    assert_eq!(book.stretch(), 1.0);
}

#[test]
fn idle_entries_are_forgotten_but_not_those_in_flight() {
    let (mut book, t0) = (Book::default(), Instant::now());
    let t = target("http://a/health");
    book.take(&key("idle"), &t, t0);
    book.complete(&key("idle"), &t, result(true, false), t0);
    book.take(&key("busy"), &t, t0);
    let much_later = t0 + IDLE + SWEEP_EVERY;
    book.take(&key("other"), &t, much_later);
    assert_eq!(book.entries.len(), 2, "busy and other remain");
    assert!(!book.entries.contains_key(&key("idle")));
}

#[test]
fn a_quiet_keys_healthy_results_wake_nobody_and_the_next_probe_follows() {
    let (mut book, t0) = (Book::default(), Instant::now());
    let (a, t) = (key("a"), target("http://a/health"));
    let at = |s: u64| t0 + Duration::from_secs(s);
    book.take(&a, &t, at(0));
    assert_eq!(
        book.complete(&a, &t, result(true, false), at(1)),
        AfterProbe::Wake
    );
    assert!(matches!(book.take(&a, &t, at(1)).0, Lookup::Fresh { .. }));
    book.settle(&a, true);
    assert_eq!(
        book.complete(&a, &t, result(true, false), at(11)),
        AfterProbe::Again(Start {
            lane: Lane::Main,
            after: Duration::from_secs(9)
        }),
        "healthy as recorded: the pool schedules the next probe one interval after this one started"
    );
    assert_eq!(book.in_flight(), 1, "the next probe is scheduled");
    assert_eq!(
        book.complete(&a, &t, result(false, false), at(21)),
        AfterProbe::Wake,
        "a failure always wakes"
    );
    let (lookup, next) = book.take(&a, &t, at(21));
    assert_eq!(
        lookup,
        Lookup::Fresh {
            result: result(false, false),
            healthy_between: true
        },
        "the owner learns a healthy result came between"
    );
    assert!(next.is_some());
    // The owner recorded the failure: not quiet, so the recovery wakes it too.
    book.settle(&a, false);
    assert_eq!(
        book.complete(&a, &t, result(true, false), at(31)),
        AfterProbe::Wake
    );
    let (lookup, _) = book.take(&a, &t, at(31));
    assert_eq!(
        lookup,
        Lookup::Fresh {
            result: result(true, false),
            healthy_between: false
        }
    );
}

#[test]
fn a_quiet_key_nobody_asks_about_stops_being_probed_after_its_lease() {
    let (mut book, t0) = (Book::default(), Instant::now());
    let (a, t) = (key("a"), target("http://a/health"));
    book.take(&a, &t, t0);
    book.settle(&a, true);
    let within = t0 + QUIET_RECHECK;
    assert!(matches!(
        book.complete(&a, &t, result(true, false), within),
        AfterProbe::Again(_)
    ));
    let past = t0 + 2 * QUIET_RECHECK + Duration::from_secs(1);
    assert_eq!(
        book.complete(&a, &t, result(true, false), past),
        AfterProbe::Wake,
        "past the lease the owner is woken, and its look renews it (or it is gone)"
    );
    assert_eq!(book.in_flight(), 0);
}

#[test]
fn a_quiet_key_keeps_its_demand_between_looks() {
    let (mut book, t0) = (Book::with_budget(1), Instant::now());
    for name in ["a", "b"] {
        book.take(&key(name), &every(1), t0);
        book.settle(&key(name), true);
    }
    assert_eq!(book.stretch(), 2.0);
    // Four minutes without a look: quiet keys are still probed, so still counted.
    book.take(&key("c"), &every(1000), t0 + Duration::from_secs(240));
    assert!(book.stretch() >= 2.0, "{}", book.stretch());
}
