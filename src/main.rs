//! `chitty-operator`: the controller manager, and the CRD generator.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use chitty_operator::{config::OperatorConfig, crdgen, operator, stdout, telemetry};

/// jemalloc, not the C library's allocator: the caches' objects live long between short-lived
/// watch and reconcile buffers, and glibc's malloc left a third of the heap again in holes
/// between them (the scale bench: 7.8 KB per cached object at 1,000 services with glibc, 6.9
/// with jemalloc as configured below).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read when it starts (`_RJEM_MALLOC_CONF` in the environment overrides
/// them): one arena, as the operator's few threads do not contend for it and each arena keeps
/// its own free pages; freed pages go back to the system after a second, by a background
/// thread, so the resident size follows the heap.
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &u8 =
    &b"narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0,background_thread:true\0"[0];

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
        Command::Crd { out_dir: None } => stdout::print(&crdgen::all_yaml()?)?,
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
