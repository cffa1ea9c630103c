//! Operator configuration: flags, each with an environment variable so the Helm chart and
//! kustomize bases can set them from a ConfigMap.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

mod advisor;
mod advisor_model;
mod probes;
mod routing;
pub use advisor::AdvisorConfig;
pub use advisor_model::AdvisorModelConfig;
pub use probes::ProbeConfig;
pub use routing::{
    GatewayRef, IngressController, RouteBackend, RoutePolicyMode, RouteReservation, RoutingConfig,
};

#[derive(clap::Args, Clone, Debug)]
pub struct OperatorConfig {
    /// Watch only this namespace; all namespaces when unset.
    #[arg(long, env = "CHITTY_NAMESPACE")]
    pub namespace: Option<String>,

    /// Address of the HTTP server (/healthz, /readyz, /metrics).
    #[arg(long, env = "CHITTY_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,

    /// Log format.
    #[arg(long, env = "CHITTY_LOG_FORMAT", value_enum, default_value = "plain")]
    pub log_format: LogFormat,

    /// Reconciles that may run at once, per controller. Most reconciles spend their time waiting
    /// on one API write; 8 made 2,000 RouteClaims take 34 s to settle on the local cluster, 32
    /// took 22 s (`cargo bench --bench route_convergence`).
    #[arg(long, env = "CHITTY_CONCURRENCY", default_value_t = 32)]
    pub concurrency: u16,

    /// Probe this base URL instead of each service's in-cluster Service, unless the service sets
    /// `health.url`. For local clusters whose pods are simulated (the quick start); leave unset in
    /// a real cluster.
    #[arg(long, env = "CHITTY_HEALTH_URL_OVERRIDE")]
    pub health_url_override: Option<String>,

    /// After a rollout, how long a `critical` service that goes down is rolled back rather than
    /// only reported.
    #[arg(long, env = "CHITTY_ROLLBACK_WINDOW", default_value = "10m", value_parser = parse_duration)]
    pub rollback_window: std::time::Duration,

    #[command(flatten)]
    pub build: BuildDefaults,

    /// Health probes: how many at once, and which refused addresses are allowed after all.
    #[command(flatten)]
    pub probes: ProbeConfig,

    #[command(flatten)]
    pub routing: RoutingConfig,

    /// The deploy advisor's thresholds, windows and approval default (`crate::advisor`).
    #[command(flatten)]
    pub advisor: AdvisorConfig,

    #[command(flatten)]
    pub leader_election: crate::leader::LeaderElection,

    /// Which share of the fleet this process works (`crate::shard`).
    #[command(flatten)]
    pub shards: crate::shard::ShardConfig,

    #[command(flatten)]
    pub ecosystem: EcosystemConfig,

    /// The read API and dashboard (`crate::web`).
    #[command(flatten)]
    pub web: crate::web::WebConfig,

    /// The optional advisor model, asked beside the advisor's rules.
    #[command(flatten)]
    pub advisor_model: AdvisorModelConfig,
}

