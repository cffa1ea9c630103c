//! What the advisor decides: a plan, how sure it is, and the reasons, each a sentence.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;

/// How a rollout should go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Immediate,
    Canary {
        percent: i32,
        monitor: Duration,
    },
    /// Not now: look again at `until` (or sooner, when an input changes).
    Wait {
        until: Timestamp,
        reason: String,
    },
    /// Too risky: the rollout ends `Failed`; a later spec change plans again.
    Abort {
        reason: String,
    },
}

/// The four decisions, ordered from least to most cautious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Decision {
    Immediate,
    Canary,
    Wait,
    Abort,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Immediate => "Immediate",
            Self::Canary => "Canary",
            Self::Wait => "Wait",
            Self::Abort => "Abort",
        }
    }

    /// Parses the decision as a person or a model writes it (`canary`, `Canary`).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "immediate" => Some(Self::Immediate),
            "canary" => Some(Self::Canary),
            "wait" => Some(Self::Wait),
            "abort" => Some(Self::Abort),
            _ => None,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Plan {
    pub fn decision(&self) -> Decision {
        match self {
            Self::Immediate => Decision::Immediate,
            Self::Canary { .. } => Decision::Canary,
            Self::Wait { .. } => Decision::Wait,
            Self::Abort { .. } => Decision::Abort,
        }
    }
}

/// The advisor's answer for one rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    pub plan: Plan,
    /// How sure the rules are of the plan, 0-1.
    pub confidence: f64,
    /// The sentences that decided it, most decisive first.
    pub reasons: Vec<String>,
}
