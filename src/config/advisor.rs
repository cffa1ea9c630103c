//! Operator settings of the deploy advisor: the thresholds of its rules (see `advisor::rules`),
//! the deployment windows, and whether production rollouts need approval by default.

use std::time::Duration;

use super::parse_duration;
use crate::advisor::{Thresholds, Window};

#[derive(clap::Args, Clone, Debug)]
pub struct AdvisorConfig {
    /// Abort a rollout when this many of the service's last rollouts failed or rolled back in a
    /// row (0: never).
    #[arg(
        long = "advisor-abort-after-failures",
        env = "CHITTY_ADVISOR_ABORT_AFTER_FAILURES",
        default_value_t = 3
    )]
    pub abort_after_failures: u32,
    /// Below this share of healthy services (0-1), rollouts of non-critical services abort and
    /// critical ones go as canaries.
    #[arg(
        long = "advisor-min-ecosystem-health",
        env = "CHITTY_ADVISOR_MIN_ECOSYSTEM_HEALTH",
        default_value_t = 0.5,
        value_parser = parse_share
    )]
    pub min_ecosystem_health: f64,
    /// Rollouts wait while this many others run, fleet-wide (0: no limit).
    #[arg(
        long = "advisor-max-rollouts-in-progress",
        env = "CHITTY_ADVISOR_MAX_ROLLOUTS_IN_PROGRESS",
        default_value_t = 50
    )]
    pub max_rollouts_in_progress: u32,
    /// A dependency rolled out within this long makes a rollout a canary.
    #[arg(long = "advisor-recent-dependency", env = "CHITTY_ADVISOR_RECENT_DEPENDENCY", default_value = "30m", value_parser = parse_duration)]
    pub recent_dependency: Duration,
    /// A failed rollout of the service within this long makes the next a canary.
    #[arg(long = "advisor-recent-failure", env = "CHITTY_ADVISOR_RECENT_FAILURE", default_value = "24h", value_parser = parse_duration)]
    pub recent_failure: Duration,
    /// A failure rate (0-1) over the service's last ten rollouts from which rollouts are canaries.
    #[arg(
        long = "advisor-failure-rate",
        env = "CHITTY_ADVISOR_FAILURE_RATE",
        default_value_t = 0.3,
        value_parser = parse_share
    )]
    pub failure_rate: f64,
    /// Share of replicas an advised canary gets, 1-99.
    #[arg(
        long = "advisor-canary-percent",
        env = "CHITTY_ADVISOR_CANARY_PERCENT",
        default_value_t = 10,
        value_parser = clap::value_parser!(i32).range(1..=99)
    )]
    pub canary_percent: i32,
    /// How long an advised canary is watched before promotion.
    #[arg(long = "advisor-canary-monitor", env = "CHITTY_ADVISOR_CANARY_MONITOR", default_value = "10m", value_parser = parse_duration)]
    pub canary_monitor: Duration,
    /// How long a wait without a known end (a dependency down, a busy fleet) lasts before the
    /// advisor looks again; a change of its inputs wakes it sooner.
    #[arg(long = "advisor-recheck", env = "CHITTY_ADVISOR_RECHECK", default_value = "1m", value_parser = parse_duration)]
    pub recheck: Duration,
    /// When production rollouts may start: `DAYS HH:MM-HH:MM [TIME_ZONE]`, e.g. `Mon-Fri
    /// 09:00-17:00 America/Chicago` (repeatable, or `;`-separated). None: any time. A service's
    /// `spec.strategy.windows` replace these.
    #[arg(
        long = "deploy-window",
        env = "CHITTY_DEPLOY_WINDOWS",
        value_delimiter = ';',
        value_parser = Window::parse
    )]
    pub windows: Vec<Window>,
    /// Production rollouts wait for approval unless their service says `approval: none`.
    #[arg(
        long = "require-approval-in-production",
        env = "CHITTY_REQUIRE_APPROVAL_IN_PRODUCTION"
    )]
    pub require_approval_in_production: bool,
}

impl AdvisorConfig {
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            abort_after_failures: self.abort_after_failures,
            min_ecosystem_health: self.min_ecosystem_health,
            max_rollouts_in_progress: self.max_rollouts_in_progress,
            recent_dependency: self.recent_dependency,
            recent_failure: self.recent_failure,
            failure_rate: self.failure_rate,
            canary_percent: self.canary_percent,
            canary_monitor: self.canary_monitor,
            recheck: self.recheck.max(Duration::from_secs(1)),
        }
    }
}

fn parse_share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!(
            "'{text}' is not a share between 0 and 1, such as 0.5"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        advisor: AdvisorConfig,
    }

    fn parse(args: &[&str]) -> Result<AdvisorConfig, clap::Error> {
        Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied())).map(|c| c.advisor)
    }

    #[test]
    fn defaults_are_the_written_thresholds_and_windows_parse() {
        let config = parse(&[]).unwrap();
        let t = config.thresholds();
        assert_eq!((t.abort_after_failures, t.canary_percent), (3, 10));
        assert_eq!(t.canary_monitor, Duration::from_secs(600));
        assert!(config.windows.is_empty() && !config.require_approval_in_production);
        let config = parse(&[
            "--deploy-window",
            "Mon-Fri 09:00-17:00 America/Chicago;Sat 10:00-12:00",
        ])
        .unwrap();
        assert_eq!(config.windows.len(), 2);
        assert!(parse(&["--deploy-window", "Mon-Fri 09:00-17:00 Nowhere/Land"]).is_err());
        assert!(parse(&["--advisor-min-ecosystem-health", "1.5"]).is_err());
        assert!(parse(&["--advisor-canary-percent", "100"]).is_err());
    }
}
