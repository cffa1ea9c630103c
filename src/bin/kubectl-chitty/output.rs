//! Text for people, or JSON / YAML for scripts: the same data either way.

use serde::Serialize;

use crate::args::Output;

/// What to print for `data`: `text()` for people, else the data serialised.
pub fn emit<T: Serialize>(
    format: Output,
    data: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<String> {
    Ok(match format {
        Output::Text => text(),
        Output::Json => serde_json::to_string_pretty(data)? + "\n",
        Output::Yaml => serde_yaml_ng::to_string(data)?,
    })
}

/// Writes to stdout. A reader that went away (`| head`) ends the program quietly, as it would
/// end kubectl, instead of a panic (or a `--watch` that goes on writing to nobody).
pub fn print(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
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
