//! Route ownership: normalisation and the deterministic conflict rule, pure and free of I/O.
//!
//! The controller reads RouteClaims (and whether their services exist) into [`Claim`]s, feeds
//! them to a [`ClaimIndex`], and writes back the [`Decision`]s that changed. Nothing here talks
//! to the API server, so the rule can be tested and benchmarked on its own.
//!
//! - [`normalize`]: a raw host and path become a [`RouteKey`]; equal keys conflict, nothing else.
//! - [`policy`]: who may compete at all: [`reservation`]s from operator configuration, and under
//!   the delegated policy the ChittyDomain [`delegation`]s and same-namespace services.
//! - [`rule`]: the order on one key (incumbent, oldest, `namespace/name`) and its decisions.
//! - [`resolve`](mod@resolve): the rule over a whole set of claims, with the fleet view.
//! - [`index`]: claims grouped by key, re-decided per key after a change.
//!
//! Inside, written for 100,000 claims and more: `outcome` turns a claim's standing into its
//! decision, `group` finds the keys claimed more than once by their `fingerprint`, `contest`
//! ranks those, `overlap` finds exact hosts under held wildcards, and `ahead` reads the next
//! claims' scattered buffers before they are needed.

mod ahead;
pub mod claim;
mod claim_name;
mod contest;
pub mod decision;
pub mod delegation;
mod fingerprint;
mod group;
mod host_patterns;
pub mod index;
mod message;
pub mod normalize;
mod outcome;
mod overlap;
pub mod policy;
pub mod reservation;
pub mod resolve;
pub mod rule;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use claim::{Claim, ClaimId};
pub use claim_name::claim_name;
pub use decision::{CONFLICTS_LISTED, Conflict, Decision, Overlap, Reason, Resolution};
pub use delegation::{Delegation, Delegations, DomainInput, DomainVerdict, Sharing};
pub use index::{Affected, ClaimIndex, changed};
pub use normalize::{InvalidRoute, RouteKey};
pub use policy::{Refusal, RoutePolicy};
pub use reservation::Reservations;
pub use resolve::resolve;
pub use rule::{KeyOutcome, decide_key, rank};
