//! Operator configuration: flags, each with an environment variable so the Helm chart and
//! kustomize bases can set them from a ConfigMap.

use std::net::SocketAddr;

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

    /// Reconciles that may run at once, per controller.
    #[arg(long, env = "CHITTY_CONCURRENCY", default_value_t = 8)]
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
    /// Longest a build or wrangler Job may run, in seconds.
    #[arg(
        long = "build-timeout-seconds",
        env = "CHITTY_BUILD_TIMEOUT_SECONDS",
        default_value_t = 1800
    )]
    pub timeout_seconds: i64,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
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
