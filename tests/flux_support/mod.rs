//! Flux for tests/flux.rs: a git server, the two controllers, the served tree, the objects.

pub mod controllers;
pub mod git_http;
pub mod objects;
pub mod samples_tree;
