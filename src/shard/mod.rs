//! Sharding: several operator Deployments split the ChittyServices between them.
//!
//! Each ChittyService hashes into a fixed bucket (see [`bucket`]); shard `i` of `n` works the
//! buckets `b % n == i`, caches only the objects labelled with them, and elects its leader on its
//! own Lease, `<lease-name>-shard-<i>`. Route decisions need every claim of the fleet, so one
//! process, elected on `<lease-name>-routes`, owns the route rule for all shards (see
//! `docs/sharding.md` for why that rather than every shard reading every claim).
//!
//! A shard without a leader for longer than `--shard-takeover-after` is taken over by the next
//! live shard, which takes its Lease (so the Lease stays the one lock on the shard's services) and
//! gives it back when the shard's own process asks for it (see [`takeover`]).
//!
//! Every shard Lease carries its holder's shard count, and a process works only while all the
//! live ones agree with its own (see [`count`]), so two counts at once pause rather than write.

pub mod bucket;
pub mod count;
pub mod plan;
pub mod returning;
pub mod takeover;

use std::collections::BTreeSet;
use std::time::Duration;

/// `--shard-count`, `--shard-index`, `--shard-takeover-after`.
#[derive(clap::Args, Clone, Debug)]
pub struct ShardConfig {
    /// Into how many shards the ChittyServices are split; each shard is one operator Deployment.
    #[arg(long = "shard-count", env = "CHITTY_SHARD_COUNT", default_value_t = 1)]
    pub count: u16,

    /// Which shard this process runs, from 0 to `--shard-count` - 1.
    #[arg(long = "shard-index", env = "CHITTY_SHARD_INDEX", default_value_t = 0)]
    pub index: u16,

    /// How long a shard may be without a leader before the next live shard takes its services
    /// over (on top of its Lease running out). Long enough to ride out a rolling update.
    #[arg(
        long = "shard-takeover-after",
        env = "CHITTY_SHARD_TAKEOVER_AFTER",
        default_value = "30s",
        value_parser = crate::config::parse_duration
    )]
    pub takeover_after: Duration,
}

impl Default for ShardConfig {
    fn default() -> Self {
        Self {
            count: 1,
            index: 0,
            takeover_after: Duration::from_secs(30),
        }
    }
}

impl ShardConfig {
    /// More than one shard: the fleet is split and each process caches its share only.
    pub fn is_sharded(&self) -> bool {
        self.count > 1
    }

    /// Refuses settings under which a service could have no shard or two.
    pub fn validate(&self, leader_elect: bool) -> Result<(), String> {
        if self.count == 0 {
            return Err(
                "--shard-count must be at least 1 (1 runs the whole fleet in one shard)".into(),
            );
        }
        if self.count > bucket::BUCKETS {
            return Err(format!(
                "--shard-count {} is more than the {} buckets the fleet is hashed into",
                self.count,
                bucket::BUCKETS
            ));
        }
        if self.index >= self.count {
            return Err(format!(
                "--shard-index {} is out of range for --shard-count {}: shards are numbered 0 to {}",
                self.index,
                self.count,
                self.count - 1
            ));
        }
        if self.is_sharded() && !leader_elect {
            return Err(
                "--shard-count above 1 needs --leader-elect: each shard's Lease is what keeps \
                 two processes from writing one service"
                    .into(),
            );
        }
        Ok(())
    }

    /// The Lease of shard `index`.
    pub fn lease_name(base: &str, index: u16) -> String {
        format!("{base}-shard-{index}")
    }

    /// The Lease of the route rule.
    pub fn routes_lease_name(base: &str) -> String {
        format!("{base}-routes")
    }
}

/// What one run of the controllers covers: the whole fleet, or the buckets of some shards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// `None`: unsharded, every object. Otherwise the shards worked (its own, and any taken over).
    shards: Option<(BTreeSet<u16>, u16)>,
}

impl Scope {
    pub fn everything() -> Self {
        Self { shards: None }
    }

    /// The buckets of `shards`, out of `count`.
    pub fn shards(shards: BTreeSet<u16>, count: u16) -> Self {
        Self {
            shards: Some((shards, count)),
        }
    }

    pub fn is_everything(&self) -> bool {
        self.shards.is_none()
    }

    /// The buckets worked; `None` for all.
    pub fn buckets(&self) -> Option<BTreeSet<u16>> {
        let (shards, count) = self.shards.as_ref()?;
        Some(
            shards
                .iter()
                .flat_map(|i| bucket::of_shard(*i, *count))
                .collect(),
        )
    }

    /// Whether this scope covers `bucket`.
    pub fn covers(&self, bucket: u16) -> bool {
        self.buckets().is_none_or(|b| b.contains(&bucket))
    }

    /// The label selector term that limits a watch to this scope; `None` for no limit.
    pub fn selector(&self) -> Option<String> {
        self.buckets().map(|b| bucket::selector(&b))
    }

    /// `base` (a label selector, possibly empty) limited to this scope.
    pub fn narrow(&self, base: &str) -> String {
        match (self.selector(), base.is_empty()) {
            (None, _) => base.to_string(),
            (Some(mine), true) => mine,
            (Some(mine), false) => format!("{base},{mine}"),
        }
    }

    /// The shards worked, for logs and metrics.
    pub fn describe(&self) -> String {
        match &self.shards {
            None => "all".into(),
            Some((shards, count)) => {
                let list: Vec<String> = shards.iter().map(u16::to_string).collect();
                format!("shards {} of {count}", list.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(count: u16, index: u16) -> ShardConfig {
        ShardConfig {
            count,
            index,
            ..ShardConfig::default()
        }
    }

    #[test]
    fn bad_shard_settings_are_refused_with_the_reason() {
        assert!(config(1, 0).validate(false).is_ok());
        assert!(config(3, 2).validate(true).is_ok());
        let zero = config(0, 0).validate(true).unwrap_err();
        assert!(zero.contains("at least 1"), "{zero}");
        let out = config(3, 3).validate(true).unwrap_err();
        assert!(out.contains("0 to 2"), "{out}");
        let many = config(65, 0).validate(true).unwrap_err();
        assert!(many.contains("64 buckets"), "{many}");
        let alone = config(3, 0).validate(false).unwrap_err();
        assert!(alone.contains("--leader-elect"), "{alone}");
    }

    #[test]
    fn a_scope_selects_exactly_its_shards_buckets() {
        let everything = Scope::everything();
        assert_eq!(everything.narrow("a=b"), "a=b");
        assert!(everything.covers(63));
        let one = Scope::shards(BTreeSet::from([1]), 3);
        assert!(one.covers(1) && one.covers(4) && !one.covers(2));
        assert_eq!(one.buckets().unwrap().len(), 21);
        let selector = one.narrow("a=b");
        assert!(
            selector.starts_with("a=b,chitty.cc/shard-bucket in (1,4,7,"),
            "{selector}"
        );
        let two = Scope::shards(BTreeSet::from([0, 1]), 3);
        assert!(two.covers(0) && two.covers(1) && !two.covers(2));
        assert_eq!(two.describe(), "shards 0,1 of 3");
    }
}
