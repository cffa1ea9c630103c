//! The RouteClaim controller: decides who holds each host and path, and says so in every claim's
//! status.
//!
//! The [`RouteTable`] takes every RouteClaim and ChittyService watch event and re-decides the
//! routes they touch (the pure rule lives in [`crate::routing`]). This controller is triggered by
//! the table only, for claims whose decision changed, and writes a claim's status when it differs
//! from its decision, with an Event when acceptance, reason or holder changes.

pub mod input;
pub mod status;
pub mod table;
pub mod view;

use std::sync::Arc;

use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource};

use super::{CATCH_UP, Context, now};
use crate::api::RouteClaim;
use crate::controller::events::publish;
pub use table::{CurrentTable, RouteTable, Triggers};

pub const NAME: &str = "routeclaim";

pub async fn reconcile(claim: Arc<RouteClaim>, ctx: Arc<Context>) -> crate::Result<Action> {
    let _timer = ctx.metrics.reconcile(NAME);
    if claim.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    if ctx.cache_behind(&*claim) {
        return Ok(Action::requeue(CATCH_UP));
    }
    // `None` while the table has not taken in this version of the claim; it triggers this
    // reconcile again when it has.
    let Some(decision) = ctx.routes.decision(&claim) else {
        return Ok(Action::await_change());
    };
    let previous = claim.status.as_ref();
    let desired = status::desired(&claim, &decision, &now());
    let api: Api<RouteClaim> = ctx.api_for(&*claim);
    if ctx.write_status(&api, &*claim, previous, &desired).await?
        && let Some(change) = status::transition(previous, &desired)
    {
        let kind = if change.accepted {
            EventType::Normal
        } else {
            EventType::Warning
        };
        publish(&ctx, &*claim, kind, &change.reason, change.message).await;
    }
    Ok(Action::await_change())
}

/// The ChittyService a claim routes to, to wake it when the claim's status changes.
pub fn service_of_claim(
    claim: Arc<RouteClaim>,
) -> Option<kube::runtime::reflector::ObjectRef<crate::api::ChittyService>> {
    let (namespace, name) = input::service_of(&claim);
    Some(kube::runtime::reflector::ObjectRef::new(&name).within(&namespace))
}
