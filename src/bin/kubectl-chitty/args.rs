//! The command line: kubectl's own connection flags, an output format, and one subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "kubectl chitty",
    bin_name = "kubectl chitty",
    version,
    about = "See and steer ChittyServices: their rollouts, what they own, their routes"
)]
pub struct Cli {
    #[command(flatten)]
    pub connection: Connection,
    /// Output format: text for people (default), json or yaml for scripts.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

/// The flags kubectl itself takes for where to connect, with the same meaning.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace (default: the context's).
    #[arg(short = 'n', long = "namespace", global = true, value_name = "NAME")]
    pub namespace: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long = "all-namespaces", global = true)]
    pub all_namespaces: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A tree of a service (or of every service), its rollouts and steps, and what it owns.
    Status {
        /// The ChittyService; every service in the namespace when omitted.
        service: Option<String>,
        /// Redraw whenever anything shown changes, until interrupted.
        #[arg(short = 'w', long)]
        watch: bool,
    },
    /// Why a service is not Ready, in sentences.
    Explain { service: String },
    /// Every route, who holds it, and who lost it and why.
    Routes {
        /// Only this host (as claimed, e.g. `api.chitty.cc` or `*.chitty.cc`).
        host: Option<String>,
        /// Decide the live claims together with those this manifest (ChittyService and/or
        /// RouteClaim YAML, several documents allowed; `-` reads stdin) would add, and print who
        /// would win. Nothing is written.
        #[arg(long, value_name = "FILE")]
        what_if: Option<PathBuf>,
        /// The operator's route policy, for --what-if: `delegated` (the operator's default)
        /// also applies the ChittyDomains; `open` lets any namespace compete.
        #[arg(long, value_enum, default_value_t = PolicyMode::Delegated)]
        route_policy: PolicyMode,
    },
    /// The service's rollouts: version, trigger, duration, outcome and the advisor's plan.
    History { service: String },
    /// Roll the service's newest rollout back to its previous success.
    Rollback {
        service: String,
        #[command(flatten)]
        decision: Decision,
    },
    /// Stop new rollouts of the service (spec.suspend); the running revision keeps serving.
    Suspend { service: String },
    /// Let rollouts of the service start again.
    Resume { service: String },
    /// Approve the service's rollout that waits for approval.
    Approve {
        service: String,
        #[command(flatten)]
        decision: Decision,
    },
    /// Reject the service's rollout that waits for approval.
    Reject {
        service: String,
        #[command(flatten)]
        decision: Decision,
    },
    /// Promote the service's canary in flight now, skipping its remaining steps.
    Promote {
        service: String,
        #[command(flatten)]
        decision: Decision,
    },
    /// Pause the service's canary in flight: its step's clock stops (its analysis goes on).
    Pause {
        service: String,
        #[command(flatten)]
        decision: Decision,
    },
    /// Start a paused canary's clock again, with the time its step had left.
    Unpause {
        service: String,
        #[command(flatten)]
        decision: Decision,
    },
    /// Abort the service's canary in flight: traffic returns to stable, the rollout ends Aborted.
    Abort {
        service: String,
        #[command(flatten)]
        decision: Decision,
    },
}

/// Who decides, and why; recorded on the object (and so in the audit log).
#[derive(Debug, Clone, Args, Default)]
pub struct Decision {
    /// Who decides (default: $USER).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// Why.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyMode {
    Delegated,
    Open,
}