/// Where the external ChittyOS services are, and the tokens to call them with. Tokens come in
/// through environment variables that the chart fills from Secrets (`secretKeyRef`), so the
/// operator itself needs no permission to read Secrets; they are never logged.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct EcosystemConfig {
    /// Base URL of the ChittyID authority (`https://id.chitty.cc`); the identity step is skipped without it.
    #[arg(long = "chittyid-url", env = "CHITTY_ID_URL")]
    pub chitty_id_url: Option<String>,
    /// Bearer token for minting.
    #[arg(
        long = "chittyid-token",
        env = "CHITTY_ID_TOKEN",
        hide_env_values = true
    )]
    pub chitty_id_token: Option<crate::clients::SecretToken>,
    /// Jurisdiction for services that don't set `spec.identity.jurisdiction`.
    #[arg(
        long = "default-jurisdiction",
        env = "CHITTY_DEFAULT_JURISDICTION",
        default_value = "USA"
    )]
    pub default_jurisdiction: String,
    /// Region digit for services that don't set `spec.identity.region`.
    #[arg(
        long = "default-region",
        env = "CHITTY_DEFAULT_REGION",
        default_value_t = 1
    )]
    pub default_region: u8,
    /// Mints allowed per minute, so applying a thousand services does not flood the authority.
    #[arg(
        long = "mint-rate-per-minute",
        env = "CHITTY_MINT_RATE_PER_MINUTE",
        default_value_t = 10
    )]
    pub mint_rate_per_minute: u32,
    /// Mints allowed at once before the per-minute rate applies.
    #[arg(long = "mint-burst", env = "CHITTY_MINT_BURST", default_value_t = 10)]
    pub mint_burst: u32,
    /// Per-call timeout for the external services.
    #[arg(long = "ecosystem-timeout", env = "CHITTY_ECOSYSTEM_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,

    /// Base URL of ChittyRegistry (`https://registry.chitty.cc`); the register step is skipped without it.
    #[arg(long = "registry-url", env = "CHITTY_REGISTRY_URL")]
    pub registry_url: Option<String>,
    /// Service token for registry writes.
    #[arg(
        long = "registry-token",
        env = "CHITTY_REGISTRY_TOKEN",
        hide_env_values = true
    )]
    pub registry_token: Option<crate::clients::SecretToken>,
    /// How long deletion of a ChittyService waits for the registry before it proceeds anyway.
    #[arg(long = "registry-retire-timeout", env = "CHITTY_REGISTRY_RETIRE_TIMEOUT", default_value = "2m", value_parser = parse_duration)]
    pub retire_timeout: std::time::Duration,

    /// Webhooks that receive deploy events, as `name=url` (ContextConsciousness and others);
    /// repeat the flag or separate with commas.
    #[arg(long = "notify-webhook", env = "CHITTY_NOTIFY_WEBHOOKS", value_delimiter = ',', value_parser = parse_webhook)]
    pub notify_webhooks: Vec<Webhook>,
    /// Bearer token sent to every webhook, if they require one.
    #[arg(
        long = "notify-token",
        env = "CHITTY_NOTIFY_TOKEN",
        hide_env_values = true
    )]
    pub notify_token: Option<crate::clients::SecretToken>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub name: String,
    pub url: String,
}

fn parse_webhook(text: &str) -> Result<Webhook, String> {
    let (name, url) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not name=url"))?;
    if name.is_empty() || !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("'{text}' is not name=http(s)://..."));
    }
    Ok(Webhook {
        name: name.to_string(),
        url: url.to_string(),
    })
}

/// How git sources are built, unless a service's `spec.build` says otherwise.
#[derive(clap::Args, Clone, Debug)]
pub struct BuildDefaults {
    /// Registry that built images are pushed to, as `<registry>/<namespace>/<service>:<revision>`.
    #[arg(
        long = "build-registry",
        env = "CHITTY_BUILD_REGISTRY",
        default_value = "registry.chitty.local:5000"
    )]
    pub registry: String,
    /// Image that runs clone, install and test (needs git and the language toolchain).
    #[arg(
        long = "builder-image",
        env = "CHITTY_BUILDER_IMAGE",
        default_value = "node:22-bookworm"
    )]
    pub builder_image: String,
    /// Image that builds and pushes the container image from the workspace.
    #[arg(
        long = "image-builder",
        env = "CHITTY_IMAGE_BUILDER",
        default_value = "gcr.io/kaniko-project/executor:v1.23.2"
    )]
    pub image_builder: String,
    /// Default install command.
    #[arg(
        long = "install-command",
        env = "CHITTY_INSTALL_COMMAND",
        default_value = "npm ci"
    )]
    pub install_command: String,
    /// Default test command; a failure fails the rollout.
    #[arg(
        long = "test-command",
        env = "CHITTY_TEST_COMMAND",
        default_value = "npm test --if-present"
    )]
    pub test_command: String,
    /// The wrangler release every Cloudflare Job installs and runs, pinned so a deploy never
    /// takes whatever npm calls newest. 4.86.0 is the newest that still runs on Node.js 20.
    #[arg(
        long = "wrangler-version",
        env = "CHITTY_WRANGLER_VERSION",
        default_value = "4.86.0",
        value_parser = parse_exact_version
    )]
    pub wrangler_version: String,
    /// Longest a build or wrangler Job may run, in seconds.
    #[arg(
        long = "build-timeout-seconds",
        env = "CHITTY_BUILD_TIMEOUT_SECONDS",
        default_value_t = 1800
    )]
    pub timeout_seconds: i64,
    /// User ID the clone, install, test and wrangler steps run as. Those steps run the builder
    /// image as a non-root user; 1000 is the `node` user of the default image.
    #[arg(
        long = "builder-run-as-user",
        env = "CHITTY_BUILDER_RUN_AS_USER",
        default_value_t = 1000,
        value_parser = clap::value_parser!(i64).range(1..)
    )]
    pub run_as_user: i64,
    /// CPU each build and wrangler container requests.
    #[arg(long = "build-cpu-request", env = "CHITTY_BUILD_CPU_REQUEST", default_value = "500m", value_parser = parse_quantity)]
    pub cpu_request: Quantity,
    /// CPU each build and wrangler container may use at most.
    #[arg(long = "build-cpu-limit", env = "CHITTY_BUILD_CPU_LIMIT", default_value = "2", value_parser = parse_quantity)]
    pub cpu_limit: Quantity,
    /// Memory each build and wrangler container requests.
    #[arg(long = "build-memory-request", env = "CHITTY_BUILD_MEMORY_REQUEST", default_value = "1Gi", value_parser = parse_quantity)]
    pub memory_request: Quantity,
    /// Memory each build and wrangler container may use at most; a build that needs more is killed.
    #[arg(long = "build-memory-limit", env = "CHITTY_BUILD_MEMORY_LIMIT", default_value = "4Gi", value_parser = parse_quantity)]
    pub memory_limit: Quantity,
}

