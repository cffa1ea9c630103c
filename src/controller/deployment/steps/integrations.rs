//! `identity`, `register` and `notify`: the steps that talk to the external ChittyOS services.
//! Each is skipped, and says so, when the operator has no endpoint configured for it.

use super::StepInput;
use crate::pipeline::machine::Outcome;

pub async fn identity(input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    if let Some(id) = input
        .service
        .status
        .as_ref()
        .and_then(|s| s.chitty_id.clone())
    {
        return Ok(Outcome::Done(format!("ChittyID {id}")));
    }
    Ok(Outcome::Skipped(
        "no identity authority is configured".into(),
    ))
}

pub async fn register(_input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    Ok(Outcome::Skipped("no service registry is configured".into()))
}

pub async fn notify(_input: &mut StepInput<'_>) -> crate::Result<Outcome> {
    Ok(Outcome::Skipped(
        "no notification webhooks are configured".into(),
    ))
}
