//! Each command: fetch what it needs, hand it to the pure part, print the result.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use chitty_operator::api::{ChittyDeployment, ChittyDomain, ChittyService, RouteClaim};
use chitty_operator::controller::domain::resolve::resolve as resolve_domains;
use chitty_operator::labels;
use chitty_operator::routing::{Reservations, RoutePolicy};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};

use crate::args::{Command, Decision, Output, PolicyMode};
use crate::connect::Target;
use crate::output::{emit, print};
use crate::style::Style;
use crate::{diagnose, history, manifest, render, route_table, snapshot, tree, verbs, what_if};

/// The field manager of every write, so the audit log and managedFields name this tool.
const FIELD_MANAGER: &str = "kubectl-chitty";
/// How often `status --watch` looks again.
const WATCH_EVERY: Duration = Duration::from_secs(2);

pub async fn run(command: Command, target: &Target, output: Output) -> anyhow::Result<()> {
    let style = Style::detect();
    match command {
        Command::Status { service, watch } => status(target, service, watch, output, style).await,
        Command::Explain { service } => explain(target, &service, output, style).await,
        Command::Routes {
            host,
            what_if: Some(file),
            route_policy,
        } => what_if(target, &file, host.as_deref(), route_policy, output, style).await,
        Command::Routes { host, .. } => routes(target, host.as_deref(), output, style).await,
        Command::History { service } => history(target, &service, output, style).await,
        Command::Rollback { service, decision } => {
            steer(target, "rollback", &service, decision, output).await
        }
        Command::Suspend { service } => {
            steer(target, "suspend", &service, Decision::default(), output).await
        }
        Command::Resume { service } => {
            steer(target, "resume", &service, Decision::default(), output).await
        }
        Command::Approve { service, decision } => {
            steer(target, "approve", &service, decision, output).await
        }
        Command::Reject { service, decision } => {
            steer(target, "reject", &service, decision, output).await
        }
        Command::Promote { service, decision } => {
            steer(target, "promote", &service, decision, output).await
        }
        Command::Pause { service, decision } => {
            steer(target, "pause", &service, decision, output).await
        }
        Command::Unpause { service, decision } => {
            steer(target, "unpause", &service, decision, output).await
        }
        Command::Abort { service, decision } => {
            steer(target, "abort", &service, decision, output).await
        }
    }
}

