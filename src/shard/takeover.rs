//! Taking over leaderless shards, and giving them back: the Lease I/O around [`super::plan`].
//!
//! A shard's Lease is the one lock on its services, whoever works them. A taker takes the Lease
//! itself (under an identity that says it is lent, see [`plan::taker_identity`]) only once the
//! Lease has gone unrenewed for its duration plus the takeover timeout; the shard's own process
//! stops working before its Lease runs out, so the two never overlap. Writes carry the Lease's
//! `resourceVersion`, so two processes racing for one Lease cannot both win. A shard's own
//! process that comes back finds its Lease lent and asks for it back with an annotation; the
//! taker stops working the shard first, then frees the Lease.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

use super::ShardConfig;
use super::count::{self, Announced};
use super::plan::{self, LeaseState};
use super::returning::RETURNING;

pub(super) const FIELD_MANAGER: &str = "chitty-operator-shard-takeover";

/// One process's view of the other shards' Leases, and the ones it has taken over.
pub struct Takeover {
    api: Api<Lease>,
    base: String,
    me: u16,
    count: u16,
    identity: String,
    lease_duration: Duration,
    renew_margin: Duration,
    /// How often the Leases are checked.
    check_interval: Duration,
    settle_time: Duration,
    takeover_after: Duration,
    /// Each other shard's Lease as last seen.
    seen: HashMap<u16, Seen>,
    /// The unsharded operator's Lease (`--lease-name` itself) as last seen.
    seen_unsharded: Seen,
    /// Taken-over shards, with the time of their last renewal.
    held: BTreeMap<u16, Instant>,
    /// Taken-over shards whose own process asked for them back; freed by [`Self::give_back`].
    returning: BTreeSet<u16>,
    /// Why this process must not work now: a live shard Lease announces another shard count.
    disagreement: Option<String>,
}

impl Takeover {
    pub fn new(
        api: Api<Lease>,
        base: &str,
        shards: &ShardConfig,
        election: &crate::leader::LeaderElection,
        identity: &str,
    ) -> Self {
        Self {
            api,
            base: base.to_string(),
            me: shards.index,
            count: shards.count,
            identity: plan::taker_identity(shards.index, identity),
            lease_duration: election.lease_duration,
            renew_margin: election.lease_renew_margin,
            check_interval: election.check_interval(),
            settle_time: election.settle_time(),
            takeover_after: shards.takeover_after,
            seen: HashMap::new(),
            seen_unsharded: Seen::default(),
            held: BTreeMap::new(),
            returning: BTreeSet::new(),
            disagreement: None,
        }
    }

    /// Why the shards must not be worked now (see [`count`]); `None` when every live shard
    /// Lease agrees on the count.
    pub fn disagreement(&self) -> Option<&str> {
        self.disagreement.as_deref()
    }

    /// Waits the settle time, then checks: by then every process that was already working has
    /// read this one's announced count (see [`count`]) and stopped if it disagrees.
    pub async fn settle(&mut self) {
        tokio::time::sleep(self.settle_time).await;
        self.check().await;
    }

    /// The shards worked besides this process's own: taken over and not being given back.
    pub fn working(&self) -> BTreeSet<u16> {
        (self.held.keys())
            .filter(|k| !self.returning.contains(k))
            .copied()
            .collect()
    }

    /// Checks the Leases every renewal interval until the shards to work change: one taken over,
    /// one lost, or one asked back; or until the shard counts come to agree or stop agreeing.
    /// Cancel-safe between checks.
    pub async fn next_change(&mut self) {
        loop {
            tokio::time::sleep(self.check_interval).await;
            let before = (self.working(), self.disagreement.is_some());
            self.check().await;
            if (self.working(), self.disagreement.is_some()) != before {
                return;
            }
        }
    }

