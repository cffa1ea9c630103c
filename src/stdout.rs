//! Writing a command's output to stdout, for both binaries (`chitty-operator crd`, `kubectl
//! chitty`).

use std::io::Write;

/// Writes to stdout. A reader that went away (`| head`) ends the program quietly, as it would
/// end kubectl or any Unix filter, instead of a panic (`print!` would panic) or a `--watch`
/// that goes on writing to nobody.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(()),
    }
}
