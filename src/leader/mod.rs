//! Leader election on a `coordination.k8s.io/v1` Lease (kube-lease-manager): of several replicas,
//! only the Lease holder runs the controllers, so only it writes.
//!
//! The controllers run as a future owned by the election loop. When the Lease is lost, or cannot
//! be renewed, that future is dropped at once, which cancels every reconcile in flight; the
//! replica then competes again under a fresh identity, so a Lease it may still hold on the server
//! has to run out before anyone, itself included, leads again.

mod settings;
mod timeout_client;

use std::future::Future;
use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use prometheus_client::metrics::gauge::Gauge;

pub use settings::LeaderElection;
pub use timeout_client::with_request_timeout;

/// What a replica is doing in the election, for readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Cannot reach the Lease yet (or again).
    Candidate,
    /// Reaches the Lease; another replica holds it.
    Standby,
    /// Holds the Lease and runs the controllers.
    Leader,
}

/// How the controllers' run ended.
enum Outcome {
    Finished(anyhow::Result<()>),
    Lost(String),
}

/// Competes for the Lease until `shutdown`; while this replica holds it, runs the future that
/// `lead` makes (the controllers, which stop gracefully on `shutdown` themselves). Reports each
/// role change to `on_role` and keeps `leading` at 1 exactly while the controllers run.
pub async fn run_elected<F, Fut, S>(
    client: Client,
    election: &LeaderElection,
    leading: Gauge,
    on_role: impl Fn(Role),
    mut lead: F,
    shutdown: S,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
    S: Future<Output = ()> + Clone,
{
    election.validate().map_err(anyhow::Error::msg)?;
    let client = with_request_timeout(client, election.request_timeout());
    let namespace = election.namespace();
    let mut retry = Backoff::default();
    loop {
        on_role(Role::Candidate);
        let identity = fresh_identity(election.pod_name.as_deref());
        let manager = tokio::select! {
            _ = shutdown.clone() => return Ok(()),
            manager = connect(&client, election, &namespace, &identity) => manager,
        };
        let manager = match manager {
            Ok(manager) => manager,
            Err(error) => {
                tracing::warn!(%error, lease = %election.lease_name, %namespace, "cannot reach the leader Lease; retrying");
                if !retry.sleep_unless(shutdown.clone()).await {
                    return Ok(());
                }
                continue;
            }
        };
        on_role(Role::Standby);
        tracing::info!(%identity, lease = %election.lease_name, %namespace, "standing by for the leader Lease");

        // Standing by: wait until this identity holds the Lease.
        let acquired = loop {
            tokio::select! {
                _ = shutdown.clone() => {
                    // An acquisition cut short may still have reached the server.
                    release(&manager, election.request_timeout()).await;
                    return Ok(());
                }
                changed = manager.changed() => match changed {
                    Ok(true) => break true,
                    Ok(false) => continue,
                    Err(error) => {
                        tracing::warn!(%error, "leader Lease check failed");
                        break false;
                    }
                },
            }
        };
        if !acquired {
            if !retry.sleep_unless(shutdown.clone()).await {
                return Ok(());
            }
            continue;
        }
        retry = Backoff::default();

        tracing::info!(%identity, "acquired the leader Lease; starting the controllers");
        leading.set(1);
        on_role(Role::Leader);
        let outcome = {
            let controllers = lead();
            futures::pin_mut!(controllers);
            loop {
                tokio::select! {
                    result = &mut controllers => break Outcome::Finished(result),
                    changed = manager.changed() => match changed {
                        // Not a change while leading; keep renewing.
                        Ok(true) => continue,
                        Ok(false) => break Outcome::Lost("another replica holds the Lease".into()),
                        Err(error) => break Outcome::Lost(format!("the Lease could not be renewed: {error}")),
                    },
                }
            }
            // Leaving this block drops the controllers: reconciles in flight are cancelled.
        };
        leading.set(0);
        match outcome {
            Outcome::Finished(result) => {
                // Shutdown (or a failed controller): hand over at once rather than after expiry.
                release(&manager, election.request_timeout()).await;
                tracing::info!(%identity, "released the leader Lease");
                return result;
            }
            Outcome::Lost(why) => {
                tracing::warn!(%identity, %why, "lost the leader Lease; controllers stopped");
                release(&manager, election.request_timeout()).await;
            }
        }
    }
}

async fn connect(
    client: &Client,
    election: &LeaderElection,
    namespace: &str,
    identity: &str,
) -> kube_lease_manager::Result<LeaseManager> {
    LeaseManagerBuilder::new(client.clone(), &election.lease_name)
        .with_namespace(namespace)
        .with_identity(identity)
        .with_field_manager(format!("chitty-operator-election-{identity}"))
        .with_duration(election.lease_duration.as_secs())
        .with_grace(election.lease_renew_margin.as_secs())
        .build()
        .await
}

/// Best effort: frees the Lease if this identity still holds it. Errors are expected when the
/// API server is what failed; the Lease then simply runs out.
async fn release(manager: &LeaseManager, timeout: Duration) {
    // Two requests at most (read, then patch), each already bounded by the client.
    match tokio::time::timeout(timeout * 3, manager.release()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::debug!(%error, "could not release the leader Lease"),
        Err(_) => tracing::debug!("releasing the leader Lease timed out"),
    }
}

/// Length of the random part that ends each identity, after a `-`.
const SUFFIX_LEN: usize = 6;

/// The pod's name (or host name) with a random suffix: unique per process and per attempt.
pub fn fresh_identity(pod_name: Option<&str>) -> String {
    let base = pod_name
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "chitty-operator".to_string());
    let suffix: String = (0..SUFFIX_LEN).map(|_| fastrand::alphanumeric()).collect();
    format!("{base}-{}", suffix.to_ascii_lowercase())
}

