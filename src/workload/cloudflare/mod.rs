//! The Jobs that put a `cloudflare`-target service on Cloudflare with the operator's pinned
//! wrangler: deploy (a Worker bound to exactly the routes its service holds, or a Pages project
//! after its build), routes-only updates, and rollback. The API token reaches only the container
//! that runs wrangler; the clone, install and build stages never see it.

pub mod jobs;
pub mod patterns;
pub mod result;
pub mod scripts;

pub use jobs::{
    deploy_job, deploy_job_name, roll_back_job, rollback_job_name, routes_job, routes_job_name,
};
