//! The Cloudflare Job objects. Stages run as ordered init containers in one workspace; the last
//! container runs wrangler and alone gets the credentials.

use k8s_openapi::api::batch::v1::Job;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use super::result::DEPLOY_CONTAINER;
use super::scripts;
use crate::api::{ChittyDeployment, ChittyService, ChittyServiceSpec, ServiceType};
use crate::config::BuildDefaults;
use crate::workload::build_job::{CLONE_SCRIPT, default_build_command};
use crate::workload::{ROLLOUT_LABEL, common_labels, security};

pub fn deploy_job_name(rollout: &str) -> String {
    crate::names::bounded(rollout, "-wrangler")
}

pub fn rollback_job_name(rollout: &str) -> String {
    crate::names::bounded(rollout, "-wrangler-rollback")
}

/// Named by the routes it binds, so each set of routes is bound once.
pub fn routes_job_name(rollout: &str, fingerprint: &str) -> String {
    crate::names::bounded(rollout, &format!("-routes-{fingerprint}"))
}

/// Deploys `snapshot`: clone, install and build, then wrangler. `owner` is the
/// rollout the Job belongs to (for a rollback by redeploy, the failed rollout, not the one whose
/// revision it deploys).
pub fn deploy_job(
    defaults: &BuildDefaults,
    service: &ChittyService,
    owner: &ChittyDeployment,
    name: &str,
    snapshot: &ChittyServiceSpec,
    routes: &[String],
) -> Job {
    let overrides = snapshot.build.clone().unwrap_or_default();
    let install = overrides
        .install
        .unwrap_or_else(|| defaults.install_command.clone());
    let build = overrides
        .command
        .unwrap_or_else(|| default_build_command(snapshot.service_type).into());
    let stages = vec![
        clone_stage(defaults, snapshot),
        stage(defaults, snapshot, "install", &install),
        stage(defaults, snapshot, "build", &build),
    ];
    let cf = snapshot.cloudflare.clone().unwrap_or_else(|| {
        // Admission requires spec.cloudflare for this target; an empty one fails at wrangler.
        crate::api::CloudflareSpec {
            credentials_secret: String::new(),
            url: String::new(),
            output_dir: None,
        }
    });
    let (script, extra) = match snapshot.service_type {
        ServiceType::Frontend => (
            scripts::deploy_pages(),
            vec![
                env("CHITTY_OUTPUT_DIR", cf.output_dir()),
                env("CHITTY_PAGES_PROJECT", &service.name_any()),
            ],
        ),
        _ => (scripts::deploy_worker(), vec![]),
    };
    let deploy = wrangler_container(defaults, snapshot, DEPLOY_CONTAINER, &script, routes, extra);
    job(defaults, service, owner, name, stages, deploy)
}

/// Binds the serving Worker to `routes` without deploying new code: clone (for the project's
/// wrangler configuration), then `wrangler triggers deploy`.
pub fn routes_job(
    defaults: &BuildDefaults,
    service: &ChittyService,
    owner: &ChittyDeployment,
    routes: &[String],
) -> Job {
    let snapshot = &owner.spec.snapshot;
    let name = routes_job_name(&owner.name_any(), &super::patterns::fingerprint(routes));
    let update = wrangler_container(
        defaults,
        snapshot,
        "routes",
        &scripts::update_routes(),
        routes,
        vec![],
    );
    let clone = clone_stage(defaults, snapshot);
    job(defaults, service, owner, &name, vec![clone], update)
}

/// Puts a recorded Worker version back with `wrangler rollback`.
pub fn roll_back_job(
    defaults: &BuildDefaults,
    service: &ChittyService,
    owner: &ChittyDeployment,
    version_id: &str,
    worker_name: &str,
    reason: &str,
) -> Job {
    let container = wrangler_container(
        defaults,
        &owner.spec.snapshot,
        "rollback",
        &scripts::roll_back_worker(),
        &[],
        vec![
            env("CHITTY_VERSION_ID", version_id),
            env("CHITTY_WORKER_NAME", worker_name),
            env("CHITTY_REASON", reason),
        ],
    );
    let name = rollback_job_name(&owner.name_any());
    job(defaults, service, owner, &name, vec![], container)
}

/// The routes a Job binds, as it says itself (`CHITTY_ROUTES` of its wrangler container).
pub fn routes_of(job: &Job) -> Vec<String> {
    let pod = job.spec.as_ref().and_then(|s| s.template.spec.as_ref());
    pod.into_iter()
        .flat_map(|p| p.containers.iter())
        .flat_map(|c| c.env.iter().flatten())
        .find(|e| e.name == "CHITTY_ROUTES")
        .and_then(|e| serde_json::from_str(e.value.as_deref()?).ok())
        .unwrap_or_default()
}

