//! The ChittyDomain controller: says on each domain what it delegates, to whom, and why not when
//! it cannot (an older domain on the same host, a selector that would match every namespace).
//!
//! The [`DomainBook`] recomputes every domain's record from the domain and namespace caches and
//! triggers this controller for the domains whose record changed; the controller writes a
//! domain's status when it differs. Enforcement is the route table's: the operator hands it the
//! book's delegations.

pub mod book;
pub mod resolve;
pub mod status;

use std::sync::Arc;

use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};

use super::{CATCH_UP, Context, now};
use crate::api::ChittyDomain;
use crate::config::RoutePolicyMode;
pub use book::DomainBook;

pub const NAME: &str = "chittydomain";

pub async fn reconcile(domain: Arc<ChittyDomain>, ctx: Arc<Context>) -> crate::Result<Action> {
    let _timer = ctx.metrics.reconcile(NAME);
    if domain.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    if ctx.cache_behind(&*domain) {
        return Ok(Action::requeue(CATCH_UP));
    }
    // The book triggers this reconcile again once it has taken in this generation.
    let Some(record) = ctx
        .domains
        .record(&domain.name_any())
        .filter(|r| r.generation == domain.metadata.generation)
    else {
        return Ok(Action::await_change());
    };
    let enforced = ctx.config.routing.policy == RoutePolicyMode::Delegated;
    let desired = status::desired(&domain, &record, enforced, &now());
    let api: Api<ChittyDomain> = Api::all(ctx.client.clone());
    ctx.write_status(&api, &*domain, domain.status.as_ref(), &desired)
        .await?;
    Ok(Action::await_change())
}
