//! `chitty-operator`: the controller manager, and the CRD generator.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use chitty_operator::{config::OperatorConfig, crdgen, operator, telemetry};

#[derive(Parser)]
#[command(
    name = "chitty-operator",
    version,
    about = "Kubernetes operator for the ChittyOS deployment flow"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controllers.
    Run(Box<OperatorConfig>),
    /// Print the CRDs as YAML, or write one file each into a directory.
    Crd {
        /// Write `<plural>.<group>.yaml` files here instead of printing.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd { out_dir: None } => print!("{}", crdgen::all_yaml()?),
        Command::Crd { out_dir: Some(dir) } => {
            std::fs::create_dir_all(&dir)?;
            for (file, crd) in crdgen::all() {
                std::fs::write(dir.join(file), crdgen::to_yaml(&crd)?)?;
            }
        }
        Command::Run(config) => {
            telemetry::init(config.log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(operator::run(*config))?;
        }
    }
    Ok(())
}
