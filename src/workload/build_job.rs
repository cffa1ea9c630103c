//! The build Job of a git-sourced rollout: the seed's clone, install and test steps as ordered
//! init containers sharing one workspace, then a final container that builds and pushes the image.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Capabilities, ContainerStatus, Pod, SecurityContext, VolumeMount,
};
use kube::{Resource, ResourceExt};

use super::{BUILD_JOB_LABEL, ROLLOUT_LABEL, common_labels, security};
use crate::api::{ChittyDeployment, ChittyService, ServiceType, StepPhase, StepStatus, Target};
use crate::config::BuildDefaults;
use crate::labels;

/// The build's containers, in the order they run; each becomes a `build/<name>` sub-step. A
/// cluster build ends in an image; a Cloudflare build ends in the project's own build, proving the
/// revision builds before anything is deployed (wrangler deploys from a fresh build of it).
pub fn stages(target: Target) -> [&'static str; 4] {
    match target {
        Target::Cluster => ["clone", "install", "test", "image"],
        Target::Cloudflare => ["clone", "install", "test", "build"],
    }
}

/// Checks out `GIT_REVISION` of `GIT_URL` into the workspace. The URL and revision travel as
/// environment variables, never spliced into the script, so no manifest value is ever
/// interpreted by the shell.
pub const CLONE_SCRIPT: &str = r#"git init -q . && git remote add origin "$GIT_URL" && git fetch -q --depth 1 origin "$GIT_REVISION" && git checkout -q FETCH_HEAD"#;

pub fn job_name(rollout: &str) -> String {
    crate::names::bounded(rollout, "-build")
}

/// Where the image of a revision goes. Tagged by revision, so a revision is built once.
pub fn image_for(defaults: &BuildDefaults, service: &ChittyService, revision: &str) -> String {
    format!(
        "{}/{}/{}:{}",
        defaults.registry.trim_end_matches('/'),
        service.namespace().unwrap_or_else(|| "default".into()),
        service.name_any(),
        revision
    )
}

pub(crate) fn default_build_command(kind: ServiceType) -> &'static str {
    match kind {
        ServiceType::Worker => "npm run build --if-present",
        ServiceType::Frontend | ServiceType::Fullstack => "npm run build",
    }
}

pub fn build(
    defaults: &BuildDefaults,
    service: &ChittyService,
    rollout: &ChittyDeployment,
    image: &str,
) -> Job {
    let snapshot = &rollout.spec.snapshot;
    let git = snapshot
        .source
        .git
        .as_ref()
        .expect("build jobs are made only for git sources");
    let overrides = snapshot.build.clone().unwrap_or_default();
    let builder = overrides
        .builder_image
        .clone()
        .unwrap_or_else(|| defaults.builder_image.clone());
    let install = overrides
        .install
        .clone()
        .unwrap_or_else(|| defaults.install_command.clone());
    let test = overrides
        .test
        .clone()
        .unwrap_or_else(|| defaults.test_command.clone());
    let command = overrides
        .command
        .clone()
        .unwrap_or_else(|| default_build_command(snapshot.service_type).into());
    let resources = defaults.container_resources();
    let (scratch_volumes, scratch_mounts) = security::tool_scratch();
    let mut tool_mounts = vec![workspace_mount()];
    tool_mounts.extend(scratch_mounts);
    let step = |name: &str, script: String| {
        serde_json::json!({
            "name": name,
            "image": builder,
            "command": ["sh", "-ec", script],
            "workingDir": "/workspace",
            "volumeMounts": tool_mounts,
            "env": [{"name": "CHITTY_REVISION", "value": rollout.spec.revision},
                    {"name": "CHITTY_ENVIRONMENT", "value": format!("{:?}", snapshot.environment).to_lowercase()},
                    {"name": "HOME", "value": security::TOOL_HOME}],
            "securityContext": security::tool_container(defaults.run_as_user),
            "resources": resources,
            // A failed stage's last log lines (a failing test's output) become its message.
            "terminationMessagePolicy": "FallbackToLogsOnError",
        })
    };
    let mut clone = step("clone", CLONE_SCRIPT.into());
    clone["env"].as_array_mut().expect("env is a list").extend([
        serde_json::json!({"name": "GIT_URL", "value": git.url}),
        serde_json::json!({"name": "GIT_REVISION", "value": git.revision}),
    ]);
    let last_step = match snapshot.target {
        Target::Cloudflare => step("build", command),
        Target::Cluster => image_step(defaults, image, &command),
    };
    let mut volumes = vec![security::scratch_volume(WORKSPACE_VOLUME)];
    volumes.extend(scratch_volumes);
    let mut pod_labels = common_labels(service);
    pod_labels.insert(ROLLOUT_LABEL.into(), rollout.name_any());
    pod_labels.insert(BUILD_JOB_LABEL.into(), "true".into());
    let owner = rollout
        .controller_owner_ref(&())
        .map(|o| serde_json::to_value(vec![o]).expect("owner serializes"));
    serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(&rollout.name_any()),
            "namespace": rollout.namespace(),
            "labels": pod_labels,
            "ownerReferences": owner,
        },
        "spec": {
            // A failed build is reported, not retried: the same inputs would fail the same way.
            "backoffLimit": 0,
            "activeDeadlineSeconds": defaults.timeout_seconds,
            "template": {
                "metadata": {"labels": {labels::SERVICE: service.name_any(), ROLLOUT_LABEL: rollout.name_any()}},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": false,
                    "securityContext": security::pod_context(None, None),
                    "initContainers": [clone, step("install", install), step("test", test)],
                    "containers": [last_step],
                    "volumes": volumes,
                },
            },
        },
    }))
    .expect("Job is well-formed")
}