    /// One look at every other shard's Lease: renews the held ones, notes who asks for theirs
    /// back and which count the live ones announce, and (while the counts agree) takes over the
    /// ones `plan` gives this shard.
    async fn check(&mut self) {
        let mut states = BTreeMap::new();
        let mut announced = BTreeMap::new();
        let mut unread = false;
        let me = self.me;
        for k in (0..self.count).filter(|k| *k != me) {
            let lease = match self.api.get_opt(&self.lease_name(k)).await {
                Ok(lease) => lease,
                Err(error) => {
                    tracing::debug!(%error, shard = k, "cannot read a shard Lease");
                    self.drop_if_overdue(k);
                    unread = true;
                    continue;
                }
            };
            if self.held.contains_key(&k) {
                self.keep(k, lease).await;
            } else {
                let state = self.observe(k, lease.as_ref());
                if let (LeaseState::Led | LeaseState::TakenBy(_), Some(lease)) = (&state, &lease) {
                    announced.insert(k, Announced::of(lease));
                }
                states.insert(k, state);
            }
        }
        let unsharded = self.unsharded_is_live().await;
        unread |= unsharded.is_none();
        let disagreement =
            count::disagreement(self.me, self.count, &announced, unsharded == Some(true));
        // A Lease that could not be read may still disagree: only a full reading clears it.
        if disagreement != self.disagreement && !(unread && disagreement.is_none()) {
            match &disagreement {
                Some(why) => tracing::error!("{why}"),
                None => tracing::info!("every live shard Lease announces this shard count again"),
            }
            self.disagreement = disagreement;
        }
        if self.disagreement.is_some() {
            return;
        }
        let take = plan::to_take_over(
            self.me,
            self.count,
            &states,
            self.lease_duration,
            self.takeover_after,
        );
        for k in take {
            match self.acquire(k).await {
                Ok(()) => {
                    tracing::warn!(
                        shard = k,
                        by = self.me,
                        "took over a shard that had no leader"
                    );
                    self.held.insert(k, Instant::now());
                }
                Err(error) => tracing::info!(%error, shard = k, "could not take over a shard"),
            }
        }
    }

    /// What a Lease not held here shows, timed by this process's clock (clocks may disagree).
    fn observe(&mut self, k: u16, lease: Option<&Lease>) -> LeaseState {
        let (holder, unchanged) = self.seen.entry(k).or_default().update(lease);
        match holder {
            Some(holder) if unchanged <= self.lease_duration => match plan::taker_of(&holder) {
                Some(taker) => LeaseState::TakenBy(taker),
                None => LeaseState::Led,
            },
            _ => LeaseState::Silent(unchanged),
        }
    }

    /// Whether an unsharded operator holds the fleet's own Lease: it works every service, so
    /// beside it no shard may work (`None` when the Lease cannot be read).
    async fn unsharded_is_live(&mut self) -> Option<bool> {
        let lease = match self.api.get_opt(&self.base).await {
            Ok(lease) => lease,
            Err(error) => {
                tracing::debug!(%error, "cannot read the unsharded operator's Lease");
                return None;
            }
        };
        let (holder, unchanged) = self.seen_unsharded.update(lease.as_ref());
        Some(holder.is_some() && unchanged <= self.lease_duration)
    }

