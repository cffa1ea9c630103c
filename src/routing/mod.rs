//! Route ownership: normalisation and the deterministic conflict rule, pure and free of I/O.
//!
//! The controller reads RouteClaims (and whether their services exist) into [`Claim`]s, feeds
//! them to a [`ClaimIndex`], and writes back the [`Decision`]s that changed. Nothing here talks
//! to the API server, so the rule can be tested and benchmarked on its own.
//!
//! - [`normalize`]: a raw host and path become a [`RouteKey`]; equal keys conflict, nothing else.
//! - [`reservation`]: operator configuration that keeps host patterns for namespaces.
//! - [`rule`]: the order on one key (incumbent, oldest, `namespace/name`) and its decisions.
//! - [`resolve`](mod@resolve): the rule over a whole set of claims, with the fleet view.
//! - [`index`]: claims grouped by key, re-decided per key after a change.

pub mod claim;
pub mod decision;
pub mod index;
mod message;
pub mod normalize;
pub mod reservation;
pub mod resolve;
pub mod rule;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use claim::{Claim, ClaimId};
pub use decision::{CONFLICTS_LISTED, Conflict, Decision, Overlap, Reason, Resolution};
pub use index::{Affected, ClaimIndex, changed};
pub use normalize::{InvalidRoute, RouteKey};
pub use reservation::{Refusal, Reservations};
pub use resolve::resolve;
pub use rule::{KeyOutcome, decide_key, rank};
