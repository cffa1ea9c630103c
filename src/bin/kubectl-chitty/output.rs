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

pub use chitty_operator::stdout::print;