async fn status(
    target: &Target,
    service: Option<String>,
    watch: bool,
    output: Output,
    style: Style,
) -> anyhow::Result<()> {
    let namespace = match service {
        Some(_) => Some(target.one_namespace()?),
        None => target.namespace.as_deref(),
    };
    let draw = || async {
        let snap = snapshot::fetch(&target.client, namespace, service.as_deref()).await?;
        let nodes = tree::build(&snap);
        emit(output, &serde_json::json!({"services": nodes}), || {
            render::status::render(&nodes, style)
        })
    };
    if !watch {
        return print(&draw().await?);
    }
    let mut shown = String::new();
    loop {
        let text = draw().await?;
        if text != shown {
            // On a terminal the view is redrawn in place; elsewhere each change is appended.
            let clear = if style.symbols { "\x1b[2J\x1b[H" } else { "" };
            print(&format!("{clear}{text}"))?;
            shown = text;
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

async fn explain(target: &Target, name: &str, output: Output, style: Style) -> anyhow::Result<()> {
    let ns = target.one_namespace()?;
    let client = &target.client;
    let service = snapshot::service(client, ns, name).await?;
    let rollouts = owned_rollouts(client, ns, name).await?;
    let claims: Vec<RouteClaim> = snapshot::list(client, Some(ns), &ListParams::default()).await?;
    let claims: Vec<RouteClaim> = (claims.into_iter())
        .filter(|c| c.spec.service_ref.name == name)
        .collect();
    let mut dependencies = Vec::new();
    for dep in &service.spec.depends_on {
        let dep_ns = dep.namespace_or(ns);
        let found = snapshot::service_opt(client, dep_ns, &dep.name).await?;
        dependencies.push((format!("{dep_ns}/{}", dep.name), found));
    }
    // Events help but are not essential: a caller who may not read them still gets the rest.
    let warnings = snapshot::warnings(client, ns).await.unwrap_or_default();
    let explanation = diagnose::explain(&diagnose::Evidence {
        service: &service,
        rollouts: &rollouts,
        claims: &claims,
        dependencies,
        warnings: &warnings,
        now: jiff::Timestamp::now(),
    });
    let text = emit(output, &explanation, || {
        render::explain::render(&explanation, style)
    })?;
    print(&text)
}

async fn routes(
    target: &Target,
    host: Option<&str>,
    output: Output,
    style: Style,
) -> anyhow::Result<()> {
    let claims: Vec<RouteClaim> = snapshot::list(
        &target.client,
        target.namespace.as_deref(),
        &ListParams::default(),
    )
    .await?;
    let groups = route_table::build(&claims, host);
    let text = emit(output, &serde_json::json!({"routes": groups}), || {
        render::routes::render(&groups, style)
    })?;
    print(&text)
}

async fn what_if(
    target: &Target,
    file: &Path,
    host: Option<&str>,
    mode: PolicyMode,
    output: Output,
    style: Style,
) -> anyhow::Result<()> {
    let text = read_manifest(file)?;
    let default_ns = target.namespace.as_deref().unwrap_or("default");
    let proposed = manifest::parse(&text, default_ns)
        .with_context(|| format!("{} is not a usable manifest", file.display()))?;
    let client = &target.client;
    // Routes are contested across namespaces, so the rule needs every claim it can read.
    let everywhere = snapshot::list::<RouteClaim>(client, None, &ListParams::default()).await;
    let (claims, scope, mut notes) = match everywhere {
        Ok(claims) => (claims, None, vec![]),
        Err(_) => (
            snapshot::list(client, Some(default_ns), &ListParams::default()).await?,
            Some(default_ns),
            vec![format!(
                "only namespace {default_ns} could be read; claims elsewhere were not considered"
            )],
        ),
    };
    let services: Vec<ChittyService> =
        snapshot::list(client, scope, &ListParams::default()).await?;
    let policy = match mode {
        PolicyMode::Open => RoutePolicy::open(Reservations::new()),
        PolicyMode::Delegated => {
            let domains: Vec<ChittyDomain> = snapshot::list_cluster(client).await?;
            let namespaces = Api::<Namespace>::all(client.clone())
                .list_metadata(&ListParams::default())
                .await
                .context("listing namespaces, which the delegated route policy reads")?;
            let (delegations, _) = resolve_domains(&domains, &namespaces.items);
            RoutePolicy::delegated(Reservations::new(), delegations)
        }
    };
    notes.push("route reservations in the operator's configuration are not known here".into());
    let mut outcome = what_if::decide(&claims, &services, &proposed, &policy);
    if let Some(host) = host {
        outcome
            .rows
            .retain(|r| route_table::host_matches(r.route.split('/').next().unwrap_or(""), host));
    }
    outcome.notes.extend(notes);
    let text = emit(output, &outcome, || {
        render::routes::render_what_if(&outcome, style)
    })?;
    print(&text)
}

fn read_manifest(file: &Path) -> anyhow::Result<String> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the manifest from stdin")?;
        return Ok(text);
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

async fn history(target: &Target, name: &str, output: Output, style: Style) -> anyhow::Result<()> {
    let ns = target.one_namespace()?;
    snapshot::service(&target.client, ns, name).await?;
    let rollouts = owned_rollouts(&target.client, ns, name).await?;
    let history = history::build(ns, name, &rollouts);
    let text = emit(output, &history, || {
        render::history::render(&history, style)
    })?;
    print(&text)
}

async fn steer(
    target: &Target,
    verb: &str,
    name: &str,
    decision: Decision,
    output: Output,
) -> anyhow::Result<()> {
    let ns = target.one_namespace()?;
    let client = &target.client;
    let service = snapshot::service(client, ns, name).await?;
    let rollouts = owned_rollouts(client, ns, name).await?;
    let who = verbs::Who {
        by: decision
            .by
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| FIELD_MANAGER.to_string()),
        reason: decision.reason,
    };
    let verb = verbs::verb(verb);
    let planned = verbs::plan(verb, &service, &rollouts, &who)?;
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    let patch = Patch::Merge(&planned.patch);
    let what = format!("{} {ns}/{}", planned.kind, planned.name);
    match planned.kind.as_str() {
        "ChittyService" => Api::<ChittyService>::namespaced(client.clone(), ns)
            .patch(&planned.name, &params, &patch)
            .await
            .map(|_| ()),
        _ => Api::<ChittyDeployment>::namespaced(client.clone(), ns)
            .patch(&planned.name, &params, &patch)
            .await
            .map(|_| ()),
    }
    .with_context(|| format!("patching {what}"))?;
    let text = emit(output, &planned, || {
        format!(
            "{}/{} {}\n",
            planned.kind.to_lowercase(),
            planned.name,
            verb.done
        )
    })?;
    print(&text)
}

/// The service's rollouts, by the label the operator puts on them.
async fn owned_rollouts(
    client: &Client,
    ns: &str,
    name: &str,
) -> anyhow::Result<Vec<ChittyDeployment>> {
    let params = ListParams::default().labels(&format!("{}={name}", labels::SERVICE));
    let all: Vec<ChittyDeployment> = snapshot::list(client, Some(ns), &params).await?;
    Ok(all
        .into_iter()
        .filter(|d| d.spec.service_ref.name == name)
        .collect())
}
