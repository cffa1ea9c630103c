//! Flags of the read API and dashboard, flattened into `OperatorConfig`.

use std::path::PathBuf;

use crate::clients::SecretToken;

/// Who may read `/api/*`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiAuthMode {
    /// Anyone who reaches the port.
    None,
    /// Holders of the static bearer token (`--api-token-file` / `CHITTY_API_TOKEN`).
    Token,
    /// Kubernetes bearer tokens (TokenReview); each caller sees the namespaces in which a
    /// SubjectAccessReview lets it list ChittyServices. The static token, when set, is accepted
    /// too and sees everything.
    Kubernetes,
}

#[derive(clap::Args, Clone, Debug, Default)]
pub struct WebConfig {
    /// Who may read `/api/*`. Without it: `token` when a static token is set, else `none`. The
    /// Helm chart and kustomize bases set `kubernetes`.
    #[arg(long = "api-auth", env = "CHITTY_API_AUTH", value_enum)]
    pub api_auth: Option<ApiAuthMode>,

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
