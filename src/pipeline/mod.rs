//! The deploy pipeline's pure logic: which steps a rollout has, how they advance, how a canary is
//! sized, and whether dependencies allow a rollout to start.

pub mod canary;
pub mod canary_steps;
pub mod dependencies;
pub mod duration;
pub mod machine;
pub mod plan;
pub mod rollouts;
pub mod spec_check;