    /// A held Lease: still ours? Asked back? Renew it.
    async fn keep(&mut self, k: u16, lease: Option<Lease>) {
        let Some(lease) = lease else {
            tracing::warn!(
                shard = k,
                "a taken-over shard's Lease was deleted; stopping its work"
            );
            self.held.remove(&k);
            return;
        };
        let holder = lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref());
        if holder != Some(self.identity.as_str()) {
            tracing::warn!(
                shard = k,
                ?holder,
                "a taken-over shard's Lease has another holder; stopping its work"
            );
            self.held.remove(&k);
            self.returning.remove(&k);
            return;
        }
        if lease
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(RETURNING))
            && self.returning.insert(k)
        {
            tracing::info!(shard = k, "the shard's own process is back; giving it back");
        }
        let patch = json!({
            "metadata": {"resourceVersion": lease.metadata.resource_version},
            "spec": {"renewTime": MicroTime(jiff::Timestamp::now())},
        });
        match self.patch(k, patch).await {
            Ok(()) => {
                self.held.insert(k, Instant::now());
            }
            Err(error) => {
                tracing::debug!(%error, shard = k, "could not renew a taken-over shard's Lease");
                self.drop_if_overdue(k);
            }
        }
    }

    /// Stops working a held shard whose Lease could not be renewed in time: past this point
    /// another process may take the Lease.
    fn drop_if_overdue(&mut self, k: u16) {
        if let Some(renewed) = self.held.get(&k)
            && renewed.elapsed() >= self.lease_duration - self.renew_margin
        {
            tracing::warn!(
                shard = k,
                "could not renew a taken-over shard's Lease; stopping its work"
            );
            self.held.remove(&k);
            self.returning.remove(&k);
        }
    }

    async fn acquire(&self, k: u16) -> kube::Result<()> {
        let now = MicroTime(jiff::Timestamp::now());
        let duration = self.lease_duration.as_secs() as i32;
        let Some(lease) = self.api.get_opt(&self.lease_name(k)).await? else {
            let lease: Lease = serde_json::from_value(json!({
                "metadata": {"name": self.lease_name(k),
                             "annotations": count::announcement(self.count)},
                "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": duration,
                         "acquireTime": now, "renewTime": now, "leaseTransitions": 0},
            }))
            .expect("a Lease");
            return self
                .api
                .create(&PostParams::default(), &lease)
                .await
                .map(|_| ());
        };
        let transitions = lease
            .spec
            .as_ref()
            .and_then(|s| s.lease_transitions)
            .unwrap_or(0);
        // The version read when the Lease was judged silent may be older: anything renewed since
        // fails this write with a conflict.
        let patch = json!({
            "metadata": {"resourceVersion": lease.metadata.resource_version,
                         "annotations": count::announcement(self.count)},
            "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": duration,
                     "acquireTime": now, "renewTime": now, "leaseTransitions": transitions + 1},
        });
        let silent_since = self
            .seen
            .get(&k)
            .map(|s| (s.holder.clone(), s.renewed.clone()));
        let current = lease.spec.as_ref().map(|s| {
            (
                s.holder_identity.clone().filter(|h| !h.is_empty()),
                s.renew_time.as_ref().map(|t| t.0.to_string()),
            )
        });
        if current.unwrap_or_default() != silent_since.unwrap_or_default() {
            return Err(kube::Error::Service(
                "the Lease moved since it was judged silent".into(),
            ));
        }
        self.patch(k, patch).await
    }

    /// Frees the Leases asked back. Call only once the controllers working them have stopped.
    pub async fn give_back(&mut self) {
        for k in std::mem::take(&mut self.returning) {
            self.release(k).await;
        }
    }

    /// Frees every held Lease (shutdown). Call only once the controllers have stopped.
    pub async fn release_all(&mut self) {
        let held: Vec<u16> = self.held.keys().copied().collect();
        for k in held {
            self.release(k).await;
        }
        self.returning.clear();
    }

    async fn release(&mut self, k: u16) {
        self.held.remove(&k);
        let lease = match self.api.get_opt(&self.lease_name(k)).await {
            Ok(Some(lease)) => lease,
            _ => return,
        };
        if lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            != Some(&self.identity)
        {
            return;
        }
        let patch = json!({
            "metadata": {"resourceVersion": lease.metadata.resource_version,
                         "annotations": {RETURNING: null}},
            "spec": {"holderIdentity": null, "renewTime": null, "acquireTime": null},
        });
        match self.patch(k, patch).await {
            Ok(()) => tracing::info!(shard = k, "gave a taken-over shard back"),
            // It runs out on its own; the shard's process takes it then.
            Err(error) => tracing::info!(%error, shard = k, "could not free a taken-over Lease"),
        }
    }

    async fn patch(&self, k: u16, patch: serde_json::Value) -> kube::Result<()> {
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        self.api
            .patch(&self.lease_name(k), &params, &Patch::Merge(patch))
            .await
            .map(|_| ())
    }

    fn lease_name(&self, k: u16) -> String {
        ShardConfig::lease_name(&self.base, k)
    }
}

/// A Lease as last seen here: its holder and renewal, and since when they have not changed.
#[derive(Default)]
struct Seen {
    holder: Option<String>,
    renewed: Option<String>,
    since: Option<Instant>,
}

impl Seen {
    /// Notes what `lease` shows now; returns its holder and how long that and its renewal have
    /// stayed the same, by this process's clock.
    fn update(&mut self, lease: Option<&Lease>) -> (Option<String>, Duration) {
        let spec = lease.and_then(|l| l.spec.as_ref());
        let holder = spec
            .and_then(|s| s.holder_identity.clone())
            .filter(|h| !h.is_empty());
        let renewed = spec
            .and_then(|s| s.renew_time.as_ref())
            .map(|t| t.0.to_string());
        if self.since.is_none() || (&self.holder, &self.renewed) != (&holder, &renewed) {
            *self = Self {
                holder: holder.clone(),
                renewed,
                since: Some(Instant::now()),
            };
        }
        (holder, self.since.map_or(Duration::ZERO, |t| t.elapsed()))
    }
}
