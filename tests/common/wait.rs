//! Waiting for the cluster: every wait is bounded, and one that runs out fails the test with the
//! last thing it saw.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use chitty_operator::api::ChittyService;
use chitty_operator::api::conditions::{self, types};
use kube::Api;
use serde::de::DeserializeOwned;

/// How long a wait lasts unless a test says otherwise: a rollout on a busy two-core machine
/// fits in it with room to spare.
pub const TIMEOUT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(250);

/// Polls until `check` accepts the object, or fails the test with the last state seen.
pub async fn wait_for<K, F>(api: &Api<K>, name: &str, what: &str, check: F) -> K
where
    K: Clone + DeserializeOwned + Debug + kube::Resource,
    F: FnMut(&K) -> bool,
{
    wait_for_within(api, name, what, TIMEOUT, check).await
}

/// [`wait_for`] with a timeout of the test's own.
pub async fn wait_for_within<K, F>(
    api: &Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
    mut check: F,
) -> K
where
    K: Clone + DeserializeOwned + Debug + kube::Resource,
    F: FnMut(&K) -> bool,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        match api.get_opt(name).await {
            Ok(Some(obj)) if check(&obj) => return obj,
            Ok(Some(obj)) => last = Some(format!("{obj:#?}")),
            Ok(None) => last = Some("no such object".into()),
            Err(e) => last = Some(format!("the read failed: {e}")),
        }
        tokio::time::sleep(POLL).await;
    }
    panic!(
        "timed out after {timeout:?} waiting for {name}: {what}; last seen: {}",
        last.as_deref().unwrap_or("nothing (no read finished)")
    );
}

/// Polls until the object is gone.
pub async fn wait_gone<K>(api: &Api<K>, name: &str, what: &str)
where
    K: Clone + DeserializeOwned + Debug + kube::Resource,
{
    let _ = eventually(what, || api.get_opt(name), |r| matches!(r, Ok(None))).await;
}

/// Polls until `check` holds for the value `read` produces.
pub async fn eventually<T, Fut>(
    what: &str,
    read: impl FnMut() -> Fut,
    check: impl Fn(&T) -> bool,
) -> T
where
    Fut: Future<Output = T>,
    T: Debug,
{
    eventually_within(what, TIMEOUT, read, check).await
}

/// [`eventually`] with a timeout of the test's own.
pub async fn eventually_within<T, Fut>(
    what: &str,
    timeout: Duration,
    mut read: impl FnMut() -> Fut,
    check: impl Fn(&T) -> bool,
) -> T
where
    Fut: Future<Output = T>,
    T: Debug,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let value = read().await;
        if check(&value) {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last value: {value:#?}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The status speaks for the spec the service has now.
pub fn observed(s: &ChittyService) -> bool {
    s.status.as_ref().and_then(|st| st.observed_generation) == s.metadata.generation
}

/// Ready=True for the current generation.
pub fn ready(s: &ChittyService) -> bool {
    observed(s)
        && s.status
            .as_ref()
            .is_some_and(|st| conditions::is_true(&st.conditions, types::READY))
}

/// Ready=True for the current generation, which asks for `version`.
pub fn ready_at(s: &ChittyService, version: &str) -> bool {
    s.spec.version == version && ready(s)
}

/// Stalled=True for the current generation.
pub fn stalled(s: &ChittyService) -> bool {
    observed(s)
        && s.status
            .as_ref()
            .is_some_and(|st| conditions::is_true(&st.conditions, types::STALLED))
}
