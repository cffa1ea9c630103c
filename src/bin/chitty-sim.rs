//! chitty-sim: the stand-in for ChittyID, ChittyRegistry, notification webhooks and the advisor
//! model, for local runs, the quick start and tests. See `chitty_operator::sim`.

use std::net::SocketAddr;
use std::path::PathBuf;

use chitty_operator::clients::SecretToken;
use chitty_operator::sim::{self, SimConfig};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "chitty-sim", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "CHITTY_SIM_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Bearer token required for mints, registry writes and advisor model questions.
    #[arg(
        long,
        env = "CHITTY_SIM_TOKEN",
        default_value = "sim-token",
        hide_env_values = true,
        hide_default_value = true
    )]
    token: SecretToken,
    /// JSON file that keeps minted IDs, registry records and notifications across restarts.
    #[arg(long, env = "CHITTY_SIM_STATE_FILE")]
    state_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, state_file = ?args.state_file, "chitty-sim listening");
    let config = SimConfig {
        token: args.token,
        state_file: args.state_file,
    };
    // Outage faults hold requests open on purpose, so shutdown does not wait for them.
    tokio::select! {
        served = sim::serve(listener, config) => served,
        _ = stop_signal() => Ok(()),
    }
}

/// Ctrl-C, or SIGTERM from a container runtime.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
