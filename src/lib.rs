//! chitty-operator: the ChittyOS deployment flow as Kubernetes resources.
//!
//! `api` holds the resource types; `controller` the reconcilers (I/O); `pipeline`, `routing` and
//! `revision` the pure decisions they make; `clients` the external ChittyOS services; `sim` the
//! stand-in for those services.

pub mod advisor;
pub mod api;
pub mod clients;
pub mod config;
pub mod controller;
pub mod crdgen;
pub mod http;
pub mod integrations;
pub mod kube_client;
pub mod labels;
pub mod leader;
pub mod metrics;
pub mod names;
pub mod operator;
pub mod pipeline;
pub mod probe;
pub mod revision;
pub mod routing;
pub mod shard;
pub mod sim;
pub mod stdout;
pub mod telemetry;
pub mod tls;
pub mod web;
pub mod workload;

pub use error::{Error, Refusal, Result};
mod error;