/// The Job's containers in the order they run.
pub fn container_names(job: &Job) -> Vec<String> {
    let pod = job.spec.as_ref().and_then(|s| s.template.spec.as_ref());
    pod.into_iter()
        .flat_map(|p| {
            p.init_containers
                .iter()
                .flatten()
                .chain(p.containers.iter())
        })
        .map(|c| c.name.clone())
        .collect()
}

fn env(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

fn tool_env(snapshot: &ChittyServiceSpec) -> Vec<Value> {
    vec![
        env("HOME", security::TOOL_HOME),
        env("CHITTY_ENVIRONMENT", snapshot.environment.as_str()),
    ]
}

/// A stage that runs a project command; it sees no credentials.
fn stage(
    defaults: &BuildDefaults,
    snapshot: &ChittyServiceSpec,
    name: &str,
    script: &str,
) -> Value {
    let (_, scratch) = security::tool_scratch();
    let mut mounts = vec![security::mount("workspace", "/workspace")];
    mounts.extend(scratch);
    json!({
        "name": name,
        "image": builder(defaults, snapshot),
        "workingDir": "/workspace",
        "command": ["sh", "-ec", script],
        "env": tool_env(snapshot),
        "volumeMounts": mounts,
        "securityContext": security::tool_container(defaults.run_as_user),
        "resources": defaults.container_resources(),
        // A failed stage's last log lines become its message, and so the rollout's.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    })
}

/// Checks out the snapshot's own git revision (for a rollback by redeploy, the last good
/// rollout's snapshot, so its revision).
fn clone_stage(defaults: &BuildDefaults, snapshot: &ChittyServiceSpec) -> Value {
    let mut clone = stage(defaults, snapshot, "clone", CLONE_SCRIPT);
    let git = snapshot.source.git.as_ref();
    let vars = clone["env"].as_array_mut().expect("env is a list");
    vars.push(env(
        "GIT_URL",
        &git.map_or(String::new(), |g| g.url.clone()),
    ));
    vars.push(env(
        "GIT_REVISION",
        &git.map_or(String::new(), |g| g.revision.clone()),
    ));
    clone
}

/// The wrangler container: the credentials, the pinned version and the routes to bind.
fn wrangler_container(
    defaults: &BuildDefaults,
    snapshot: &ChittyServiceSpec,
    name: &str,
    script: &str,
    routes: &[String],
    extra: Vec<Value>,
) -> Value {
    let mut container = stage(defaults, snapshot, name, script);
    let secret =
        (snapshot.cloudflare.as_ref()).map_or(String::new(), |c| c.credentials_secret.clone());
    let from_secret = |name: &str, key: &str| json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}});
    let vars = container["env"].as_array_mut().expect("env is a list");
    vars.extend([
        from_secret("CLOUDFLARE_API_TOKEN", "apiToken"),
        from_secret("CLOUDFLARE_ACCOUNT_ID", "accountId"),
        env("WRANGLER_VERSION", &defaults.wrangler_version),
        env("WRANGLER_SEND_METRICS", "false"),
        // Plain text in the logs, and so in a failure's message; never an interactive prompt.
        env("FORCE_COLOR", "0"),
        env("CI", "true"),
        env(
            "CHITTY_ROUTES",
            &serde_json::to_string(routes).expect("strings serialize"),
        ),
    ]);
    vars.extend(extra);
    container
}

fn builder(defaults: &BuildDefaults, snapshot: &ChittyServiceSpec) -> String {
    (snapshot.build.as_ref())
        .and_then(|b| b.builder_image.clone())
        .unwrap_or_else(|| defaults.builder_image.clone())
}

fn job(
    defaults: &BuildDefaults,
    service: &ChittyService,
    owner: &ChittyDeployment,
    name: &str,
    init: Vec<Value>,
    main: Value,
) -> Job {
    let (mut volumes, _) = security::tool_scratch();
    volumes.push(security::scratch_volume("workspace"));
    let mut labels = common_labels(service);
    labels.insert(ROLLOUT_LABEL.into(), owner.name_any());
    let owners = owner
        .controller_owner_ref(&())
        .map(|o| serde_json::to_value(vec![o]).expect("owner serializes"));
    // Every stage is git, npm or wrangler from the builder image, so the whole pod runs non-root.
    let mut pod_security = security::pod_context(None, None);
    pod_security.run_as_non_root = Some(true);
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": owner.namespace(), "labels": labels, "ownerReferences": owners},
        "spec": {
            // wrangler's calls are idempotent, but a failed deploy is reported, not repeated.
            "backoffLimit": 0,
            "activeDeadlineSeconds": defaults.timeout_seconds,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": false,
                    "securityContext": pod_security,
                    "initContainers": init,
                    "containers": [main],
                    "volumes": volumes,
                },
            },
        },
    }))
    .expect("Job is well-formed")
}

#[cfg(test)]
#[path = "jobs_tests.rs"]
mod tests;
