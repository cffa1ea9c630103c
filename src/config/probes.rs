//! How health probes run (see `crate::probe::pool` and `crate::probe::guard`).

use crate::probe::guard::Cidr;

#[derive(clap::Args, Clone, Debug)]
pub struct ProbeConfig {
    /// Health probes that may run at once, over all services and rollouts. One eighth of them
    /// (at least one) is a separate lane for endpoints whose last probe timed out or could not
    /// connect, so tarpits only compete with each other.
    #[arg(
        long = "probe-concurrency",
        env = "CHITTY_PROBE_CONCURRENCY",
        default_value_t = 64,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub probe_concurrency: u16,

    /// Service health probes a second over the whole fleet. While the services' intervals ask
    /// for more, every service's interval is stretched by the same factor (the metric
    /// `chitty_probe_interval_stretch` shows it), so no team's short intervals cost the others
    /// theirs, nor the operator its time. Rollouts' health steps are not counted or stretched.
    #[arg(
        long = "probe-budget",
        env = "CHITTY_PROBE_BUDGET",
        default_value_t = 250,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub probe_budget: u32,

    /// Address blocks health probes may reach although they are loopback, link-local (cloud
    /// metadata included), unspecified, multicast or reserved, as `127.0.0.1/32`; repeat the flag
    /// or separate with commas. Empty by default: such addresses are refused.
    #[arg(
        long = "probe-allow-cidr",
        env = "CHITTY_PROBE_ALLOW_CIDRS",
        value_delimiter = ','
    )]
    pub probe_allow_cidrs: Vec<Cidr>,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Parser)]
    struct Run {
        #[command(flatten)]
        probes: super::ProbeConfig,
    }

    #[test]
    fn nothing_is_allowed_by_default_and_blocks_repeat_or_split_on_commas() {
        let defaults = Run::parse_from(["run"]).probes;
        assert!(defaults.probe_allow_cidrs.is_empty());
        assert_eq!(defaults.probe_concurrency, 64);
        assert_eq!(defaults.probe_budget, 250);
        assert!(Run::try_parse_from(["run", "--probe-budget", "0"]).is_err());
        let run = Run::parse_from([
            "run",
            "--probe-allow-cidr",
            "127.0.0.1/32,fd00::/8",
            "--probe-allow-cidr",
            "10.0.0.1",
        ]);
        let blocks: Vec<String> = run
            .probes
            .probe_allow_cidrs
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(blocks, ["127.0.0.1/32", "fd00::/8", "10.0.0.1/32"]);
        assert!(Run::try_parse_from(["run", "--probe-allow-cidr", "localhost"]).is_err());
        assert!(Run::try_parse_from(["run", "--probe-concurrency", "0"]).is_err());
    }
}
