//! `routes`: the service's routes are claimed through RouteClaims; this step reports what the
//! service holds once its claims are decided.

use super::StepInput;
use crate::pipeline::machine::Outcome;

pub async fn run(input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    let wanted = input.rollout.spec.snapshot.routes.len();
    let held = input
        .service
        .status
        .as_ref()
        .map(|s| s.routes.iter().filter(|r| r.accepted).count())
        .unwrap_or(0);
    Ok(Outcome::Done(format!("{held} of {wanted} routes held")))
}