/// kaniko builds and pushes the image from the workspace.
fn image_step(defaults: &BuildDefaults, image: &str, command: &str) -> serde_json::Value {
    serde_json::json!({
        "name": "image",
        "image": defaults.image_builder,
        "args": [format!("--context=dir:///workspace"), format!("--destination={image}"),
                 "--build-arg".to_string(), format!("BUILD_COMMAND={command}")],
        "volumeMounts": [workspace_mount()],
        "securityContext": image_builder_context(),
        "resources": defaults.container_resources(),
    })
}

const WORKSPACE_VOLUME: &str = "workspace";

fn workspace_mount() -> VolumeMount {
    security::mount(WORKSPACE_VOLUME, "/workspace")
}

/// The `image` stage cannot run as non-root: kaniko builds the image by unpacking the base image
/// into its own root filesystem and running the Dockerfile's steps there, so it runs as root on a
/// writable root. It still never escalates, and keeps only the capabilities that unpacking files
/// with their owners and modes and running steps as another user need (no NET_RAW, MKNOD, ...).
fn image_builder_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: Some(
                [
                    "CHOWN",
                    "DAC_OVERRIDE",
                    "FOWNER",
                    "FSETID",
                    "SETUID",
                    "SETGID",
                    "SETFCAP",
                    "KILL",
                ]
                .map(String::from)
                .to_vec(),
            ),
        }),
        read_only_root_filesystem: Some(false),
        ..Default::default()
    }
}

/// How the build stands, from the Job's conditions.
pub enum JobState {
    Running,
    Succeeded,
    Failed(String),
}

pub fn job_state(job: &Job) -> JobState {
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let is = |t: &str| {
        conditions
            .iter()
            .any(|c| c.type_ == t && c.status == "True")
    };
    if is("Complete") || is("SuccessCriteriaMet") {
        JobState::Succeeded
    } else if is("Failed") || is("FailureTarget") {
        let why = conditions
            .iter()
            .find(|c| (c.type_ == "Failed" || c.type_ == "FailureTarget") && c.status == "True")
            .and_then(|c| c.message.clone().or(c.reason.clone()))
            .unwrap_or_else(|| "the build Job failed".into());
        JobState::Failed(why)
    } else {
        JobState::Running
    }
}

/// One `build/<stage>` sub-step per container, with the timings and outcome the pod reports.
pub fn substeps(pod: Option<&Pod>, stages: &[&str]) -> Vec<StepStatus> {
    let status = pod.and_then(|p| p.status.as_ref());
    let all: Vec<ContainerStatus> = status
        .map(|s| {
            let mut v = s.init_container_statuses.clone().unwrap_or_default();
            v.extend(s.container_statuses.clone().unwrap_or_default());
            v
        })
        .unwrap_or_default();
    stages
        .iter()
        .map(|stage| {
            let found = all.iter().find(|c| c.name == *stage);
            let state = found.and_then(|c| c.state.as_ref());
            let mut step = StepStatus {
                name: format!("build/{stage}"),
                ..Default::default()
            };
            if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
                step.phase = if t.exit_code == 0 {
                    StepPhase::Succeeded
                } else {
                    StepPhase::Failed
                };
                step.started_at = t.started_at.clone();
                step.finished_at = t.finished_at.clone();
                step.duration_ms = match (&t.started_at, &t.finished_at) {
                    (Some(a), Some(b)) => Some(b.0.duration_since(a.0).as_millis() as i64),
                    _ => None,
                };
                if t.exit_code != 0 {
                    step.message = Some(format!(
                        "exited with code {}{}",
                        t.exit_code,
                        t.message
                            .as_ref()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    ));
                }
            } else if let Some(r) = state.and_then(|s| s.running.as_ref()) {
                step.phase = StepPhase::Running;
                step.started_at = r.started_at.clone();
            }
            step
        })
        .collect()
}

