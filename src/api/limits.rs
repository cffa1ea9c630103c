//! Caps on what the operator writes into status, so that no object it writes can approach etcd's
//! request limit (1.5 MiB): lists a user can make grow without bound (hand-made RouteClaims naming
//! one service, a cycle through a thousand services) and free text (conditions, errors carried
//! over from external services) are cut here, before the write and before the comparison with
//! what is stored, so a capped status compares equal to itself and an idle fleet still costs no
//! write.
//!
//! The budget: a ChittyService status holds at most about ten conditions and [`STATUS_ROUTES`]
//! routes. Ten messages of [`MESSAGE_CHARS`] characters (at most 4 bytes each in UTF-8) are 80 KiB
//! at worst, and a route entry is at most about 1 KiB (host 253, path 256, claim and holder names),
//! so the whole status stays under 256 KiB even in the worst case, far below 1.5 MiB.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::{ChittyDeploymentStatus, ChittyServiceStatus, RouteClaimStatus};

/// Longest free text kept in one status field (a condition message, an error): two thousand
/// characters say what went wrong; more would be a dump nobody reads in `kubectl describe`.
pub const MESSAGE_CHARS: usize = 2048;

/// Most entries of a ChittyService's `status.routes`: the spec allows 32 routes, listed first, so
/// every spec route stays listed (a rollout's routes step reads them there) and 68 hand-made claims
/// naming the service fit after them; the Routed condition still counts them all.
pub const STATUS_ROUTES: usize = 100;

/// Most names one message lists (cycle members, dependencies waited for, claims): a person reads
/// the first few; the rest are counted.
pub const NAMES_LISTED: usize = 10;

/// `text` cut to `max` characters, with how many were left out: "… and K more characters".
pub fn cut(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… and {} more characters", total - max)
}

/// Cuts `text` in place when it is longer than [`MESSAGE_CHARS`].
fn cut_in_place(text: &mut String) {
    if text.len() > MESSAGE_CHARS {
        *text = cut(text, MESSAGE_CHARS);
    }
}

fn cut_option(text: &mut Option<String>) {
    if let Some(text) = text {
        cut_in_place(text);
    }
}

/// The first `max` items joined with `separator`, then "… and K more" for the rest.
pub fn listed<T: AsRef<str>>(items: &[T], separator: &str, max: usize) -> String {
    let mut out = items
        .iter()
        .take(max)
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(separator);
    if items.len() > max {
        out.push_str(&format!(" … and {} more", items.len() - max));
    }
    out
}

fn bound_conditions(conditions: &mut [Condition]) {
    for condition in conditions {
        cut_in_place(&mut condition.message);
    }
}

/// A status that can be brought within the caps above.
pub trait Bounded {
    /// Cuts every list and text that could otherwise grow without bound.
    fn bound(&mut self);
}

impl Bounded for ChittyServiceStatus {
    fn bound(&mut self) {
        self.routes.truncate(STATUS_ROUTES);
        if let Some(health) = &mut self.health {
            cut_option(&mut health.message);
        }
        if let Some(stats) = &mut self.deployments {
            cut_option(&mut stats.last_failure);
        }
        bound_conditions(&mut self.conditions);
    }
}

impl Bounded for ChittyDeploymentStatus {
    fn bound(&mut self) {
        cut_option(&mut self.error);
        for step in &mut self.steps {
            cut_option(&mut step.message);
        }
        if let Some(probes) = &mut self.probes {
            cut_option(&mut probes.last_error);
        }
        if let Some(plan) = &mut self.plan {
            plan.reasons.truncate(NAMES_LISTED);
            plan.reasons.iter_mut().for_each(cut_in_place);
            plan.inputs.dependencies.truncate(NAMES_LISTED);
            if let Some(model) = &mut plan.model {
                cut_option(&mut model.reason);
                cut_in_place(&mut model.note);
            }
        }
        if let Some(approval) = &mut self.approval {
            cut_option(&mut approval.approved_by);
            cut_option(&mut approval.rejected_by);
            cut_option(&mut approval.reason);
        }
        bound_conditions(&mut self.conditions);
    }
}

impl Bounded for crate::api::ChittyDomainStatus {
    fn bound(&mut self) {
        self.namespaces
            .truncate(crate::api::DOMAIN_NAMESPACES_LISTED);
        bound_conditions(&mut self.conditions);
    }
}

