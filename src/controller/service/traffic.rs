//! The canary's share of a service's traffic, as the routing objects the ChittyService controller
//! writes (Ingress, HTTPRoute) must carry it: read from the service's rollout in flight, whose
//! controller decides the weight step by step.

use crate::api::ChittyService;
use crate::controller::Context;
use crate::workload::traffic::Traffic;

pub fn desired(_ctx: &Context, _service: &ChittyService) -> Traffic {
    Traffic::default()
}
