//! The deploy advisor: plans each rollout (immediate, canary, wait or abort) from facts the
//! caches hold, with a confidence and the reasons, as the itsChitty ContextEngine of the design
//! documents does, but deterministic: the same facts always give the same plan, so it can be
//! tested, explained and trusted. Pure, with no I/O: the rollout controller gathers the input
//! and acts on the plan.
//!
//! - [`input`]: what a plan is made from.
//! - [`rules`]: the written rules and their thresholds.
//! - [`window`]: deployment windows.
//! - [`plan`]: the answer.
//! - [`model`]: the optional advisor model's request and answer; it may only add caution.

pub mod input;
pub mod model;
pub mod plan;
pub mod rules;
pub mod targets;
pub mod window;

#[cfg(test)]
mod tests;

pub use input::{AdvisorInput, Dependency, History, VersionChange, WindowState};
pub use plan::{Advice, Decision, Plan};
pub use rules::{Thresholds, advise};
pub use window::Window;
