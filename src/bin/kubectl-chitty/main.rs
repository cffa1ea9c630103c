//! `kubectl-chitty`: the kubectl plugin for ChittyServices (`kubectl chitty status|explain|
//! routes|history|rollback|suspend|resume|approve|reject`). See docs/kubectl-chitty.md.
//!
//! Fetching (`snapshot`, `commands`) is kept apart from deciding and rendering (`tree`,
//! `diagnose`, `route_table`, `what_if`, `history`, `verbs`, `render`), which are pure and
//! unit-tested without a cluster.

mod args;
mod commands;
mod connect;
mod diagnose;
mod history;
mod manifest;
mod output;
mod render;
mod route_table;
mod snapshot;
mod style;
mod tree;
mod verbs;
mod what_if;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Usage mistakes are bad input too: kubectl's exit code 1, with clap's own words.
            let _ = e.print();
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&anyhow::Error::from(e)),
    };
    let result = runtime.block_on(async {
        let target = connect::connect(&cli.connection).await?;
        if let Some(ns) = &target.namespace {
            connect::require_namespace(&target.client, ns).await?;
        }
        commands::run(cli.command, &target, cli.output).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// One line on stderr, the causes joined, and exit code 1.
fn fail(error: &anyhow::Error) -> ExitCode {
    let text = format!("{error:#}");
    eprintln!("error: {}", render::one_line(&text));
    ExitCode::FAILURE
}
