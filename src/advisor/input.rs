//! What the advisor reads: facts about one rollout and the ecosystem around it, gathered from
//! the caches by the rollout controller. Plain data, so scenarios are written as literals.

use jiff::Timestamp;

use crate::api::{Environment, HealthState, ServiceType};

/// The size of the version change from the running revision to the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum VersionChange {
    /// Nothing runs yet: the service's first rollout.
    First,
    /// Same version (a configuration change, a revert).
    Same,
    Patch,
    Minor,
    Major,
}

impl VersionChange {
    /// From the running version to the new one (semantic versions, a leading `v` allowed).
    /// Versions that do not parse count as a major change: the advisor cannot tell, so it is
    /// careful.
    pub fn between(running: Option<&str>, new: &str) -> Self {
        let Some(running) = running else {
            return Self::First;
        };
        match (parse(running), parse(new)) {
            (Some(a), Some(b)) if a == b => Self::Same,
            (Some(a), Some(b)) if a.0 != b.0 => Self::Major,
            (Some(a), Some(b)) if a.1 != b.1 => Self::Minor,
            (Some(_), Some(_)) => Self::Patch,
            _ => Self::Major,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::First => "first",
            Self::Same => "same",
            Self::Patch => "patch",
            Self::Minor => "minor",
            Self::Major => "major",
        }
    }
}

/// `(major, minor, patch, pre-release)` of `1.2.3-rc.1`; build metadata is ignored.
fn parse(version: &str) -> Option<(u64, u64, u64, String)> {
    let version = version.strip_prefix('v').unwrap_or(version);
    let version = version.split('+').next()?;
    let (core, pre) = version.split_once('-').unwrap_or((version, ""));
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next()??);
    parts
        .next()
        .is_none()
        .then(|| (major, minor, patch, pre.to_owned()))
}

/// The service's own recent rollouts, newest first as the advisor weighs them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Finished rollouts considered (at most the last ten).
    pub finished: u32,
    /// Of those, how many failed or rolled back.
    pub failed: u32,
    /// Failed or rolled back in a row, counting back from the newest finished rollout.
    pub failed_in_a_row: u32,
    /// When the newest failed (or rolled back) rollout finished.
    pub last_failure: Option<Timestamp>,
}

impl History {
    /// Share of the considered rollouts that failed, 0 with none.
    pub fn failure_rate(&self) -> f64 {
        if self.finished == 0 {
            0.0
        } else {
            f64::from(self.failed) / f64::from(self.finished)
        }
    }
}

/// One dependency as the advisor sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    /// `namespace/name`, or the name alone in the service's own namespace.
    pub name: String,
    /// `None` when the dependency is not known to the operator.
    pub health: Option<HealthState>,
    /// When its newest rollout was created, if it has one.
    pub rolled_out_at: Option<Timestamp>,
}

/// Everything one plan is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvisorInput {
    pub service_type: ServiceType,
    pub environment: Environment,
    pub critical: bool,
    pub change: VersionChange,
    /// The version running now, if any (informational: `change` is what the rules weigh).
    pub running_version: Option<String>,
    pub history: History,
    pub dependencies: Vec<Dependency>,
    /// Share of the ecosystem's services (with a known health) that are healthy, 0-1; `None`
    /// when no service has a known health yet.
    pub ecosystem_healthy: Option<f64>,
    /// Other rollouts running now, fleet-wide.
    pub rollouts_in_progress: u32,
    /// When production rollouts may start next: `None` when there is no window configured or one
    /// is open now; otherwise the next opening (or `Err` with why no opening can be computed).
    pub window: WindowState,
    pub now: Timestamp,
}

/// Where the deployment windows stand for this rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowState {
    /// No window applies (not production, or none configured).
    Unrestricted,
    /// A window is open now; its description.
    Open(String),
    /// Closed; the next window opens at this time; its description.
    Closed { opens: Timestamp, window: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_changes_by_semver() {
        assert_eq!(VersionChange::between(None, "1.0.0"), VersionChange::First);
        assert_eq!(
            VersionChange::between(Some("1.2.3"), "v1.2.3"),
            VersionChange::Same
        );
        assert_eq!(
            VersionChange::between(Some("1.2.3"), "1.2.4"),
            VersionChange::Patch
        );
        assert_eq!(
            VersionChange::between(Some("1.2.3"), "1.3.0"),
            VersionChange::Minor
        );
        assert_eq!(
            VersionChange::between(Some("1.9.9"), "2.0.0-rc.1"),
            VersionChange::Major
        );
        assert_eq!(
            VersionChange::between(Some("1.2.3"), "1.2.3-rc.1"),
            VersionChange::Patch
        );
        assert_eq!(
            VersionChange::between(Some("latest"), "1.0.0"),
            VersionChange::Major
        );
    }

    #[test]
    fn failure_rate_of_no_history_is_zero() {
        assert_eq!(History::default().failure_rate(), 0.0);
        let h = History {
            finished: 4,
            failed: 1,
            ..Default::default()
        };
        assert_eq!(h.failure_rate(), 0.25);
    }
}
