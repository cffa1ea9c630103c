//! The last few health probes of each service (when, whether it answered healthy, how long it
//! took), kept in memory so the dashboard can draw health and latency over time. Status only
//! records transitions and metrics only aggregates; this is the one place a single probe is
//! remembered. Bounded twice: [`SAMPLES`] a service, and services not probed for [`IDLE`] are
//! forgotten (deleted, or rolled back to nothing), so memory follows the live fleet.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

/// Probes kept a service: two minutes at the fastest interval, twenty at the default ten seconds.
pub const SAMPLES: usize = 120;
/// A service with no probe for this long is forgotten.
const IDLE: Duration = Duration::from_secs(3600);
/// How often the idle services are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    pub at: Timestamp,
    pub ok: bool,
    /// Milliseconds, fractional: a loopback probe takes well under one.
    pub latency_ms: f64,
}

/// A sample as kept: 8 bytes, a quarter of a `Sample`'s size, since a fleet of 10,000 services
/// keeps 1.2 million of them. The time to the second (probes are a second apart at the most),
/// the latency to the microsecond.
#[derive(Clone, Copy)]
struct Kept {
    /// Seconds since the Unix epoch (a `u32` lasts until 2106).
    at_s: u32,
    /// The latency in microseconds (at most 35 minutes, far above any probe's timeout) in the
    /// low 31 bits; the top bit set when the probe was healthy.
    latency_and_ok: u32,
}

const OK_BIT: u32 = 1 << 31;

impl Kept {
    fn new(at: Timestamp, ok: bool, latency: Duration) -> Self {
        let micros = u32::try_from(latency.as_micros()).map_or(!OK_BIT, |m| m.min(!OK_BIT));
        Self {
            at_s: u32::try_from(at.as_second()).unwrap_or(0),
            latency_and_ok: micros | if ok { OK_BIT } else { 0 },
        }
    }

    fn sample(self) -> Sample {
        Sample {
            at: Timestamp::from_second(i64::from(self.at_s)).unwrap_or(Timestamp::UNIX_EPOCH),
            ok: self.latency_and_ok & OK_BIT != 0,
            latency_ms: f64::from(self.latency_and_ok & !OK_BIT) / 1000.0,
        }
    }
}

#[derive(Default)]
struct Rings {
    by_service: HashMap<(String, String), VecDeque<Kept>>,
    last_sweep: Option<Timestamp>,
}

/// Shared by the probe pool, which records, and the read API, which reads; cloning shares it.
#[derive(Clone, Default)]
pub struct ProbeHistory {
    rings: Arc<Mutex<Rings>>,
}

impl ProbeHistory {
    /// Records one finished probe of the service's serving revision.
    pub fn record(&self, namespace: &str, name: &str, ok: bool, latency: Duration, at: Timestamp) {
        let mut rings = self.rings.lock().expect("probe history lock");
        rings.sweep(at);
        let ring = rings
            .by_service
            .entry((namespace.to_string(), name.to_string()))
            .or_default();
        if ring.len() == SAMPLES {
            ring.pop_front();
        }
        ring.push_back(Kept::new(at, ok, latency));
    }

    /// The service's probes, oldest first.
    pub fn samples(&self, namespace: &str, name: &str) -> Vec<Sample> {
        let rings = self.rings.lock().expect("probe history lock");
        rings
            .by_service
            .get(&(namespace.to_string(), name.to_string()))
            .map(|ring| ring.iter().map(|kept| kept.sample()).collect())
            .unwrap_or_default()
    }
}

impl Rings {
    fn sweep(&mut self, now: Timestamp) {
        let due = self
            .last_sweep
            .is_none_or(|at| now.duration_since(at).unsigned_abs() >= SWEEP_EVERY);
        if !due {
            return;
        }
        self.last_sweep = Some(now);
        self.by_service.retain(|_, ring| {
            ring.back()
                .is_some_and(|last| now.duration_since(last.sample().at).unsigned_abs() < IDLE)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).unwrap()
    }

    #[test]
    fn keeps_the_newest_samples_oldest_first() {
        let history = ProbeHistory::default();
        for i in 0..(SAMPLES as i64 + 5) {
            let ok = i % 2 == 0;
            history.record("team", "api", ok, Duration::from_millis(i as u64), at(i));
        }
        let samples = history.samples("team", "api");
        assert_eq!(samples.len(), SAMPLES);
        assert_eq!(samples[0].at, at(5), "the five oldest went");
        assert_eq!(samples.last().unwrap().at, at(SAMPLES as i64 + 4));
        assert_eq!(samples[0].latency_ms, 5.0);
        assert!(!samples[0].ok);
        assert!(history.samples("team", "other").is_empty());
    }

    #[test]
    fn a_sample_keeps_its_second_its_microseconds_and_its_outcome() {
        let history = ProbeHistory::default();
        let at = Timestamp::from_millisecond(1_800_000_000_750).unwrap();
        history.record("team", "api", true, Duration::from_micros(1_234), at);
        history.record("team", "api", false, Duration::from_secs(3600), at);
        let samples = history.samples("team", "api");
        assert_eq!(
            samples[0].at,
            Timestamp::from_second(1_800_000_000).unwrap()
        );
        assert!(samples[0].ok);
        assert_eq!(samples[0].latency_ms, 1.234);
        assert!(
            !samples[1].ok,
            "a latency past the field's range keeps its outcome"
        );
        assert_eq!(
            samples[1].latency_ms,
            f64::from(!OK_BIT) / 1000.0,
            "at most 35 minutes"
        );
        assert_eq!(std::mem::size_of::<Kept>(), 8);
    }

    #[test]
    fn a_service_not_probed_for_an_hour_is_forgotten() {
        let history = ProbeHistory::default();
        history.record("team", "gone", true, Duration::ZERO, at(0));
        history.record("team", "live", true, Duration::ZERO, at(3000));
        history.record("team", "live", true, Duration::ZERO, at(3700));
        assert!(history.samples("team", "gone").is_empty());
        assert_eq!(history.samples("team", "live").len(), 2);
    }

    #[test]
    fn serializes_as_the_api_documents_it() {
        let sample = Sample {
            at: at(0),
            ok: true,
            latency_ms: 1.5,
        };
        assert_eq!(
            serde_json::to_value(&sample).unwrap(),
            serde_json::json!({"at": "2027-01-15T08:00:00Z", "ok": true, "latencyMs": 1.5})
        );
    }
}
