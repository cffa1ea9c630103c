//! Leader-election flags, flattened into the operator's configuration.

use std::time::Duration;

/// With several replicas, only the one holding the Lease runs the controllers and writes.
#[derive(clap::Args, Clone, Debug)]
pub struct LeaderElection {
    /// Run the controllers only while holding the leader Lease (off for a single local process;
    /// the Helm chart and kustomize bases turn it on).
    #[arg(
        long = "leader-elect",
        env = "CHITTY_LEADER_ELECT",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub enabled: bool,

    /// Name of the coordination.k8s.io/v1 Lease the replicas compete for.
    #[arg(
        long = "lease-name",
        env = "CHITTY_LEASE_NAME",
        default_value = "chitty-operator"
    )]
    pub lease_name: String,

    /// Namespace of the Lease; defaults to the pod's own (`POD_NAMESPACE`), else `default`.
    #[arg(long = "lease-namespace", env = "CHITTY_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// How long a Lease stays valid after its last renewal: a killed leader is replaced within
    /// about this long.
    #[arg(
        long = "lease-duration",
        env = "CHITTY_LEASE_DURATION",
        default_value = "15s",
        value_parser = parse_whole_seconds
    )]
    pub lease_duration: Duration,

    /// The leader renews this long before its Lease runs out. Each election request may take at
    /// most half of it, so a leader that cannot renew steps down before its Lease can pass on.
    #[arg(
        long = "lease-renew-margin",
        env = "CHITTY_LEASE_RENEW_MARGIN",
        default_value = "5s",
        value_parser = parse_whole_seconds
    )]
    pub lease_renew_margin: Duration,

    /// This replica's pod (downward API `metadata.name`). The Lease holder identity starts with
    /// it, so that a standby can look the leader's pod up; outside a pod, the host name is used.
    #[arg(long = "pod-name", env = "POD_NAME")]
    pub pod_name: Option<String>,

    /// Labels (`k=v,k=v`) that every replica's pod carries. A standby forwards reads only to a
    /// leader pod with all of them, so a pod someone else names in the Lease is not trusted.
    #[arg(
        long = "peer-selector",
        env = "CHITTY_PEER_SELECTOR",
        default_value = "app.kubernetes.io/name=chitty-operator"
    )]
    pub peer_selector: String,

    /// The HTTP port of the other replicas; every replica of an install listens on the same
    /// one, so this is this replica's own bound port unless set (tests run replicas side by side
    /// on ports of their own).
    #[arg(skip)]
    pub peer_port: Option<u16>,
}

impl LeaderElection {
    /// The Lease's namespace: the flag, else the pod's namespace, else `default`.
    pub fn namespace(&self) -> String {
        self.lease_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| "default".to_string())
    }

    /// Longest one request to the Lease may take (see `lease_renew_margin`).
    pub fn request_timeout(&self) -> Duration {
        self.lease_renew_margin / 2
    }

    /// How often a shard reads the other shards' Leases (and the unsharded one): the pause
    /// between the end of one reading and the start of the next.
    pub fn check_interval(&self) -> Duration {
        ((self.lease_duration.saturating_sub(self.lease_renew_margin)) / 3)
            .max(Duration::from_millis(500))
    }

    /// How long a new leader waits before it works, so that every shard already working has
    /// read its Lease by then (see `shard::count`): two check intervals, as a reading takes
    /// time too (at most a request timeout a Lease) and one interval could end just before the
    /// next reading does.
    pub fn settle_time(&self) -> Duration {
        2 * self.check_interval()
    }

    /// Refuses settings under which a leader could not renew in time.
    pub fn validate(&self) -> Result<(), String> {
        if self.lease_renew_margin.is_zero() || self.lease_renew_margin >= self.lease_duration {
            return Err(format!(
                "--lease-renew-margin ({}s) must be at least 1s and less than --lease-duration ({}s)",
                self.lease_renew_margin.as_secs(),
                self.lease_duration.as_secs()
            ));
        }
        Ok(())
    }
}

/// Lease durations are whole seconds in the API (`leaseDurationSeconds`).
fn parse_whole_seconds(text: &str) -> Result<Duration, String> {
    let duration = crate::pipeline::duration::parse(text)
        .ok_or_else(|| format!("'{text}' is not a duration such as 15s or 1m"))?;
    if duration.subsec_nanos() != 0 || duration.is_zero() {
        return Err(format!(
            "'{text}' must be a positive whole number of seconds"
        ));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        election: LeaderElection,
    }

    fn parse(args: &[&str]) -> Result<LeaderElection, clap::Error> {
        Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied())).map(|c| c.election)
    }

    #[test]
    fn election_is_off_unless_asked_for() {
        let election = parse(&[]).unwrap();
        assert!(!election.enabled);
        assert_eq!(election.lease_name, "chitty-operator");
        assert_eq!(election.lease_duration, Duration::from_secs(15));
        assert_eq!(election.lease_renew_margin, Duration::from_secs(5));
    }

    #[test]
    fn leader_elect_works_as_a_bare_flag_and_with_a_value() {
        assert!(parse(&["--leader-elect"]).unwrap().enabled);
        assert!(parse(&["--leader-elect=true"]).unwrap().enabled);
        assert!(!parse(&["--leader-elect=false"]).unwrap().enabled);
    }

    #[test]
    fn durations_must_be_whole_seconds() {
        assert!(parse(&["--lease-duration", "1500ms"]).is_err());
        assert!(parse(&["--lease-duration", "0s"]).is_err());
        let election = parse(&["--lease-duration", "1m", "--lease-renew-margin", "10s"]).unwrap();
        assert_eq!(election.lease_duration, Duration::from_secs(60));
    }

    #[test]
    fn a_margin_as_long_as_the_lease_is_refused() {
        let election = parse(&["--lease-duration", "5s", "--lease-renew-margin", "5s"]).unwrap();
        assert!(election.validate().is_err());
        assert!(parse(&[]).unwrap().validate().is_ok());
    }

    #[test]
    fn each_request_gets_half_the_margin() {
        let election = parse(&["--lease-renew-margin", "4s"]).unwrap();
        assert_eq!(election.request_timeout(), Duration::from_secs(2));
    }

    #[test]
    fn the_flag_namespace_wins_over_the_pods() {
        let election = parse(&["--lease-namespace", "ops"]).unwrap();
        assert_eq!(election.namespace(), "ops");
    }
}
