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