/// The first sub-step that failed, for the rollout's error message.
pub fn failed_stage(steps: &[StepStatus]) -> Option<&StepStatus> {
    steps.iter().find(|s| s.phase == StepPhase::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(statuses: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "p"}, "status": statuses}))
            .unwrap()
    }

    #[test]
    fn each_container_becomes_a_sub_step_in_order() {
        let p = pod(serde_json::json!({
            "initContainerStatuses": [
                {"name": "clone", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                 "state": {"terminated": {"exitCode": 0, "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:02Z"}}},
                {"name": "install", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                 "state": {"terminated": {"exitCode": 0, "startedAt": "2026-01-01T00:00:02Z", "finishedAt": "2026-01-01T00:00:05Z"}}},
                {"name": "test", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                 "state": {"terminated": {"exitCode": 1, "message": "2 tests failed", "startedAt": "2026-01-01T00:00:05Z", "finishedAt": "2026-01-01T00:00:09Z"}}}
            ]
        }));
        let steps = substeps(Some(&p), &stages(Target::Cluster));
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["build/clone", "build/install", "build/test", "build/image"]
        );
        assert_eq!(steps[1].duration_ms, Some(3000));
        let failed = failed_stage(&steps).unwrap();
        assert_eq!(failed.name, "build/test");
        assert_eq!(
            failed.message.as_deref(),
            Some("exited with code 1: 2 tests failed")
        );
        assert_eq!(steps[3].phase, StepPhase::Pending);
    }

    fn git_rollout() -> (ChittyService, ChittyDeployment) {
        let spec = serde_json::json!({"type": "worker", "version": "1.0.0", "environment": "staging",
            "source": {"git": {"url": "https://git.chitty.local/x.git", "revision": "main"}}});
        let service = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": "x", "namespace": "ns", "uid": "u-1"}, "spec": spec}))
        .unwrap();
        let rollout = serde_json::from_value(serde_json::json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
            "metadata": {"name": "x-r1", "namespace": "ns", "uid": "u-2"},
            "spec": {"serviceRef": {"name": "x"}, "revision": "abc", "snapshot": spec,
                     "trigger": "Initial", "strategy": "immediate"}}))
        .unwrap();
        (service, rollout)
    }

    #[test]
    fn tool_stages_run_as_non_root_and_every_container_is_bounded() {
        let defaults = crate::config::OperatorConfig::defaults().build;
        let (service, rollout) = git_rollout();
        let job = build(&defaults, &service, &rollout, "r/x:abc");
        let pod = job.spec.unwrap().template.spec.unwrap();
        let seccomp = pod.security_context.unwrap().seccomp_profile.unwrap();
        assert_eq!(seccomp.type_, "RuntimeDefault");
        for c in pod.init_containers.as_ref().unwrap() {
            let sc = c.security_context.as_ref().unwrap();
            assert_eq!(sc.run_as_non_root, Some(true), "{}", c.name);
            assert_eq!(sc.run_as_user, Some(defaults.run_as_user), "{}", c.name);
            assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
            let home = c.env.as_ref().unwrap().iter().find(|e| e.name == "HOME");
            assert_eq!(home.unwrap().value.as_deref(), Some(security::TOOL_HOME));
        }
        let kaniko = pod.containers[0].security_context.as_ref().unwrap();
        assert_eq!(kaniko.allow_privilege_escalation, Some(false));
        assert_eq!(
            kaniko.capabilities.as_ref().unwrap().drop.as_deref(),
            Some(&["ALL".to_string()][..])
        );
        let all = pod.init_containers.iter().flatten().chain(&pod.containers);
        for c in all {
            let r = c.resources.as_ref().unwrap();
            assert!(
                r.requests.as_ref().unwrap().contains_key("memory"),
                "{}",
                c.name
            );
            assert!(r.limits.as_ref().unwrap().contains_key("cpu"), "{}", c.name);
        }
    }

    #[test]
    fn no_pod_yet_means_all_pending() {
        assert!(
            substeps(None, &stages(Target::Cluster))
                .iter()
                .all(|s| s.phase == StepPhase::Pending)
        );
    }
}