/// The pod a Lease holder identity names: the identity without its random suffix. Only a name
/// to look up; whether that pod is a replica, and where it listens, the pod itself tells (an
/// older holder may still append `@address`, which is ignored: anyone who may write the Lease
/// could have written it).
pub fn holder_pod(holder: &str) -> Option<&str> {
    let identity = holder.split('@').next().unwrap_or(holder);
    let (pod, suffix) = identity.rsplit_once('-')?;
    let random = suffix.len() == SUFFIX_LEN && suffix.bytes().all(|b| b.is_ascii_alphanumeric());
    (random && !pod.is_empty()).then_some(pod)
}

/// Doubling pause between failed attempts to reach the Lease.
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: Duration::from_millis(500),
        }
    }
}

impl Backoff {
    const MAX: Duration = Duration::from_secs(10);

    /// The next pause, doubling the one after it.
    fn advance(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        pause
    }

    /// Sleeps for the next pause; false if `shutdown` came first.
    async fn sleep_unless(&mut self, shutdown: impl Future<Output = ()>) -> bool {
        let pause = self.advance();
        tokio::select! {
            _ = shutdown => false,
            _ = tokio::time::sleep(pause) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_differ_between_attempts() {
        assert_ne!(fresh_identity(Some("pod")), fresh_identity(Some("pod")));
    }

    #[test]
    fn the_holder_pod_is_the_identity_without_its_suffix() {
        let identity = fresh_identity(Some("chitty-operator-7d9f-x2b4c"));
        assert_eq!(holder_pod(&identity), Some("chitty-operator-7d9f-x2b4c"));
        assert_eq!(
            holder_pod("pod-a-x1y2z3@127.0.0.1:9"),
            Some("pod-a"),
            "an address after @ is not used"
        );
        assert_eq!(holder_pod("usurper"), None);
        assert_eq!(holder_pod("pod-abc"), None, "no random suffix");
        assert_eq!(holder_pod("-x1y2z3"), None);
    }

    #[test]
    fn backoff_doubles_up_to_a_ceiling() {
        let mut backoff = Backoff::default();
        let pauses: Vec<Duration> = (0..7).map(|_| backoff.advance()).collect();
        assert_eq!(pauses[0], Duration::from_millis(500));
        assert_eq!(pauses[1], Duration::from_secs(1));
        assert_eq!(*pauses.last().unwrap(), Backoff::MAX);
    }

    #[tokio::test]
    async fn backoff_gives_way_to_shutdown() {
        let mut backoff = Backoff {
            next: Duration::from_secs(3600),
        };
        assert!(!backoff.sleep_unless(async {}).await);
    }
}
