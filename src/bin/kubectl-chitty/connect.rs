//! Where to connect, by kubectl's rules: `--kubeconfig`, else `$KUBECONFIG` (several files
//! merged), else `~/.kube/config`, else the in-cluster service account; `--context` picks a
//! context; `-n` overrides the context's namespace.

use anyhow::{Context as _, anyhow, bail};
use http::header::{HeaderValue, USER_AGENT};
use k8s_openapi::api::core::v1::Namespace;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::args::Connection;

/// The user agent the apiserver's audit log shows for this plugin's requests.
const AGENT: &str = concat!("kubectl-chitty/", env!("CARGO_PKG_VERSION"));

/// A client and the namespace scope the command works in.
pub struct Target {
    pub client: Client,
    /// `None` with `-A`.
    pub namespace: Option<String>,
}

impl Target {
    /// The namespace of a command that names one service (`-A` makes no sense there).
    pub fn one_namespace(&self) -> anyhow::Result<&str> {
        self.namespace
            .as_deref()
            .ok_or_else(|| anyhow!("a service is named in one namespace; drop -A and use -n"))
    }
}

pub async fn connect(flags: &Connection) -> anyhow::Result<Target> {
    chitty_operator::tls::install_default_provider();
    let mut config = config(flags).await?;
    config
        .headers
        .push((USER_AGENT, HeaderValue::from_static(AGENT)));
    let namespace = match (&flags.namespace, flags.all_namespaces) {
        (_, true) => None,
        (Some(ns), false) => Some(ns.clone()),
        (None, false) => Some(config.default_namespace.clone()),
    };
    let client = Client::try_from(config).context("building the Kubernetes client")?;
    Ok(Target { client, namespace })
}

async fn config(flags: &Connection) -> anyhow::Result<Config> {
    let options = KubeConfigOptions {
        context: flags.context.clone(),
        ..KubeConfigOptions::default()
    };
    let kubeconfig = match &flags.kubeconfig {
        Some(path) => Some(
            Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?,
        ),
        None => Kubeconfig::read().ok(),
    };
    match kubeconfig {
        Some(kubeconfig) => Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .context("loading kubeconfig"),
        None if flags.context.is_some() => {
            bail!("--context needs a kubeconfig, and none was found")
        }
        None => Config::incluster().context("no kubeconfig found and not running in a cluster"),
    }
}

/// Fails with a clear sentence when the namespace does not exist. A caller who may not read
/// namespaces gets the benefit of the doubt: the command itself will say what it cannot read.
pub async fn require_namespace(client: &Client, namespace: &str) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    match namespaces.get_opt(namespace).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => bail!("namespace {namespace} does not exist"),
        Err(kube::Error::Api(e)) if e.code == 403 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("reading namespace {namespace}")),
    }
}
