//! The step state machine of one rollout: pure transitions over `ChittyDeploymentStatus`, so a
//! crash at any point resumes from what status says, and the rules are testable without a cluster.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::plan::{Step, progress};
use crate::api::{ChittyDeploymentStatus, DeploymentPhase, StepPhase, StepStatus};

/// What running a step once produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The step finished; the message says what it did.
    Done(String),
    /// The step does not apply to this rollout.
    Skipped(String),
    /// The step is under way; look again later.
    Waiting(String),
    /// The step failed for good; the rollout fails (and may roll back).
    Failed(String),
}

/// The step to work on next: the first that is neither done nor skipped.
pub fn next_step(status: &ChittyDeploymentStatus) -> Option<Step> {
    // Sub-steps (`build/test`) report detail; only the top-level steps drive the rollout.
    status
        .steps
        .iter()
        .filter(|s| matches!(s.phase, StepPhase::Pending | StepPhase::Running))
        .find_map(|s| {
            Step::ORDER
                .iter()
                .copied()
                .find(|step| step.as_str() == s.name)
        })
}

fn millis_between(start: &Time, end: &Time) -> i64 {
    end.0.duration_since(start.0).as_millis() as i64
}

fn entry(status: &mut ChittyDeploymentStatus, step: Step) -> &mut StepStatus {
    let index = status
        .steps
        .iter()
        .position(|s| s.name == step.as_str())
        .unwrap_or_else(|| {
            status.steps.push(StepStatus {
                name: step.as_str().into(),
                ..Default::default()
            });
            status.steps.len() - 1
        });
    &mut status.steps[index]
}

/// Marks the rollout running and the step started, if they are not yet.
pub fn start(status: &mut ChittyDeploymentStatus, step: Step, now: &Time) {
    if status.started_at.is_none() {
        status.started_at = Some(now.clone());
    }
    status.phase = Some(DeploymentPhase::Running);
    status.current_step = Some(step.as_str().into());
    let e = entry(status, step);
    if e.phase == StepPhase::Pending {
        e.phase = StepPhase::Running;
        e.started_at = Some(now.clone());
    }
}

/// Records a step's outcome. Returns true when the rollout may go on to the next step now.
pub fn record(
    status: &mut ChittyDeploymentStatus,
    step: Step,
    outcome: Outcome,
    now: &Time,
) -> bool {
    let e = entry(status, step);
    let finish = |e: &mut StepStatus, phase: StepPhase, message: String| {
        e.phase = phase;
        e.finished_at = Some(now.clone());
        e.duration_ms = e.started_at.as_ref().map(|s| millis_between(s, now));
        e.message = Some(message);
    };
    let go_on = match outcome {
        Outcome::Done(m) => {
            finish(e, StepPhase::Succeeded, m);
            true
        }
        Outcome::Skipped(m) => {
            finish(e, StepPhase::Skipped, m);
            true
        }
        Outcome::Waiting(m) => {
            e.message = Some(m);
            false
        }
        Outcome::Failed(m) => {
            finish(e, StepPhase::Failed, m.clone());
            status.error = Some(format!("{} failed: {m}", step.as_str()));
            false
        }
    };
    status.progress = progress(&status.steps);
    go_on
}

/// Closes the rollout with a final phase, its completion time and duration.
pub fn finish(status: &mut ChittyDeploymentStatus, phase: DeploymentPhase, now: &Time) {
    status.phase = Some(phase);
    status.completed_at = Some(now.clone());
    status.duration_ms = status.started_at.as_ref().map(|s| millis_between(s, now));
    if phase == DeploymentPhase::Succeeded {
        status.current_step = None;
        status.error = None;
    }
    // Steps that never ran stay visible as such; a finished rollout has nothing Running.
    for s in status
        .steps
        .iter_mut()
        .filter(|s| s.phase == StepPhase::Running)
    {
        s.phase = StepPhase::Failed;
        s.finished_at = Some(now.clone());
    }
    status.progress = progress(&status.steps);
}

/// The failed step of a finished rollout, if any.
pub fn failed_step(status: &ChittyDeploymentStatus) -> Option<&StepStatus> {
    status.steps.iter().find(|s| s.phase == StepPhase::Failed)
}

/// Whether a failure in this step is answered by rolling back the workload: only steps after the
/// workload changed (build failures never touched it).
pub fn rolls_back(step: Step) -> bool {
    !matches!(step, Step::Build)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::plan::plan;

    fn at(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(1_800_000_000 + secs).unwrap())
    }

    fn fresh() -> ChittyDeploymentStatus {
        let spec = serde_json::from_value(serde_json::json!({
            "type": "worker", "version": "1.0.0", "environment": "staging", "source": {"image": "r/a:1"}
        }))
        .unwrap();
        ChittyDeploymentStatus {
            steps: plan(&spec),
            phase: Some(DeploymentPhase::Pending),
            ..Default::default()
        }
    }

    #[test]
    fn first_step_to_run_skips_what_was_skipped_at_planning() {
        assert_eq!(next_step(&fresh()), Some(Step::Deploy));
    }

    #[test]
    fn a_done_step_records_its_duration_and_moves_on() {
        let mut s = fresh();
        start(&mut s, Step::Deploy, &at(0));
        assert!(record(
            &mut s,
            Step::Deploy,
            Outcome::Done("applied".into()),
            &at(3)
        ));
        let deploy = s.steps.iter().find(|x| x.name == "deploy").unwrap();
        assert_eq!(deploy.phase, StepPhase::Succeeded);
        assert_eq!(deploy.duration_ms, Some(3000));
        assert_eq!(next_step(&s), Some(Step::Identity));
        assert_eq!(s.phase, Some(DeploymentPhase::Running));
    }

    #[test]
    fn waiting_keeps_the_step_running_and_its_start_time() {
        let mut s = fresh();
        start(&mut s, Step::Deploy, &at(0));
        assert!(!record(
            &mut s,
            Step::Deploy,
            Outcome::Waiting("1/2 available".into()),
            &at(1)
        ));
        start(&mut s, Step::Deploy, &at(5));
        let deploy = s.steps.iter().find(|x| x.name == "deploy").unwrap();
        assert_eq!(deploy.phase, StepPhase::Running);
        assert_eq!(deploy.started_at, Some(at(0)));
        assert_eq!(s.started_at, Some(at(0)));
    }

    #[test]
    fn failure_names_the_step_in_the_error() {
        let mut s = fresh();
        start(&mut s, Step::Health, &at(0));
        assert!(!record(
            &mut s,
            Step::Health,
            Outcome::Failed("GET /health returned 503".into()),
            &at(2)
        ));
        assert_eq!(
            s.error.as_deref(),
            Some("health failed: GET /health returned 503")
        );
        assert_eq!(failed_step(&s).unwrap().name, "health");
    }

    #[test]
    fn finishing_sets_completion_and_total_duration() {
        let mut s = fresh();
        start(&mut s, Step::Deploy, &at(10));
        for step in [
            Step::Deploy,
            Step::Identity,
            Step::Register,
            Step::Health,
            Step::Notify,
        ] {
            start(&mut s, step, &at(10));
            record(&mut s, step, Outcome::Done(String::new()), &at(20));
        }
        assert_eq!(next_step(&s), None);
        finish(&mut s, DeploymentPhase::Succeeded, &at(25));
        assert_eq!(s.duration_ms, Some(15_000));
        assert_eq!(s.progress, 100);
        assert_eq!(s.current_step, None);
    }

    #[test]
    fn build_failures_do_not_roll_back() {
        assert!(!rolls_back(Step::Build));
        assert!(rolls_back(Step::Health));
    }
}
