//! The output of the rule: one decision per claim, and the fleet view of contested keys.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::claim::ClaimId;
use super::normalize::RouteKey;

/// At most this many ids are listed in a decision's `conflicts_with`. A key claimed by thousands
/// would otherwise put thousands of names in every one of their statuses (quadratic in total,
/// and past the object size limit); `conflicts_total` still gives the full count.
pub const CONFLICTS_LISTED: usize = 32;

/// The `reason` of a claim's `Accepted` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Reason {
    /// The claim holds its key.
    Accepted,
    /// Another claim holds the key under the rule.
    Conflicted,
    /// A reservation in operator configuration keeps the host for other namespaces.
    NotAllowed,
    /// The referenced ChittyService does not exist.
    ServiceNotFound,
    /// The host or path cannot be normalised.
    Invalid,
}

impl Reason {
    /// The condition reason, as Kubernetes writes reasons (CamelCase).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "Accepted",
            Self::Conflicted => "Conflicted",
            Self::NotAllowed => "NotAllowed",
            Self::ServiceNotFound => "ServiceNotFound",
            Self::Invalid => "Invalid",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the status of one claim should say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// `Accepted` condition status; true exactly when `reason` is `Accepted`.
    pub accepted: bool,
    pub reason: Reason,
    /// The normalised key, absent when the claim is `Invalid`; what an Ingress rule should carry.
    pub key: Option<RouteKey>,
    /// Who holds the key, this claim included; absent when no claim on it is eligible.
    pub holder: Option<ClaimId>,
    /// Every other claim on the same key, sorted, capped at [`CONFLICTS_LISTED`] and always
    /// including the holder when that is another claim.
    pub conflicts_with: Vec<ClaimId>,
    /// How many other claims are on the key, listed or not.
    pub conflicts_total: usize,
    /// Who won and why, in words.
    pub message: String,
}

/// A key claimed more than once, for the fleet view (`GET /api/admin/routes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    #[serde(flatten)]
    pub key: RouteKey,
    pub holder: Option<ClaimId>,
    /// Every other claim on the key, sorted, whatever its reason.
    pub losers: Vec<ClaimId>,
}

/// An exact host held next to a held wildcard covering it. Not a conflict: requests for the exact
/// host are routed by its own claims, and the wildcard serves the other hosts under it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Overlap {
    /// `*.chitty.cc`
    pub wildcard: String,
    /// `api.chitty.cc`
    pub exact: String,
}

/// Everything the rule decides over a set of claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    pub decisions: BTreeMap<ClaimId, Decision>,
    /// Keys with more than one claim, in key order.
    pub conflicts: Vec<Conflict>,
    /// Held exact hosts under held wildcards, in order.
    pub overlaps: Vec<Overlap>,
}
