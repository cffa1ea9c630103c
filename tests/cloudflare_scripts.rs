//! The Cloudflare Jobs' scripts, run for real on this machine: fake nodes complete Jobs without
//! running them, so here each container of the Job objects the operator builds (the same
//! functions its controllers call; nothing is re-typed) runs in order in one workspace, as the
//! pod would, against small projects in local git repositories, with packages from the npm
//! registry and the operator's pinned wrangler. wrangler runs `--dry-run`: it bundles the Worker
//! and checks its configuration without uploading (the scripts' `CHITTY_DRY_RUN_OUTDIR`).

use std::path::{Path, PathBuf};
use std::process::Command;

use chitty_operator::api::{ChittyDeployment, ChittyService, StepPhase};
use chitty_operator::config::OperatorConfig;
use chitty_operator::workload::build_job::{self, failed_stage, stages, substeps};
use chitty_operator::workload::cloudflare::{self, patterns};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::{Value, json};

/// A scratch directory removed when the test ends, pass or fail.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("chitty-cf-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn join(&self, part: &str) -> PathBuf {
        self.0.join(part)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The project `files` in a git repository under `scratch`, with npm's lock file (taken from the
/// registry, like a developer would) committed on `main`; returns its URL.
fn project(scratch: &Scratch, files: &[(&str, String)]) -> String {
    let dir = scratch.join("project");
    for (path, text) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    lock(&dir);
    sh(
        &dir,
        "git init -q -b main . && git add -A && git -c user.name=t -c user.email=t@example.com commit -qm project",
    );
    format!("file://{}", dir.display())
}

/// npm's lock file for the project's package.json.
fn lock(dir: &Path) {
    sh(
        dir,
        "npm install --package-lock-only --no-audit --no-fund --loglevel=error",
    );
}

/// Where npm keeps downloads between runs; outside the repository, like the control plane.
fn npm_cache() -> String {
    let base = std::env::var("XDG_CACHE_HOME")
        .unwrap_or_else(|_| format!("{}/.cache", std::env::var("HOME").unwrap()));
    format!("{base}/chitty-operator/npm")
}

struct Ran {
    container: String,
    code: i32,
    output: String,
}

