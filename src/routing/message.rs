//! The words of a decision: who holds the key and which step of the rule decided it.
//!
//! Messages depend only on the claims on the same key, so the index can re-decide one key alone,
//! and they are deterministic, so an unchanged situation never produces a status patch.

use super::claim::{Claim, ClaimId};
use super::normalize::{InvalidRoute, RouteKey};
use super::policy::Refusal;

/// The step of the rule that put one claim before another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ground {
    /// (1) It is the incumbent and the other is not.
    Incumbent,
    /// (2) It is older; `split` when both claimed incumbency (stale status, split brain).
    Older { split: bool },
    /// (3) Same creation time, its `namespace/name` sorts first; `split` as above.
    Name { split: bool },
}

fn ground(winner: &Claim, other: &Claim) -> Ground {
    let split = winner.incumbent && other.incumbent;
    if winner.incumbent != other.incumbent {
        Ground::Incumbent
    } else if winner.created != other.created {
        Ground::Older { split }
    } else {
        Ground::Name { split }
    }
}

/// For the holder. `runner_up` is the next eligible claim; `others` counts every other claim.
pub(super) fn accepted(
    key: &RouteKey,
    this: &Claim,
    runner_up: Option<&Claim>,
    others: usize,
) -> String {
    let Some(next) = runner_up else {
        let text = if others == 0 {
            alone(key)
        } else {
            format!(
                "{key} is held by this claim: the {} on it cannot hold it (refused by a reservation or without a service)",
                other_claims(others)
            )
        };
        return text + wildcard_note(key);
    };
    let t = this.created;
    let why = match ground(this, next) {
        Ground::Incumbent => {
            "it already held it (incumbent), and a held route is not taken by newer, older or re-created claims"
                .to_owned()
        }
        Ground::Older { split: false } => {
            format!("no claim held it, and this is the oldest claim on it (created {t}; next is {}, created {})", next.id, next.created)
        }
        Ground::Older { split: true } => format!(
            "several claims' status said they held it, and this is the oldest of them (created {t}; next is {}, created {})",
            next.id, next.created
        ),
        Ground::Name { split: false } => format!(
            "no claim held it; this claim and {} are the oldest (created {t}) and this one sorts first by namespace/name",
            next.id
        ),
        Ground::Name { split: true } => format!(
            "several claims' status said they held it; this claim and {} are the oldest of them (created {t}) and this one sorts first by namespace/name",
            next.id
        ),
    };
    format!(
        "{key} is held by this claim: {why}; {}",
        not_accepted(others)
    ) + wildcard_note(key)
}

/// The message of nine claims in ten (a key nobody else claims), so it is put together by hand:
/// the formatting machinery costs more than everything else in deciding such a claim.
fn alone(key: &RouteKey) -> String {
    const HELD: &str = " is held by this claim: no other claim is on it";
    let mut text = String::with_capacity(key.host().len() + key.path().len() + HELD.len() + 2);
    key.write_to(&mut text);
    text.push_str(HELD);
    text
}

/// For an eligible claim that lost; `place` is its 0-based position in line (the holder is 0).
pub(super) fn conflicted(key: &RouteKey, holder: &Claim, this: &Claim, place: usize) -> String {
    let (h, ht, ct) = (&holder.id, holder.created, this.created);
    let why = match ground(holder, this) {
        Ground::Incumbent if ct < ht => {
            "which already held it (incumbent); it keeps it although this claim is older".to_owned()
        }
        Ground::Incumbent if ct == ht => {
            "which already held it (incumbent); this claim was created at the same time".to_owned()
        }
        Ground::Incumbent => {
            "which already held it (incumbent); this claim was created later".to_owned()
        }
        Ground::Older { split: false } => {
            format!("which was created earlier ({ht}; this claim {ct})")
        }
        Ground::Older { split: true } => format!(
            "which, like this claim, was marked as holding it (stale status) and was created earlier ({ht}; this claim {ct})"
        ),
        Ground::Name { split: false } => {
            format!(
                "which was created at the same time ({ht}) and sorts before this claim by namespace/name"
            )
        }
        Ground::Name { split: true } => format!(
            "which, like this claim, was marked as holding it (stale status), was created at the same time ({ht}) and sorts first by namespace/name"
        ),
    };
    let line = if place == 1 {
        "next in line".to_owned()
    } else {
        format!("number {} in line", place + 1)
    };
    format!("{key} is held by {h}, {why}; this claim is {line}") + wildcard_note(key)
}

pub(super) fn not_allowed(key: &RouteKey, refusal: &Refusal, holder: Option<&ClaimId>) -> String {
    format!(
        "{refusal}, so it does not compete for {key}; {}",
        held_by(key, holder)
    )
}

pub(super) fn service_not_found(key: &RouteKey, holder: Option<&ClaimId>) -> String {
    format!(
        "the ChittyService this claim routes to was not found; a claim without a service does not compete for {key}, so it cannot block a real one; {}",
        held_by(key, holder)
    )
}

pub(super) fn invalid(error: &InvalidRoute) -> String {
    format!("invalid route: {error}")
}

fn held_by(key: &RouteKey, holder: Option<&ClaimId>) -> String {
    match holder {
        Some(h) => format!("{key} is held by {h}"),
        None => format!("no claim holds {key}"),
    }
}

/// The relationship users most often mistake for a conflict, said where it applies.
fn wildcard_note(key: &RouteKey) -> &'static str {
    if key.is_wildcard() {
        " (a wildcard covers one label; an exact host under it is claimed separately, takes precedence for that host and does not conflict)"
    } else {
        ""
    }
}

fn other_claims(n: usize) -> String {
    if n == 1 {
        "other claim".to_owned()
    } else {
        format!("{n} other claims")
    }
}

fn not_accepted(n: usize) -> String {
    if n == 1 {
        "the other claim on it is not accepted".to_owned()
    } else {
        format!("the {n} other claims on it are not accepted")
    }
}
