//! Flags of the read API and dashboard, flattened into `OperatorConfig`.

use std::path::PathBuf;

use crate::clients::SecretToken;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct WebConfig {
    /// File holding the bearer token that `/api/*` requires (a mounted Secret key). Re-read when
    /// it changes, so a rotated Secret takes effect without a restart. `/api/*` is open when
    /// neither this nor `CHITTY_API_TOKEN` is set; the discovery document and dashboard page are
    /// always public.
    #[arg(long = "api-token-file", env = "CHITTY_API_TOKEN_FILE")]
    pub api_token_file: Option<PathBuf>,

    /// The bearer token that `/api/*` requires, from the environment (`secretKeyRef`). Prefer
    /// `--api-token-file`, which follows rotation.
    #[arg(
        long = "api-token",
        env = "CHITTY_API_TOKEN",
        hide_env_values = true,
        conflicts_with = "api_token_file"
    )]
    pub api_token: Option<SecretToken>,

    /// The URL clients reach this port on (`https://deploy.chitty.cc`), for the absolute links of
    /// the discovery document; links are relative without it.
    #[arg(long = "public-url", env = "CHITTY_PUBLIC_URL")]
    pub public_url: Option<String>,
}