impl Bounded for RouteClaimStatus {
    fn bound(&mut self) {
        // The claim controller lists at most `CONFLICTS_LISTED`; this holds even if it did not.
        self.conflicts_with
            .truncate(crate::routing::CONFLICTS_LISTED);
        bound_conditions(&mut self.conditions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{RouteSummary, StepStatus};

    fn condition(message: String) -> Condition {
        Condition {
            type_: "Ready".into(),
            status: "False".into(),
            reason: "R".into(),
            message,
            observed_generation: None,
            last_transition_time: crate::controller::now(),
        }
    }

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(cut("fine", 10), "fine");
        assert_eq!(cut("", 0), "");
    }

    #[test]
    fn long_text_is_cut_and_says_how_much_is_left_out() {
        assert_eq!(cut("abcdefghij", 4), "abcd… and 6 more characters");
    }

    #[test]
    fn cutting_counts_characters_not_bytes() {
        // A multi-byte character is never split.
        assert_eq!(cut("ééééé", 2), "éé… and 3 more characters");
    }

    #[test]
    fn a_long_list_names_the_first_and_counts_the_rest() {
        let names: Vec<String> = (0..25).map(|i| format!("n{i}")).collect();
        assert_eq!(
            listed(&names, ", ", 3),
            "n0, n1, n2 … and 22 more",
            "the rest is counted"
        );
        assert_eq!(listed(&names[..3], ", ", 3), "n0, n1, n2");
        assert_eq!(listed::<&str>(&[], ", ", 3), "");
    }

    #[test]
    fn a_service_status_keeps_its_routes_and_messages_within_the_caps() {
        let route = RouteSummary {
            host: "h".repeat(253),
            path: format!("/{}", "p".repeat(255)),
            claim: "c".repeat(253),
            accepted: false,
            reason: Some("Conflicted".into()),
            holder: Some(format!("{}/{}", "n".repeat(63), "c".repeat(253))),
        };
        let mut status = ChittyServiceStatus {
            routes: vec![route; 5_000],
            conditions: (0..10).map(|_| condition("é".repeat(100_000))).collect(),
            ..Default::default()
        };
        status.bound();
        assert_eq!(status.routes.len(), STATUS_ROUTES);
        for c in &status.conditions {
            assert!(c.message.chars().count() < MESSAGE_CHARS + 40);
            assert!(c.message.ends_with("… and 97952 more characters"));
        }
        let bytes = serde_json::to_vec(&status).unwrap().len();
        assert!(bytes < 256 * 1024, "worst-case status is {bytes} bytes");
    }

    #[test]
    fn a_rollout_status_cuts_its_error_step_messages_and_probe_error() {
        let long = || Some("x".repeat(1_000_000));
        let mut status = ChittyDeploymentStatus {
            error: long(),
            steps: vec![
                StepStatus {
                    name: "build".into(),
                    message: long(),
                    ..Default::default()
                };
                8
            ],
            probes: Some(crate::api::ProbeStatus {
                last_error: long(),
                ..Default::default()
            }),
            conditions: vec![condition("x".repeat(1_000_000))],
            ..Default::default()
        };
        status.bound();
        let bytes = serde_json::to_vec(&status).unwrap().len();
        assert!(bytes < 64 * 1024, "capped rollout status is {bytes} bytes");
    }

    #[test]
    fn a_claim_status_lists_a_bounded_number_of_conflicts() {
        let mut status = RouteClaimStatus {
            conflicts_with: (0..2_000).map(|i| format!("ns/claim-{i}")).collect(),
            conditions: vec![condition("y".repeat(50_000))],
            ..Default::default()
        };
        status.bound();
        assert_eq!(
            status.conflicts_with.len(),
            crate::routing::CONFLICTS_LISTED
        );
        assert!(status.conditions[0].message.len() < MESSAGE_CHARS + 40);
    }

    #[test]
    fn a_status_within_the_caps_is_left_as_it_is() {
        let mut status = ChittyServiceStatus {
            conditions: vec![condition("all good".into())],
            ..Default::default()
        };
        let before = status.clone();
        status.bound();
        assert_eq!(status, before);
    }
}