/// Runs each container of `job` in order, as its pod would: its command, in the workspace,
/// with its environment (Secret references get stand-in values; HOME is a scratch directory).
/// Stops at the first failure, as the kubelet does with init containers.
fn run_job(job: &Job, scratch: &Scratch, extra: &[(&str, String)]) -> Vec<Ran> {
    let pod = job.spec.clone().unwrap().template.spec.unwrap();
    let containers: Vec<Container> = pod
        .init_containers
        .unwrap_or_default()
        .into_iter()
        .chain(pod.containers)
        .collect();
    let (workspace, home) = (scratch.join("workspace"), scratch.join("home"));
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let mut ran = vec![];
    for c in containers {
        let command = c.command.clone().expect("every stage has a command");
        let mut cmd = Command::new(&command[0]);
        // The machine's own environment stands for the builder image's (its PATH, and the TLS
        // trust its registry access needs); the container's variables go on top.
        cmd.args(&command[1..]).current_dir(&workspace);
        cmd.env("npm_config_cache", npm_cache());
        for e in c.env.iter().flatten() {
            let value = match (&e.value, &e.value_from) {
                (_, Some(from)) => {
                    format!("stand-in-{}", from.secret_key_ref.as_ref().unwrap().key)
                }
                _ if e.name == "HOME" => home.display().to_string(),
                (Some(v), None) => v.clone(),
                (None, None) => String::new(),
            };
            cmd.env(&e.name, value);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let code = out.status.code().unwrap_or(-1);
        ran.push(Ran {
            container: c.name.clone(),
            code,
            output,
        });
        if code != 0 {
            break;
        }
    }
    ran
}

fn names(ran: &[Ran]) -> Vec<(&str, i32)> {
    ran.iter().map(|r| (r.container.as_str(), r.code)).collect()
}

/// The wrangler configuration a run's script generated in the workspace.
fn generated_config(run: &Scratch) -> Value {
    let text = std::fs::read_to_string(run.join("workspace/wrangler.chitty.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Each container ran with the exit code given, in order; else the last one's output.
fn assert_ran(ran: &[Ran], expected: &[(&str, i32)]) {
    assert_eq!(
        names(ran),
        expected,
        "{}",
        ran.last().map_or("", |r| r.output.as_str())
    );
}

fn objects(kind: &str, url: &str, routes: Value) -> (ChittyService, ChittyDeployment) {
    let spec = json!({"type": kind, "version": "1.0.0", "environment": "staging", "target": "cloudflare",
        "source": {"git": {"url": url, "revision": "main"}}, "routes": routes,
        "cloudflare": {"credentialsSecret": "cf", "url": "https://edge.chitty.cc"}});
    let service = serde_json::from_value(
        json!({"apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "metadata": {"name": "edge", "namespace": "ns", "uid": "u-1"}, "spec": spec}),
    )
    .unwrap();
    let rollout = serde_json::from_value(
        json!({"apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
        "metadata": {"name": "edge-r1", "namespace": "ns", "uid": "u-2"},
        "spec": {"serviceRef": {"name": "edge"}, "revision": "0123456789abcdef", "snapshot": spec,
                 "trigger": "Initial", "strategy": "immediate"}}),
    )
    .unwrap();
    (service, rollout)
}

fn worker_files(test_body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("package.json", json!({"name": "edge-worker", "version": "1.0.0", "private": true,
            "scripts": {"test": "node --test", "build": "node build.mjs"}}).to_string()),
        // The build makes a module the Worker imports: a deploy without the build cannot bundle.
        ("build.mjs", "import { writeFileSync } from 'node:fs';\nwriteFileSync('src/built.js', 'export const built = \"yes\";\\n');\n".into()),
        ("src/index.js", "import { built } from './built.js';\nexport default { async fetch() { return new Response(built); } };\n".into()),
        ("test/edge.test.js", format!("const test = require('node:test');\nconst assert = require('node:assert');\ntest('adds', () => {{ {test_body} }});\n")),
        // The project's own routes: the operator must replace them with the held ones.
        ("wrangler.toml", "name = \"edge\"\nmain = \"src/index.js\"\ncompatibility_date = \"2026-01-01\"\nroutes = [\"mcp.chitty.cc/*\"]\n\n[env.staging]\nroutes = [\"mcp-staging.chitty.cc/*\"]\n".into()),
        (".gitignore", "node_modules\n".into()),
    ]
}

#[test]
fn a_worker_builds_and_deploys_bound_to_exactly_the_held_routes() {
    let scratch = Scratch::new("worker");
    let url = project(&scratch, &worker_files("assert.strictEqual(1 + 1, 2);"));
    let (mut service, rollout) = objects("worker", &url, json!([]));
    let defaults = OperatorConfig::defaults().build;

    // The build Job: clone, install, test, build, with no credentials anywhere.
    let build = build_job::build(&defaults, &service, &rollout, "unused");
    let ran = run_job(&build, &Scratch::new("worker-build"), &[]);
    assert_ran(
        &ran,
        &[("clone", 0), ("install", 0), ("test", 0), ("build", 0)],
    );

    // The deploy Job for a service holding one exact path route and one whole host.
    service.status = serde_json::from_value(json!({"routes": [
        {"host": "api.chitty.cc", "path": "/edge", "claim": "edge-api", "accepted": true},
        {"host": "edge.chitty.cc", "path": "/", "claim": "edge-host", "accepted": true},
        {"host": "mcp.chitty.cc", "path": "/", "claim": "edge-mcp", "accepted": false}]}))
    .unwrap();
    let held = patterns::held(&service);
    assert_eq!(
        held,
        [
            "api.chitty.cc/edge",
            "api.chitty.cc/edge/*",
            "edge.chitty.cc/*"
        ]
    );
    let deploy = cloudflare::deploy_job(
        &defaults,
        &service,
        &rollout,
        "edge-r1-wrangler",
        &rollout.spec.snapshot,
        &held,
    );
    let run = Scratch::new("worker-deploy");
    let bundle = run.join("bundle");
    let ran = run_job(
        &deploy,
        &run,
        &[("CHITTY_DRY_RUN_OUTDIR", bundle.display().to_string())],
    );
    assert_ran(
        &ran,
        &[("clone", 0), ("install", 0), ("build", 0), ("deploy", 0)],
    );
    let config = generated_config(&run);
    assert_eq!(
        config["routes"],
        json!(held),
        "top-level routes are exactly the held ones"
    );
    assert_eq!(
        config["env"]["staging"]["routes"],
        json!(held),
        "and the environment's"
    );
    assert_eq!(
        config["main"], "src/index.js",
        "the rest of the project's configuration is kept"
    );
    let bundled = std::fs::read_to_string(bundle.join("index.js")).unwrap();
    assert!(
        bundled.contains("yes"),
        "the bundle includes what the build made"
    );

    // A routes-only update binds a new set from the same project without a deploy.
    let update = cloudflare::routes_job(&defaults, &service, &rollout, &held[2..]);
    let run = Scratch::new("worker-routes");
    let ran = run_job(&update, &run, &[("CHITTY_DRY_RUN_OUTDIR", "yes".into())]);
    assert_ran(&ran, &[("clone", 0), ("routes", 0)]);
    let config = generated_config(&run);
    assert_eq!(
        config["env"]["staging"]["routes"],
        json!(["edge.chitty.cc/*"])
    );
}

#[test]
fn a_failing_npm_test_fails_the_build_at_test_with_its_output() {
    let scratch = Scratch::new("failing");
    let url = project(
        &scratch,
        &worker_files("assert.strictEqual(1 + 2, 2, 'expected the sum to be 2');"),
    );
    let (service, rollout) = objects("worker", &url, json!([]));
    let build = build_job::build(
        &OperatorConfig::defaults().build,
        &service,
        &rollout,
        "unused",
    );
    let ran = run_job(&build, &Scratch::new("failing-build"), &[]);
    assert_eq!(names(&ran), [("clone", 0), ("install", 0), ("test", 1)]);
    let output = &ran[2].output;
    assert!(output.contains("expected the sum to be 2"), "{output}");

    // What the rollout says of it: the kubelet gives a failed container whose policy is
    // FallbackToLogsOnError the tail of its log as its message (at most 80 lines or 2 KiB).
    let test = build
        .spec
        .clone()
        .unwrap()
        .template
        .spec
        .unwrap()
        .init_containers
        .unwrap()
        .remove(2);
    assert_eq!(
        test.termination_message_policy.as_deref(),
        Some("FallbackToLogsOnError")
    );
    let lines: Vec<&str> = output.lines().collect();
    let tail = lines[lines.len().saturating_sub(80)..].join("\n");
    let tail = &tail[tail.len().saturating_sub(2048)..];
    let pod: Pod = serde_json::from_value(json!({"status": {"initContainerStatuses": [
        {"name": "clone", "image": "i", "ready": true, "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
        {"name": "install", "image": "i", "ready": true, "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
        {"name": "test", "image": "i", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 1, "message": tail}}}]}})).unwrap();
    let steps = substeps(Some(&pod), &stages(rollout.spec.snapshot.target));
    let failed = failed_stage(&steps).unwrap();
    assert_eq!(
        (failed.name.as_str(), failed.phase),
        ("build/test", StepPhase::Failed)
    );
    assert!(
        failed
            .message
            .as_deref()
            .unwrap()
            .contains("expected the sum to be 2")
    );
}

#[test]
fn a_vite_frontend_is_built_before_its_output_goes_to_pages() {
    let scratch = Scratch::new("vite");
    let files = [
        ("package.json", json!({"name": "edge-web", "version": "1.0.0", "private": true, "type": "module",
            "scripts": {"build": "vite build", "test": "node --test"},
            "devDependencies": {"vite": "8.3.8"}}).to_string()),
        ("index.html", "<!doctype html><html><body><div id=\"app\"></div><script type=\"module\" src=\"/src/main.js\"></script></body></html>\n".to_string()),
        ("src/main.js", "document.querySelector('#app').textContent = 'ChittyOS frontend';\n".to_string()),
        (".gitignore", "node_modules\ndist\n".to_string()),
    ];
    let url = project(&scratch, &files);
    let (service, rollout) = objects("frontend", &url, json!([]));
    let defaults = OperatorConfig::defaults().build;
    let build = build_job::build(&defaults, &service, &rollout, "unused");
    let ran = run_job(&build, &Scratch::new("vite-build"), &[]);
    assert_ran(
        &ran,
        &[("clone", 0), ("install", 0), ("test", 0), ("build", 0)],
    );

    let deploy = cloudflare::deploy_job(
        &defaults,
        &service,
        &rollout,
        "edge-r1-wrangler",
        &rollout.spec.snapshot,
        &[],
    );
    let run = Scratch::new("vite-deploy");
    let upload = run.join("upload");
    let ran = run_job(
        &deploy,
        &run,
        &[("CHITTY_DRY_RUN_OUTDIR", upload.display().to_string())],
    );
    assert_ran(
        &ran,
        &[("clone", 0), ("install", 0), ("build", 0), ("deploy", 0)],
    );
    let page = std::fs::read_to_string(upload.join("index.html")).unwrap();
    assert!(
        page.contains("/assets/"),
        "the built page, not the source: {page}"
    );
    assert!(
        ran[3].output.contains("Pages project edge"),
        "{}",
        ran[3].output
    );
}
