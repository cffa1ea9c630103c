//! The workload controller's memory of its own applies (see [`AppliedMemo`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the operator last applied to each object, so that it neither applies twice what the cache
/// has not shown yet nor re-applies what the server merely rewrote.
///
/// - Right after an apply the cache may still show the object as it was, or a later version of
///   it that predates the apply (the Deployment controller's status writes): a reconcile in that
///   window would find the same difference, apply again and report the repair twice. Until the
///   cache shows the version the apply produced (bounded by `CATCH_UP`), it is "behind".
/// - Once the cache shows the version the apply produced and the desired object is unchanged, a
///   remaining difference is the server's own rewriting of a value (a quantity, a default) and
///   not drift, so it is not applied again.
#[derive(Default)]
pub struct AppliedMemo(Mutex<HashMap<String, Applied>>);

struct Applied {
    /// The resourceVersion the server gave back.
    produced: Option<String>,
    /// Whether the cache has shown `produced` yet.
    seen: bool,
    desired: u64,
    at: Instant,
}

/// How long the cache may lag behind an apply before the reconcile stops waiting for it.
pub const CATCH_UP: Duration = Duration::from_secs(3);

impl AppliedMemo {
    /// The cache has not yet shown what an apply of moments ago produced.
    pub fn behind(&self, key: &str, live_version: Option<&str>) -> bool {
        let mut memo = self.0.lock().expect("applied memo lock");
        let Some(applied) = memo.get_mut(key) else {
            return false;
        };
        if live_version.is_some() && applied.produced.as_deref() == live_version {
            applied.seen = true;
        }
        !applied.seen && applied.at.elapsed() < CATCH_UP
    }

    /// The cache shows exactly what the last apply of this same desired object produced.
    pub fn holds(&self, key: &str, live_version: Option<&str>, desired: u64) -> bool {
        let memo = self.0.lock().expect("applied memo lock");
        memo.get(key).is_some_and(|a| {
            live_version.is_some() && a.produced.as_deref() == live_version && a.desired == desired
        })
    }

    pub fn record(&self, key: String, produced: Option<String>, desired: u64) {
        let applied = Applied {
            produced,
            seen: false,
            desired,
            at: Instant::now(),
        };
        self.0
            .lock()
            .expect("applied memo lock")
            .insert(key, applied);
    }

    pub fn forget(&self, key: &str) {
        self.0.lock().expect("applied memo lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_skips_only_the_same_desired_object_at_the_version_it_produced() {
        let memo = AppliedMemo::default();
        memo.record("Deployment/ns/web".into(), Some("7".into()), 1);
        assert!(memo.holds("Deployment/ns/web", Some("7"), 1));
        assert!(
            !memo.holds("Deployment/ns/web", Some("8"), 1),
            "changed since"
        );
        assert!(
            !memo.holds("Deployment/ns/web", Some("7"), 2),
            "wanted something else"
        );
    }

    #[test]
    fn the_cache_is_behind_until_it_shows_what_the_apply_produced() {
        let memo = AppliedMemo::default();
        memo.record("Service/ns/web".into(), Some("9".into()), 1);
        assert!(memo.behind("Service/ns/web", None), "created, not seen yet");
        assert!(memo.behind("Service/ns/web", Some("8")), "an older version");
        assert!(!memo.behind("Service/ns/web", Some("9")), "seen");
        assert!(
            !memo.behind("Service/ns/web", None),
            "seen, then deleted: repair it"
        );
        assert!(!memo.behind("Service/ns/other", None), "never applied");
        memo.record("Service/ns/web".into(), Some("12".into()), 1);
        memo.forget("Service/ns/web");
        assert!(!memo.behind("Service/ns/web", None));
    }
}
