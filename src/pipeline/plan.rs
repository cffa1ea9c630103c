//! The ordered steps of a rollout, decided from its snapshot alone.

use crate::api::{ChittyServiceSpec, StepPhase, StepStatus};

/// The pipeline's steps, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    Build,
    Deploy,
    Identity,
    Register,
    Routes,
    Health,
    Notify,
}

impl Step {
    pub const ORDER: [Step; 7] = [
        Step::Build,
        Step::Deploy,
        Step::Identity,
        Step::Register,
        Step::Routes,
        Step::Health,
        Step::Notify,
    ];

    /// The step a status names (`build/test` names a sub-step of `build`).
    pub fn parse(name: &str) -> Option<Step> {
        let top = name.split('/').next().unwrap_or_default();
        Step::ORDER.into_iter().find(|s| s.as_str() == top)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Build => "build",
            Step::Deploy => "deploy",
            Step::Identity => "identity",
            Step::Register => "register",
            Step::Routes => "routes",
            Step::Health => "health",
            Step::Notify => "notify",
        }
    }
}

/// The initial step list of a rollout: every step Pending, except those that do not apply.
pub fn plan(snapshot: &ChittyServiceSpec) -> Vec<StepStatus> {
    Step::ORDER
        .iter()
        .map(|step| {
            let skip = skip_reason(*step, snapshot);
            StepStatus {
                name: step.as_str().to_string(),
                phase: if skip.is_some() {
                    StepPhase::Skipped
                } else {
                    StepPhase::Pending
                },
                message: skip.map(str::to_string),
                ..Default::default()
            }
        })
        .collect()
}

fn skip_reason(step: Step, snapshot: &ChittyServiceSpec) -> Option<&'static str> {
    match step {
        Step::Build if snapshot.source.git.is_none() => Some("prebuilt image; nothing to build"),
        Step::Routes if snapshot.routes.is_empty() => Some("no routes in the spec"),
        _ => None,
    }
}

/// Share of steps that are done (succeeded or skipped), 0-100.
pub fn progress(steps: &[StepStatus]) -> i32 {
    let top: Vec<&StepStatus> = steps.iter().filter(|s| !s.name.contains('/')).collect();
    if top.is_empty() {
        return 0;
    }
    let done = top
        .iter()
        .filter(|s| matches!(s.phase, StepPhase::Succeeded | StepPhase::Skipped))
        .count();
    (done * 100 / top.len()) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(source: serde_json::Value) -> ChittyServiceSpec {
        serde_json::from_value(serde_json::json!({
            "type": "worker", "version": "1.0.0", "environment": "staging", "source": source
        }))
        .unwrap()
    }

    #[test]
    fn prebuilt_image_skips_build() {
        let steps = plan(&spec(serde_json::json!({"image": "registry.local/a:1"})));
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "build", "deploy", "identity", "register", "routes", "health", "notify"
            ]
        );
        assert_eq!(steps[0].phase, StepPhase::Skipped);
        assert_eq!(steps[1].phase, StepPhase::Pending);
    }

    #[test]
    fn git_source_builds() {
        let steps = plan(&spec(
            serde_json::json!({"git": {"url": "https://git.local/a.git"}}),
        ));
        assert_eq!(steps[0].phase, StepPhase::Pending);
    }

    #[test]
    fn progress_counts_done_steps() {
        let steps = plan(&spec(serde_json::json!({"image": "registry.local/a:1"})));
        assert_eq!(progress(&steps), 2 * 100 / 7);
    }
}
