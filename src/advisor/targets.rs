//! What a target can do with a plan. A Cloudflare target has no canary here (the operator does not
//! drive Cloudflare's gradual deployments), so a canary plan for it (from the rules or the model)
//! becomes an immediate rollout that says why, rather than a canary that silently never happens.

use super::{Advice, Plan};
use crate::api::Target;

pub fn fit(advice: Advice, target: Target) -> Advice {
    match (&advice.plan, target) {
        (Plan::Canary { .. }, Target::Cloudflare) => {
            let mut reasons = vec![
                "a canary was advised, but a Cloudflare target deploys at once (gradual deployments are not driven by the operator): the health step watches the new version and a failure rolls it back".to_owned(),
            ];
            reasons.extend(advice.reasons);
            Advice {
                plan: Plan::Immediate,
                confidence: advice.confidence,
                reasons,
            }
        }
        _ => advice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_canary_on_cloudflare_becomes_immediate_and_says_why() {
        let canary = Advice {
            plan: Plan::Canary {
                percent: 10,
                monitor: Duration::from_secs(60),
            },
            confidence: 0.8,
            reasons: vec!["a major change".into()],
        };
        let fitted = fit(canary.clone(), Target::Cloudflare);
        assert_eq!(fitted.plan, Plan::Immediate);
        assert!(fitted.reasons[0].contains("Cloudflare"));
        assert_eq!(fitted.reasons[1], "a major change");
        assert_eq!(fit(canary.clone(), Target::Cluster), canary);
    }
}
