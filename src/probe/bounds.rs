//! The limits every probe keeps, whatever the manifest says: the CRD refuses values outside them
//! at admission, and these clamps cover objects admitted by an older CRD (or a stored
//! ChittyDeployment snapshot taken before). A zero interval once meant ~128 status writes a
//! second from one service; an unbounded timeout let one tarpit hold a probe slot forever.

use std::time::Duration;

use crate::pipeline::duration::parse_or;

/// The shortest time between two probes of one object.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The longest time between two probes: a day.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The longest one probe may take; also its hard deadline in the pool.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// The shortest timeout: less cannot complete a TCP handshake across a cluster.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(100);
/// The longest a rollout's health step (or a canary's monitoring) may be given: a day.
pub const MAX_DEADLINE: Duration = Duration::from_secs(24 * 3600);

const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// `health.interval`, within bounds.
pub fn interval(text: &str) -> Duration {
    parse_or(text, DEFAULT_INTERVAL).clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// `health.timeout`, within bounds.
pub fn timeout(text: &str) -> Duration {
    parse_or(text, DEFAULT_TIMEOUT).clamp(MIN_TIMEOUT, MAX_TIMEOUT)
}

/// `health.progressDeadline` or `canary.monitorDuration`, at most a day.
pub fn deadline(text: &str, default: Duration) -> Duration {
    parse_or(text, default).min(MAX_DEADLINE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_from_an_older_crd_are_clamped() {
        assert_eq!(interval("0s"), MIN_INTERVAL);
        assert_eq!(interval("300ms"), MIN_INTERVAL);
        assert_eq!(interval("15s"), Duration::from_secs(15));
        assert_eq!(interval("4294967296s"), DEFAULT_INTERVAL, "unparseable");
        assert_eq!(interval("1000h"), MAX_INTERVAL);
        assert_eq!(timeout("0s"), MIN_TIMEOUT);
        assert_eq!(timeout("1h"), MAX_TIMEOUT);
        assert_eq!(timeout("2s"), Duration::from_secs(2));
        assert_eq!(deadline("90000h", Duration::ZERO), MAX_DEADLINE);
    }
}