impl BuildDefaults {
    /// Requests and limits for every container of a build or wrangler Job, so a build is
    /// scheduled for what it needs and cannot starve the node or fail a namespace's quota.
    pub fn container_resources(&self) -> ResourceRequirements {
        let pair = |cpu: &Quantity, memory: &Quantity| {
            BTreeMap::from([
                ("cpu".to_string(), cpu.clone()),
                ("memory".to_string(), memory.clone()),
            ])
        };
        ResourceRequirements {
            requests: Some(pair(&self.cpu_request, &self.memory_request)),
            limits: Some(pair(&self.cpu_limit, &self.memory_limit)),
            ..Default::default()
        }
    }
}

/// An exact release (`4.86.0`), never a range or tag such as `latest` or `^4`.
fn parse_exact_version(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "'{text}' is not an exact version such as 4.86.0: a pinned release, not a range or tag"
        ))
    }
}

/// A Kubernetes quantity (`500m`, `2`, `1Gi`), checked at startup so a typo fails the operator's
/// start rather than every build Job at admission.
fn parse_quantity(text: &str) -> Result<Quantity, String> {
    let (number, suffix) = text.split_at(
        text.find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len()),
    );
    let number_ok = !number.is_empty()
        && number.matches('.').count() <= 1
        && !number.starts_with('.')
        && !number.ends_with('.');
    const SUFFIXES: [&str; 14] = [
        "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ];
    if number_ok && SUFFIXES.contains(&suffix) {
        Ok(Quantity(text.to_string()))
    } else {
        Err(format!(
            "'{text}' is not a quantity such as 500m, 2, 512Mi or 1Gi"
        ))
    }
}

pub(crate) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::pipeline::duration::parse(text)
        .ok_or_else(|| format!("'{text}' is not a duration such as 30s, 5m or 1h"))
}

impl OperatorConfig {
    /// The configuration with every default, for tests and tools.
    pub fn defaults() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: OperatorConfig,
        }
        Wrapper::parse_from(["chitty-operator"]).config
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Plain,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_containers_get_requests_and_limits_by_default() {
        let r = OperatorConfig::defaults().build.container_resources();
        assert_eq!(r.requests.unwrap()["cpu"], Quantity("500m".into()));
        assert_eq!(r.limits.unwrap()["memory"], Quantity("4Gi".into()));
    }

    #[test]
    fn quantities_are_checked_at_startup() {
        for good in ["500m", "2", "1.5", "512Mi", "1Gi", "100k"] {
            assert!(parse_quantity(good).is_ok(), "{good}");
        }
        for bad in ["", "m", "1GB", "-1", "1..5", "lots"] {
            assert!(parse_quantity(bad).is_err(), "{bad}");
        }
    }
}
