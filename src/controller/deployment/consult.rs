//! The optional advisor model, never in charge: asked with the same facts as the rules, its
//! answer can only make the rules' plan more cautious. A timeout, an error or an answer that does
//! not parse leaves the rules' plan, and the note says so.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;

use crate::advisor::model::{ModelAnswer, more_cautious, parse_answer, request_body};
use crate::advisor::{Advice, Thresholds};
use crate::api::{ModelNote, PlanInputs};
use crate::controller::Context;

/// Rollouts with more remembered answers than this forget the oldest half: rollouts are
/// pending briefly, so this only bounds memory against a flood.
const REMEMBERED: usize = 4096;

/// The model's answer, or why there is none.
type Answer = Result<ModelAnswer, String>;

/// The model's last word per rollout, with the rules' advice it was asked about.
#[derive(Default)]
pub struct ModelAnswers(Mutex<HashMap<String, (Advice, Answer)>>);

impl ModelAnswers {
    fn get(&self, rollout: &str, rules: &Advice) -> Option<Answer> {
        let answers = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (asked, answer) = answers.get(rollout)?;
        (asked == rules).then(|| answer.clone())
    }

    fn put(&self, rollout: &str, rules: &Advice, answer: Answer) {
        let mut answers = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if answers.len() >= REMEMBERED {
            let forget: Vec<String> = answers.keys().take(REMEMBERED / 2).cloned().collect();
            for key in forget {
                answers.remove(&key);
            }
        }
        answers.insert(rollout.to_owned(), (rules.clone(), answer));
    }
}

/// The advice to act on and the note for status: the rules' advice unless a configured model
/// asks for more caution. `rollout` keys the remembered answers (the rollout's UID).
pub async fn consult(
    ctx: &Context,
    rollout: &str,
    facts: &PlanInputs,
    about: serde_json::Value,
    rules: Advice,
    thresholds: &Thresholds,
    now: Timestamp,
) -> (Advice, Option<ModelNote>) {
    let Some(model) = &ctx.integrations.advisor_model else {
        return (rules, None);
    };
    let answers = &ctx.integrations.model_answers;
    let answer = match answers.get(rollout, &rules) {
        Some(answer) => answer,
        None => {
            let mut facts = serde_json::to_value(facts).unwrap_or_default();
            if let (Some(facts), serde_json::Value::Object(about)) = (facts.as_object_mut(), about)
            {
                facts.extend(about);
            }
            let body = request_body(&ctx.config.advisor_model.model, &facts, &rules);
            let answer = match model.ask(body).await {
                Ok(text) => parse_answer(&text),
                Err(e) => Err(e.to_string()),
            };
            answers.put(rollout, &rules, answer.clone());
            answer
        }
    };
    judge(rules, answer, thresholds, now)
}

/// What the rules' advice becomes with the model's answer (pure).
pub fn judge(
    rules: Advice,
    answer: Result<ModelAnswer, String>,
    thresholds: &Thresholds,
    now: Timestamp,
) -> (Advice, Option<ModelNote>) {
    match answer {
        Err(why) => {
            let note = format!("the advisor model was not used ({why}); the rules' plan stands");
            (
                rules,
                Some(ModelNote {
                    decision: None,
                    reason: None,
                    note,
                }),
            )
        }
        Ok(answer) => {
            let (decision, reason) = (
                Some(answer.decision.as_str().to_owned()),
                Some(answer.reason.clone()),
            );
            match more_cautious(&rules, &answer, thresholds, now) {
                Some(cautious) => {
                    let note = format!(
                        "the advisor model asked for more caution ({}); its plan was adopted",
                        answer.decision
                    );
                    (
                        cautious,
                        Some(ModelNote {
                            decision,
                            reason,
                            note,
                        }),
                    )
                }
                None => {
                    let note = format!(
                        "the advisor model answered {}, which is not more cautious than the rules' {}; the rules' plan stands",
                        answer.decision,
                        rules.plan.decision()
                    );
                    (
                        rules,
                        Some(ModelNote {
                            decision,
                            reason,
                            note,
                        }),
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisor::{Decision, Plan};

    fn canary() -> Advice {
        Advice {
            plan: Plan::Canary {
                percent: 10,
                monitor: std::time::Duration::from_secs(600),
            },
            confidence: 0.85,
            reasons: vec!["dependency ledger was rolled out recently".into()],
        }
    }

    fn now() -> Timestamp {
        "2026-11-30T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_less_cautious_answer_leaves_the_canary_and_says_so() {
        let answer = ModelAnswer {
            decision: Decision::Immediate,
            percent: None,
            reason: "looks fine".into(),
        };
        let (advice, note) = judge(canary(), Ok(answer), &Thresholds::default(), now());
        assert_eq!(advice, canary());
        let note = note.unwrap();
        assert_eq!(note.decision.as_deref(), Some("Immediate"));
        assert!(
            note.note
                .contains("not more cautious than the rules' Canary"),
            "{}",
            note.note
        );
    }

    #[test]
    fn a_more_cautious_answer_is_adopted_and_a_failure_is_a_note() {
        let answer = ModelAnswer {
            decision: Decision::Abort,
            percent: None,
            reason: "billing is fragile this week".into(),
        };
        let (advice, note) = judge(canary(), Ok(answer), &Thresholds::default(), now());
        assert_eq!(advice.plan.decision(), Decision::Abort);
        assert!(note.unwrap().note.contains("adopted"));
        let (advice, note) = judge(
            canary(),
            Err("timed out".into()),
            &Thresholds::default(),
            now(),
        );
        assert_eq!(advice, canary());
        assert_eq!(
            note.unwrap().note,
            "the advisor model was not used (timed out); the rules' plan stands"
        );
    }
}
